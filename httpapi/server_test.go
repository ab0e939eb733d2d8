package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/httpapi"
	"github.com/otpd/otpd/sqlite"
)

// smsRoutesForTest are two routes' health as serve reports them: an SMPP
// route with one bind of two up and an HTTP provider that failed lately.
func smsRoutesForTest(context.Context) map[string]httpapi.RouteHealth {
	two, one := 2, 1
	failedAt := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	return map[string]httpapi.RouteHealth{
		"uk": {Status: "ok", State: "bound", Binds: &two, BindsUp: &one, Sent: 10, RecentSends: 10,
			LatencyMeanMS: 2.5, LatencyP50MS: 2, LatencyP99MS: 9},
		"us": {Status: "ok", State: "unreachable", Sent: 3, Failed: 1, RecentSends: 4, ErrorRate: 0.25,
			LatencyMeanMS: 120, LatencyP50MS: 100, LatencyP99MS: 300, LastError: "twilio: 503", LastErrorAt: &failedAt},
	}
}

// /readyz adds each SMS route's health under sms_routes and keeps details'
// "ok"-or-error entries as they were; neither decides readiness.
func TestReadyzSMSRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) {
		o.details = func(context.Context) map[string]error {
			return map[string]error{"sms_route:uk": nil, "sms_route:us": errors.New("unreachable")}
		}
		o.smsRoutes = smsRoutesForTest
	})
	r := b.do(t, "GET", "/readyz", "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.JSONEq(t, `{
		"status": "ok",
		"checks": {"store": "ok", "sms": "ok"},
		"details": {"sms_route:uk": "ok", "sms_route:us": "unreachable"},
		"sms_routes": {
			"uk": {"status": "ok", "state": "bound", "binds": 2, "binds_up": 1, "sent": 10, "failed": 0,
				"recent_sends": 10, "error_rate": 0, "latency_mean_ms": 2.5, "latency_p50_ms": 2, "latency_p99_ms": 9},
			"us": {"status": "ok", "state": "unreachable", "sent": 3, "failed": 1, "recent_sends": 4, "error_rate": 0.25,
				"latency_mean_ms": 120, "latency_p50_ms": 100, "latency_p99_ms": 300,
				"last_error": "twilio: 503", "last_error_at": "2026-11-26T15:00:00Z"}
		}
	}`, string(r.Body))
}

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)

	r := b.do(t, "GET", "/healthz", "", nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "ok", r.JSON(t)["status"])

	r = b.do(t, "GET", "/readyz", "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Equal(t, map[string]any{"status": "ok", "checks": map[string]any{"store": "ok", "sms": "ok"}}, r.JSON(t))

	b.ready.set(errNotReady)
	r = b.do(t, "GET", "/readyz", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.Status)
	body := r.JSON(t)
	require.Equal(t, "unavailable", body["status"])
	require.Equal(t, map[string]any{"store": "ok", "sms": errNotReady.Error()}, body["checks"])
	b.ready.set(nil)

	r = b.do(t, "GET", "/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.True(t, json.Valid(r.Body))

	// Requests with ids are counted under their route pattern, never the path.
	sid := b.service(t, nil)
	b.must(t, http.StatusOK, "GET", "/v1/services/"+sid, adminToken, nil)
	b.do(t, "GET", "/nope", "", nil)
	r = b.do(t, "GET", "/metrics", "", nil)
	require.Equal(t, http.StatusOK, r.Status)
	metrics := string(r.Body)
	require.Contains(t, metrics, `otpd_http_requests_total{code="200",method="GET",route="GET /v1/services/{sid}"} 1`)
	require.Contains(t, metrics, `otpd_http_requests_total{code="201",method="POST",route="POST /v1/services"} 1`)
	require.Contains(t, metrics, `otpd_http_requests_total{code="404",method="GET",route="unmatched"} 1`)
	require.Contains(t, metrics, `otpd_http_request_duration_seconds_bucket{method="GET",route="GET /healthz"`)
	require.NotContains(t, metrics, sid)
}

func TestRoutingProblems(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, nil)

	tests := []struct {
		name, method, path string
		status             int
		code, allow        string
	}{
		{"unknown path", "GET", "/v2/things", http.StatusNotFound, "not_found", ""},
		{"unknown nested path", "GET", "/v1/services/" + sid + "/nothing", http.StatusNotFound, "not_found", ""},
		{"dev inbox without dev mode", "GET", "/dev/messages?to=%2B447700900123", http.StatusNotFound, "not_found", ""},
		{"wrong method on collection", "PUT", "/v1/services", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, POST"},
		{"wrong method on item", "POST", "/v1/services/" + sid, http.StatusMethodNotAllowed, "method_not_allowed", "DELETE, GET, HEAD, PATCH"},
		{"wrong method on action", "GET", vpath(sid, "ver_01jd0000000000000000000000", "check"), http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, tt.method, tt.path, adminToken, nil)
			requireProblem(t, r, tt.status, tt.code)
			require.Equal(t, tt.allow, r.Header.Get("Allow"))
			require.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, nil)
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/v1/services", "/v1/services/" + sid, "/v1/services/svc_x", "/nothing"} {
		r := b.do(t, "GET", path, adminToken, nil)
		require.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"), path)
		require.Equal(t, "no-store", r.Header.Get("Cache-Control"), path)
	}

	// The answers that carry a secret, shown once: the service's
	// webhook_secret and a key's secret.
	for _, post := range []struct{ path, secret string }{
		{"/v1/services", "webhook_secret"},
		{"/v1/services/" + sid + "/keys", "secret"},
	} {
		r := b.do(t, "POST", post.path, adminToken, map[string]any{"name": "X"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		require.NotEmpty(t, r.JSON(t)[post.secret], post.path)
		require.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"), post.path)
		require.Equal(t, "no-store", r.Header.Get("Cache-Control"), post.path)
	}
}

func TestMounts(t *testing.T) {
	t.Parallel()
	inbox := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[{"path":"` + r.URL.Path + `"}]`))
	})
	b := setup(t, func(o *setupOpts) { o.mounts = map[string]http.Handler{"/dev/": inbox} })
	r := b.do(t, "GET", "/dev/messages?to=%2B447700900123", "", nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.JSONEq(t, `[{"path":"/dev/messages"}]`, string(r.Body), "the mounted handler sees the full path")
}

// Bodies are bounded: an API body over 64 KiB is 413 request_too_large;
// every other body (the mounted provider callbacks') over 1 MiB too,
// before the handler runs when the length is announced, and as a read
// error in the handler when it is not (chunked).
func TestBodyLimits(t *testing.T) {
	t.Parallel()
	var handled atomic.Int64
	var readErr atomic.Pointer[error]
	callback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		_, err := io.ReadAll(r.Body)
		if err != nil {
			readErr.Store(&err)
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	b := setup(t, func(o *setupOpts) { o.mounts = map[string]http.Handler{"POST /v1/callbacks/test": callback} })
	sid := b.service(t, nil)

	apiBig := `{"to": "+447700900123", "reference": "` + strings.Repeat("x", 70<<10) + `"}`
	p := requireProblem(t, b.do(t, "POST", vpath(sid), adminToken, rawBody(apiBig)), http.StatusRequestEntityTooLarge, "request_too_large")
	require.Contains(t, p["detail"], "at most 65536 bytes")

	// The callback takes what fits.
	r := b.do(t, "POST", "/v1/callbacks/test", "", rawBody(strings.Repeat("x", 512<<10)))
	require.Equal(t, http.StatusNoContent, r.Status)
	require.EqualValues(t, 1, handled.Load())

	// Announced as too large: refused before the handler.
	r = b.do(t, "POST", "/v1/callbacks/test", "", rawBody(strings.Repeat("x", 1<<20+1)))
	p = requireProblem(t, r, http.StatusRequestEntityTooLarge, "request_too_large")
	require.Contains(t, p["detail"], "at most 1048576 bytes")
	require.EqualValues(t, 1, handled.Load(), "the handler did not run")

	// Chunked, no length: the handler's read stops at the limit.
	req := b.newRequest(t, "POST", "/v1/callbacks/test", "", nil)
	req.Body = io.NopCloser(strings.NewReader(strings.Repeat("x", 2<<20)))
	req.ContentLength = -1
	r = b.send(t, req)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
	_, over := errors.AsType[*http.MaxBytesError](*readErr.Load())
	require.True(t, over)
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sidA := b.service(t, map[string]any{"name": "A"})
	sidB := b.service(t, map[string]any{"name": "B"})
	keyA := b.key(t, sidA)
	vidB := b.start(t, sidB, adminToken, nil)
	b.key(t, sidB)
	kidB := b.must(t, http.StatusOK, "GET", "/v1/services/"+sidB+"/keys", adminToken, nil)["data"].([]any)[0].(map[string]any)["id"].(string)

	tests := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"no token", "GET", "/v1/services", "", nil, 401, "unauthorized"},
		{"unknown token", "GET", "/v1/services", "otpd_admin_wrong", nil, 401, "unauthorized"},
		{"malformed key token", "GET", vpath(sidA), "otpd_sk_short", nil, 401, "unauthorized"},
		{"forged key token", "GET", vpath(sidA), keyA[:len(keyA)-4] + "AAAA", nil, 401, "unauthorized"},
		{"no token on verifications", "POST", vpath(sidA), "", map[string]any{"to": "+447700900123"}, 401, "unauthorized"},
		{"key creates service", "POST", "/v1/services", keyA, map[string]any{"name": "X"}, 401, "unauthorized"},
		{"key lists services", "GET", "/v1/services", keyA, nil, 401, "unauthorized"},
		{"key reads own service", "GET", "/v1/services/" + sidA, keyA, nil, 401, "unauthorized"},
		{"key patches own service", "PATCH", "/v1/services/" + sidA, keyA, map[string]any{"name": "X"}, 401, "unauthorized"},
		{"key lists own keys", "GET", "/v1/services/" + sidA + "/keys", keyA, nil, 401, "unauthorized"},
		{"key creates key", "POST", "/v1/services/" + sidA + "/keys", keyA, map[string]any{"name": "x"}, 401, "unauthorized"},
		{"key reads other service", "GET", "/v1/services/" + sidB, keyA, nil, 404, "not_found"},
		{"key deletes other service", "DELETE", "/v1/services/" + sidB, keyA, nil, 404, "not_found"},
		{"key lists other keys", "GET", "/v1/services/" + sidB + "/keys", keyA, nil, 404, "not_found"},
		{"key revokes other key", "DELETE", "/v1/services/" + sidB + "/keys/" + kidB, keyA, nil, 404, "not_found"},
		{"key reads other verification", "GET", vpath(sidB, vidB), keyA, nil, 404, "not_found"},
		{"key reads other verification via own service", "GET", vpath(sidA, vidB), keyA, nil, 404, "not_found"},
		{"key lists other verifications", "GET", vpath(sidB), keyA, nil, 404, "not_found"},
		{"key starts on other service", "POST", vpath(sidB), keyA, map[string]any{"to": "+447700900123"}, 404, "not_found"},
		{"key checks other verification", "POST", vpath(sidB, vidB, "check"), keyA, map[string]any{"code": "123456"}, 404, "not_found"},
		{"key checks other destination", "POST", "/v1/services/" + sidB + "/verification-checks", keyA, map[string]any{"to": "+447700900123", "code": "123456"}, 404, "not_found"},
		{"key resends other verification", "POST", vpath(sidB, vidB, "resend"), keyA, nil, 404, "not_found"},
		{"key cancels other verification", "POST", vpath(sidB, vidB, "cancel"), keyA, nil, 404, "not_found"},
		{"unknown service", "GET", "/v1/services/svc_01jd0000000000000000000000", adminToken, nil, 404, "not_found"},
		{"service id without prefix", "GET", "/v1/services/" + strings.TrimPrefix(sidA, "svc_"), adminToken, nil, 404, "not_found"},
		{"verification id without prefix", "GET", vpath(sidA, "msg_"+strings.TrimPrefix(vidB, "ver_")), adminToken, nil, 404, "not_found"},
		{"key id without prefix", "DELETE", "/v1/services/" + sidB + "/keys/nokey", adminToken, nil, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, tt.method, tt.path, tt.token, tt.body)
			requireProblem(t, r, tt.status, tt.code)
			if tt.status == http.StatusUnauthorized {
				require.True(t, strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer"), r.Header.Get("WWW-Authenticate"))
			}
		})
	}

	// What a key may do on its own service.
	vid := b.start(t, sidA, keyA, nil)
	b.must(t, http.StatusOK, "GET", vpath(sidA, vid), keyA, nil)
	b.must(t, http.StatusOK, "GET", vpath(sidA), keyA, nil)
	b.must(t, http.StatusOK, "POST", vpath(sidA, vid, "cancel"), keyA, nil)
	// The scheme is case-insensitive.
	b.must(t, http.StatusOK, "GET", vpath(sidA, vid), "", nil, withHeader("Authorization", "bearer "+keyA))
	// The admin may do everything on every service.
	b.must(t, http.StatusOK, "GET", vpath(sidA, vid), adminToken, nil)
}

func TestRequestDecoding(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, nil)
	vid := b.start(t, sid, adminToken, nil)

	tests := []struct {
		name, method, path string
		body               any
		contentType        string
		param              string
		detail             string
	}{
		{"unknown field", "POST", vpath(sid), rawBody(`{"to": "+447700900123", "colour": "red"}`), "", "colour", "known field"},
		{"unknown nested field", "POST", vpath(sid), rawBody(`{"to": "+447700900123", "transaction": {"amount": "1.00", "currency": "EUR", "payee": "A", "tip": "1"}}`), "", "transaction.tip", "known field"},
		{"case-insensitive match", "POST", vpath(sid), rawBody(`{"TO": "+447700900123"}`), "", "TO", "case-sensitive"},
		{"duplicate member", "POST", "/v1/services", rawBody(`{"name": "A", "name": "B"}`), "", "name", "twice"},
		{"empty member name", "POST", vpath(sid), rawBody(`{"": ""}`), "", `""`, "known field"},
		{"unknown service field", "POST", "/v1/services", rawBody(`{"name": "X", "ttl": 60}`), "", "ttl", "known field"},
		{"unknown patch field", "PATCH", "/v1/services/" + sid, rawBody(`{"nom": "X"}`), "", "nom", "known field"},
		{"unknown check field", "POST", vpath(sid, vid, "check"), rawBody(`{"code": "123456", "otp": "1"}`), "", "otp", "known field"},
		{"unknown cancel field", "POST", vpath(sid, vid, "cancel"), rawBody(`{"reason": "x"}`), "", "reason", "known field"},
		{"wrong type", "POST", vpath(sid), rawBody(`{"to": "+447700900123", "ttl_seconds": "600"}`), "", "ttl_seconds", "integer"},
		{"fraction for integer", "POST", "/v1/services", rawBody(`{"name": "X", "code_length": 6.5}`), "", "code_length", "integer"},
		{"wrong nested type", "POST", vpath(sid), rawBody(`{"to": "+447700900123", "transaction": {"amount": 125}}`), "", "transaction.amount", "string"},
		{"wrong array type", "POST", "/v1/services", rawBody(`{"name": "X", "channels": "sms"}`), "", "channels", "array"},
		{"number for string", "POST", vpath(sid), rawBody(`{"to": 447700900123}`), "", "to", "string"},
		{"not an object", "POST", vpath(sid), rawBody(`["+447700900123"]`), "", "", "JSON object"},
		{"syntax error", "POST", vpath(sid), rawBody(`{"to": "+447700900123",}`), "", "", "byte"},
		{"truncated", "POST", vpath(sid), rawBody(`{"to": "+4477`), "", "", "not valid JSON"},
		{"trailing data", "POST", vpath(sid), rawBody(`{"to": "+447700900123"} {"to": "x"}`), "", "", "nothing after"},
		{"text content type", "POST", vpath(sid), rawBody(`{"to": "+447700900123"}`), "text/plain", "Content-Type", "application/json"},
		{"form content type", "POST", "/v1/services", rawBody(`name=X`), "application/x-www-form-urlencoded", "Content-Type", "application/json"},
		{"empty body", "POST", vpath(sid), nil, "", "to", "required"},
		{"null name", "POST", "/v1/services", rawBody(`{"name": null}`), "", "name", "null"},
		{"null policy field", "PATCH", "/v1/services/" + sid, rawBody(`{"code_length": null}`), "", "code_length", "null"},
		{"zero ttl", "POST", vpath(sid), rawBody(`{"to": "+447700900123", "ttl_seconds": 0}`), "", "ttl_seconds", "between"},
		{"huge ttl", "POST", vpath(sid), rawBody(`{"to": "+447700900123", "ttl_seconds": 9223372036854775807}`), "", "ttl_seconds", "between"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []reqOpt
			if tt.contentType != "" {
				opts = append(opts, withHeader("Content-Type", tt.contentType))
			}
			r := b.do(t, tt.method, tt.path, adminToken, tt.body, opts...)
			p := requireProblem(t, r, http.StatusBadRequest, "invalid_parameter")
			if tt.param == "" {
				require.NotContains(t, p, "param")
			} else {
				require.Equal(t, tt.param, p["param"])
			}
			require.Contains(t, p["detail"], tt.detail)
		})
	}

	// An empty body needs no Content-Type; a JSON type with parameters is JSON.
	vid2 := b.start(t, sid, adminToken, nil)
	b.must(t, http.StatusOK, "POST", vpath(sid, vid2, "cancel"), adminToken, nil, withHeader("Content-Type", "text/plain"))
	b.must(t, http.StatusCreated, "POST", vpath(sid), adminToken, rawBody(`{"to": "+447700900123"}`),
		withHeader("Content-Type", "application/json; charset=utf-8"))
}

// failingStore fails creating verifications while fail is set.
type failingStore struct {
	*sqlite.Store
	fail atomic.Bool
}

func (s *failingStore) CreateVerification(ctx context.Context, v *otpd.Verification) error {
	if s.fail.Load() {
		return errors.New("disk on fire")
	}
	return s.Store.CreateVerification(ctx, v)
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestInternalErrorsAndLogging(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	var store *failingStore
	b := setup(t, func(o *setupOpts) {
		o.logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.wrap = func(s *sqlite.Store) otpd.Store {
			store = &failingStore{Store: s}
			return store
		}
	})
	sid := b.service(t, nil)
	key := b.key(t, sid)
	const to = "+447700900123"
	body := map[string]any{"to": to, "reference": "secret-order-ref"}

	store.fail.Store(true)
	r := b.do(t, "POST", vpath(sid), key, body, idemKey("retry-me"))
	requireProblem(t, r, http.StatusInternalServerError, "internal_error")
	require.NotContains(t, string(r.Body), "disk on fire", "internal errors are logged, never sent")

	// A 5xx releases the idempotency key: the retry runs.
	store.fail.Store(false)
	r = b.do(t, "POST", vpath(sid), key, body, idemKey("retry-me"))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	require.Empty(t, r.Header.Get("Idempotent-Replayed"))
	vid := r.JSON(t)["id"].(string)
	b.must(t, http.StatusOK, "POST", vpath(sid, vid, "check"), key, map[string]any{"code": b.code(t, sid, vid)})

	out := logs.String()
	require.Contains(t, out, "disk on fire")
	require.Contains(t, out, `"route":"POST /v1/services/{sid}/verifications"`)
	require.Contains(t, out, `"route":"POST /v1/services/{sid}/verifications/{vid}/check"`)
	require.Contains(t, out, `"status":500`)
	// The code is looked for as a JSON string: as a bare substring, six
	// digits could turn up inside a timestamp by chance.
	for _, secret := range []string{key, adminToken, to, "secret-order-ref", sid, vid, `"` + b.code(t, sid, vid) + `"`} {
		require.NotContains(t, out, secret, "the log holds no tokens, destinations, bodies, ids or codes")
	}
}

// backloggedStore reports a write backlog the test sets.
type backloggedStore struct {
	otpd.Store
	n atomic.Int64
}

func (s *backloggedStore) WriteBacklog() int { return int(s.n.Load()) }

// A write that finds the store's write queue full is refused at once with
// 503 overloaded and Retry-After, before its Idempotency-Key is used;
// reads still answer, and writes run again once the queue has drained.
func TestOverloadedStoreShedsWrites(t *testing.T) {
	t.Parallel()
	var store *backloggedStore
	b := setup(t, func(o *setupOpts) {
		o.wrap = func(s *sqlite.Store) otpd.Store {
			store = &backloggedStore{Store: s}
			return store
		}
	})
	sid := b.service(t, nil)
	key := b.key(t, sid)
	vid := b.start(t, sid, key, nil)

	store.n.Store(otpd.DefaultMaxWriteBacklog)
	r := b.do(t, "POST", vpath(sid), key, map[string]any{"to": "+447700900123"}, idemKey("shed-me"))
	p := requireProblem(t, r, http.StatusServiceUnavailable, "overloaded")
	require.Equal(t, "1", r.Header.Get("Retry-After"))
	require.Equal(t, float64(1), p["retry_after_seconds"])
	requireProblem(t, b.do(t, "POST", vpath(sid, vid, "check"), key, map[string]any{"code": "000000"}),
		http.StatusServiceUnavailable, "overloaded")
	b.must(t, http.StatusOK, "GET", vpath(sid, vid), key, nil)

	store.n.Store(otpd.DefaultMaxWriteBacklog - 1)
	r = b.do(t, "POST", vpath(sid), key, map[string]any{"to": "+447700900123"}, idemKey("shed-me"))
	require.Equal(t, http.StatusCreated, r.Status, "the shed request left its key unused: %s", r.Body)
	require.Empty(t, r.Header.Get("Idempotent-Replayed"))
}
