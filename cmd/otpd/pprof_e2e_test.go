package main_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// TestPprof: /debug/pprof/ is 404 unless serve runs with --pprof, and then
// answers only the admin token.
func TestPprof(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	get := func(t *testing.T, url, token string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	off := startServerArgs(t, t.TempDir(), "--dev")
	require.Equal(t, http.StatusNotFound, get(t, off.url+"/debug/pprof/", off.adminToken(t)), "off by default")

	dir := t.TempDir()
	on := startServerArgs(t, dir, "--dev", "--pprof")
	admin := on.adminToken(t)
	svc, err := client.New(on.url, admin).CreateService(ctx, client.CreateServiceParams{Name: "Acme"})
	require.NoError(t, err)
	key, err := client.New(on.url, admin).CreateKey(ctx, svc.ID, "backend")
	require.NoError(t, err)
	tests := []struct {
		name, path, token string
		want              int
	}{
		{"no token", "/debug/pprof/", "", http.StatusUnauthorized},
		{"a wrong token", "/debug/pprof/", "not-the-admin-token-at-all", http.StatusUnauthorized},
		{"a service key", "/debug/pprof/", key.Secret, http.StatusUnauthorized},
		{"the admin token", "/debug/pprof/", admin, http.StatusOK},
		{"a named profile", "/debug/pprof/goroutine?debug=1", admin, http.StatusOK},
		{"the command line", "/debug/pprof/cmdline", admin, http.StatusOK},
		{"a named profile without a token", "/debug/pprof/heap", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, get(t, on.url+tt.path, tt.token))
		})
	}

	env := startServerEnv(t, t.TempDir(), []string{"OTPD_PPROF=true"}, "--dev")
	require.Equal(t, http.StatusOK, get(t, env.url+"/debug/pprof/", env.adminToken(t)), "OTPD_PPROF turns it on")
}
