package twilio

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
	"github.com/otpd/otpd/sms"
)

// DefaultBaseURL is Twilio's REST API.
const DefaultBaseURL = "https://api.twilio.com"

// DefaultTimeout bounds one Messages API request when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// MaxValidityPeriod is the longest ValidityPeriod the Messages API takes,
// in seconds (10 hours); Twilio answers a longer one with error 21624.
const MaxValidityPeriod = 36000

// maxResponse bounds how much of a response is read: a message resource is
// a few kilobytes.
const maxResponse = 1 << 20

// Config is how a route reaches one Twilio account.
type Config struct {
	// AccountSID ("AC" and 32 hex digits) and AuthToken authenticate every
	// request (HTTP Basic) and are the key status callbacks are signed
	// with.
	AccountSID string
	AuthToken  string
	// From is the sender: an E.164 number with '+', a short code, or an
	// alphanumeric sender id (1 to 11 letters, digits and spaces, at least
	// one letter) where the destination country allows it. Set exactly one
	// of From and MessagingServiceSID.
	From string
	// MessagingServiceSID ("MG" and 32 hex digits) lets a Messaging
	// Service pick the sender instead of From.
	MessagingServiceSID string
	// BaseURL is the API's scheme and host; DefaultBaseURL when empty.
	// Tests point it at a local server.
	BaseURL string
	// StatusCallbackURL is the public https URL at which otpd serves this
	// route's CallbackHandler. It is sent with every message, and it is the
	// URL the callback signatures are checked against, so it must be
	// exactly what Twilio calls (scheme, host, port, path and query).
	// Without it Twilio reports no status and the handler refuses every
	// request.
	StatusCallbackURL string
	// HTTPClient sends the requests; a client of its own when nil.
	HTTPClient *http.Client
	// Timeout bounds each request; DefaultTimeout when 0.
	Timeout time.Duration
}

// withDefaults returns c with the defaults filled in.
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
	return c
}

// Validate reports the first problem with c, as New would. Error messages
// never contain the auth token.
func (c Config) Validate() error {
	c = c.withDefaults()
	if !validSID(c.AccountSID, "AC") {
		return errors.New("twilio: AccountSID must be \"AC\" and 32 hex digits")
	}
	if c.AuthToken == "" {
		return errors.New("twilio: AuthToken is required")
	}
	switch {
	case c.From == "" && c.MessagingServiceSID == "":
		return errors.New("twilio: set From or MessagingServiceSID")
	case c.From != "" && c.MessagingServiceSID != "":
		return errors.New("twilio: set From or MessagingServiceSID, not both")
	case c.From != "":
		if err := validSender(c.From); err != nil {
			return err
		}
	case !validSID(c.MessagingServiceSID, "MG"):
		return errors.New("twilio: MessagingServiceSID must be \"MG\" and 32 hex digits")
	}
	if err := validBaseURL(c.BaseURL); err != nil {
		return err
	}
	if c.StatusCallbackURL != "" {
		u, err := url.Parse(c.StatusCallbackURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return errors.New("twilio: StatusCallbackURL must be an absolute http(s) URL without credentials")
		}
		if u.Fragment != "" {
			// Twilio reads connection overrides (#rc=...) from the
			// fragment; whether they are signed is not documented, so a
			// URL with one could never be verified reliably.
			return errors.New("twilio: StatusCallbackURL must not have a #fragment")
		}
	}
	if c.Timeout < 0 {
		return errors.New("twilio: Timeout must not be negative")
	}
	return nil
}

func validSID(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, c := range s[2:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func validBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("twilio: BaseURL must be a scheme and host such as https://api.twilio.com")
	}
	return nil
}

// validSender checks From as Twilio documents senders.
func validSender(s string) error {
	switch {
	case strings.HasPrefix(s, "+"):
		if len(s) < 4 || len(s) > 16 || !allDigits(s[1:]) {
			return fmt.Errorf("twilio: From %q: an E.164 number is '+' and up to 15 digits", s)
		}
		return nil
	case allDigits(s):
		if len(s) > 15 {
			return fmt.Errorf("twilio: From %q: a short code has at most 15 digits", s)
		}
		return nil
	}
	letter := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9' || r == ' ':
		default:
			return fmt.Errorf("twilio: From %q: an alphanumeric sender id has only letters, digits and spaces", s)
		}
	}
	if !letter || len(s) > 11 {
		return fmt.Errorf("twilio: From %q: an alphanumeric sender id has 1 to 11 characters and at least one letter", s)
	}
	return nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Route is an SMS route over Twilio's Messages API. It is an otpd.Channel
// for an sms.Router, and serves the account's status callbacks with
// CallbackHandler.
type Route struct {
	cfg      Config
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
	endpoint := strings.TrimSuffix(cfg.BaseURL, "/") + "/2010-04-01/Accounts/" + cfg.AccountSID + "/Messages.json"
	return &Route{cfg: cfg, endpoint: endpoint, now: time.Now}, nil
}

// Ready returns nil: a route that New accepted can send. It does not call
// Twilio, so /readyz stays cheap and does not count against rate limits;
// a failing account shows in the router's error rate instead.
func (r *Route) Ready(context.Context) error { return nil }

// Send creates one Message resource for msg. Twilio splits and encodes the
// text itself, so the message has one id, which its status callbacks
// quote.
//
// The request carries an I-Twilio-Idempotency-Token header with the otpd
// message id, which stays the same on every retry of the message. Twilio
// documents that header on the webhooks it sends (so receivers can drop
// retries); we found no documentation that the Messages API deduplicates
// on it. So delivery stays at least once: a send whose response is lost
// is retried (or tried on another route) and may reach the phone twice,
// with the same code. Its error wraps sms.ErrMaybeAccepted, which an error
// from before the request was written never does.
func (r *Route) Send(ctx context.Context, msg *otpd.Outbound) (otpd.SendResult, error) {
	if !strings.HasPrefix(msg.To, "+") || len(msg.To) < 4 || len(msg.To) > 16 || !allDigits(msg.To[1:]) {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Err: errors.New("twilio: destination is not an E.164 number")}
	}
	form := url.Values{}
	form.Set("To", msg.To)
	if r.cfg.From != "" {
		form.Set("From", r.cfg.From)
	} else {
		form.Set("MessagingServiceSid", r.cfg.MessagingServiceSID)
	}
	form.Set("Body", msg.Text)
	if r.cfg.StatusCallbackURL != "" {
		form.Set("StatusCallback", r.cfg.StatusCallbackURL)
	}
	if vp, ok := validityPeriod(msg.ExpiresAt, r.now()); ok {
		form.Set("ValidityPeriod", strconv.Itoa(vp))
	}

	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	ctx, unknown := sms.TrackWrite(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return otpd.SendResult{}, fmt.Errorf("twilio: %w", err)
	}
	req.SetBasicAuth(r.cfg.AccountSID, r.cfg.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "otpd")
	if msg.MessageID != "" {
		req.Header.Set("I-Twilio-Idempotency-Token", msg.MessageID)
	}
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		// Timeouts and connection failures: once the request was
		// written the message may have been created (unknown says so);
		// retrying is the at-least-once choice.
		return otpd.SendResult{}, unknown(fmt.Errorf("twilio: create message: %w", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return otpd.SendResult{}, unknown(fmt.Errorf("twilio: read response: %w", err))
	}
	if resp.StatusCode/100 != 2 {
		return otpd.SendResult{}, responseError(resp.StatusCode, body)
	}
	var m struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.SID == "" {
		// A 2xx: Twilio most likely created a message we cannot name.
		return otpd.SendResult{}, fmt.Errorf("twilio: HTTP %d without a message sid: %w", resp.StatusCode, sms.ErrMaybeAccepted)
	}
	return otpd.SendResult{ProviderID: m.SID, Refs: []string{m.SID}}, nil
}

// validityPeriod returns the seconds the code has left, which is how long
// Twilio may keep the message queued: a message that leaves the queue later
// would carry a dead code. Twilio takes 1 to MaxValidityPeriod; a code with
// no expiry sends none, leaving Twilio's default.
//
// ValidityPeriod covers Twilio's own queue only; once a carrier has the
// message, the carrier's retry policy applies.
func validityPeriod(expires, now time.Time) (int, bool) {
	if expires.IsZero() {
		return 0, false
	}
	s := int64(expires.Sub(now) / time.Second)
	return int(min(max(s, 1), MaxValidityPeriod)), true
}

// responseError turns a refusal into an error for the delivery queue. It
// carries Twilio's code and our description of it, never Twilio's message
// text, which may quote the destination number.
func responseError(status int, body []byte) error {
	var e struct {
		Code json.Number `json:"code"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	_ = dec.Decode(&e)
	code := e.Code.String()
	if code == "" {
		code = strconv.Itoa(status)
	}
	permanent := false
	if status/100 == 4 && status != http.StatusTooManyRequests && status != http.StatusUnauthorized {
		permanent = permanentCodes[code]
	}
	what := describe(code)
	if what == "" {
		what = "refused"
	}
	return &otpd.SendError{
		Permanent: permanent,
		Code:      code,
		Err:       fmt.Errorf("twilio: HTTP %d: %s", status, what),
	}
}
