package httpapi_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

// requireReplay checks that again is first, replayed.
func requireReplay(t *testing.T, first, again *res) {
	t.Helper()
	require.Equal(t, first.Status, again.Status)
	require.Equal(t, string(first.Body), string(again.Body))
	require.Equal(t, first.Header.Get("Content-Type"), again.Header.Get("Content-Type"))
	require.Equal(t, first.Header.Get("Retry-After"), again.Header.Get("Retry-After"))
	require.Empty(t, first.Header.Get("Idempotent-Replayed"))
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
}

func (b *testBundle) countVerifications(t *testing.T, sid string) int {
	t.Helper()
	vs, err := b.engine.ListVerifications(context.Background(), sid, otpd.ListRequest{})
	require.NoError(t, err)
	return len(vs)
}

func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("create service", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		body := map[string]any{"name": "Acme"}
		first := b.do(t, "POST", "/v1/services", adminToken, body, idemKey("svc-1"))
		require.Equal(t, http.StatusCreated, first.Status)
		again := b.do(t, "POST", "/v1/services", adminToken, body, idemKey("svc-1"))
		requireReplay(t, first, again)
		list := b.must(t, http.StatusOK, "GET", "/v1/services", adminToken, nil)
		require.Len(t, list["data"], 1, "nothing is created twice")
	})

	t.Run("start verification", func(t *testing.T) {
		t.Parallel()
		sid := b.service(t, nil)
		key := b.key(t, sid)
		body := map[string]any{"to": "+447700900123", "reference": "order-1"}
		first := b.do(t, "POST", vpath(sid), key, body, idemKey("order-1"))
		require.Equal(t, http.StatusCreated, first.Status)
		again := b.do(t, "POST", vpath(sid), key, body, idemKey("order-1"))
		requireReplay(t, first, again)
		require.Equal(t, 1, b.countVerifications(t, sid))

		// Any key of the service shares the scope: a rotated key replays too.
		key2 := b.key(t, sid)
		requireReplay(t, first, b.do(t, "POST", vpath(sid), key2, body, idemKey("order-1")))
		// The admin and other services have scopes of their own.
		require.Equal(t, http.StatusCreated, b.do(t, "POST", vpath(sid), adminToken, body, idemKey("order-1")).Status)
		require.Equal(t, 2, b.countVerifications(t, sid))
		other := b.service(t, nil)
		otherKey := b.key(t, other)
		r := b.do(t, "POST", vpath(other), otherKey, body, idemKey("order-1"))
		require.Equal(t, http.StatusCreated, r.Status)
		require.Empty(t, r.Header.Get("Idempotent-Replayed"))
	})

	t.Run("create key", func(t *testing.T) {
		t.Parallel()
		sid := b.service(t, nil)
		body := map[string]any{"name": "backend"}
		first := b.do(t, "POST", "/v1/services/"+sid+"/keys", adminToken, body, idemKey("k"))
		requireReplay(t, first, b.do(t, "POST", "/v1/services/"+sid+"/keys", adminToken, body, idemKey("k")))
		require.Len(t, b.must(t, http.StatusOK, "GET", "/v1/services/"+sid+"/keys", adminToken, nil)["data"], 1)
	})

	t.Run("check uses one attempt", func(t *testing.T) {
		t.Parallel()
		sid := b.service(t, nil)
		vid := b.start(t, sid, adminToken, nil)
		code := b.code(t, sid, vid)
		body := map[string]any{"code": wrongCode(code)}
		first := b.do(t, "POST", vpath(sid, vid, "check"), adminToken, body, idemKey("c"))
		require.Equal(t, http.StatusOK, first.Status)
		requireReplay(t, first, b.do(t, "POST", vpath(sid, vid, "check"), adminToken, body, idemKey("c")))
		require.Equal(t, 4.0, b.must(t, http.StatusOK, "GET", vpath(sid, vid), adminToken, nil)["attempts_remaining"])
	})

	t.Run("resend and cancel", func(t *testing.T) {
		t.Parallel()
		sid := b.service(t, map[string]any{"resend_cooldown_seconds": 0})
		vid := b.start(t, sid, adminToken, nil)
		first := b.do(t, "POST", vpath(sid, vid, "resend"), adminToken, nil, idemKey("r"))
		require.Equal(t, http.StatusOK, first.Status)
		requireReplay(t, first, b.do(t, "POST", vpath(sid, vid, "resend"), adminToken, nil, idemKey("r")))
		require.Len(t, b.must(t, http.StatusOK, "GET", vpath(sid, vid), adminToken, nil)["messages"], 2)

		first = b.do(t, "POST", vpath(sid, vid, "cancel"), adminToken, nil, idemKey("x"))
		require.Equal(t, http.StatusOK, first.Status)
		requireReplay(t, first, b.do(t, "POST", vpath(sid, vid, "cancel"), adminToken, nil, idemKey("x")))
	})

	t.Run("client errors are remembered", func(t *testing.T) {
		t.Parallel()
		sid := b.service(t, nil)
		body := map[string]any{"to": "nobody"}
		first := b.do(t, "POST", vpath(sid), adminToken, body, idemKey("bad"))
		requireProblem(t, first, 400, "invalid_parameter")
		requireReplay(t, first, b.do(t, "POST", vpath(sid), adminToken, body, idemKey("bad")))
	})
}

func TestIdempotencyConflicts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, nil)

	first := b.do(t, "POST", vpath(sid), adminToken, map[string]any{"to": "+447700900123"}, idemKey("k1"))
	require.Equal(t, http.StatusCreated, first.Status)

	p := requireProblem(t, b.do(t, "POST", vpath(sid), adminToken, map[string]any{"to": "+447700900124"}, idemKey("k1")), 409, "idempotency_conflict")
	require.Contains(t, p["detail"], "different request")
	// Another endpoint is another request too.
	requireProblem(t, b.do(t, "POST", "/v1/services", adminToken, map[string]any{"to": "+447700900123"}, idemKey("k1")), 409, "idempotency_conflict")
	require.Equal(t, 1, b.countVerifications(t, sid))

	// A request still running holds its key.
	body := `{"to":"+447700900125"}`
	path := vpath(sid)
	h := sha256.Sum256([]byte("POST\x00" + path + "\x00" + body))
	now := b.clock.Now()
	existing, err := b.store.ReserveIdempotencyKey(context.Background(), &otpd.IdempotencyRecord{
		Scope: "admin", Key: "busy", RequestHash: h[:], CreatedAt: now, LockedUntil: now.Add(time.Minute),
	})
	require.NoError(t, err)
	require.Nil(t, existing)
	p = requireProblem(t, b.do(t, "POST", path, adminToken, rawBody(body), idemKey("busy")), 409, "idempotency_conflict")
	require.Contains(t, p["detail"], "in progress")

	// ... until its lock runs out (its node died): then the retry runs.
	b.clock.Advance(time.Minute)
	r := b.do(t, "POST", path, adminToken, rawBody(body), idemKey("busy"))
	require.Equal(t, http.StatusCreated, r.Status)
	requireReplay(t, r, b.do(t, "POST", path, adminToken, rawBody(body), idemKey("busy")))

	// Keys longer than 255 characters are refused.
	p = requireProblem(t, b.do(t, "POST", vpath(sid), adminToken, map[string]any{"to": "+447700900123"}, idemKey(strings.Repeat("k", 256))), 400, "invalid_parameter")
	require.Equal(t, "Idempotency-Key", p["param"])
	require.Equal(t, http.StatusCreated, b.do(t, "POST", vpath(sid), adminToken, map[string]any{"to": "+447700900123"}, idemKey(strings.Repeat("k", 255))).Status)
}

func TestIdempotencyRetryLater(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, map[string]any{"resend_cooldown_seconds": 30})
	vid := b.start(t, sid, adminToken, nil)

	// A 429 says "try again later", so it is not remembered.
	r := b.do(t, "POST", vpath(sid, vid, "resend"), adminToken, nil, idemKey("resend-1"))
	requireProblem(t, r, http.StatusTooManyRequests, "rate_limited")
	b.clock.Advance(30 * time.Second)
	first := b.do(t, "POST", vpath(sid, vid, "resend"), adminToken, nil, idemKey("resend-1"))
	require.Equal(t, http.StatusOK, first.Status, "%s", first.Body)
	requireReplay(t, first, b.do(t, "POST", vpath(sid, vid, "resend"), adminToken, nil, idemKey("resend-1")))

	// After 24 hours a key is free again, even before it is purged.
	body := map[string]any{"name": "Acme"}
	svc1 := b.do(t, "POST", "/v1/services", adminToken, body, idemKey("day"))
	require.Equal(t, http.StatusCreated, svc1.Status)
	b.clock.Advance(23 * time.Hour)
	requireReplay(t, svc1, b.do(t, "POST", "/v1/services", adminToken, body, idemKey("day")))
	b.clock.Advance(time.Hour)
	svc2 := b.do(t, "POST", "/v1/services", adminToken, body, idemKey("day"))
	require.Equal(t, http.StatusCreated, svc2.Status)
	require.Empty(t, svc2.Header.Get("Idempotent-Replayed"))
	require.NotEqual(t, svc1.JSON(t)["id"], svc2.JSON(t)["id"])
	requireReplay(t, svc2, b.do(t, "POST", "/v1/services", adminToken, body, idemKey("day")))
}

func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, nil)
	key := b.key(t, sid)
	body := map[string]any{"to": "+447700900123"}

	const n = 20
	results := make([]*res, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = b.do(t, "POST", vpath(sid), key, body, idemKey("same")) })
	}
	wg.Wait()
	var created string
	for _, r := range results {
		switch r.Status {
		case http.StatusCreated:
			if created == "" {
				created = string(r.Body)
			}
			require.Equal(t, created, string(r.Body))
		case http.StatusConflict:
			p := requireProblem(t, r, http.StatusConflict, "idempotency_conflict")
			require.Contains(t, p["detail"], "in progress")
		default:
			t.Fatalf("unexpected %d: %s", r.Status, r.Body)
		}
	}
	require.NotEmpty(t, created)
	require.Equal(t, 1, b.countVerifications(t, sid))
}
