// Package otpdtest runs the otpd binary for black-box tests outside
// cmd/otpd: it builds the binary once per test process, starts `otpd serve`
// on a free loopback port and stops it, and reads the dev inbox.
package otpdtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary builds ./cmd/otpd into dir and returns its path. Call it from
// TestMain; it needs the go command, as `go test` does.
func Binary(dir string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(dir, "otpd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/otpd")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building otpd: %w", err)
	}
	return bin, nil
}

// Server is a running `otpd serve`.
type Server struct {
	URL        string
	DataDir    string
	AdminToken string
	cmd        *exec.Cmd
	log        *Buffer // stderr: the structured log
	stdout     *Buffer // the dev inbox's console lines, in --dev
	done       chan error
}

// Buffer is a bytes.Buffer safe to write from a process's pipe while a
// test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listenRe = regexp.MustCompile(`msg="otpd listening" addr=(127\.0\.0\.1:\d+)`)

// Start runs `otpd serve --dev --log-level debug` with the given extra
// arguments on a free port and a data directory of its own, with adminToken
// as the admin token, and stops it (SIGKILL) when t ends unless Stop did.
func Start(t *testing.T, bin, adminToken string, extra ...string) *Server {
	t.Helper()
	dataDir := t.TempDir()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--dev", "--log-level", "debug"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "OTPD_ADMIN_TOKEN="+adminToken, "OTPD_CONFIG=")
	s := &Server{DataDir: dataDir, AdminToken: adminToken, cmd: cmd, log: &Buffer{}, stdout: &Buffer{}, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	cmd.Stdout = s.stdout
	cmd.Stderr = io.MultiWriter(s.log, pw)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting otpd: %v", err)
	}
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
		s.URL = "http://" + addr
	case err := <-s.done:
		t.Fatalf("otpd exited before listening: %v\n%s", err, s.log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("otpd did not start listening\n%s", s.log.String())
	}
	return s
}

// Log returns the structured log (stderr) the server wrote so far.
func (s *Server) Log() string { return s.log.String() }

// Stdout returns what the server wrote to stdout so far: in --dev, each
// message the dev inbox received, code and all, for the developer at the
// console; nothing otherwise.
func (s *Server) Stdout() string { return s.stdout.String() }

// Stop sends SIGTERM and waits for a clean exit.
func (s *Server) Stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("otpd must exit 0 on SIGTERM: %v\n%s", err, s.log.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("otpd did not stop on SIGTERM")
	}
}

// InboxMessage is a message in the dev inbox.
type InboxMessage struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

// Inbox returns the dev inbox's messages to one destination, oldest first.
func (s *Server) Inbox(ctx context.Context, to string) ([]InboxMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/dev/messages?to="+url.QueryEscape(to), nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("dev inbox: %s", res.Status)
	}
	var out []InboxMessage
	return out, json.NewDecoder(res.Body).Decode(&out)
}
