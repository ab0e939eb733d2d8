package message

import (
	"fmt"
	"html/template"
	"strings"
)

// emailLayout is the HTML part of every e-mail. It sticks to what mail
// clients render reliably: inline styles, no scripts, no external resources.
// The direction is set on the content block as well as on <html>, because
// webmail clients drop the document's own attributes.
// Values reach it either through html/template's own escaping (Lang, Title,
// Brand, Code) or pre-escaped by expandHTML (Paragraph).
var emailLayout = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}" dir="{{.Dir}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
</head>
<body style="margin:0;padding:0;background-color:#f4f4f5;">
<div dir="{{.Dir}}" style="max-width:480px;margin:0 auto;padding:32px 24px;background-color:#ffffff;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#18181b;">
<p style="margin:0 0 24px;font-size:20px;font-weight:600;">{{.Brand}}</p>
{{- range .Blocks}}
{{if .Code -}}
<p style="margin:24px 0;font-family:Menlo,Consolas,'Courier New',monospace;font-size:32px;font-weight:700;letter-spacing:6px;">{{.Code}}</p>
{{- else if .Muted -}}
<p style="margin:24px 0 0;font-size:14px;color:#71717a;">{{.Paragraph}}</p>
{{- else -}}
<p style="margin:0 0 16px;">{{.Paragraph}}</p>
{{- end}}
{{- end}}
</div>
</body>
</html>
`))

type emailBlock struct {
	Code      string
	Paragraph template.HTML
	Muted     bool
}

// emailHTML renders body (the template's text, not yet expanded) as HTML: a
// paragraph that is only {code} becomes the large code, the closing
// paragraph of a longer body (the "didn't request this?" note) is muted.
func emailHTML(loc *locale, subject, body string, v values) (string, error) {
	paras := strings.Split(body, "\n\n")
	var blocks []emailBlock
	for i, p := range paras {
		p = strings.Trim(p, "\n")
		if p == "" {
			continue
		}
		if strings.TrimSpace(p) == "{"+phCode+"}" {
			blocks = append(blocks, emailBlock{Code: v[phCode]})
			continue
		}
		blocks = append(blocks, emailBlock{
			Paragraph: template.HTML(expandHTML(p, v)), // escaped by expandHTML
			Muted:     len(paras) > 2 && i == len(paras)-1,
		})
	}
	var b strings.Builder
	dir := "ltr"
	if loc.rtl {
		dir = "rtl"
	}
	err := emailLayout.Execute(&b, struct {
		Lang, Dir, Title, Brand string
		Blocks                  []emailBlock
	}{loc.tag.String(), dir, subject, v[phBrand], blocks})
	if err != nil {
		return "", fmt.Errorf("message: e-mail HTML: %w", err)
	}
	return b.String(), nil
}
