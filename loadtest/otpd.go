package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/otpd/otpd/client"
	"github.com/otpd/otpd/smsc"
)

// CodeSource finds the code sent to a destination.
type CodeSource interface {
	// Code waits for the newest message to the destination and returns
	// the code in it and when the SMSC received it (zero if unknown).
	Code(ctx context.Context, to string) (code string, submitted time.Time, err error)
}

// OTPD is a Target that drives an otpd server through the Go client with a
// service key, and reads codes from a CodeSource.
type OTPD struct {
	Client    *client.Client // authenticated with a key of ServiceID, no retries
	ServiceID string
	Codes     CodeSource
}

var _ Target = (*OTPD)(nil)

// Start implements Target.
func (o *OTPD) Start(ctx context.Context, to string) (string, time.Time, error) {
	v, err := o.Client.StartVerification(ctx, o.ServiceID, client.StartParams{To: to, Purpose: "login"})
	if err != nil {
		return "", time.Time{}, err
	}
	return v.ID, v.CreatedAt, nil
}

// Code implements Target.
func (o *OTPD) Code(ctx context.Context, to string) (string, time.Time, error) {
	return o.Codes.Code(ctx, to)
}

// Check implements Target.
func (o *OTPD) Check(ctx context.Context, id, code string) (bool, error) {
	res, err := o.Client.CheckVerification(ctx, o.ServiceID, id, client.CheckParams{Code: code})
	if err != nil {
		return false, err
	}
	return res.Valid, nil
}

// NewHTTPClient returns an HTTP client that keeps enough idle connections
// for n requests in flight: the default keeps two per host, so dozens of
// workers would open a TCP connection per request and measure that.
func NewHTTPClient(n int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = max(n, 100), max(n, 100)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// codeRe finds the code in an SMS: the first standalone run of 4 to 10
// digits ("Your Acme code is 491038. It expires in 10 minutes.").
var codeRe = regexp.MustCompile(`(?:^|\s)([0-9]{4,10})(?:[.\s]|$)`)

// CodeIn returns the code in a message's text.
func CodeIn(text string) (string, bool) {
	m := codeRe.FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// Inbox is a CodeSource fed by an in-process SMSC simulator: set its
// Receive as smsc.Config.OnMessage. It holds each destination's newest
// message until it is read, and times the submit when it arrives, to the
// nanosecond on the same clock as the load, which the simulator's own
// millisecond timestamps are too coarse for.
type Inbox struct {
	mu      sync.Mutex
	msgs    map[string]inboxMessage    // destination without "+" → newest unread
	waiting map[string][]chan struct{} // readers waiting for a destination
	now     func() time.Time
}

type inboxMessage struct {
	text string
	at   time.Time
}

// NewInbox returns an empty Inbox.
func NewInbox() *Inbox {
	return &Inbox{msgs: map[string]inboxMessage{}, waiting: map[string][]chan struct{}{}, now: time.Now}
}

// Receive records a message the SMSC accepted.
func (in *Inbox) Receive(m smsc.Message) {
	at := in.now()
	to := strings.TrimPrefix(m.To, "+")
	in.mu.Lock()
	defer in.mu.Unlock()
	in.msgs[to] = inboxMessage{text: m.Text, at: at}
	for _, ch := range in.waiting[to] {
		close(ch)
	}
	delete(in.waiting, to)
}

// Code implements CodeSource: it takes the destination's newest unread
// message, waiting for one until ctx ends.
func (in *Inbox) Code(ctx context.Context, to string) (string, time.Time, error) {
	to = strings.TrimPrefix(to, "+")
	for {
		in.mu.Lock()
		m, ok := in.msgs[to]
		var ch chan struct{}
		if ok {
			delete(in.msgs, to)
		} else {
			ch = make(chan struct{})
			in.waiting[to] = append(in.waiting[to], ch)
		}
		in.mu.Unlock()
		if ok {
			code, found := CodeIn(m.text)
			if !found {
				return "", m.at, errors.New("loadtest: no code in the SMS")
			}
			return code, m.at, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return "", time.Time{}, fmt.Errorf("waiting for an SMS: %w", ctx.Err())
		}
	}
}

// SMSCPoller is a CodeSource that polls an SMSC simulator's HTTP listing
// (`otpd smsc`, GET /messages?to=) for a message newer than the start: for
// a server the bench did not start, whose SMSC runs elsewhere. The
// simulator's timestamps are to the millisecond, and polling adds up to
// Interval to the code wait.
type SMSCPoller struct {
	BaseURL  string // e.g. http://127.0.0.1:2780
	HTTP     *http.Client
	Interval time.Duration // between polls; default 5 ms
	// Since ignores messages the SMSC received before it: those of
	// earlier runs to the same destinations.
	Since time.Time

	mu   sync.Mutex
	seen map[string]time.Time // destination → newest message already used
}

// Code implements CodeSource.
func (p *SMSCPoller) Code(ctx context.Context, to string) (string, time.Time, error) {
	interval := p.Interval
	if interval <= 0 {
		interval = 5 * time.Millisecond
	}
	u := strings.TrimRight(p.BaseURL, "/") + "/messages?to=" + url.QueryEscape(to)
	p.mu.Lock()
	if p.seen == nil {
		p.seen = map[string]time.Time{}
	}
	after, ok := p.seen[to]
	p.mu.Unlock()
	if !ok {
		// The simulator's times are truncated to the millisecond.
		after = p.Since.Add(-time.Millisecond)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return "", time.Time{}, err
		}
		resp, err := p.HTTP.Do(req)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("polling the SMSC: %w", err)
		}
		var msgs []struct {
			Text      string    `json:"text"`
			CreatedAt time.Time `json:"created_at"`
		}
		err = json.NewDecoder(resp.Body).Decode(&msgs)
		resp.Body.Close()
		if err != nil {
			return "", time.Time{}, fmt.Errorf("polling the SMSC: %w", err)
		}
		if n := len(msgs); n > 0 && msgs[n-1].CreatedAt.After(after) {
			m := msgs[n-1]
			p.mu.Lock()
			p.seen[to] = m.CreatedAt
			p.mu.Unlock()
			code, ok := CodeIn(m.Text)
			if !ok {
				return "", m.CreatedAt, errors.New("loadtest: no code in the SMS")
			}
			return code, m.CreatedAt, nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return "", time.Time{}, fmt.Errorf("waiting for an SMS: %w", ctx.Err())
		}
	}
}
