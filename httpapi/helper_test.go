package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/fraud"
	"github.com/otpd/otpd/httpapi"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/sqlite"
)

const adminToken = "otpd_admin_test-token"

// testBundle is a real stack: SQLite store, keyring, message catalog,
// engine and HTTP server on loopback. Channels record what they are asked
// to send, which is how tests learn codes.
type testBundle struct {
	srv    *httptest.Server
	engine *otpd.Engine
	store  *sqlite.Store
	sent   *recordingChannel
	clock  *clock
	ready  *readyChecks
	reg    *prometheus.Registry
	guard  *fraud.Guard
}

type setupOpts struct {
	mounts map[string]http.Handler
	logger *slog.Logger
	wrap   func(*sqlite.Store) otpd.Store // the engine's store; the SQLite store itself when nil
	// cacheTTL is the engine's Config.CacheTTL (its default when zero).
	cacheTTL time.Duration
	// details and smsRoutes are /readyz's informational parts; none when nil.
	details   func(context.Context) map[string]error
	smsRoutes func(context.Context) map[string]httpapi.RouteHealth
}

func setup(t *testing.T, opts ...func(*setupOpts)) *testBundle {
	t.Helper()
	var o setupOpts
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "otpd.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })

	b := &testBundle{
		store: store,
		sent:  &recordingChannel{},
		clock: &clock{t: time.Now().UTC()},
		ready: &readyChecks{},
		reg:   prometheus.NewRegistry(),
	}
	var engineStore otpd.Store = store
	if o.wrap != nil {
		engineStore = o.wrap(store)
	}
	// A fraud guard that is never run: its blocks come from the admin
	// endpoints only, and screening reads them from memory.
	b.guard, err = fraud.New(fraud.Config{Store: engineStore, Now: b.clock.Now, EventData: httpapi.BlockEventData})
	require.NoError(t, err)
	b.engine, err = otpd.NewEngine(otpd.Config{
		Store:      engineStore,
		Keyring:    otpd.NewKeyring(b.clock.Now()),
		Channels:   map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: b.sent, otpd.ChannelEmail: b.sent},
		Renderer:   message.New(),
		AdminToken: adminToken,
		Now:        b.clock.Now,
		EventData:  httpapi.EventData,
		Guard:      b.guard,
		CacheTTL:   o.cacheTTL,
	})
	require.NoError(t, err)
	srv := httpapi.New(httpapi.Config{
		Blocks:      b.guard,
		Engine:      b.engine,
		Idempotency: store,
		Registry:    b.reg,
		Logger:      o.logger,
		Ready: func(ctx context.Context) map[string]error {
			return map[string]error{"store": store.Ping(ctx), "sms": b.ready.get()}
		},
		Mounts:    o.mounts,
		Details:   o.details,
		SMSRoutes: o.smsRoutes,
	})
	b.srv = httptest.NewServer(srv)
	t.Cleanup(b.srv.Close)
	return b
}

// clock is a settable clock shared by the engine and the server. Every
// reading moves it on by a millisecond, so ids (which carry milliseconds)
// made one after another sort in the order they were made.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type readyChecks struct {
	mu  sync.Mutex
	err error
}

func (r *readyChecks) set(err error) { r.mu.Lock(); r.err = err; r.mu.Unlock() }
func (r *readyChecks) get() error    { r.mu.Lock(); defer r.mu.Unlock(); return r.err }

// recordingChannel is an otpd.Channel that keeps what it is given.
type recordingChannel struct {
	mu   sync.Mutex
	msgs []*otpd.Outbound
}

func (c *recordingChannel) Send(_ context.Context, m *otpd.Outbound) (otpd.SendResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
	return otpd.SendResult{ProviderID: "rec-" + m.MessageID, Delivered: true}, nil
}

func (c *recordingChannel) Ready(context.Context) error { return nil }

func (c *recordingChannel) codeFor(messageID string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.msgs {
		if m.MessageID == messageID {
			return m.Code, true
		}
	}
	return "", false
}

// code delivers the verification's queued messages through the recording
// channel, as the dispatcher would, and returns the code they carried.
func (b *testBundle) code(t *testing.T, sid, vid string) string {
	t.Helper()
	ctx := context.Background()
	v, err := b.engine.GetVerification(ctx, sid, vid)
	require.NoError(t, err)
	for _, m := range v.Messages {
		if m.Status == otpd.MessageQueued {
			require.NoError(t, b.engine.Deliver(ctx, otpd.ClaimedMessage{ServiceID: sid, VerificationID: vid, MessageID: m.ID}))
		}
		if code, ok := b.sent.codeFor(m.ID); ok {
			return code
		}
	}
	t.Fatalf("no message of %s was sent", vid)
	return ""
}

// ---- HTTP ----

// res is a response with its body read.
type res struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r *res) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// reqOpt adjusts a request.
type reqOpt func(*http.Request)

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }
func idemKey(k string) reqOpt       { return withHeader("Idempotency-Key", k) }

// rawBody marks a request body that is sent as is.
type rawBody string

func encodeBody(t *testing.T, body any) []byte {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case rawBody:
		return []byte(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		return data
	}
}

func (b *testBundle) newRequest(t *testing.T, method, path, token string, body any, opts ...reqOpt) *http.Request {
	t.Helper()
	data := encodeBody(t, body)
	req, err := http.NewRequest(method, b.srv.URL+path, bytes.NewReader(data))
	require.NoError(t, err)
	if data != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, o := range opts {
		o(req)
	}
	return req
}

func (b *testBundle) send(t *testing.T, req *http.Request) *res {
	t.Helper()
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return &res{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// do sends a request; body is nil (none), a rawBody, or a value to encode.
func (b *testBundle) do(t *testing.T, method, path, token string, body any, opts ...reqOpt) *res {
	t.Helper()
	return b.send(t, b.newRequest(t, method, path, token, body, opts...))
}

// must sends a request and requires the status; it returns the JSON body.
func (b *testBundle) must(t *testing.T, status int, method, path, token string, body any, opts ...reqOpt) map[string]any {
	t.Helper()
	r := b.do(t, method, path, token, body, opts...)
	require.Equal(t, status, r.Status, "%s %s: %s", method, path, r.Body)
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(t)
}

// requireProblem checks that r is a problem document with the status and
// code, and returns it.
func requireProblem(t *testing.T, r *res, status int, code string) map[string]any {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	p := r.JSON(t)
	require.Equal(t, code, p["code"], "body: %s", r.Body)
	require.Equal(t, float64(status), p["status"])
	require.Equal(t, "https://otpd.dev/problems/"+code, p["type"])
	require.NotEmpty(t, p["title"])
	require.NotEmpty(t, p["detail"])
	return p
}

// ---- Fixtures ----

// service creates a service with the admin token; fields override defaults.
func (b *testBundle) service(t *testing.T, fields map[string]any) string {
	t.Helper()
	body := map[string]any{"name": "Acme Bank"}
	for k, v := range fields {
		body[k] = v
	}
	return b.must(t, http.StatusCreated, "POST", "/v1/services", adminToken, body)["id"].(string)
}

// key creates a service key and returns its secret.
func (b *testBundle) key(t *testing.T, sid string) string {
	t.Helper()
	return b.must(t, http.StatusCreated, "POST", "/v1/services/"+sid+"/keys", adminToken, map[string]any{"name": "backend"})["secret"].(string)
}

// start starts a verification and returns its id.
func (b *testBundle) start(t *testing.T, sid, token string, body map[string]any) string {
	t.Helper()
	if body == nil {
		body = map[string]any{"to": "+447700900123"}
	}
	return b.must(t, http.StatusCreated, "POST", "/v1/services/"+sid+"/verifications", token, body)["id"].(string)
}

func vpath(sid string, rest ...string) string {
	p := "/v1/services/" + sid + "/verifications"
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

func eventPath(sid string, rest ...string) string {
	p := "/v1/services/" + sid + "/events"
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// wrongCode returns a code of the same shape that is not code.
func wrongCode(code string) string {
	b := []byte(code)
	if b[0] == '9' {
		b[0] = '8'
	} else {
		b[0] = '9'
	}
	return string(b)
}

var errNotReady = errors.New("smsc not bound")
