package main_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
	"github.com/otpd/otpd/internal/testca"
	"github.com/otpd/otpd/internal/tlsconfig"
	"github.com/otpd/otpd/smsc"
)

// The API over HTTPS with a certificate from a private CA: the Go client
// trusts that CA; replacing the files and sending SIGHUP makes new
// connections see the new certificate; a mismatched pair is refused on
// SIGHUP and the server goes on with the one it has.
func TestServeTLSAndReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ca := testca.New("otpd e2e CA")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := ca.Issue("otpd")
	first.WriteFiles(certFile, keyFile)

	srv := startServerArgs(t, t.TempDir(), "--dev", "--tls-cert", certFile, "--tls-key", keyFile)
	base := strings.Replace(srv.url, "http://", "https://", 1)
	addr := strings.TrimPrefix(base, "https://")
	require.Contains(t, srv.stderr.String(), "tls=true")

	// serial is the serial number of the certificate a new connection sees.
	serial := func() *big.Int {
		conn, err := tls.Dial("tcp", addr, ca.ClientConfig())
		require.NoError(t, err)
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber
	}
	hc := tlsconfig.HTTPClient(ca.Pool())
	c := client.New(base, srv.adminToken(t), client.WithHTTPClient(hc))
	svc, err := c.CreateService(ctx, client.CreateServiceParams{Name: "Acme"})
	require.NoError(t, err)
	require.Equal(t, first.Cert.SerialNumber, serial())

	// HTTP/2, and Strict-Transport-Security on every response.
	res, err := hc.Get(base + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 2, res.ProtoMajor)
	require.Equal(t, "max-age=31536000", res.Header.Get("Strict-Transport-Security"))

	// A client that does not trust the CA is refused; plain HTTP gets no API.
	_, err = client.New(base, srv.adminToken(t), client.WithMaxRetries(0)).ListServices(ctx, client.ListOptions{})
	_, untrusted := errors.AsType[*tls.CertificateVerificationError](err)
	require.True(t, untrusted, "%v", err)
	res, err = http.Get(srv.url + "/healthz")
	if err == nil {
		res.Body.Close()
		require.Equal(t, http.StatusBadRequest, res.StatusCode, "an HTTP request to the TLS port")
	}

	// New files alone change nothing; SIGHUP makes new connections see them.
	second := ca.Issue("otpd")
	second.WriteFiles(certFile, keyFile)
	require.Equal(t, first.Cert.SerialNumber, serial(), "the files are read on SIGHUP only")
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return serial().Cmp(second.Cert.SerialNumber) == 0 }, 10*time.Second, 20*time.Millisecond)
	// The log line follows the swap: wait for it too.
	require.Eventually(t, func() bool {
		return strings.Contains(srv.stderr.String(), `msg=reloaded what="tls certificate" serial=`+second.Cert.SerialNumber.Text(16))
	}, 10*time.Second, 20*time.Millisecond, "the reload is logged")
	_, err = c.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900123"})
	require.NoError(t, err, "the API keeps working across the reload")

	// A certificate with another certificate's key is refused; the server
	// keeps the pair it has and keeps serving.
	third := ca.Issue("otpd")
	require.NoError(t, os.WriteFile(certFile, third.CertPEM, 0o600))
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool {
		return strings.Contains(srv.stderr.String(), "reload refused; keeping the one in use")
	}, 10*time.Second, 20*time.Millisecond)
	require.Contains(t, srv.stderr.String(), "private key does not match public key")
	require.Equal(t, second.Cert.SerialNumber, serial())
	_, err = c.ListServices(ctx, client.ListOptions{})
	require.NoError(t, err)

	// Then a good pair again.
	third.WriteFiles(certFile, keyFile)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return serial().Cmp(third.Cert.SerialNumber) == 0 }, 10*time.Second, 20*time.Millisecond)

	log := srv.stderr.String()
	require.NotContains(t, log, "PRIVATE KEY")
	srv.stop(t)
}

// SIGHUP without TLS reloads the keyring alone and is harmless: its
// default action, ending the process, would take the server down.
func TestSIGHUPWithoutTLS(t *testing.T) {
	t.Parallel()
	srv := startServer(t, t.TempDir())
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool {
		return strings.Contains(srv.stderr.String(), "msg=reloaded what=keyring")
	}, 10*time.Second, 20*time.Millisecond)
	require.NotContains(t, srv.stderr.String(), "tls certificate")
	require.NoError(t, client.New(srv.url, srv.adminToken(t)).Healthz(context.Background()))
	srv.stop(t)
}

// A client that sends its headers slowly (slowloris) is cut off after the
// server's ReadHeaderTimeout (5 s) rather than held open.
func TestSlowHeadersAreCut(t *testing.T) {
	t.Parallel()
	srv := startServer(t, t.TempDir())
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: otpd\r\n") // and never the blank line
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, conn.SetReadDeadline(start.Add(20*time.Second)))
	_, err = io.ReadAll(conn) // returns when the server closes the connection
	require.NoError(t, err, "the server closed the connection (not the test's deadline)")
	took := time.Since(start)
	require.Greater(t, took, 4*time.Second, "the server waited for the rest of the headers")
	require.Less(t, took, 15*time.Second)
}

// Bad TLS settings stop the start with a one-line reason.
func TestServeRefusesBadTLS(t *testing.T) {
	t.Parallel()
	ca := testca.New("otpd e2e CA")
	dir := t.TempDir()
	a, b := ca.Issue("a"), ca.Issue("b")
	aCert, aKey := filepath.Join(dir, "a.pem"), filepath.Join(dir, "a.key")
	a.WriteFiles(aCert, aKey)
	bKey := filepath.Join(dir, "b.key")
	require.NoError(t, os.WriteFile(bKey, b.KeyPEM, 0o600))
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"cert without key", []string{"--tls-cert", aCert}, "--tls-cert and --tls-key go together"},
		{"missing key file", []string{"--tls-cert", aCert, "--tls-key", filepath.Join(dir, "none.key")}, "no such file"},
		{"key of another certificate", []string{"--tls-cert", aCert, "--tls-key", bKey}, "private key does not match public key"},
		{"client CA not PEM", []string{"--tls-cert", aCert, "--tls-key", aKey, "--tls-client-ca", notPEM}, "--tls-client-ca: ca file " + notPEM + ": no PEM certificate"},
		{"outbound CA not PEM", []string{"--tls-ca-file", notPEM}, "--tls-ca-file: ca file " + notPEM + ": no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(binary, append([]string{"serve", "--dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--addr", "127.0.0.1:0"}, tc.args...)...)
			cmd.Env = append(os.Environ(), "OTPD_CONFIG=")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "%s", stderr.String())
			require.NotZero(t, ee.ExitCode())
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			require.True(t, strings.HasPrefix(last, "otpd: "), last)
			require.Contains(t, last, tc.want)
		})
	}
}

// startSMTPSink runs an SMTP server over implicit TLS on 127.0.0.1 (the
// sink of TestEmailOverSMTP).
func startSMTPSink(t *testing.T, cfg *tls.Config) (*smtpSink, string) {
	t.Helper()
	sink := &smtpSink{}
	srv := smtp.NewServer(sink)
	srv.Domain = "mx.test"
	srv.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return sink, ln.Addr().String()
}

// first waits for the sink's first message and returns it, raw.
func (s *smtpSink) first(t *testing.T, why string) string {
	t.Helper()
	var raw string
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.msgs) == 0 {
			return false
		}
		raw = s.msgs[0]
		return true
	}, 15*time.Second, 10*time.Millisecond, why)
	return raw
}

// received says how many messages the sink has.
func (s *smtpSink) received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// startTLSSMSC runs the SMSC simulator behind TLS on 127.0.0.1.
func startTLSSMSC(t *testing.T, cfg *tls.Config) (*smsc.Server, string) {
	t.Helper()
	srv := smsc.New(smsc.Config{SystemID: "otpd", Password: "secret", Logger: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, tls.NewListener(ln, cfg))
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return srv, ln.Addr().String()
}

// Outbound TLS verifies every peer: with the system's roots only, otpd
// refuses a Twilio, an smpps:// SMSC, an SMTP server and a webhook
// receiver whose certificates a private CA issued; with tls_ca_file naming
// that CA it sends to all four; a route's own tls_ca_file replaces the
// global one for that route.
func TestOutboundTLSTrust(t *testing.T) {
	t.Parallel()
	ca, other := testca.New("private CA"), testca.New("some other CA")
	dir := t.TempDir()
	caFile, otherFile := ca.WriteFile(dir), other.WriteFile(dir)

	tests := []struct {
		name            string
		global, smppOwn string
		trusted         bool // twilio, email and the webhook
		smppTrusted     bool
	}{
		{"system roots only", "", "", false, false},
		{"global tls_ca_file", caFile, "", true, true},
		{"a route's own tls_ca_file wins", otherFile, caFile, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			leaf := ca.Issue("peer")
			twilio := twilioAPI("https://otp.example.com/v1/callbacks/twilio/us")
			twilio.tls = leaf.ServerConfig()
			startFakeProvider(t, twilio)
			smscSrv, smscAddr := startTLSSMSC(t, leaf.ServerConfig())
			sink, smtpAddr := startSMTPSink(t, leaf.ServerConfig())
			var hooks atomic.Int64
			receiver := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				hooks.Add(1)
				w.WriteHeader(http.StatusNoContent)
			}))
			receiver.TLS = leaf.ServerConfig()
			receiver.Config.ErrorLog = log.New(io.Discard, "", 0)
			receiver.StartTLS()
			t.Cleanup(receiver.Close)

			config := filepath.Join(t.TempDir(), "otpd.yaml")
			require.NoError(t, os.WriteFile(config, []byte(`
public_url: https://otp.example.com
tls_ca_file: "`+tt.global+`"
email:
  url: smtps://`+smtpAddr+`?from=otp@acme.example
sms:
  routes:
    - name: us
      type: twilio
      prefixes: ["+1"]
      account_sid: `+twilioSID+`
      auth_token: `+twilioToken+`
      from: "`+twilioFrom+`"
      base_url: `+twilio.url+`
    - name: uk
      prefixes: ["+44"]
      smpp: smpps://otpd:secret@`+smscAddr+`
      tls_ca_file: "`+tt.smppOwn+`"
`), 0o600))
			srv := startServerArgs(t, t.TempDir(), "--config", config, "--admin-token", providersAdmin, "--delivery-lease", "4s",
				"--webhook-allow-private") // the receiver is on loopback
			c := client.New(srv.url, providersAdmin)
			svc, err := c.CreateService(ctx, client.CreateServiceParams{Name: "Acme", Channels: []string{"sms", "email"}, WebhookURL: receiver.URL + "/hook"})
			require.NoError(t, err)
			vUS, err := c.StartVerification(ctx, svc.ID, client.StartParams{To: "+12025550123"})
			require.NoError(t, err)
			_, err = c.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900123"})
			require.NoError(t, err)
			vMail, err := c.StartVerification(ctx, svc.ID, client.StartParams{To: "ana@example.com"})
			require.NoError(t, err)

			// refused waits until a send of the verification failed on the
			// peer's certificate.
			refused := func(vid string) {
				t.Helper()
				require.Eventually(t, func() bool {
					for line := range strings.Lines(srv.stderr.String()) {
						if strings.Contains(line, "send failed") && strings.Contains(line, vid) && strings.Contains(line, "certificate") {
							return true
						}
					}
					return false
				}, 20*time.Second, 20*time.Millisecond, "no certificate error for %s\n%s", vid, srv.stderr.String())
			}
			if tt.smppTrusted {
				require.Eventually(t, func() bool { return len(smscSrv.Messages("+447700900123")) == 1 }, 20*time.Second, 20*time.Millisecond)
			} else {
				// A bind that fails is not logged by the transmitter;
				// readiness says why the route is down.
				require.Eventually(t, func() bool {
					res, err := http.Get(srv.url + "/readyz")
					if err != nil {
						return false
					}
					defer res.Body.Close()
					body, _ := io.ReadAll(res.Body)
					return strings.Contains(string(body), "certificate signed by unknown authority")
				}, 20*time.Second, 20*time.Millisecond, "the uk route is down on the SMSC's certificate")
				require.Empty(t, smscSrv.Messages(""))
			}
			if tt.trusted {
				twilio.waitFor(t, "+12025550123")
				require.Eventually(t, func() bool { return sink.received() == 1 }, 20*time.Second, 20*time.Millisecond)
				require.Eventually(t, func() bool { return hooks.Load() > 0 }, 20*time.Second, 20*time.Millisecond)
				return
			}
			refused(vUS.ID)
			refused(vMail.ID)
			require.Eventually(t, func() bool {
				evs, err := c.ListEvents(ctx, svc.ID, client.EventListParams{})
				require.NoError(t, err)
				for _, e := range evs.Data {
					if e.Delivery.LastError != nil && strings.Contains(*e.Delivery.LastError, "certificate") {
						return true
					}
				}
				return false
			}, 20*time.Second, 20*time.Millisecond, "a webhook POST refused on the receiver's certificate")
			require.Zero(t, hooks.Load())
			require.Zero(t, sink.received())
		})
	}
}
