package main_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNodesAgreeOnTheKeyring: nodes sharing a store must derive and hash
// codes with the same keys. Nodes started at once on a fresh shared keyring
// path end up with one keyring (the first to create the file wins), and a
// node brought up with a keyring of its own is refused, loudly, instead of
// silently refusing the other nodes' codes.
func TestNodesAgreeOnTheKeyring(t *testing.T) {
	t.Parallel()
	dsn := postgresSchema(t)
	shared := filepath.Join(t.TempDir(), "keyring.json") // does not exist yet
	const token = "a-shared-admin-token-0123"

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			// startServerArgs fails the test if a node exits: one whose
			// keyring differed would.
			startServerArgs(t, t.TempDir(), "--dev", "--store", dsn, "--keyring", shared, "--admin-token", token)
		})
	}
	wg.Wait()

	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--dev",
		"--store", dsn, "--admin-token", token) // no --keyring: a fresh one in its own data dir
	cmd.Env = append(os.Environ(), "OTPD_CONFIG=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "a node with another keyring must not start: %v: %s", err, out)
	require.Contains(t, string(out), "every node must use the same keyring file (--keyring)")
	require.NotContains(t, string(out), "secret")
}
