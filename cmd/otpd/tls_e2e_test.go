package main_test

import (
	"context"
	"crypto/tls"
	"errors"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
	"github.com/otpd/otpd/internal/testca"
	"github.com/otpd/otpd/internal/tlsconfig"
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
	require.Contains(t, srv.stderr.String(), `msg=reloaded what="tls certificate" serial=`+second.Cert.SerialNumber.Text(16))
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
		{"outbound CA not PEM", []string{"--tls-ca-file", notPEM}, "no PEM certificate"},
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
