package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The engine caches keys and services for its CacheTTL. An hour here, so
// that what the tests see comes from the invalidation of a change made
// through the node, not from the entries running out.
func withLongCache(o *setupOpts) { o.cacheTTL = time.Hour }

// TestRevokedKeyRefusedOnNextRequest: a key the node has just used (so it
// holds it) is refused on the very next request after it is revoked there,
// and so is every key of a deleted service.
func TestRevokedKeyRefusedOnNextRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		revoke func(b *testBundle, sid, kid string) *res
	}{
		{"key revoked", func(b *testBundle, sid, kid string) *res {
			return b.do(t, "DELETE", "/v1/services/"+sid+"/keys/"+kid, adminToken, nil)
		}},
		{"service deleted", func(b *testBundle, sid, _ string) *res {
			return b.do(t, "DELETE", "/v1/services/"+sid, adminToken, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withLongCache)
			sid := b.service(t, nil)
			created := b.must(t, http.StatusCreated, "POST", "/v1/services/"+sid+"/keys", adminToken, map[string]any{"name": "backend"})
			secret := created["secret"].(string)
			for range 3 { // held by the node's cache from the first
				b.must(t, http.StatusOK, "GET", vpath(sid), secret, nil)
			}
			require.Equal(t, http.StatusNoContent, tt.revoke(b, sid, created["id"].(string)).Status)
			requireProblem(t, b.do(t, "GET", vpath(sid), secret, nil), http.StatusUnauthorized, "unauthorized")
		})
	}
}

// TestServiceUpdateUsedByNextStart: a start right after a PATCH on the same
// node uses the service as patched, although the node held the old one.
func TestServiceUpdateUsedByNextStart(t *testing.T) {
	t.Parallel()
	b := setup(t, withLongCache)
	sid := b.service(t, map[string]any{"code_length": 6, "channels": []string{"sms", "email"}})
	key := b.key(t, sid)
	vid := b.start(t, sid, key, nil)
	require.Len(t, b.code(t, sid, vid), 6)

	b.must(t, http.StatusOK, "PATCH", "/v1/services/"+sid, adminToken, map[string]any{"code_length": 8})
	vid = b.start(t, sid, key, nil)
	require.Len(t, b.code(t, sid, vid), 8, "the policy as patched")

	// Channels: a service that no longer sends SMS refuses an SMS start.
	b.must(t, http.StatusOK, "PATCH", "/v1/services/"+sid, adminToken, map[string]any{"channels": []string{"email"}})
	r := b.do(t, "POST", "/v1/services/"+sid+"/verifications", key, map[string]any{"to": "+447700900123", "channel": "sms"})
	require.GreaterOrEqual(t, r.Status, 400, "an SMS start after SMS was removed: %s", r.Body)
}
