package vonage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/gsm"
	"github.com/otpd/otpd/sms"
)

// DefaultBaseURL is the SMS API's host.
const DefaultBaseURL = "https://rest.nexmo.com"

// DefaultTimeout bounds one request when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// The SMS API's ttl bounds, in milliseconds.
const (
	MinTTL = 20000
	MaxTTL = 604800000
)

// maxCallbackURL is the SMS API's limit on callback.
const maxCallbackURL = 100

// maxClientRef is the SMS API's limit on client-ref.
const maxClientRef = 40

// minToken is the shortest secret a callback URL may carry when callbacks
// are not signed.
const minToken = 16

// maxResponse bounds how much of a response is read.
const maxResponse = 1 << 20

// Config is how a route reaches one Vonage account through the SMS API.
type Config struct {
	// APIKey identifies the account. APISecret authenticates each request;
	// leave it empty to sign requests with SignatureSecret instead (for
	// accounts that require signed requests).
	APIKey    string
	APISecret string
	// SignatureSecret and SignatureMethod are the account's signing
	// settings in the dashboard. With them set, delivery receipts must be
	// signed (ask Vonage support to sign webhooks) and the handler checks
	// every one. SignatureMethod is MD5Hash when empty.
	SignatureSecret string
	SignatureMethod SignatureMethod
	// From is the sender: an international number (with or without '+';
	// sent without), or an alphanumeric sender id of 1 to 11 letters,
	// digits and spaces where the destination country allows it.
	From string
	// BaseURL is the API's scheme and host; DefaultBaseURL when empty.
	BaseURL string
	// StatusCallbackURL is the public URL at which otpd serves this
	// route's CallbackHandler (at most 100 characters). It is sent as each
	// message's callback. Without SignatureSecret it must carry a secret
	// token of its own in the query (…?token=<at least 16 random
	// characters>), which the handler requires on every request: unsigned
	// receipts would otherwise let anyone mark messages undelivered.
	StatusCallbackURL string
	// HTTPClient sends the requests; a client of its own when nil.
	HTTPClient *http.Client
	// Timeout bounds each request; DefaultTimeout when 0.
	Timeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.SignatureMethod == "" {
		c.SignatureMethod = MD5Hash
	}
	return c
}

// Validate reports the first problem with c, as New would. Error messages
// never contain a secret or the callback URL's token.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.APIKey == "" || strings.ContainsAny(c.APIKey, " &=") {
		return errors.New("vonage: APIKey is required")
	}
	if c.APISecret == "" && c.SignatureSecret == "" {
		return errors.New("vonage: set APISecret, or SignatureSecret to sign requests")
	}
	if !c.SignatureMethod.valid() {
		return fmt.Errorf("vonage: SignatureMethod must be md5hash, md5, sha1, sha256 or sha512, not %q", c.SignatureMethod)
	}
	if _, err := sender(c.From); err != nil {
		return err
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("vonage: BaseURL must be a scheme and host such as https://rest.nexmo.com")
	}
	if c.StatusCallbackURL != "" {
		u, err := url.Parse(c.StatusCallbackURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
			return errors.New("vonage: StatusCallbackURL must be an absolute http(s) URL without credentials or fragment")
		}
		if len(c.StatusCallbackURL) > maxCallbackURL {
			return fmt.Errorf("vonage: StatusCallbackURL has %d characters; the SMS API takes at most %d", len(c.StatusCallbackURL), maxCallbackURL)
		}
		if c.SignatureSecret == "" && !hasToken(u.Query()) {
			return fmt.Errorf("vonage: without SignatureSecret, StatusCallbackURL must carry a secret token of at least %d characters in its query, or anyone could forge delivery receipts", minToken)
		}
	}
	if c.Timeout < 0 {
		return errors.New("vonage: Timeout must not be negative")
	}
	return nil
}

func hasToken(q url.Values) bool {
	for _, vs := range q {
		for _, v := range vs {
			if len(v) >= minToken {
				return true
			}
		}
	}
	return false
}

// sender returns From as the SMS API takes it.
func sender(s string) (string, error) {
	if n, ok := strings.CutPrefix(s, "+"); ok || allDigits(s) {
		if len(n) < 3 || len(n) > 15 || !allDigits(n) {
			return "", fmt.Errorf("vonage: From %q: a number has up to 15 digits", s)
		}
		return n, nil
	}
	if s == "" || len(s) > 11 {
		return "", fmt.Errorf("vonage: From %q: an alphanumeric sender id has 1 to 11 characters", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == ' ') {
			return "", fmt.Errorf("vonage: From %q: an alphanumeric sender id has only letters, digits and spaces", s)
		}
	}
	return s, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Route is an SMS route over Vonage's SMS API. It is an otpd.Channel for
// an sms.Router, and serves the account's delivery receipts with
// CallbackHandler.
type Route struct {
	cfg      Config
	from     string
	endpoint string
	now      func() time.Time
}

var _ otpd.Channel = (*Route)(nil)

// New returns a route for cfg, with defaults filled in.
func New(cfg Config) (*Route, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	from, _ := sender(cfg.From)
	return &Route{cfg: cfg, from: from, endpoint: strings.TrimSuffix(cfg.BaseURL, "/") + "/sms/json", now: time.Now}, nil
}

// Ready returns nil: a route that New accepted can send. It does not call
// Vonage, so /readyz stays cheap; a failing account shows in the router's
// error rate instead.
func (r *Route) Ready(context.Context) error { return nil }

// Send submits msg to the SMS API. Vonage splits a long text into parts,
// each with its own message id, and sends a delivery receipt per part: the
// provider id is the first part's, and every part's id is a ref.
//
// The SMS API has no idempotency key (client-ref, which carries the otpd
// message id, is only echoed in receipts), so delivery is at least once: a
// request whose response is lost is retried (or tried on another route)
// and may arrive twice, with the same code. Its error wraps
// sms.ErrMaybeAccepted, which an error from before the request was written
// never does.
func (r *Route) Send(ctx context.Context, msg *otpd.Outbound) (otpd.SendResult, error) {
	if !strings.HasPrefix(msg.To, "+") || len(msg.To) < 8 || len(msg.To) > 16 || !allDigits(msg.To[1:]) {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Err: errors.New("vonage: destination is not an E.164 number")}
	}
	form := url.Values{}
	form.Set("api_key", r.cfg.APIKey)
	form.Set("from", r.from)
	form.Set("to", msg.To[1:])
	form.Set("text", msg.Text)
	// type=text is GSM-7 with its extension table; anything else needs
	// unicode (UCS-2), or Vonage replaces the characters it cannot send.
	typ := "text"
	if c, _, _ := gsm.Count(msg.Text); c != gsm.GSM7 {
		typ = "unicode"
	}
	form.Set("type", typ)
	form.Set("status-report-req", "1")
	if r.cfg.StatusCallbackURL != "" {
		form.Set("callback", r.cfg.StatusCallbackURL)
	}
	if msg.MessageID != "" && len(msg.MessageID) <= maxClientRef {
		form.Set("client-ref", msg.MessageID)
	}
	if ttl, ok := ttlMillis(msg.ExpiresAt, r.now()); ok {
		form.Set("ttl", strconv.FormatInt(ttl, 10))
	}
	if r.cfg.APISecret != "" {
		form.Set("api_secret", r.cfg.APISecret)
	} else {
		form.Set("timestamp", strconv.FormatInt(r.now().Unix(), 10))
		sig, err := Signature(r.cfg.SignatureMethod, r.cfg.SignatureSecret, form)
		if err != nil {
			return otpd.SendResult{}, err
		}
		form.Set("sig", sig)
	}

	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	ctx, unknown := sms.TrackWrite(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return otpd.SendResult{}, fmt.Errorf("vonage: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "otpd")
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		// Once the request was written, Vonage may have taken it
		// (unknown says so); retrying is the at-least-once choice.
		return otpd.SendResult{}, unknown(fmt.Errorf("vonage: send sms: %w", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return otpd.SendResult{}, unknown(fmt.Errorf("vonage: read response: %w", err))
	}
	if resp.StatusCode/100 != 2 {
		// The SMS API reports refusals inside a 200; anything else is the
		// platform or a proxy: 401, 429, 5xx. Retry.
		code := strconv.Itoa(resp.StatusCode)
		return otpd.SendResult{}, &otpd.SendError{Code: code, Err: fmt.Errorf("vonage: HTTP %d", resp.StatusCode)}
	}
	return parseResponse(body)
}

// ttlMillis returns how long Vonage may keep trying: the time the code has
// left, within the API's bounds. A code with less than MinTTL left still
// gets MinTTL. A code with no expiry sends none, leaving Vonage's default.
func ttlMillis(expires, now time.Time) (int64, bool) {
	if expires.IsZero() {
		return 0, false
	}
	return min(max(expires.Sub(now).Milliseconds(), MinTTL), MaxTTL), true
}

// flexString takes a JSON string or number: the SMS API documents its
// statuses as strings, and a number should not break a send.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n)
	return nil
}

// parseResponse reads the SMS API's reply: one entry per part, each with
// status "0" and a message-id when accepted.
func parseResponse(body []byte) (otpd.SendResult, error) {
	var resp struct {
		Messages []struct {
			ID     flexString `json:"message-id"`
			Status flexString `json:"status"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&resp); err != nil || len(resp.Messages) == 0 {
		// A 200: Vonage may well have taken a message we cannot name.
		return otpd.SendResult{}, fmt.Errorf("vonage: unreadable response: %w", sms.ErrMaybeAccepted)
	}
	var ids []string
	for _, m := range resp.Messages {
		st := string(m.Status)
		if st != "0" {
			// Parts already accepted stay accepted; a permanent refusal
			// is about the message as a whole (its number or text).
			what := statusText[st]
			if what == "" {
				what = "refused"
			}
			return otpd.SendResult{}, &otpd.SendError{
				Permanent: permanentStatus[st],
				Code:      sanitizeCode(st),
				Err:       fmt.Errorf("vonage: status %s: %s", sanitizeCode(st), what),
			}
		}
		if m.ID == "" {
			return otpd.SendResult{}, fmt.Errorf("vonage: accepted part without a message-id: %w", sms.ErrMaybeAccepted)
		}
		ids = append(ids, string(m.ID))
	}
	return otpd.SendResult{ProviderID: ids[0], Refs: ids}, nil
}

// sanitizeCode keeps a provider code short and printable: it is stored.
func sanitizeCode(s string) string {
	if len(s) > 12 {
		s = s[:12]
	}
	return strings.Map(func(r rune) rune {
		if r < '!' || r > '~' {
			return '?'
		}
		return r
	}, s)
}
