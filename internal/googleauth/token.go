package googleauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// grantType is RFC 7523's grant type for a JWT used as an
	// authorization grant (section 2.1).
	grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// assertionLifetime is exp-iat; Google accepts at most an hour.
	assertionLifetime = time.Hour
	// clockSkew backdates iat: Google refuses an assertion "issued" in its
	// future, and this host's clock may run a little ahead. exp is still
	// iat plus exactly one hour.
	clockSkew = 10 * time.Second
	// refreshBefore is how long before its expiry a token is replaced, so
	// that a request made with it does not reach Google just after it
	// lapsed.
	refreshBefore = 5 * time.Minute
	// defaultLifetime is assumed when a reply has no expires_in: Google
	// documents access tokens as lasting an hour.
	defaultLifetime = time.Hour
	// fetchTimeout bounds one token request, whoever waits for it.
	fetchTimeout = 30 * time.Second
	// maxResponse bounds a token reply (a few hundred bytes).
	maxResponse = 1 << 20
)

// Option configures a TokenSource.
type Option func(*TokenSource)

// WithHTTPClient sets the client token requests are sent with;
// http.DefaultClient otherwise.
func WithHTTPClient(c *http.Client) Option {
	return func(ts *TokenSource) {
		if c != nil {
			ts.client = c
		}
	}
}

// WithClock sets the clock for the JWT's iat and exp and for token
// expiry; time.Now otherwise. Tests use it.
func WithClock(now func() time.Time) Option {
	return func(ts *TokenSource) {
		if now != nil {
			ts.now = now
		}
	}
}

// WithTokenURL sends token requests to u instead of the key file's
// token_uri; the JWT's aud is u too. Empty leaves the key file's. Tests
// use it to point at a local endpoint.
func WithTokenURL(u string) Option {
	return func(ts *TokenSource) {
		if u != "" {
			ts.tokenURL = u
		}
	}
}

// TokenSource hands out access tokens for one service account and set of
// scopes, fetching a new one only when the cached one is about to expire.
// It is safe for concurrent use; concurrent callers that find no valid
// token share one request.
type TokenSource struct {
	sa       *ServiceAccount
	scope    string
	tokenURL string
	client   *http.Client
	now      func() time.Time

	mu     sync.Mutex
	token  string
	expiry time.Time // when token is no longer used (refreshBefore early)
	flight *flight   // the fetch under way, if any
}

// flight is one token request that several callers wait for.
type flight struct {
	done   chan struct{} // closed when token and err are set
	token  string
	expiry time.Time
	err    error
}

// NewTokenSource returns a source of access tokens for sa with the given
// scopes (e.g. "https://www.googleapis.com/auth/rcsbusinessmessaging").
// sa must come from ParseServiceAccount. It makes no request until Token
// is called.
func NewTokenSource(sa *ServiceAccount, scopes []string, opts ...Option) *TokenSource {
	ts := &TokenSource{
		sa:       sa,
		scope:    strings.Join(scopes, " "),
		tokenURL: sa.TokenURI,
		client:   http.DefaultClient,
		now:      time.Now,
	}
	for _, o := range opts {
		o(ts)
	}
	return ts
}

// Token returns an access token for an "Authorization: Bearer" header. It
// is the cached one while that has more than five minutes left; otherwise
// Token requests a new one, or waits for the request another caller has
// under way. The request is not abandoned when ctx ends (other callers
// may be waiting for it, and its token is cached for the next): only this
// call's wait is. A failure is not cached: the next call tries again.
//
// A refusal from the token endpoint is a *TokenError.
func (ts *TokenSource) Token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	if ts.token != "" && ts.now().Before(ts.expiry) {
		tok := ts.token
		ts.mu.Unlock()
		return tok, nil
	}
	f := ts.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		ts.flight = f
		// The fetch belongs to the flight, not to this caller: it keeps
		// ctx's values but not its cancellation, and fetchTimeout
		// bounds it.
		go ts.fetch(context.WithoutCancel(ctx), f)
	}
	ts.mu.Unlock()

	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", fmt.Errorf("googleauth: waiting for a token: %w", context.Cause(ctx))
	}
}

// fetch runs f's request and publishes its result.
func (ts *TokenSource) fetch(ctx context.Context, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	f.token, f.expiry, f.err = ts.request(ctx)
	ts.mu.Lock()
	if f.err == nil {
		ts.token, ts.expiry = f.token, f.expiry
	}
	ts.flight = nil
	ts.mu.Unlock()
	close(f.done)
}

// request signs an assertion and exchanges it for a token.
func (ts *TokenSource) request(ctx context.Context) (string, time.Time, error) {
	issued := ts.now().Add(-clockSkew)
	assertion, err := ts.assertion(issued)
	if err != nil {
		return "", time.Time{}, err
	}
	form := url.Values{"grant_type": {grantType}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("googleauth: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "otpd")
	resp, err := ts.client.Do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("googleauth: token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("googleauth: token response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", time.Time{}, tokenError(resp.StatusCode, body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", time.Time{}, fmt.Errorf("googleauth: token response is not JSON: %w", err)
	}
	if tr.AccessToken == "" {
		return "", time.Time{}, errors.New("googleauth: token response has no access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "Bearer") {
		return "", time.Time{}, fmt.Errorf("googleauth: token type %q, want Bearer", truncate(tr.TokenType, 40))
	}
	lifetime := defaultLifetime
	if tr.ExpiresIn > 0 && tr.ExpiresIn < int64(24*time.Hour/time.Second) {
		lifetime = time.Duration(tr.ExpiresIn) * time.Second
	}
	// The lifetime counts from when Google issued the token, which is
	// after issued+clockSkew (when the request started): counting from
	// there errs on the safe side. A short-lived token is used for the
	// first half of its life rather than not at all.
	early := min(refreshBefore, lifetime/2)
	return tr.AccessToken, issued.Add(clockSkew + lifetime - early), nil
}

// assertion is the signed JWT of RFC 7523 section 3, with the claims
// Google's server-to-server guide lists.
func (ts *TokenSource) assertion(issued time.Time) (string, error) {
	claims := jwt.MapClaims{
		"iss":   ts.sa.ClientEmail,
		"scope": ts.scope,
		"aud":   ts.tokenURL,
		"iat":   issued.Unix(),
		"exp":   issued.Add(assertionLifetime).Unix(),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	if ts.sa.PrivateKeyID != "" {
		t.Header["kid"] = ts.sa.PrivateKeyID
	}
	s, err := t.SignedString(ts.sa.key)
	if err != nil {
		return "", fmt.Errorf("googleauth: sign assertion: %w", err)
	}
	return s, nil
}

// TokenError is a refusal from the token endpoint: RFC 6749 section 5.2's
// error response, e.g. invalid_grant with "Invalid JWT Signature." for a
// key that was deleted, or invalid_scope.
type TokenError struct {
	StatusCode  int    // the HTTP status
	Code        string // the "error" field; empty when the body had none
	Description string // the "error_description" field, shortened
}

func (e *TokenError) Error() string {
	s := fmt.Sprintf("googleauth: token endpoint: HTTP %d", e.StatusCode)
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Temporary reports whether the refusal may pass by itself (rate limits,
// server errors) rather than needing the key or configuration fixed.
func (e *TokenError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

func tokenError(status int, body []byte) *TokenError {
	var e struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &e)
	return &TokenError{StatusCode: status, Code: printable(e.Error, 64), Description: printable(e.ErrorDescription, 256)}
}

// printable shortens s to n bytes and replaces control characters, for an
// error message that may be logged.
func printable(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "..."
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}
