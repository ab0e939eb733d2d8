package rcs

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
)

// DefaultBaseURL is the RCS Business Messaging API.
const DefaultBaseURL = "https://rcsbusinessmessaging.googleapis.com"

// Scope is the OAuth 2.0 scope every RBM method requires.
const Scope = "https://www.googleapis.com/auth/rcsbusinessmessaging"

// DefaultTimeout bounds each API request (and the wait for an access
// token) when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// DefaultTrafficType is the messageTrafficType sent when
// Config.TrafficType is empty: RBM's type for authentication messages
// (one-time passwords), the "OTP" agent use case.
const DefaultTrafficType = "AUTHENTICATION"

// MaxTTL is the longest ttl RBM accepts: 15 days after submission.
const MaxTTL = 15 * 24 * time.Hour

// maxResponse bounds how much of an API response is read.
const maxResponse = 1 << 20

// ErrNotCapable is wrapped by the (permanent) error Send returns when RBM
// cannot reach the destination: the capability check or the send answered
// 404 NOT_FOUND, because the phone does not support RCS or has it off, or
// its network has not launched this agent or RCS business traffic, or
// (for an agent not yet launched) the number is not one of its testers.
// The next channel should be tried at once.
var ErrNotCapable = errors.New("rcs: destination cannot be reached with RCS Business Messaging")

// Config is how a channel reaches one RBM agent.
type Config struct {
	// ServiceAccountJSON is the JSON key of the agent's service account
	// (Business Communications Developer Console, Service account). Its
	// private key signs the OAuth 2.0 assertions.
	ServiceAccountJSON []byte
	// AgentID is the agent's id, sent as agentId with every request and
	// compared with the agentId of incoming events.
	AgentID string
	// ClientToken is the webhook's clientToken from the Developer Console
	// (Integrations, Webhook). Events are signed with it and the console's
	// verification request quotes it; without it Handler refuses every
	// request.
	ClientToken string
	// TrafficType is the messageTrafficType of every message;
	// DefaultTrafficType when empty.
	TrafficType string
	// BaseURL is the API's scheme and host; DefaultBaseURL when empty.
	// Tests point it at a local server.
	BaseURL string
	// TokenURL overrides the key file's token_uri (tests).
	TokenURL string
	// HTTPClient sends the API and token requests; a client of its own
	// when nil.
	HTTPClient *http.Client
	// Timeout bounds each API request and the wait for an access token;
	// DefaultTimeout when 0.
	Timeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.TrafficType == "" {
		c.TrafficType = DefaultTrafficType
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
// never contain the private key or the client token.
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}

func (c Config) validate() (*googleauth.ServiceAccount, error) {
	c = c.withDefaults()
	if len(c.ServiceAccountJSON) == 0 {
		return nil, errors.New("rcs: ServiceAccountJSON is required")
	}
	sa, err := googleauth.ParseServiceAccount(c.ServiceAccountJSON)
	if err != nil {
		return nil, fmt.Errorf("rcs: ServiceAccountJSON: %w", err)
	}
	if c.AgentID == "" {
		return nil, errors.New("rcs: AgentID is required")
	}
	if !printableASCII(c.AgentID) {
		return nil, errors.New("rcs: AgentID must be printable ASCII without spaces")
	}
	for _, r := range c.TrafficType {
		if !(r >= 'A' && r <= 'Z' || r == '_') {
			return nil, fmt.Errorf("rcs: TrafficType %q is not an RBM enum value such as AUTHENTICATION", c.TrafficType)
		}
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("rcs: BaseURL must be a scheme and host such as " + DefaultBaseURL)
	}
	if c.TokenURL != "" {
		u, err := url.Parse(c.TokenURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return nil, errors.New("rcs: TokenURL must be an absolute http(s) URL without credentials")
		}
	}
	if c.Timeout < 0 {
		return nil, errors.New("rcs: Timeout must not be negative")
	}
	return sa, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// Channel sends one-time codes as RCS text messages through one RBM agent.
// It is an otpd.Channel, safe for concurrent use, and serves the agent's
// webhook with Handler.
type Channel struct {
	cfg    Config
	base   string
	tokens *googleauth.TokenSource
	now    func() time.Time
}

var _ otpd.Channel = (*Channel)(nil)

// New returns a channel for cfg, with defaults filled in. It makes no
// request: the first access token is fetched by the first Send or Ready.
func New(cfg Config) (*Channel, error) {
	sa, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ts := googleauth.NewTokenSource(sa, []string{Scope},
		googleauth.WithHTTPClient(cfg.HTTPClient), googleauth.WithTokenURL(cfg.TokenURL))
	return &Channel{cfg: cfg, base: strings.TrimSuffix(cfg.BaseURL, "/"), tokens: ts, now: time.Now}, nil
}

// Ready reports whether the channel has, or can get, an access token: a
// deleted key, a disabled service account or an unreachable token endpoint
// shows here. The token is cached for about an hour, so most calls make no
// request.
func (c *Channel) Ready(ctx context.Context) error {
	if _, err := c.token(ctx); err != nil {
		return err
	}
	return nil
}

func (c *Channel) token(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		// Temporary whatever the reason: a bad key is the operator's to
		// fix, and the message may still go once it is (or by the next
		// channel meanwhile).
		return "", &otpd.SendError{Code: "oauth_token", Err: fmt.Errorf("rcs: access token: %w", err)}
	}
	return tok, nil
}

// Send checks that the destination can receive RCS business messages and
// sends msg.Text to it as a text message.
//
// The RBM message id is derived from msg.MessageID (see MessageID), so a
// send repeated after a crash or a lost response carries the same id, and
// RBM, which ignores a second message with an id it has seen, does not
// deliver it twice: its 409 ALREADY_EXISTS answer counts as success.
//
// An unreachable destination is a permanent error wrapping ErrNotCapable.
func (c *Channel) Send(ctx context.Context, msg *otpd.Outbound) (otpd.SendResult, error) {
	if !validE164(msg.To) {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Err: errors.New("rcs: destination is not an E.164 number")}
	}
	body := agentMessage{
		ContentMessage:     contentMessage{Text: msg.Text},
		MessageTrafficType: c.cfg.TrafficType,
	}
	if !msg.ExpiresAt.IsZero() {
		ttl, ok := ttlFor(msg.ExpiresAt, c.now())
		if !ok {
			return otpd.SendResult{}, &otpd.SendError{Permanent: true, Code: "expired", Err: errors.New("rcs: the code has expired; not sent")}
		}
		body.TTL = ttl
	}
	id := MessageID(msg.MessageID)

	tok, err := c.token(ctx)
	if err != nil {
		return otpd.SendResult{}, err
	}
	if err := c.checkCapable(ctx, tok, msg.To); err != nil {
		return otpd.SendResult{}, err
	}
	if err := c.createMessage(ctx, tok, msg.To, id, body); err != nil {
		return otpd.SendResult{}, err
	}
	return otpd.SendResult{ProviderID: id, Refs: []string{id}}, nil
}

// agentMessage is the AgentMessage resource as the create method takes
// it: the content, the traffic type, and the ttl (expireTime, the other
// member of the expiration union, is not used).
type agentMessage struct {
	ContentMessage     contentMessage `json:"contentMessage"`
	MessageTrafficType string         `json:"messageTrafficType,omitempty"`
	TTL                string         `json:"ttl,omitempty"`
}

type contentMessage struct {
	Text string `json:"text"`
}

// ttlFor is the time the code has left, as a protobuf Duration in JSON
// ("600s"): whole seconds, rounded down so that RBM revokes the message
// no later than the code expires, at most MaxTTL. ok is false when less
// than a second is left.
func ttlFor(expires, now time.Time) (string, bool) {
	left := min(expires.Sub(now), MaxTTL)
	s := int64(left / time.Second)
	if s < 1 {
		return "", false
	}
	return strconv.FormatInt(s, 10) + "s", true
}

// checkCapable is phones.getCapabilities:
//
//	GET {BaseURL}/v1/phones/{E.164}/capabilities?requestId={uuid}&agentId={agent}
//
// A fresh requestId each time: RBM ignores a request whose id it has seen.
// Any 2xx means reachable; the features listed do not matter for text.
func (c *Channel) checkCapable(ctx context.Context, tok, to string) error {
	q := url.Values{"requestId": {newUUID()}, "agentId": {c.cfg.AgentID}}
	u := c.base + "/v1/phones/" + to + "/capabilities?" + q.Encode()
	status, body, err := c.do(ctx, http.MethodGet, u, tok, nil)
	if err != nil {
		return &otpd.SendError{Err: fmt.Errorf("rcs: capability check: %w", err)}
	}
	if status/100 == 2 {
		return nil
	}
	return apiError("capability check", status, body, to)
}

// createMessage is phones.agentMessages.create:
//
//	POST {BaseURL}/v1/phones/{E.164}/agentMessages?messageId={uuid}&agentId={agent}
//	{"contentMessage":{"text":"..."},"messageTrafficType":"AUTHENTICATION","ttl":"600s"}
func (c *Channel) createMessage(ctx context.Context, tok, to, id string, m agentMessage) error {
	payload, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("rcs: %w", err)
	}
	q := url.Values{"messageId": {id}, "agentId": {c.cfg.AgentID}}
	u := c.base + "/v1/phones/" + to + "/agentMessages?" + q.Encode()
	status, body, err := c.do(ctx, http.MethodPost, u, tok, payload)
	if err != nil {
		// The message may have been created; a retry carries the same
		// messageId, which RBM answers with 409 if so.
		return &otpd.SendError{Err: fmt.Errorf("rcs: send: %w", err)}
	}
	if status/100 == 2 || status == http.StatusConflict {
		return nil
	}
	return apiError("send", status, body, to)
}

// do sends one API request with the access token and returns the status
// and (bounded) body.
func (c *Channel) do(ctx context.Context, method, u, tok string, payload []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "otpd")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		// A *url.Error quotes the URL, which has the phone number in it;
		// the error is stored and logged, so keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// validE164 accepts '+' and 3 to 15 digits, the first not 0. The number
// goes into the URL path as it is, so nothing else may pass.
func validE164(s string) bool {
	if len(s) < 4 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
