package fcm

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
	"github.com/otpd/otpd/internal/googleauth"
	"github.com/otpd/otpd/push"
)

// DefaultBaseURL is the FCM HTTP v1 API.
const DefaultBaseURL = "https://fcm.googleapis.com"

// Scope is the OAuth 2.0 scope messages:send needs.
const Scope = "https://www.googleapis.com/auth/firebase.messaging"

// DefaultTimeout bounds one request when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// MaxTTL is the longest android.ttl FCM takes (4 weeks).
const MaxTTL = 28 * 24 * time.Hour

// maxResponse bounds how much of a response is read: a Message or an
// error status is well under a kilobyte.
const maxResponse = 64 << 10

// maxToken bounds a registration token (today's are about 160
// characters; Google documents no length).
const maxToken = 4096

// Config is how a sender reaches one Firebase project.
type Config struct {
	// ServiceAccountJSON is the JSON key file of a service account of
	// the Firebase project (Project settings > Service accounts), with
	// the Firebase Cloud Messaging API Admin role or one above it.
	// Required.
	ServiceAccountJSON []byte
	// ProjectID is the Firebase project id; the key file's project_id
	// when empty.
	ProjectID string
	// BaseURL is the API's scheme and host; DefaultBaseURL when empty.
	// Tests point it at a local server.
	BaseURL string
	// HTTPClient sends the requests, and the token requests; a client of
	// its own when nil.
	HTTPClient *http.Client
	// Timeout bounds each request; DefaultTimeout when 0.
	Timeout time.Duration
	// Now is the clock for TTLs and access tokens; time.Now when nil.
	// Tests set it.
	Now func() time.Time
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
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports the first problem with c, as New would. Errors never
// quote the key.
func (c Config) Validate() error {
	_, _, err := c.validate()
	return err
}

func (c Config) validate() (Config, *googleauth.ServiceAccount, error) {
	c = c.withDefaults()
	if len(c.ServiceAccountJSON) == 0 {
		return c, nil, errors.New("fcm: ServiceAccountJSON is required (the Firebase project's service account key file)")
	}
	sa, err := googleauth.ParseServiceAccount(c.ServiceAccountJSON)
	if err != nil {
		return c, nil, fmt.Errorf("fcm: %w", err)
	}
	if c.ProjectID == "" {
		c.ProjectID = sa.ProjectID
	}
	if !validProjectID(c.ProjectID) {
		return c, nil, errors.New("fcm: ProjectID (or the key file's project_id) must be a Firebase project id such as acme-otp")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return c, nil, errors.New("fcm: BaseURL must be a scheme and host such as https://fcm.googleapis.com")
	}
	if c.Timeout < 0 {
		return c, nil, errors.New("fcm: Timeout must not be negative")
	}
	return c, sa, nil
}

// validProjectID checks a Google Cloud project id (lower-case letters,
// digits and hyphens, 6 to 30) or a project number, loosely: it goes
// into the request path.
func validProjectID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// tokenSource is what a Sender needs of googleauth.TokenSource.
type tokenSource interface {
	Token(ctx context.Context) (string, error)
}

// Sender pushes codes to Android devices through FCM. It is a push.Sender
// for push.Config.Android, and safe for concurrent use: requests share
// one cached access token.
type Sender struct {
	cfg      Config
	endpoint string
	tokens   tokenSource
}

var _ push.Sender = (*Sender)(nil)

// New returns a sender for cfg. It makes no request: the first access
// token is fetched by the first Send.
func New(cfg Config) (*Sender, error) {
	cfg, sa, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	ts := googleauth.NewTokenSource(sa, []string{Scope},
		googleauth.WithHTTPClient(cfg.HTTPClient), googleauth.WithClock(cfg.Now))
	endpoint := strings.TrimSuffix(cfg.BaseURL, "/") + "/v1/projects/" + cfg.ProjectID + "/messages:send"
	return &Sender{cfg: cfg, endpoint: endpoint, tokens: ts}, nil
}

// Ready returns nil: a sender that New accepted can send. It does not
// fetch a token or call FCM, so /readyz stays cheap; a refused key shows
// in the messages' errors.
func (s *Sender) Ready(context.Context) error { return nil }

// request is the messages:send body.
type request struct {
	Message message `json:"message"`
}

type message struct {
	Token   string            `json:"token"`
	Data    map[string]string `json:"data"`
	Android android           `json:"android"`
}

type android struct {
	Priority string `json:"priority"`
	TTL      string `json:"ttl,omitempty"`
}

// Send pushes msg to dev's registration token as a data message: the app
// gets the code, the text, the service's name, the verification id and
// the expiry as data and shows (or fills in) the code itself. Android
// priority is HIGH, which wakes a dozing device; ttl is the time the code
// has left, so FCM drops the message for a device that stays offline
// past the code's expiry instead of delivering a dead code.
//
// FCM does not deduplicate: a send whose response was lost may reach the
// device twice when retried. The data carries verification_id for the
// app to tell.
func (s *Sender) Send(ctx context.Context, dev push.Device, msg *otpd.Outbound) (otpd.SendResult, error) {
	if !validToken(dev.Token) {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Code: "INVALID_ARGUMENT", Err: &push.ProviderError{
			Provider: "fcm", Reason: "INVALID_ARGUMENT", Detail: "the registration token is malformed", DeadToken: true,
		}}
	}
	data := map[string]string{"code": msg.Code, "text": msg.Text}
	if msg.Brand != "" {
		data["brand"] = msg.Brand
	}
	if msg.VerificationID != "" {
		data["verification_id"] = msg.VerificationID
	}
	if !msg.ExpiresAt.IsZero() {
		data["expires_at"] = msg.ExpiresAt.UTC().Format(time.RFC3339)
	}
	now := s.cfg.Now()
	body, err := json.Marshal(request{Message: message{
		Token:   dev.Token,
		Data:    data,
		Android: android{Priority: "HIGH", TTL: ttl(msg.ExpiresAt, now)},
	}})
	if err != nil {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Err: fmt.Errorf("fcm: encode message: %w", err)}
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	access, err := s.tokens.Token(ctx)
	if err != nil {
		return otpd.SendResult{}, tokenError(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return otpd.SendResult{}, fmt.Errorf("fcm: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "otpd")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		// Timeouts and connection failures are temporary; the message
		// may have gone out (see above).
		return otpd.SendResult{}, fmt.Errorf("fcm: send: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return otpd.SendResult{}, fmt.Errorf("fcm: read response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return otpd.SendResult{}, responseError(resp.StatusCode, resp.Header, raw, s.cfg.Now())
	}
	var m struct {
		Name string `json:"name"`
	}
	// A 2xx is an accepted message even if its name cannot be read:
	// failing it would send the code again.
	_ = json.Unmarshal(raw, &m)
	return otpd.SendResult{ProviderID: m.Name}, nil
}

// tokenError classifies a failure to get an access token: the token
// endpoint's refusal of the key (invalid_grant for a deleted key, ...)
// is permanent, like FCM's own refusals of the credentials; rate limits,
// server errors and network failures are temporary.
func tokenError(err error) error {
	var te *googleauth.TokenError
	if errors.As(err, &te) && !te.Temporary() {
		c := te.Code
		if c == "" {
			c = strconv.Itoa(te.StatusCode)
		}
		return &otpd.SendError{Permanent: true, Code: c, Err: fmt.Errorf("fcm: access token: %w", err)}
	}
	return fmt.Errorf("fcm: access token: %w", err)
}

// validToken checks that a registration token can be sent as it is:
// printable ASCII without spaces (today's are letters, digits, '-', '_'
// and ':').
func validToken(s string) bool {
	if s == "" || len(s) > maxToken {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ttl is android.ttl for a code that expires at expires: the whole
// seconds it has left, in the JSON form of a protobuf Duration ("540s").
// A code already past its expiry gets "0s", which FCM takes as "now or
// never"; a message with no expiry gets none (FCM's default, 4 weeks).
func ttl(expires, now time.Time) string {
	if expires.IsZero() {
		return ""
	}
	d := min(max(expires.Sub(now), 0), MaxTTL)
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}
