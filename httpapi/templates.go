package httpapi

import (
	"context"
	"net/http"

	"github.com/otpd/otpd"
)

// templateRequest is the body of PUT …/templates/{channel}/{locale}.
type templateRequest struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	// HTML is declared only to refuse it with a reason: the HTML part of
	// an e-mail is made from Text, so that every value is escaped where
	// it lands.
	HTML *string `json:"html"`
}

// templateJSON is a service's template as the API shows it.
type templateJSON struct {
	Channel   otpd.ChannelName `json:"channel"`
	Purpose   string           `json:"purpose"`
	Locale    string           `json:"locale"`
	Subject   *string          `json:"subject"` // e-mail only
	Text      string           `json:"text"`
	CreatedAt string           `json:"created_at"`
	UpdatedAt string           `json:"updated_at"`
}

func toTemplateJSON(t *otpd.MessageTemplate) templateJSON {
	out := templateJSON{
		Channel:   t.Channel,
		Purpose:   t.Purpose,
		Locale:    t.Locale,
		Text:      t.Text,
		CreatedAt: formatTime(t.CreatedAt),
		UpdatedAt: formatTime(t.UpdatedAt),
	}
	if t.Channel == otpd.ChannelEmail {
		out.Subject = &t.Subject
	}
	return out
}

// templateKey reads the key from the path and the purpose query
// parameter ("" means login); the engine checks and canonicalizes it.
func templateKey(r *http.Request) otpd.TemplateKey {
	return otpd.TemplateKey{
		Channel: otpd.ChannelName(r.PathValue("channel")),
		Purpose: r.URL.Query().Get("purpose"),
		Locale:  r.PathValue("locale"),
	}
}

// PUT /v1/services/{sid}/templates/{channel}/{locale}?purpose=: 201 when
// the template is new, 200 when it replaced one.
func (s *Server) putTemplate(ctx context.Context, c *call) (int, any, error) {
	var req templateRequest
	if err := decode(c.body, &req); err != nil {
		return 0, nil, err
	}
	if req.HTML != nil {
		return 0, nil, invalidParam("html", "is not accepted: the HTML part of an e-mail is made from text, with every value escaped")
	}
	t, created, err := s.engine.SetTemplate(ctx, c.sid, &otpd.MessageTemplate{TemplateKey: templateKey(c.r), Subject: req.Subject, Text: req.Text})
	if err != nil {
		return 0, nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return status, toTemplateJSON(t), nil
}

// GET /v1/services/{sid}/templates/{channel}/{locale}?purpose=
func (s *Server) getTemplate(ctx context.Context, c *call) (int, any, error) {
	t, err := s.engine.Template(ctx, c.sid, templateKey(c.r))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toTemplateJSON(t), nil
}

// GET /v1/services/{sid}/templates: all of them, on one page (a service
// has at most one per channel, purpose and built-in locale).
func (s *Server) listTemplates(ctx context.Context, c *call) (int, any, error) {
	ts, err := s.engine.Templates(ctx, c.sid)
	if err != nil {
		return 0, nil, err
	}
	out := list[templateJSON]{Data: make([]templateJSON, len(ts))}
	for i, t := range ts {
		out.Data[i] = toTemplateJSON(t)
	}
	return http.StatusOK, out, nil
}

// DELETE /v1/services/{sid}/templates/{channel}/{locale}?purpose=
func (s *Server) deleteTemplate(ctx context.Context, c *call) (int, any, error) {
	if err := s.engine.DeleteTemplate(ctx, c.sid, templateKey(c.r)); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
