package securitytest_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
	"github.com/otpd/otpd/internal/otpdtest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "otpd-security-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if binary, err = otpdtest.Binary(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testBundle is a running server, its admin client and one service.
type testBundle struct {
	srv   *otpdtest.Server
	admin *client.Client
	svc   *client.Service
	key   *client.Client // a key of svc
	// keySecret is key's secret.
	keySecret string
}

// setup starts a server and creates a service with the given settings.
func setup(t *testing.T, p client.CreateServiceParams, serveArgs ...string) *testBundle {
	t.Helper()
	token := "otpd_admin_" + rand.Text()
	srv := otpdtest.Start(t, binary, token, serveArgs...)
	b := &testBundle{srv: srv, admin: client.New(srv.URL, token, client.WithMaxRetries(0))}
	if p.Name == "" {
		p.Name = "Acme Bank"
	}
	if p.WebOTPDomain == "" {
		p.WebOTPDomain = "acme.example" // the tests read codes from its line
	}
	var err error
	b.svc, err = b.admin.CreateService(t.Context(), p)
	require.NoError(t, err)
	b.keySecret = b.newKey(t, b.svc.ID)
	b.key = client.New(srv.URL, b.keySecret, client.WithMaxRetries(0))
	return b
}

// keyOf returns a client with a new key of a service.
func (b *testBundle) keyOf(t *testing.T, sid string) *client.Client {
	t.Helper()
	return client.New(b.srv.URL, b.newKey(t, sid), client.WithMaxRetries(0))
}

// newKey creates a key of a service and returns its secret.
func (b *testBundle) newKey(t *testing.T, sid string) string {
	t.Helper()
	k, err := b.admin.CreateKey(t.Context(), sid, "backend")
	require.NoError(t, err)
	return k.Secret
}

// webOTPRe finds the code on the WebOTP line ("@acme.example #123456")
// that every SMS of a service with webotp_domain ends with.
var webOTPRe = regexp.MustCompile(`#([0-9A-Z]+)\s*$`)

// code waits for the n-th message (from 1) to a destination in the dev
// inbox and returns the code in it. The service must have a webotp_domain.
func (b *testBundle) code(t *testing.T, to string, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		msgs, err := b.srv.Inbox(ctx, to)
		require.NoError(t, err)
		if len(msgs) >= n {
			m := webOTPRe.FindStringSubmatch(msgs[n-1].Text)
			require.NotNil(t, m, "no WebOTP line in %q", msgs[n-1].Text)
			return m[1]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no message %d to %s arrived", n, to)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// alphanumericCodeRe finds a code of the alphanumeric alphabet, ten long.
var alphanumericCodeRe = regexp.MustCompile(`\b[2-9A-HJ-NP-Z]{10}\b`)

// emailCode waits for the e-mail to an address in the dev inbox and
// returns the ten-character alphanumeric code in it.
func (b *testBundle) emailCode(t *testing.T, to string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		msgs, err := b.srv.Inbox(ctx, to)
		require.NoError(t, err)
		if len(msgs) > 0 {
			m := alphanumericCodeRe.FindString(msgs[0].Text)
			require.NotEmpty(t, m, "no code in %q", msgs[0].Text)
			return m
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no e-mail to %s arrived", to)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// apiError returns err as the client's *Error, failing the test when it
// is not one.
func apiError(t *testing.T, err error) *client.Error {
	t.Helper()
	var ae *client.Error
	require.True(t, errors.As(err, &ae), "want an API error, got %v", err)
	return ae
}

// waitFor waits out a Retry-After: the passing of real time is what the
// test is about, not a stand-in for polling.
func waitFor(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-time.After(d):
	case <-t.Context().Done():
		t.Fatal("test ended while waiting")
	}
}

// rateLimitsOff turns every rate limit of a service off, for tests of
// other controls.
func rateLimitsOff() map[string]string {
	return map[string]string{client.LimitDestination: "off", client.LimitClientIP: "off", client.LimitService: "off",
		client.LimitPrefix: "off", client.LimitCountry: "off", client.LimitFailedChecks: "off"}
}
