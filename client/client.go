package client

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultMaxRetries is how many times a request is retried when no
// [WithMaxRetries] option is given.
const DefaultMaxRetries = 3

// DefaultUserAgent is the User-Agent header sent when no [WithUserAgent]
// option is given.
const DefaultUserAgent = "otpd-go-client/1"

const (
	// maxRetryWait caps one wait between attempts. A Retry-After longer
	// than this is not waited for: the error is returned at once, with
	// RetryAfter set, so the caller can decide (a resend past max_sends
	// says "retry after the verification expires", hours away).
	maxRetryWait = 60 * time.Second
	// Backoff for transport errors and 502/503/504 without Retry-After.
	baseBackoff = 100 * time.Millisecond
	maxBackoff  = 2 * time.Second
	// maxErrorBody bounds what is kept of an error response.
	maxErrorBody = 64 << 10
	// maxBody bounds a successful response: a page of 500 verifications
	// is well under a megabyte.
	maxBody = 32 << 20
)

// Client calls one otpd server. It is safe for concurrent use.
type Client struct {
	baseURL    string
	token      string
	httpClient *http.Client
	maxRetries int
	userAgent  string
}

// Option configures a [Client].
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc, for example
// to set a timeout, a proxy or TLS settings. The default is
// [http.DefaultClient], which has no timeout: bound calls with their
// context.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithMaxRetries sets how many times a request may be retried after its
// first attempt (default [DefaultMaxRetries]); 0 disables retries.
func WithMaxRetries(n int) Option {
	return func(c *Client) { c.maxRetries = max(0, n) }
}

// WithUserAgent sets the User-Agent header (default [DefaultUserAgent]).
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a client for the server at baseURL (for example
// "http://127.0.0.1:8080", or a URL with a path prefix when otpd sits
// behind a proxy) that authenticates with token: the admin token or a
// service key. An empty token sends no Authorization header, which is
// enough for the operational endpoints.
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{
		baseURL:    strings.TrimRight(baseURL, "/"),
		token:      token,
		httpClient: http.DefaultClient,
		maxRetries: DefaultMaxRetries,
		userAgent:  DefaultUserAgent,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

type idempotencyKeyCtx struct{}

// ContextWithIdempotencyKey returns a context that makes the calls made
// with it send key as their Idempotency-Key, in place of the one the client
// would generate. It is for calls whose parameters have no IdempotencyKey
// field (CreateKey, ResendVerification, CancelVerification); an
// IdempotencyKey set on a params struct takes precedence. A key names one
// request: the server answers a second, different request with the same
// key with 409 idempotency_conflict, so use the context for one call.
func ContextWithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKeyCtx{}, key)
}

// idempotencyKey picks the key a request sends: the caller's (explicit,
// then from ctx), else a fresh one when generate is set, else none.
func idempotencyKey(ctx context.Context, explicit string, generate bool) string {
	if explicit != "" {
		return explicit
	}
	if k, ok := ctx.Value(idempotencyKeyCtx{}).(string); ok && k != "" {
		return k
	}
	if generate {
		return newIdempotencyKey()
	}
	return ""
}

// newIdempotencyKey returns 128 random bits in hex.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = crand.Read(b[:]) // never fails (crypto/rand.Read panics rather than return an error)
	return hex.EncodeToString(b[:])
}

// request is one API call, possibly sent several times.
type request struct {
	method         string
	path           string // escaped
	query          url.Values
	body           any // nil: no body
	idempotencyKey string
	// noRetry makes the first answer final: a health probe reports the
	// server's state now, so a 503 is the answer, not a reason to wait.
	noRetry bool
	// status, when set, receives the status of the 2xx answer (a PUT
	// tells created from replaced by it).
	status *int
}

// retryable reports whether sending r again after a lost or 5xx answer is
// safe. GET, PUT and DELETE are idempotent by HTTP's definition; PATCH here only
// sets fields to given values, so repeating it changes nothing more; a POST
// is safe only with an Idempotency-Key, which makes the server replay the
// first answer instead of acting twice.
func (r *request) retryable() bool {
	switch r.method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPatch:
		return true
	}
	return r.idempotencyKey != ""
}

// do sends r, retrying as described in the package documentation, and
// decodes a 2xx response's JSON into out (nil: discard; *[]byte: raw).
func (c *Client) do(ctx context.Context, r request, out any) error {
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("otpd: encoding %s %s request: %w", r.method, r.path, err)
		}
	}
	u := c.baseURL + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	maxRetries := c.maxRetries
	if r.noRetry {
		maxRetries = 0
	}
	for attempt := 0; ; attempt++ {
		req, err := c.newRequest(ctx, r, u, body)
		if err != nil {
			return err
		}
		resp, err := c.httpClient.Do(req)
		var (
			last error         // what to return if this is the last attempt
			wait time.Duration // before the next attempt
		)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return fmt.Errorf("otpd: %s %s: %w", r.method, r.path, ctx.Err())
			}
			last = fmt.Errorf("otpd: %w", err)
			if !r.retryable() {
				return last
			}
			wait = backoff(attempt)
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			if r.status != nil {
				*r.status = resp.StatusCode
			}
			return decodeResponse(resp, r, out)
		default:
			apiErr, retryAfter, hasRetryAfter := readError(resp)
			last = apiErr
			switch resp.StatusCode {
			case http.StatusTooManyRequests:
				// Refused before anything was done: safe for every request.
			case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				if !r.retryable() {
					return apiErr
				}
			default:
				return apiErr
			}
			wait = backoff(attempt)
			if hasRetryAfter {
				wait = retryAfter
			}
			if wait > maxRetryWait {
				return apiErr
			}
		}
		if attempt >= maxRetries {
			return last
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			// Waiting would only end in the context's error; the server's
			// answer says more.
			return last
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("otpd: %s %s: %w while waiting to retry after: %w", r.method, r.path, err, last)
		}
	}
}

func (c *Client) newRequest(ctx context.Context, r request, u string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("otpd: %s %s: %w", r.method, r.path, err)
	}
	h := req.Header
	h.Set("Accept", "application/json, application/problem+json")
	if c.userAgent != "" {
		h.Set("User-Agent", c.userAgent)
	}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	if r.idempotencyKey != "" {
		h.Set("Idempotency-Key", r.idempotencyKey)
	}
	return req, nil
}

func decodeResponse(resp *http.Response, r request, out any) error {
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody)) // lets the connection be reused
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("otpd: %s %s: reading response: %w", r.method, r.path, err)
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = b
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("otpd: %s %s: decoding %d response: %w", r.method, r.path, resp.StatusCode, err)
	}
	return nil
}

// backoff is the wait before retry attempt+1: exponential from
// baseBackoff, capped, with jitter so that many clients do not retry in
// step.
func backoff(attempt int) time.Duration {
	d := min(baseBackoff<<min(attempt, 16), maxBackoff)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
