package client

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a webhook request. Only the signature is authenticated: the
// event id and type headers repeat the body's, for routing and logging
// before it is parsed.
const (
	WebhookSignatureHeader = "Otpd-Signature"
	WebhookEventIDHeader   = "Otpd-Event-Id"
	WebhookEventTypeHeader = "Otpd-Event-Type"
)

// DefaultWebhookTolerance is how far a webhook's signed timestamp may be
// from the receiver's clock: enough for clock skew and a slow network,
// short enough that a captured request cannot be replayed for long.
const DefaultWebhookTolerance = 5 * time.Minute

// MaxWebhookBody is the largest webhook body ParseWebhook reads. An event
// is a few kilobytes.
const MaxWebhookBody = 1 << 20

// Errors of webhook verification; a receiver answers both with a 4xx and
// does not act on the request. Errors returned wrap one of them with the
// reason.
var (
	// ErrWebhookSignature: the Otpd-Signature header is missing or
	// malformed, or no signature in it matches the body and secret.
	ErrWebhookSignature = errors.New("otpd: invalid webhook signature")
	// ErrWebhookTimestamp: the signature is genuine, but its timestamp is
	// further from now than the tolerance — a replay, or a clock that is
	// off.
	ErrWebhookTimestamp = errors.New("otpd: webhook timestamp outside tolerance")
)

// WebhookEvent is the body of a webhook request.
type WebhookEvent struct {
	// ID is the event's id (evt_…), the same on every retry and
	// redelivery: delivery is at least once, so de-duplicate on it.
	ID        string    `json:"id"`
	Type      string    `json:"type"` // one of the Event constants
	CreatedAt time.Time `json:"created_at"`
	// Data is the verification as it was when the event happened; empty
	// for fraud.* events.
	Data Verification `json:"data"`
	// Block is the block a fraud.* event is about; nil for the others.
	Block *Block `json:"-"`
}

// SignWebhook returns the Otpd-Signature header value that otpd sends with
// body at time t: "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">"
// keyed with secret, the service's webhook_secret. It is for a receiver's
// tests, to make requests that VerifyWebhookSignature accepts.
func SignWebhook(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(webhookMAC(secret, ts, body))
}

func webhookMAC(secret, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// VerifyWebhookSignature checks header, an Otpd-Signature value, against
// the raw request body: one of its v1 signatures must be the HMAC of the
// timestamp and body under secret (several v1 values may be present, as
// while a secret is being rotated; other schemes are ignored), compared in
// constant time, and then the timestamp must be within tolerance of now,
// either way. A tolerance of zero or less means [DefaultWebhookTolerance].
//
// It returns nil, or an error wrapping [ErrWebhookSignature] or
// [ErrWebhookTimestamp]; an empty secret is an error of its own, since
// every request would verify against it as easily as against none.
func VerifyWebhookSignature(secret string, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if secret == "" {
		return errors.New("otpd: verifying a webhook: the secret is empty")
	}
	sig, err := parseSignatureHeader(header)
	if err != nil {
		return err
	}
	want := webhookMAC(secret, sig.ts, body)
	ok := false
	for _, v := range sig.v1 {
		if hmac.Equal(want, v) {
			ok = true
			break
		}
	}
	if !ok {
		return fmt.Errorf("%w: no v1 signature matches the body and secret", ErrWebhookSignature)
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	sent := time.Unix(sig.unix, 0)
	if d := now.Sub(sent); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now (tolerance %s)",
			ErrWebhookTimestamp, sent.UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	return nil
}

// signatureHeader is a parsed Otpd-Signature value.
type signatureHeader struct {
	ts   string // as sent: the HMAC covers these digits
	unix int64
	v1   [][]byte // decoded; values that are not 32 bytes of hex are left out
}

// parseSignatureHeader reads "t=<digits>,v1=<hex>[,v1=<hex>...]". Items
// are comma-separated key=value pairs in any order, with optional spaces
// around them; t must appear exactly once and at least one v1 must be
// well-formed. Keys other than t and v1 are ignored, so that a future
// scheme can be sent alongside v1.
func parseSignatureHeader(header string) (signatureHeader, error) {
	var sig signatureHeader
	malformed := func(reason string) (signatureHeader, error) {
		return signatureHeader{}, fmt.Errorf("%w: malformed %s header: %s", ErrWebhookSignature, WebhookSignatureHeader, reason)
	}
	if strings.TrimSpace(header) == "" {
		return malformed("missing")
	}
	seenT := false
	for item := range strings.SplitSeq(header, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return malformed("an item is not key=value")
		}
		switch strings.TrimSpace(k) {
		case "t":
			if seenT {
				return malformed("t is given twice")
			}
			seenT = true
			v = strings.TrimSpace(v)
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || v == "" || v[0] < '0' || v[0] > '9' {
				return malformed("t is not a Unix time in seconds")
			}
			sig.ts, sig.unix = v, n
		case "v1":
			b, err := hex.DecodeString(strings.TrimSpace(v))
			if err == nil && len(b) == sha256.Size {
				sig.v1 = append(sig.v1, b)
			}
		}
	}
	switch {
	case !seenT:
		return malformed("no t")
	case len(sig.v1) == 0:
		return malformed("no well-formed v1 signature")
	}
	return sig, nil
}

// ParseWebhook reads and verifies a webhook request and returns its event.
// It reads at most [MaxWebhookBody] bytes of the body, checks the
// Otpd-Signature header against them with [VerifyWebhookSignature] (a
// tolerance of zero or less means [DefaultWebhookTolerance]) and only then
// decodes the event. Afterwards r.Body holds the same bytes again, for a
// handler that keeps the raw event.
//
// Errors wrap [ErrWebhookSignature] or [ErrWebhookTimestamp] when the
// request is not authentic or too old; other errors are a body that could
// not be read, is too large or (though genuine) does not decode.
func ParseWebhook(secret string, r *http.Request, tolerance time.Duration) (*WebhookEvent, error) {
	body, err := readWebhookBody(r)
	if err != nil {
		return nil, err
	}
	if err := VerifyWebhookSignature(secret, r.Header.Get(WebhookSignatureHeader), body, tolerance, time.Now()); err != nil {
		return nil, err
	}
	var ev WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("otpd: decoding webhook event: %w", err)
	}
	if ev.ID == "" || ev.Type == "" {
		return nil, errors.New("otpd: decoding webhook event: no id or type")
	}
	return &ev, nil
}

func readWebhookBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBody+1))
	_ = r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("otpd: reading webhook body: %w", err)
	}
	if len(body) > MaxWebhookBody {
		return nil, fmt.Errorf("otpd: webhook body is over %d bytes", MaxWebhookBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}
