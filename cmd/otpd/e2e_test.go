package main_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// These tests build the otpd binary and drive it from outside, through the
// Go client and the CLI, the way an operator and a backend would.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "otpd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "otpd")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building otpd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe to write from the process's pipe
// goroutine while the test reads it.
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

type server struct {
	cmd     *exec.Cmd
	url     string
	dataDir string
	stdout  *syncBuffer
	stderr  *syncBuffer // the structured log
	done    chan error
}

var listenRe = regexp.MustCompile(`msg="otpd listening" addr=(127\.0\.0\.1:\d+)`)

// startServer runs `otpd serve --dev` on a free port with dataDir and waits
// until it listens.
func startServer(t *testing.T, dataDir string) *server {
	t.Helper()
	return startServerArgs(t, dataDir, "--dev")
}

// startServerArgs runs `otpd serve` with args on a free port with dataDir.
func startServerArgs(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	return startServerEnv(t, dataDir, nil, extra...)
}

// startServerEnv is startServerArgs with more environment variables.
func startServerEnv(t *testing.T, dataDir string, env []string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "debug"}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(append(os.Environ(), "OTPD_ADMIN_TOKEN=", "OTPD_CONFIG="), env...)
	s := &server{cmd: cmd, dataDir: dataDir, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	cmd.Stdout = s.stdout
	cmd.Stderr = io.MultiWriter(s.stderr, pw)
	require.NoError(t, cmd.Start())
	go func() { s.done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case addr := <-found:
		s.url = "http://" + addr
	case err := <-s.done:
		t.Fatalf("otpd exited before listening: %v\n%s", err, s.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("otpd did not start listening\n%s", s.stderr.String())
	}
	return s
}

// stop sends SIGTERM and requires a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-s.done:
		require.NoError(t, err, "otpd must exit 0 on SIGTERM\n%s", s.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("otpd did not stop on SIGTERM")
	}
}

var generatedTokenRe = regexp.MustCompile(`Generated an admin token \(shown once; only its hash is kept, in (\S+)\):\n  (\S+)\n`)

// adminToken returns the admin token the server printed when it generated
// it, and checks that the data directory keeps only its hash, privately.
func (s *server) adminToken(t *testing.T) string {
	t.Helper()
	var m []string
	require.Eventually(t, func() bool {
		m = generatedTokenRe.FindStringSubmatch(s.stdout.String())
		return m != nil
	}, 10*time.Second, 5*time.Millisecond, "a generated admin token is printed once")
	require.Equal(t, filepath.Join(s.dataDir, "admin-token.sha256"), m[1])
	info, err := os.Stat(m[1])
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the admin token hash file is private")
	entries, err := os.ReadDir(s.dataDir)
	require.NoError(t, err)
	for _, e := range entries {
		if data, err := os.ReadFile(filepath.Join(s.dataDir, e.Name())); err == nil {
			require.NotContains(t, string(data), m[2], "%s must not hold the admin token in clear", e.Name())
		}
	}
	return m[2]
}

// The first standalone run of six digits: the default code, in any template.
var codeRe = regexp.MustCompile(`(?m)(?:^|\s)([0-9]{6})(?:[.\s]|$)`)

// codeFor waits for the dev inbox to hold a message of the verification and
// returns the code in it.
func codeFor(t *testing.T, c *client.Client, to, verificationID string) string {
	t.Helper()
	var code string
	require.Eventually(t, func() bool {
		msgs, err := c.DevMessages(context.Background(), to)
		require.NoError(t, err)
		for _, m := range msgs {
			if m.VerificationID == verificationID {
				code = codeRe.FindStringSubmatch(m.Text)[1]
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond)
	return code
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := t.TempDir()
	srv := startServer(t, dataDir)
	adminToken := srv.adminToken(t)
	admin := client.New(srv.url, adminToken)

	require.NoError(t, admin.Healthz(ctx))
	require.NoError(t, admin.Readyz(ctx))

	svc, err := admin.CreateService(ctx, client.CreateServiceParams{Name: "Acme Bank", WebOTPDomain: "acme.example"})
	require.NoError(t, err)
	other, err := admin.CreateService(ctx, client.CreateServiceParams{Name: "Other"})
	require.NoError(t, err)
	key, err := admin.CreateKey(ctx, svc.ID, "backend")
	require.NoError(t, err)
	backend := client.New(srv.url, key.Secret)

	const to = "+447700900123"
	v, err := backend.StartVerification(ctx, svc.ID, client.StartParams{To: to, Purpose: "login"})
	require.NoError(t, err)
	require.Equal(t, client.StatusPending, v.Status)
	code := codeFor(t, backend, to, v.ID)
	msgs, err := backend.DevMessages(ctx, to)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(msgs[len(msgs)-1].Text, "\n@acme.example #"+code), "the WebOTP line ends the SMS")
	// In dev mode SMS goes over real SMPP to the in-process SMSC, whose
	// delivery receipt marks the message delivered.
	require.Eventually(t, func() bool {
		got, err := backend.GetVerification(ctx, svc.ID, v.ID)
		require.NoError(t, err)
		return got.Messages[0].Status == client.MessageDelivered
	}, 10*time.Second, 10*time.Millisecond, "the SMSC's receipt arrives")

	_, err = backend.GetVerification(ctx, other.ID, v.ID)
	require.True(t, client.IsCode(err, client.CodeNotFound), "a key never sees another service: %v", err)
	_, err = client.New(srv.url, "otpd_sk_nope").GetVerification(ctx, svc.ID, v.ID)
	require.True(t, client.IsCode(err, client.CodeUnauthorized))

	res, err := backend.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: "000000"})
	if code == "000000" {
		res, err = backend.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: "000001"})
	}
	require.NoError(t, err)
	require.False(t, res.Valid)
	require.Equal(t, 4, res.AttemptsRemaining)
	res, err = backend.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code})
	require.NoError(t, err)
	require.True(t, res.Valid)
	require.Equal(t, client.StatusApproved, res.Status)
	_, err = backend.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code})
	var ce *client.Error
	require.True(t, errors.As(err, &ce))
	require.Equal(t, client.CodeVerificationClosed, ce.Code)
	require.Equal(t, client.StatusApproved, ce.VerificationStatus)

	// Idempotent retry: the same key returns the same verification.
	p := client.StartParams{To: "+447700900124", IdempotencyKey: "order-8812-attempt"}
	first, err := backend.StartVerification(ctx, svc.ID, p)
	require.NoError(t, err)
	again, err := backend.StartVerification(ctx, svc.ID, p)
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID)
	p.To = "+447700900125"
	_, err = backend.StartVerification(ctx, svc.ID, p)
	require.True(t, client.IsCode(err, client.CodeIdempotencyConflict))

	// Check by destination.
	code2 := codeFor(t, backend, "+447700900124", first.ID)
	res, err = backend.CheckByDestination(ctx, svc.ID, client.CheckByDestinationParams{To: "+447700900124", Code: code2})
	require.NoError(t, err)
	require.True(t, res.Valid)

	// Restart keeps data, and the process exits 0 on SIGTERM.
	pending, err := backend.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900126"})
	require.NoError(t, err)
	code3 := codeFor(t, backend, "+447700900126", pending.ID)
	srv.stop(t)
	srv2 := startServer(t, dataDir)
	require.NotContains(t, srv2.stdout.String(), "Generated an admin token", "the stored token is reused")
	_, err = client.New(srv2.url, adminToken).ListServices(ctx, client.ListOptions{})
	require.NoError(t, err, "the admin token still works after a restart: its hash was kept")
	got, err := backend.GetVerification(ctx, svc.ID, v.ID)
	require.Error(t, err, "the old server is gone")
	backend = client.New(srv2.url, key.Secret)
	got, err = backend.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, client.StatusApproved, got.Status)
	res, err = backend.CheckVerification(ctx, svc.ID, pending.ID, client.CheckParams{Code: code3})
	require.NoError(t, err)
	require.True(t, res.Valid, "a code sent before a restart still works after it (the keyring persists)")

	// Logs: no code, no full destination, no secret, in any line.
	srv2.stop(t)
	logs := srv.stderr.String() + srv2.stderr.String()
	require.Contains(t, logs, "level=DEBUG", "the test must see debug logs to mean anything")
	for _, secret := range []string{code, code2, code3, to, "+447700900124", "+447700900126", key.Secret, adminToken} {
		require.NotContains(t, logs, secret)
	}
}

func TestCLI(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	srv := startServer(t, dataDir)
	adminToken := srv.adminToken(t)
	tokenEnv := "OTPD_ADMIN_TOKEN=" + adminToken
	run := func(args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "OTPD_SERVER="+srv.url, "OTPD_DATA_DIR="+dataDir, "OTPD_TOKEN=", tokenEnv)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if err != nil {
			return out.String() + errOut.String(), err
		}
		return out.String(), nil
	}
	// The data directory keeps only a hash of the generated token: without
	// a token the CLI says where to get one.
	tokenEnv = "OTPD_ADMIN_TOKEN="
	out, err := run("service", "list")
	require.Error(t, err)
	require.Contains(t, out, "keeps only a hash of the admin token; pass --token or set OTPD_ADMIN_TOKEN")
	tokenEnv = "OTPD_ADMIN_TOKEN=" + adminToken

	out, err = run("service", "create", "--name", "Acme Bank", "--channels", "sms,email")
	require.NoError(t, err, out)
	svcID := regexp.MustCompile(`svc_[0-9a-z]{26}`).FindString(out)
	require.NotEmpty(t, svcID, out)

	out, err = run("service", "list")
	require.NoError(t, err, out)
	require.Contains(t, out, svcID)
	require.Contains(t, out, "sms,email")

	out, err = run("key", "create", "--service", svcID, "--name", "backend")
	require.NoError(t, err, out)
	secret := regexp.MustCompile(`otpd_sk_\S+`).FindString(out)
	require.NotEmpty(t, secret, out)
	keyID := regexp.MustCompile(`key_[0-9a-z]{26}`).FindString(out)
	// "otpd keys" manages the keyring now, but its old API-key uses stay.
	out, err = run("keys", "list", "--service", svcID)
	require.NoError(t, err, out)
	require.Contains(t, out, keyID)

	out, err = run("verify", "start", "--token", secret, "--service", svcID, "--to", "ana@example.com")
	require.NoError(t, err, out)
	verID := regexp.MustCompile(`ver_[0-9a-z]{26}`).FindString(out)
	require.Contains(t, out, "email to ana@example.com")

	code := codeFor(t, client.New(srv.url, secret), "ana@example.com", verID)
	out, err = run("verify", "check", "--token", secret, "--service", svcID, "--id", verID, "--code", "not-it")
	require.Error(t, err, "a wrong code exits non-zero")
	require.Contains(t, out, "Invalid code")
	out, err = run("verify", "check", "--token", secret, "--service", svcID, "--id", verID, "--code", code)
	require.NoError(t, err, out)
	require.Contains(t, out, "Valid")

	out, err = run("verify", "status", "--token", secret, "--service", svcID, verID)
	require.NoError(t, err, out)
	require.Contains(t, out, "approved")
	require.Contains(t, out, "delivered")

	out, err = run("key", "revoke", "--service", svcID, keyID)
	require.NoError(t, err, out)
	out, err = run("verify", "status", "--token", secret, "--service", svcID, verID)
	require.Error(t, err)
	require.Contains(t, out, "unauthorized", "a revoked key stops working at once")

	out, err = run("verify", "start", "--service", svcID)
	require.Error(t, err)
	require.Contains(t, out, "--to are required")

	out, err = run("version")
	require.NoError(t, err)
	require.Contains(t, out, "otpd")
	srv.stop(t)
}

// Without --dev there is no dev inbox and, in this version, no channel: a
// start is refused, never faked.
func TestServeWithoutDev(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startServerArgs(t, t.TempDir(), "--admin-token", "a-fixed-admin-token-0123")
	admin := client.New(srv.url, "a-fixed-admin-token-0123")
	_, err := admin.DevMessages(ctx, "+447700900123")
	require.True(t, client.IsCode(err, client.CodeNotFound), "no dev inbox without --dev: %v", err)
	svc, err := admin.CreateService(ctx, client.CreateServiceParams{Name: "Acme"})
	require.NoError(t, err)
	_, err = admin.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900123"})
	require.True(t, client.IsCode(err, client.CodeChannelUnavailable), "%v", err)
	for _, name := range []string{"admin-token", "admin-token.sha256"} {
		_, err = os.Stat(filepath.Join(srv.dataDir, name))
		require.ErrorIs(t, err, os.ErrNotExist, "a configured admin token is not written to disk")
	}
	srv.stop(t)
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	yamlFile := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(yamlFile, []byte("addr: 127.0.0.1:0\nno_such_setting: 1\n"), 0o600))
	for name, args := range map[string][]string{
		"log level":       {"--log-level", "loud"},
		"retention":       {"--retention", "forever"},
		"unknown flag":    {"--nope"},
		"unknown setting": {"--config", yamlFile},
		"missing file":    {"--config", filepath.Join(dir, "none.toml")},
		"postgres down":   {"--store", "postgres://postgres@127.0.0.1:1/test?connect_timeout=2"},
	} {
		cmd := exec.Command(binary, append([]string{"serve", "--data-dir", filepath.Join(dir, "data"), "--addr", "127.0.0.1:0"}, args...)...)
		cmd.Env = append(os.Environ(), "OTPD_CONFIG=")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "%s: must exit non-zero, got %v: %s", name, err, out)
		require.NotZero(t, ee.ExitCode(), name)
		require.Contains(t, string(out), "otpd:", name)
	}
}

// Two nodes on one PostgreSQL: a verification started on one is checked on
// the other, and its code works exactly once across both.
func TestTwoNodesOnPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := postgresSchema(t)
	shared := t.TempDir() // keyring and admin token, as an operator would distribute them
	a := startServerArgs(t, t.TempDir(), "--dev", "--store", dsn, "--keyring", filepath.Join(shared, "keyring.json"), "--admin-token", "a-shared-admin-token-0123")
	b := startServerArgs(t, t.TempDir(), "--dev", "--store", dsn, "--keyring", filepath.Join(shared, "keyring.json"), "--admin-token", "a-shared-admin-token-0123")
	ca := client.New(a.url, "a-shared-admin-token-0123")
	cb := client.New(b.url, "a-shared-admin-token-0123")

	svc, err := ca.CreateService(ctx, client.CreateServiceParams{Name: "Acme"})
	require.NoError(t, err)
	v, err := ca.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900123"})
	require.NoError(t, err)
	got, err := cb.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err, "any node reads any verification")
	require.Equal(t, v.ID, got.ID)

	// Whichever node claimed the message, its dev inbox has it.
	var code string
	require.Eventually(t, func() bool {
		for _, c := range []*client.Client{ca, cb} {
			msgs, err := c.DevMessages(ctx, "+447700900123")
			require.NoError(t, err)
			for _, m := range msgs {
				if m.VerificationID == v.ID {
					code = codeRe.FindStringSubmatch(m.Text)[1]
					return true
				}
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)

	var wg sync.WaitGroup
	var mu sync.Mutex
	valid := 0
	for i := range 20 {
		wg.Go(func() {
			c := []*client.Client{ca, cb}[i%2]
			res, err := c.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code})
			if err == nil && res.Valid {
				mu.Lock()
				valid++
				mu.Unlock()
				return
			}
			require.True(t, client.IsCode(err, client.CodeVerificationClosed), "%v", err)
		})
	}
	wg.Wait()
	require.Equal(t, 1, valid, "a code is valid once across nodes")
	a.stop(t)
	b.stop(t)
}
