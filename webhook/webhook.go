// Package webhook delivers events to the webhook URLs of services: it
// claims due events from the store (a queue like the messages', see package
// delivery), POSTs each, signed, and records every attempt.
//
// # Guarantees
//
//   - Durable: an event is written in the same transaction as the change it
//     records, and leaves the queue only when a receiver answered 2xx or its
//     retry window (otpd.DefaultWebhookRetryWindow unless configured) ran out.
//     A node that dies mid-delivery leaves the event to be claimed again when
//     its lease runs out.
//   - At least once: a receiver may see an event twice (a crash after the
//     POST, a timeout after the receiver acted). Events carry their id in the
//     body and in the Otpd-Event-Id header for de-duplication.
//   - In order per verification: only the oldest pending event of a
//     verification is ever claimed, so a later event waits until the earlier
//     one is delivered or given up.
//
// # Signing
//
// Each request carries Otpd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256
// of "<t>.<raw body>" keyed with the service's webhook_secret>. The
// timestamp is the time of the attempt, so a receiver can refuse replays of
// old requests; package client has the receiver's side.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/delivery"
)

// Defaults.
const (
	// DefaultTimeout bounds one POST, answer included.
	DefaultTimeout = 10 * time.Second
	// DefaultWorkers is how many events are in flight at once per node.
	DefaultWorkers = 16
	// maxBackoff caps the wait between two attempts: a receiver that comes
	// back after a long outage gets its events within the hour.
	maxBackoff = time.Hour
	// firstBackoff is the wait after the first failed attempt.
	firstBackoff = 5 * time.Second
	// maxErrorBody is how much of a failed answer's body is kept in the
	// attempt's error, to help the receiver's developers.
	maxErrorBody = 200
)

// Header names the sender sets.
const (
	HeaderSignature = "Otpd-Signature"
	HeaderEventID   = "Otpd-Event-Id"
	HeaderEventType = "Otpd-Event-Type"
)

// Observer is told the outcome of each attempt, for metrics. Outcome is
// "delivered", "retry", "failed" (given up) or "disabled".
type Observer interface {
	WebhookAttempt(outcome string, took time.Duration)
}

// Config is what a Sender needs.
type Config struct {
	Store otpd.Store
	// Service reads an event's service, for its webhook_url and secret, on
	// every attempt; Store.GetService when nil. otpd.Engine.CachedService
	// saves the store that read, and sees a change of the URL made through
	// the engine at once.
	Service func(ctx context.Context, id string) (*otpd.Service, error)
	// Body encodes an event as the request body (httpapi.EventBody).
	Body func(*otpd.Event) ([]byte, error)
	// Client sends the requests. The default has no redirects (a webhook
	// that redirects is misconfigured, and following it would send signed
	// events elsewhere), Timeout per request, and verifies the receiver's
	// certificate against RootCAs.
	Client *http.Client
	// RootCAs are the CAs a receiver's certificate must chain to when the
	// default Client is used: the system's roots when nil.
	RootCAs *x509.CertPool
	// Timeout bounds one attempt; DefaultTimeout when zero.
	Timeout time.Duration
	// Workers bounds attempts in flight; DefaultWorkers when zero.
	Workers int
	// PollInterval is the longest wait between claims when idle; events
	// written on this node wake the sender at once (Notify).
	PollInterval time.Duration
	// PublicOnly refuses to connect to addresses that are not public —
	// loopback, private (RFC 1918, fc00::/7), shared (100.64.0.0/10),
	// link-local (with cloud metadata services at 169.254.169.254),
	// multicast, unspecified — whatever the URL's host resolves to, at
	// connection time (so DNS cannot rebind around it). A service's
	// webhook_url then cannot make the server reach its own network.
	// Applies to the default Client only.
	PublicOnly bool
	// UserAgent is sent with each request.
	UserAgent string
	Observer  Observer
	Logger    *slog.Logger
	Now       func() time.Time
}

// Sender claims due events and delivers them.
type Sender struct {
	cfg  Config
	pool *delivery.Pool[*otpd.Event]
}

// New returns a sender. It panics when cfg has no Store or Body: those are
// programming errors.
func New(cfg Config) *Sender {
	if cfg.Store == nil || cfg.Body == nil {
		panic("webhook: New needs a Store and a Body encoder")
	}
	if cfg.Service == nil {
		cfg.Service = cfg.Store.GetService
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs}
		if cfg.PublicOnly {
			d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: refuseNonPublic}
			t.DialContext = d.DialContext
		}
		cfg.Client = &http.Client{
			Transport:     t,
			Timeout:       cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "otpd-webhook/1"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Sender{cfg: cfg}
	s.pool = delivery.NewPool("event", cfg.Store.ClaimEvents, func(e *otpd.Event) string { return e.ID }, delivery.Options{
		Workers:      cfg.Workers,
		Lease:        2*cfg.Timeout + 5*time.Second, // longer than an attempt and its recording
		PollInterval: cfg.PollInterval,
		Logger:       cfg.Logger,
		Now:          cfg.Now,
	})
	return s
}

// Notify wakes the sender: events were written. It never blocks.
func (s *Sender) Notify() { s.pool.Notify() }

// Run delivers events until ctx ends, then lets attempts in flight finish
// (each is bounded by Timeout).
func (s *Sender) Run(ctx context.Context) error {
	return s.pool.Run(ctx, s.Deliver)
}

// Deliver makes one attempt to deliver a claimed event and records it.
func (s *Sender) Deliver(ctx context.Context, e *otpd.Event) error {
	svc, err := s.cfg.Service(ctx, e.ServiceID)
	if errors.Is(err, otpd.ErrNotFound) {
		return nil // the service was deleted, and its events with it
	}
	if err != nil {
		return err
	}
	d := e.Delivery
	if svc.WebhookURL == "" {
		// The URL was removed after the event was written.
		d.State, d.NextAttemptAt, d.Deadline = otpd.EventDisabled, time.Time{}, time.Time{}
		s.observe("disabled", 0)
		return s.record(ctx, e, nil, d)
	}
	start := s.cfg.Now()
	status, sendErr := s.post(ctx, svc, e, start)
	took := s.cfg.Now().Sub(start)

	attempt := &otpd.DeliveryAttempt{EventID: e.ID, At: start, URL: displayURL(svc.WebhookURL), StatusCode: status, Duration: took}
	d.Attempts++
	d.LastAttemptAt, d.LastStatusCode, d.LastError = start, status, ""
	switch {
	case sendErr == nil:
		d.State, d.DeliveredAt, d.NextAttemptAt, d.Deadline = otpd.EventDelivered, start, time.Time{}, time.Time{}
		s.observe("delivered", took)
	default:
		attempt.Error, d.LastError = sendErr.Error(), sendErr.Error()
		next := start.Add(Backoff(d.Attempts))
		if d.Deadline.IsZero() || next.Before(d.Deadline) {
			d.NextAttemptAt = next
			s.observe("retry", took)
		} else {
			d.State, d.NextAttemptAt, d.Deadline = otpd.EventGivenUp, time.Time{}, time.Time{}
			s.observe("failed", took)
			s.cfg.Logger.WarnContext(ctx, "webhook event given up", "event_id", e.ID, "service_id", e.ServiceID,
				"attempts", d.Attempts, "err", sendErr)
		}
	}
	return s.record(ctx, e, attempt, d)
}

func (s *Sender) observe(outcome string, took time.Duration) {
	if s.cfg.Observer != nil {
		s.cfg.Observer.WebhookAttempt(outcome, took)
	}
}

// record writes an attempt's outcome with a context of its own: an attempt
// that was made must be recorded even while the node shuts down.
func (s *Sender) record(ctx context.Context, e *otpd.Event, a *otpd.DeliveryAttempt, d otpd.EventDelivery) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var err error
	if a == nil {
		err = s.cfg.Store.SetEventDelivery(ctx, e.ID, d)
	} else {
		err = s.cfg.Store.RecordDeliveryAttempt(ctx, a, d)
	}
	if errors.Is(err, otpd.ErrNotFound) {
		return nil // purged with its service meanwhile
	}
	if err == nil && d.State != otpd.EventPending {
		// The verification's next event, if any, has become claimable.
		s.Notify()
	}
	return err
}

// post sends the event and returns the answer's status code (0 without an
// answer) and an error unless the receiver answered 2xx.
func (s *Sender) post(ctx context.Context, svc *otpd.Service, e *otpd.Event, now time.Time) (int, error) {
	body, err := s.cfg.Body(e)
	if err != nil {
		return 0, fmt.Errorf("encode event: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, svc.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set(HeaderSignature, Sign(svc.WebhookSecret, now, body))
	req.Header.Set(HeaderEventID, e.ID)
	req.Header.Set(HeaderEventType, string(e.Type))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, redactURLError(err)
	}
	defer resp.Body.Close()
	// Read a little of the answer (to report it) and drop the rest, so the
	// connection can be reused.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // best effort, for connection reuse
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, nil
	}
	msg := resp.Status
	if t := strings.TrimSpace(string(head)); t != "" && utf8.ValidString(t) {
		msg += ": " + t
	}
	return resp.StatusCode, errors.New(msg)
}

// Sign returns the Otpd-Signature header value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Backoff is the wait after attempt n (1-based) failed: 5 s doubling to an
// hour, the upper half jittered so that the events of a receiver that was
// down do not all come back in the same second.
func Backoff(n int) time.Duration {
	d := firstBackoff << min(max(n-1, 0), 20)
	d = min(d, maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// displayURL is the URL as attempts show it: without credentials or query,
// which may hold a receiver's token.
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// redactURLError keeps the URL of a failed request (which may carry a
// token in its query) out of the error that is stored and shown.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, displayURL(ue.URL), ue.Err)
	}
	return err
}

// ErrNonPublicAddress is the error of a delivery refused because the
// receiver's address is not public (Config.PublicOnly).
var ErrNonPublicAddress = errors.New("webhook: the receiver's address is not public")

// sharedAddressSpace is 100.64.0.0/10 (RFC 6598, carrier-grade NAT), which
// netip does not count as private.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// refuseNonPublic is a net.Dialer Control function: it sees the address
// actually dialled, after name resolution.
func refuseNonPublic(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrNonPublicAddress, address)
	}
	if !IsPublic(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrNonPublicAddress, ap.Addr())
	}
	return nil
}

// IsPublic reports whether a is an address on the public internet.
func IsPublic(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate() && !sharedAddressSpace.Contains(a) &&
		!a.IsLoopback() && !a.IsLinkLocalUnicast()
}
