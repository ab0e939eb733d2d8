package main_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// TestAdminTokenMigratesToHash: a data directory of an older version keeps
// a generated admin token in clear. otpd serve replaces the file with the
// token's hash, says so, keeps the token working, and prints nothing new;
// restarting finds the hash.
func TestAdminTokenMigratesToHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := t.TempDir()
	const token = "otpd_admin_an-old-clear-token-0123456789"
	clearPath := filepath.Join(dataDir, "admin-token")
	require.NoError(t, os.WriteFile(clearPath, []byte(token+"\n"), 0o600))

	for i := range 2 {
		srv := startServer(t, dataDir)
		_, err := client.New(srv.url, token).ListServices(ctx, client.ListOptions{})
		require.NoError(t, err, "start %d: the old token still works", i)
		_, err = client.New(srv.url, "otpd_admin_another-token-0123456789").ListServices(ctx, client.ListOptions{})
		require.True(t, client.IsCode(err, client.CodeUnauthorized), "start %d: %v", i, err)
		srv.stop(t)

		_, err = os.Stat(clearPath)
		require.ErrorIs(t, err, os.ErrNotExist, "the clear token is gone")
		data, err := os.ReadFile(filepath.Join(dataDir, "admin-token.sha256"))
		require.NoError(t, err)
		require.Regexp(t, `^otpd-admin-token-v1 sha256:[0-9a-f]{64}\n$`, string(data))
		require.NotContains(t, srv.stdout.String(), "Generated an admin token")
		require.NotContains(t, srv.stdout.String()+srv.stderr.String(), token)
		migrated := strings.Contains(srv.stderr.String(), "the admin token is no longer stored in clear")
		require.Equal(t, i == 0, migrated, "start %d: the migration is logged once", i)
	}
}

func TestServeRefusesABadAdminTokenHash(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dataDir, "admin-token.sha256"), []byte("sha256:nothex\n"), 0o600))
	out, err := runOtpd(t, []string{"OTPD_ADMIN_TOKEN="}, "serve", "--dev", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	require.Error(t, err)
	require.Contains(t, out, "not an admin token hash")
	require.Contains(t, out, "delete it to generate a new token")
}
