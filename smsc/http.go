package smsc

import (
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/otpd/otpd/internal/htmlpage"
)

// jsonMessage is a Message as GET /messages shows it: the shape of otpd's
// dev inbox (to, channel, text, created_at) and what only an SMSC knows.
type jsonMessage struct {
	To         string    `json:"to"`
	Channel    string    `json:"channel"`
	Text       string    `json:"text"`
	CreatedAt  time.Time `json:"created_at"`
	From       string    `json:"from"`
	MessageIDs []string  `json:"message_ids"`
	Parts      int       `json:"parts"`
	DataCoding uint8     `json:"data_coding"`
	SystemID   string    `json:"system_id"`
	Stat       string    `json:"stat"`
	Duplicate  bool      `json:"duplicate"`
}

// Handler serves the simulator over HTTP:
//
//	GET /messages?to=   the stored messages, oldest first, as JSON:
//	                    [{"to", "channel": "sms", "text", "created_at",
//	                      "from", "message_ids", "parts", "data_coding",
//	                      "system_id", "stat", "duplicate"}]
//	DELETE /messages    Reset
//	GET /stats          Stats as JSON
//	GET /               an HTML page of the messages, newest first
//
// It shows the texts — one-time codes — to anyone who can reach it: serve
// it on loopback only, as `otpd smsc` does by default.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		msgs := s.Messages(r.URL.Query().Get("to"))
		out := make([]jsonMessage, len(msgs))
		for i, m := range msgs {
			out[i] = jsonMessage{
				To: m.To, Channel: "sms", Text: m.Text, CreatedAt: m.CreatedAt, From: m.From,
				MessageIDs: m.MessageIDs, Parts: m.Parts, DataCoding: uint8(m.DataCoding),
				SystemID: m.SystemID, Stat: m.State.Stat(), Duplicate: m.Duplicate,
			}
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("DELETE /messages", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.Stats())
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		to := r.URL.Query().Get("to")
		msgs := s.Messages(to)
		slices.Reverse(msgs) // newest first reads better on a page that refreshes
		htmlpage.SetHeaders(w.Header(), pageStyle)
		_ = page.Execute(w, struct {
			To    string
			Msgs  []Message
			Stats Stats
		}{to, msgs, s.Stats()})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// pageStyle is the page's one stylesheet; its hash in the
// Content-Security-Policy lets it, and nothing else, apply.
const pageStyle = `body{font:15px/1.4 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h1{font-size:1.3rem} .note{color:#666}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #ddd;padding:.5rem;text-align:left;vertical-align:top}
td.text{white-space:pre-wrap;font-family:ui-monospace,monospace} .ids{font-family:ui-monospace,monospace;font-size:.8rem;color:#666}
`

var page = template.Must(template.New("smsc").Funcs(template.FuncMap{
	"when": func(t time.Time) string { return t.Format("15:04:05.000") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>otpd dev SMSC</title>
<style>` + pageStyle + `</style></head><body>
<h1>otpd dev SMSC{{if .To}} — {{.To}}{{end}}</h1>
<p class="note">Messages submitted over SMPP, newest first; this page refreshes every two seconds.
{{with .Stats}}Binds now: {{.ActiveBinds}} · submits: {{.Submits}} · refused: {{.Rejected}} · messages: {{.Messages}} · duplicates: {{.Duplicates}} · receipts: {{.Receipts}}{{end}}</p>
{{if .Msgs}}<table><thead><tr><th>Time (UTC)</th><th>From</th><th>To</th><th>Message</th><th>Parts</th><th>Receipt</th></tr></thead><tbody>
{{range .Msgs}}<tr><td>{{when .CreatedAt}}</td><td>{{.From}}</td><td>{{.To}}</td><td class="text">{{.Text}}</td><td>{{.Parts}}<div class="ids">{{range .MessageIDs}}{{.}} {{end}}</div></td><td>{{.State.Stat}}{{if .Duplicate}} (duplicate){{end}}</td></tr>
{{end}}</tbody></table>{{else}}<p>No messages yet.</p>{{end}}
</body></html>
`))
