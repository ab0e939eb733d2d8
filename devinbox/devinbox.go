// Package devinbox is the development channel: with `otpd serve --dev`
// every channel without real settings delivers here instead of to a
// provider. Messages are kept in memory (the newest few thousand), printed
// to the console, and shown at /dev/inbox and /dev/messages, so a newcomer
// can see a code arrive without any carrier account.
//
// The inbox holds plain codes by design. It must never be mounted outside
// dev mode, and it is not: package httpapi mounts it only when given one.
package devinbox

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/internal/htmlpage"
)

// DefaultCapacity is how many messages the inbox keeps before it drops the
// oldest.
const DefaultCapacity = 5000

// Message is one message as it arrived in the inbox.
type Message struct {
	To             string    `json:"to"`
	Channel        string    `json:"channel"`
	Text           string    `json:"text"`
	Subject        string    `json:"subject,omitempty"`
	VerificationID string    `json:"verification_id"`
	MessageID      string    `json:"message_id"`
	CreatedAt      time.Time `json:"created_at"`
	// ProviderIDs are the ids a provider gave the message (an SMSC's
	// message ids, one per part), for messages that came in through Add.
	ProviderIDs []string `json:"provider_ids,omitempty"`

	seq uint64 // arrival order, for WaitFor
}

// Inbox is an in-memory message sink that implements otpd.Channel for every
// channel. It is safe for concurrent use.
type Inbox struct {
	mu       sync.Mutex
	msgs     []Message // oldest first
	capacity int
	console  io.Writer
	now      func() time.Time
	changed  chan struct{} // closed and replaced on every arrival
	seq      uint64        // messages ever received
}

var _ otpd.Channel = (*Inbox)(nil)

// Option configures an Inbox.
type Option func(*Inbox)

// WithConsole prints every arriving message to w.
func WithConsole(w io.Writer) Option { return func(i *Inbox) { i.console = w } }

// WithCapacity sets how many messages are kept.
func WithCapacity(n int) Option { return func(i *Inbox) { i.capacity = max(1, n) } }

// New returns an empty inbox.
func New(opts ...Option) *Inbox {
	i := &Inbox{capacity: DefaultCapacity, now: time.Now, changed: make(chan struct{})}
	for _, o := range opts {
		o(i)
	}
	return i
}

// Send stores the message and reports it delivered at once.
func (i *Inbox) Send(ctx context.Context, out *otpd.Outbound) (otpd.SendResult, error) {
	m := Message{
		To:             out.To,
		Channel:        string(out.Channel),
		Text:           out.Text,
		Subject:        out.Subject,
		VerificationID: out.VerificationID,
		MessageID:      out.MessageID,
		CreatedAt:      i.now().UTC().Truncate(time.Millisecond),
	}
	i.add(m)
	return otpd.SendResult{ProviderID: "dev-" + out.MessageID, Delivered: true}, nil
}

// Add puts a message that arrived some other way — an SMS the in-process
// SMSC received over SMPP — into the inbox. Link attaches otpd's ids to it
// once the sender knows them.
func (i *Inbox) Add(m Message) {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = i.now().UTC().Truncate(time.Millisecond)
	}
	i.add(m)
}

// Link sets the verification and message ids of the inbox message whose
// ProviderIDs include providerID, and reports whether there was one.
func (i *Inbox) Link(providerID, verificationID, messageID string) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	for k := len(i.msgs) - 1; k >= 0; k-- {
		m := &i.msgs[k]
		for _, id := range m.ProviderIDs {
			if id == providerID {
				m.VerificationID, m.MessageID = verificationID, messageID
				i.seq++
				m.seq = i.seq // a WaitFor on the ids sees it now
				close(i.changed)
				i.changed = make(chan struct{})
				return true
			}
		}
	}
	return false
}

func (i *Inbox) add(m Message) {
	i.mu.Lock()
	if len(i.msgs) >= i.capacity {
		i.msgs = append(i.msgs[:0], i.msgs[len(i.msgs)-i.capacity+1:]...)
	}
	i.seq++
	m.seq = i.seq
	i.msgs = append(i.msgs, m)
	close(i.changed)
	i.changed = make(chan struct{})
	if i.console != nil {
		// Dev mode only: the console is the inbox's second window, so it
		// shows the whole text, code included.
		fmt.Fprintf(i.console, "[dev inbox] %s to %s: %s\n", m.Channel, m.To, strings.ReplaceAll(m.Text, "\n", " / "))
	}
	i.mu.Unlock()
}

// Ready always succeeds: the inbox is in memory.
func (i *Inbox) Ready(context.Context) error { return nil }

// Messages returns the messages to a destination (all when to is empty),
// oldest first.
func (i *Inbox) Messages(to string) []Message {
	if d, err := otpd.ParseDestination(to); err == nil {
		to = d.Address
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	out := []Message{}
	for _, m := range i.msgs {
		if to == "" || m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// WaitFor returns the oldest message, already in the inbox or still to
// come, for which match is true, or ctx's error. It lets tests and tools
// wait for a code without sleeping or racing the sender.
func (i *Inbox) WaitFor(ctx context.Context, match func(Message) bool) (Message, error) {
	i.mu.Lock()
	checked := uint64(0)
	for {
		for _, m := range i.msgs {
			if m.seq > checked && match(m) {
				i.mu.Unlock()
				return m, nil
			}
		}
		checked = i.seq
		ch := i.changed
		i.mu.Unlock()
		select {
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-ch:
		}
		i.mu.Lock()
	}
}

// ForVerification matches the messages of one verification.
func ForVerification(id string) func(Message) bool {
	return func(m Message) bool { return m.VerificationID == id }
}

// Handler serves GET /dev/messages?to= (JSON, newest last) and GET
// /dev/inbox (an HTML page that refreshes itself).
func (i *Inbox) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dev/messages", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(i.Messages(r.URL.Query().Get("to")))
	})
	mux.HandleFunc("GET /dev/inbox", func(w http.ResponseWriter, r *http.Request) {
		msgs := i.Messages(r.URL.Query().Get("to"))
		// Newest first reads better on a page that refreshes.
		for a, b := 0, len(msgs)-1; a < b; a, b = a+1, b-1 {
			msgs[a], msgs[b] = msgs[b], msgs[a]
		}
		htmlpage.SetHeaders(w.Header(), inboxStyle)
		_ = inboxPage.Execute(w, struct {
			To   string
			Msgs []Message
		}{r.URL.Query().Get("to"), msgs})
	})
	return mux
}

// inboxStyle is the page's one stylesheet; its hash in the
// Content-Security-Policy lets it, and nothing else, apply.
const inboxStyle = `body{font:15px/1.4 system-ui,sans-serif;margin:2rem auto;max-width:50rem;padding:0 1rem;color:#222}
h1{font-size:1.3rem} .note{color:#666}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #ddd;padding:.5rem;text-align:left;vertical-align:top}
td.text{white-space:pre-wrap;font-family:ui-monospace,monospace}
`

var inboxPage = template.Must(template.New("inbox").Funcs(template.FuncMap{
	"when": func(t time.Time) string { return t.Format("15:04:05") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>otpd dev inbox</title>
<style>` + inboxStyle + `</style></head><body>
<h1>otpd dev inbox{{if .To}} — {{.To}}{{end}}</h1>
<p class="note">Every message otpd sends in <code>--dev</code> mode lands here, newest first. This page refreshes every two seconds.</p>
{{if .Msgs}}<table><thead><tr><th>Time (UTC)</th><th>Channel</th><th>To</th><th>Message</th></tr></thead><tbody>
{{range .Msgs}}<tr><td>{{when .CreatedAt}}</td><td>{{.Channel}}</td><td>{{.To}}</td><td class="text">{{if .Subject}}<b>{{.Subject}}</b>
{{end}}{{.Text}}</td></tr>
{{end}}</tbody></table>{{else}}<p>No messages yet. Start a verification and its message appears here.</p>{{end}}
</body></html>
`))

// Linked wraps a channel whose messages reach the inbox some other way —
// SMS sent over real SMPP to the in-process SMSC, which adds what it
// receives with Add — and links those entries to otpd's verification and
// message ids once the channel reports the provider's ids for them.
func (i *Inbox) Linked(ch otpd.Channel) otpd.Channel { return &linked{Channel: ch, inbox: i} }

type linked struct {
	otpd.Channel
	inbox *Inbox
}

func (l *linked) Send(ctx context.Context, out *otpd.Outbound) (otpd.SendResult, error) {
	res, err := l.Channel.Send(ctx, out)
	if err == nil {
		for _, id := range append([]string{res.ProviderID}, res.Refs...) {
			l.inbox.Link(id, out.VerificationID, out.MessageID)
		}
	}
	return res, err
}
