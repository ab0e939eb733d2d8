package apns

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
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
	"github.com/otpd/otpd/push"
)

// APNs servers (Apple's "Sending notification requests to APNs").
const (
	ProductionURL = "https://api.push.apple.com"
	SandboxURL    = "https://api.sandbox.push.apple.com"
)

// DefaultTimeout bounds one request when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// MaxPayload is the largest notification payload APNs takes, in bytes;
// APNs answers a larger one with 413 PayloadTooLarge.
const MaxPayload = 4096

// Interruption levels for Config.InterruptionLevel.
const (
	// TimeSensitive breaks through Focus and the notification summary,
	// which is what a code that expires in minutes needs. The app needs
	// the Time Sensitive Notifications capability, and the person may
	// turn it off for the app.
	TimeSensitive = "time-sensitive"
	// Active is the ordinary level: the alert may wait in a Focus or a
	// scheduled summary.
	Active = "active"
)

// maxResponse bounds how much of a response is read: an error body is a
// reason and a timestamp.
const maxResponse = 64 << 10

// maxCollapseID is the longest apns-collapse-id APNs takes, in bytes.
const maxCollapseID = 64

// Config is how a sender reaches APNs with token-based authentication.
type Config struct {
	// KeyID is the 10-character id of the signing key, and TeamID the
	// 10-character id of the team it belongs to, both from the developer
	// account. They are the provider token's kid and iss.
	KeyID  string
	TeamID string
	// Key is the signing key: the contents of the AuthKey_<KeyID>.p8
	// file (see ParseKey).
	Key []byte
	// Topic is the app's bundle id, e.g. "com.example.bank".
	Topic string
	// Sandbox sends to the development server (SandboxURL), for apps
	// built with the development aps-environment entitlement. Device
	// tokens of one environment are refused by the other's server with
	// BadDeviceToken.
	Sandbox bool
	// BaseURL overrides the server (scheme and host, https only);
	// ProductionURL or SandboxURL when empty. Tests point it at a local
	// server.
	BaseURL string
	// InterruptionLevel is the alert's interruption-level: TimeSensitive
	// (the default) or Active.
	InterruptionLevel string
	// RefreshAfter is how long a provider token is reused before a new
	// one is signed: DefaultRefresh when 0, else between MinRefresh and
	// MaxRefresh.
	RefreshAfter time.Duration
	// HTTPClient sends the requests; it must speak HTTP/2. A client of
	// its own, HTTP/2 only, when nil.
	HTTPClient *http.Client
	// RootCAs are the CAs APNs' certificate must chain to when HTTPClient
	// is nil: the system's roots when nil (a proxy that inspects TLS needs
	// its CA here).
	RootCAs *x509.CertPool
	// Timeout bounds each request; DefaultTimeout when 0.
	Timeout time.Duration
	// Now is the clock for provider tokens and apns-expiration; time.Now
	// when nil. Tests set it.
	Now func() time.Time
}

// withDefaults returns c with the defaults filled in.
func (c Config) withDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = ProductionURL
		if c.Sandbox {
			c.BaseURL = SandboxURL
		}
	}
	if c.InterruptionLevel == "" {
		c.InterruptionLevel = TimeSensitive
	}
	if c.RefreshAfter == 0 {
		c.RefreshAfter = DefaultRefresh
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports the first problem with c, as New would. Errors never
// quote the key.
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}

func (c Config) validate() (Config, error) {
	c = c.withDefaults()
	if !validID(c.KeyID) {
		return c, errors.New("apns: KeyID must be the key's 10-character id")
	}
	if !validID(c.TeamID) {
		return c, errors.New("apns: TeamID must be the team's 10-character id")
	}
	if !validTopic(c.Topic) {
		return c, errors.New("apns: Topic must be the app's bundle id (letters, digits, '.' and '-')")
	}
	if len(c.Key) == 0 {
		return c, errors.New("apns: Key is required (the .p8 file's contents)")
	}
	if _, err := ParseKey(c.Key); err != nil {
		return c, err
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return c, errors.New("apns: BaseURL must be https and a host such as https://api.push.apple.com")
	}
	switch c.InterruptionLevel {
	case TimeSensitive, Active:
	default:
		return c, fmt.Errorf("apns: InterruptionLevel must be %q or %q", TimeSensitive, Active)
	}
	if c.RefreshAfter < MinRefresh || c.RefreshAfter > MaxRefresh {
		return c, fmt.Errorf("apns: RefreshAfter must be between %s and %s: Apple refuses tokens replaced more often than every 20 minutes or older than an hour", MinRefresh, MaxRefresh)
	}
	if c.Timeout < 0 {
		return c, errors.New("apns: Timeout must not be negative")
	}
	return c, nil
}

// validID checks a key or team id: 10 letters and digits.
func validID(s string) bool {
	if len(s) != 10 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// validTopic checks a bundle id (with a suffix such as ".voip" if any).
func validTopic(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// Sender pushes codes to iOS devices through APNs. It is a push.Sender
// for push.Config.IOS, and safe for concurrent use: requests share the
// client's HTTP/2 connections and one provider token.
type Sender struct {
	cfg    Config
	client *http.Client
	tokens *tokenCache
}

var _ push.Sender = (*Sender)(nil)

// New returns a sender for cfg.
func New(cfg Config) (*Sender, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	key, _ := ParseKey(cfg.Key) // validate parsed it
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	client := cfg.HTTPClient
	if client == nil {
		client = defaultClient(cfg.RootCAs)
	}
	return &Sender{
		cfg:    cfg,
		client: client,
		tokens: &tokenCache{key: key, keyID: cfg.KeyID, teamID: cfg.TeamID, refresh: cfg.RefreshAfter, now: cfg.Now},
	}, nil
}

// defaultClient speaks HTTP/2 only, as APNs requires, and pings idle
// connections so that one APNs dropped silently is noticed before a push
// waits on it.
func defaultClient(roots *x509.CertPool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Protocols = new(http.Protocols)
	t.Protocols.SetHTTP2(true)
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	t.HTTP2 = &http.HTTP2Config{SendPingTimeout: time.Minute, PingTimeout: 15 * time.Second}
	return &http.Client{Transport: t}
}

// Ready returns nil: a sender that New accepted can send. It does not
// call APNs (there is no request that checks credentials without pushing
// something); a refused key shows in the messages' errors.
func (s *Sender) Ready(context.Context) error { return nil }

// payload is the notification's JSON: Apple's aps dictionary for the
// alert, and the code and verification beside it for the app (a
// notification service extension, or the app in the foreground, can
// read them and offer to fill the code in).
type payload struct {
	APS            aps    `json:"aps"`
	Code           string `json:"code"`
	VerificationID string `json:"verification_id,omitempty"`
	ExpiresAt      string `json:"expires_at,omitempty"`
}

type aps struct {
	Alert             alert  `json:"alert"`
	Sound             string `json:"sound"`
	InterruptionLevel string `json:"interruption-level"`
}

type alert struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body"`
}

// Send pushes msg to dev's device token as an alert: the service's name
// as title and the rendered text as body, with the code and verification
// id as custom keys.
//
// The request carries apns-id derived from msg.MessageID (MessageID), so
// every retry of a message has the same id, and apns-collapse-id set to
// the verification id, so a retry or a resend that reaches the device
// twice replaces the first alert instead of stacking a second one.
// apns-expiration is the code's expiry: APNs keeps the notification for
// an offline device until then and no longer.
func (s *Sender) Send(ctx context.Context, dev push.Device, msg *otpd.Outbound) (otpd.SendResult, error) {
	if !validDeviceToken(dev.Token) {
		// It could never be put in a request; APNs would call it
		// BadDeviceToken.
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Code: "BadDeviceToken", Err: &push.ProviderError{
			Provider: "apns", Reason: "BadDeviceToken", Detail: "the device token is not hexadecimal", DeadToken: true,
		}}
	}
	body, err := json.Marshal(payload{
		APS: aps{
			Alert:             alert{Title: msg.Brand, Body: msg.Text},
			Sound:             "default",
			InterruptionLevel: s.cfg.InterruptionLevel,
		},
		Code:           msg.Code,
		VerificationID: msg.VerificationID,
		ExpiresAt:      formatTime(msg.ExpiresAt),
	})
	if err != nil {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Err: fmt.Errorf("apns: encode payload: %w", err)}
	}
	if len(body) > MaxPayload {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Code: "PayloadTooLarge",
			Err: fmt.Errorf("apns: payload of %d bytes is over APNs' %d", len(body), MaxPayload)}
	}
	token, err := s.tokens.get()
	if err != nil {
		return otpd.SendResult{}, err
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.BaseURL+"/3/device/"+dev.Token, bytes.NewReader(body))
	if err != nil {
		return otpd.SendResult{}, fmt.Errorf("apns: %w", err)
	}
	// Header names are sent lower-case over HTTP/2 whatever their case
	// here; Set is used for the canonical map key.
	req.Header.Set("Authorization", "bearer "+token)
	req.Header.Set("Apns-Topic", s.cfg.Topic)
	req.Header.Set("Apns-Push-Type", "alert")
	req.Header.Set("Apns-Priority", "10")
	if exp, ok := expiration(msg.ExpiresAt, s.cfg.Now()); ok {
		req.Header.Set("Apns-Expiration", exp)
	}
	id := ""
	if msg.MessageID != "" {
		id = MessageID(msg.MessageID)
		req.Header.Set("Apns-Id", id)
	}
	if msg.VerificationID != "" && len(msg.VerificationID) <= maxCollapseID {
		req.Header.Set("Apns-Collapse-Id", msg.VerificationID)
	}
	req.Header.Set("User-Agent", "otpd")
	resp, err := s.client.Do(req)
	if err != nil {
		// Timeouts and connection failures are temporary. A request
		// that was written may have been accepted: a retry reaches the
		// device with the same apns-id and collapse id, and shows as
		// one alert.
		return otpd.SendResult{}, fmt.Errorf("apns: push: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil && resp.StatusCode != http.StatusOK {
		return otpd.SendResult{}, fmt.Errorf("apns: read response: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		if got := resp.Header.Get("Apns-Id"); got != "" {
			id = got
		}
		return otpd.SendResult{ProviderID: id}, nil
	}
	rerr := responseError(resp.StatusCode, raw)
	if parseError(raw).Reason == "ExpiredProviderToken" {
		s.tokens.invalidate(token)
	}
	return otpd.SendResult{}, rerr
}

// validDeviceToken checks that a device token is hexadecimal (Apple
// documents no fixed length; today's are 64 digits).
func validDeviceToken(s string) bool {
	if s == "" || len(s) > 512 || len(s)%2 != 0 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// expiration is the apns-expiration header for a code that expires at
// expires: its Unix time. A code already past it gets 0, which tells
// APNs to try once and not store the notification; a message with no
// expiry gets no header.
func expiration(expires, now time.Time) (string, bool) {
	switch {
	case expires.IsZero():
		return "", false
	case !expires.After(now):
		return "0", true
	}
	return strconv.FormatInt(expires.Unix(), 10), true
}

// formatTime is an expiry for the payload: RFC 3339 in UTC, or "" for
// none.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// namespace is the UUID namespace of MessageID's name-based UUIDs. It is
// otpd's own (random) and must never change: ids derived before and
// after a change would differ.
var namespace = [16]byte{0xe5, 0x9c, 0xb3, 0x89, 0x4e, 0x2b, 0x4c, 0x0b, 0xae, 0x70, 0xb8, 0x7f, 0xb3, 0xe8, 0xf5, 0xbf}

// MessageID returns the apns-id for an otpd message id: a version 5
// (SHA-1, name-based) UUID of messageID in otpd's namespace, in the
// canonical lower-case form APNs requires. The same message id always
// gives the same apns-id, so a retry carries the id of the first try.
func MessageID(messageID string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(messageID))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
