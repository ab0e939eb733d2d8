package main_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/client"
)

// runOtpd runs the built binary with args and extra environment, returning
// its combined output.
func runOtpd(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), append([]string{"OTPD_CONFIG=", "OTPD_KEYRING=", "OTPD_KEYRING_JSON=", "OTPD_DATA_DIR="}, env...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// readKeyringFile returns the file's current key id, its key ids, and its
// secrets (to make sure no command prints them).
func readKeyringFile(t *testing.T, path string) (current string, ids, secrets []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var f struct {
		Current string `json:"current"`
		Keys    []struct {
			ID     string `json:"id"`
			Secret string `json:"secret"`
		} `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	for _, k := range f.Keys {
		ids = append(ids, k.ID)
		secrets = append(secrets, k.Secret)
	}
	return f.Current, ids, secrets
}

func writeNewKeyring(t *testing.T, path string) []byte {
	t.Helper()
	data, err := otpd.NewKeyring(time.Now()).MarshalJSON()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return data
}

func TestKeysCLI(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	path := filepath.Join(dataDir, "keyring.json")
	ringJSON := writeNewKeyring(t, path)
	dirEnv := []string{"OTPD_DATA_DIR=" + dataDir}

	// The two-step rotation: add (not current), then activate.
	out, err := runOtpd(t, dirEnv, "keys", "add")
	require.NoError(t, err, out)
	require.Contains(t, out, "Added key k2")
	current, ids, _ := readKeyringFile(t, path)
	require.Equal(t, "k1", current, "an added key is not current")
	require.Equal(t, []string{"k1", "k2"}, ids)
	out, err = runOtpd(t, nil, "keys", "activate", "k2", "--data-dir", dataDir)
	require.NoError(t, err, out)
	current, _, _ = readKeyringFile(t, path)
	require.Equal(t, "k2", current)

	// rotate = add + activate; old keys stay; the file stays private.
	out, err = runOtpd(t, nil, "keys", "rotate", "--keyring", path)
	require.NoError(t, err, out)
	current, ids, secrets := readKeyringFile(t, path)
	require.Equal(t, "k3", current)
	require.Equal(t, []string{"k1", "k2", "k3"}, ids)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	leftovers, err := filepath.Glob(filepath.Join(dataDir, ".tmp-*"))
	require.NoError(t, err)
	require.Empty(t, leftovers, "no temporary file is left behind")

	out, err = runOtpd(t, dirEnv, "keys", "list")
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	require.Regexp(t, `^k3\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+yes\s+[0-9a-f]{32}$`, lines[3])
	out, err = runOtpd(t, dirEnv, "keys", "list", "--json")
	require.NoError(t, err, out)
	var listed []struct {
		ID      string `json:"id"`
		Current bool   `json:"current"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &listed))
	require.Len(t, listed, 3)
	require.True(t, listed[2].Current)
	for _, s := range secrets {
		require.NotContains(t, out, s, "keys list never shows a secret")
	}

	// A keyring in OTPD_KEYRING_JSON can be listed, not changed in place.
	envRing := []string{"OTPD_KEYRING_JSON=" + string(ringJSON)}
	out, err = runOtpd(t, envRing, "keys", "list")
	require.NoError(t, err, out)
	require.Contains(t, out, "k1")
	require.NotContains(t, out, "k2")

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no subcommand", nil, []string{"keys"}, "give a subcommand"},
		{"unknown subcommand", nil, []string{"keys", "shred"}, `unknown subcommand "shred"`},
		{"activate without id", dirEnv, []string{"keys", "activate"}, "exactly one key id"},
		{"activate unknown id", dirEnv, []string{"keys", "activate", "k9"}, `no key "k9"`},
		{"rotate with an argument", dirEnv, []string{"keys", "rotate", "k1"}, "takes no arguments"},
		{"no keyring yet", []string{"OTPD_DATA_DIR=" + t.TempDir()}, []string{"keys", "list"}, "no keyring at"},
		{"env keyring is read-only", envRing, []string{"keys", "rotate"}, "OTPD_KEYRING_JSON, which otpd cannot change"},
		{"file and env", append([]string{"OTPD_KEYRING=" + path}, envRing...), []string{"keys", "list"}, "not both"},
		{"not a keyring", []string{"OTPD_KEYRING_JSON={"}, []string{"keys", "list"}, "OTPD_KEYRING_JSON: keyring:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := runOtpd(t, tc.env, tc.args...)
			require.Error(t, err)
			require.Contains(t, out, tc.want)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(out), "\n")+1, "a one-line error: %s", out)
		})
	}
	current, _, _ = readKeyringFile(t, path)
	require.Equal(t, "k3", current, "failed commands change nothing")
}

// TestKeyringRotationWithoutRestart: a running server picks up a rotated
// keyring on SIGHUP; codes sent before still check, new verifications are
// protected with the new key (as the store records), and a keyring that
// drops a key in use is refused while the server keeps serving.
func TestKeyringRotationWithoutRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := t.TempDir()
	const token = "a-fixed-admin-token-0123"
	srv := startServerArgs(t, dataDir, "--dev", "--admin-token", token)
	admin := client.New(srv.url, token)
	svc, err := admin.CreateService(ctx, client.CreateServiceParams{Name: "Acme Bank"})
	require.NoError(t, err)

	v1, err := admin.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900123"})
	require.NoError(t, err)
	code1 := codeFor(t, admin, "+447700900123", v1.ID)

	path := filepath.Join(dataDir, "keyring.json")
	before, _, _ := readKeyringFile(t, path)
	out, err := runOtpd(t, nil, "keys", "rotate", "--data-dir", dataDir)
	require.NoError(t, err, out)
	after, _, secrets := readKeyringFile(t, path)
	require.NotEqual(t, before, after)

	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(srv.stderr.String(), `msg=reloaded what=keyring`) },
		10*time.Second, 5*time.Millisecond)

	v2, err := admin.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900124"})
	require.NoError(t, err)
	code2 := codeFor(t, admin, "+447700900124", v2.ID)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "otpd.db")+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	keyOf := func(id string) string {
		var k string
		require.NoError(t, db.QueryRowContext(ctx, `SELECT key_id FROM verifications WHERE id = ?`, id).Scan(&k))
		return k
	}
	require.Equal(t, before, keyOf(v1.ID))
	require.Equal(t, after, keyOf(v2.ID), "verifications after the reload use the new current key")

	// A keyring that lost the key v2 depends on is refused; the server
	// keeps the one it has.
	writeNewKeyring(t, path)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool {
		return strings.Contains(srv.stderr.String(), `msg="reload refused; keeping the one in use" what=keyring`)
	},
		10*time.Second, 5*time.Millisecond)

	for _, c := range []struct{ id, code string }{{v1.ID, code1}, {v2.ID, code2}} {
		res, err := admin.CheckVerification(ctx, svc.ID, c.id, client.CheckParams{Code: c.code})
		require.NoError(t, err)
		require.True(t, res.Valid, "%s checks after the rotation", c.id)
	}
	srv.stop(t)
	for _, s := range append(secrets, code1, code2) {
		require.NotContains(t, srv.stderr.String(), s, "the log shows no key and no code")
	}
}

// TestKeyringFromEnvironment: a container gives the keyring itself in
// OTPD_KEYRING_JSON. The server uses it (no keyring file is made), never
// logs it, and explains that a SIGHUP cannot reload it. Admin actions show
// in the audit log under the admin.
func TestKeyringFromEnvironment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := t.TempDir()
	ringPath := filepath.Join(t.TempDir(), "ring.json")
	ringJSON := writeNewKeyring(t, ringPath)
	_, _, secrets := readKeyringFile(t, ringPath)
	const token = "a-fixed-admin-token-0123"
	srv := startServerEnv(t, dataDir, []string{"OTPD_KEYRING_JSON=" + string(ringJSON), "OTPD_KEYRING="}, "--dev", "--admin-token", token)
	admin := client.New(srv.url, token)
	svc, err := admin.CreateService(ctx, client.CreateServiceParams{Name: "Acme Bank"})
	require.NoError(t, err)
	v, err := admin.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900123"})
	require.NoError(t, err)
	code := codeFor(t, admin, "+447700900123", v.ID)
	res, err := admin.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code})
	require.NoError(t, err)
	require.True(t, res.Valid)
	_, err = os.Stat(filepath.Join(dataDir, "keyring.json"))
	require.ErrorIs(t, err, os.ErrNotExist, "the environment's keyring is not copied to disk")

	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool {
		return strings.Contains(srv.stderr.String(), `msg="reload refused; keeping the one in use" what=keyring err="the keyring comes from OTPD_KEYRING_JSON, which only a restart changes"`)
	}, 10*time.Second, 5*time.Millisecond)

	audit, err := admin.ListAudit(ctx, client.AuditListParams{ServiceID: svc.ID})
	require.NoError(t, err)
	require.Len(t, audit.Data, 1)
	require.Equal(t, client.AuditServiceCreate, audit.Data[0].Action)
	require.Equal(t, "admin", audit.Data[0].Actor)

	srv.stop(t)
	for _, s := range append(secrets, string(ringJSON)) {
		require.NotContains(t, srv.stderr.String()+srv.stdout.String(), s)
	}
}
