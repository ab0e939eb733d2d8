package tlsconfig_test

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/internal/testca"
	"github.com/otpd/otpd/internal/tlsconfig"
)

// pair writes a fresh leaf of ca to dir and returns it with its paths.
func pair(t *testing.T, ca *testca.CA, dir string) (leaf *testca.Leaf, certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	leaf = ca.Issue("otpd")
	leaf.WriteFiles(certFile, keyFile)
	return leaf, certFile, keyFile
}

func TestCertificateReload(t *testing.T) {
	t.Parallel()
	ca := testca.New("reload CA")
	dir := t.TempDir()
	first, certFile, keyFile := pair(t, ca, dir)

	c, err := tlsconfig.Load(certFile, keyFile)
	require.NoError(t, err)
	got, err := c.GetCertificate(nil)
	require.NoError(t, err)
	require.Equal(t, first.Cert.SerialNumber, got.Leaf.SerialNumber)

	// A good new pair is presented from the next handshake on.
	second := ca.Issue("otpd")
	second.WriteFiles(certFile, keyFile)
	require.NoError(t, c.Reload())
	require.Equal(t, second.Cert.SerialNumber, c.Leaf().SerialNumber)

	// Bad new files are refused, and the pair in use stays.
	third := ca.Issue("otpd")
	bad := []struct {
		name  string
		write func()
		msg   string
	}{
		{"key of another certificate", func() {
			require.NoError(t, os.WriteFile(certFile, third.CertPEM, 0o600))
			require.NoError(t, os.WriteFile(keyFile, second.KeyPEM, 0o600))
		}, "private key does not match public key"},
		{"missing key", func() {
			require.NoError(t, os.Remove(keyFile))
		}, "no such file"},
		{"not PEM", func() {
			require.NoError(t, os.WriteFile(certFile, []byte("hello"), 0o600))
			require.NoError(t, os.WriteFile(keyFile, third.KeyPEM, 0o600))
		}, "failed to find any PEM data"},
	}
	for _, b := range bad {
		b.write()
		err := c.Reload()
		require.ErrorContains(t, err, b.msg, b.name)
		require.Equal(t, second.Cert.SerialNumber, c.Leaf().SerialNumber, b.name)
	}
}

func TestCertificateValidity(t *testing.T) {
	t.Parallel()
	ca := testca.New("validity CA")
	leaf, certFile, keyFile := pair(t, ca, t.TempDir())
	c, err := tlsconfig.Load(certFile, keyFile)
	require.NoError(t, err)

	tests := []struct {
		name string
		now  time.Time
		msg  string
	}{
		{"expired", leaf.Cert.NotAfter.Add(time.Second), "expired at"},
		{"not yet valid", leaf.Cert.NotBefore.Add(-time.Second), "not valid before"},
	}
	for _, tt := range tests {
		c.SetClock(func() time.Time { return tt.now })
		require.ErrorContains(t, c.Reload(), tt.msg, tt.name)
		require.Equal(t, leaf.Cert.SerialNumber, c.Leaf().SerialNumber)
	}
}

func TestLoadRefusesBadPairs(t *testing.T) {
	t.Parallel()
	ca := testca.New("bad pairs CA")
	dir := t.TempDir()
	a, b := ca.Issue("a"), ca.Issue("b")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	aCert, aKey, bKey := write("a.pem", a.CertPEM), write("a.key", a.KeyPEM), write("b.key", b.KeyPEM)

	tests := []struct {
		name, cert, key, msg string
	}{
		{"mismatch", aCert, bKey, "does not match"},
		{"no cert", filepath.Join(dir, "none.pem"), aKey, "no such file"},
		{"key as cert", aKey, aKey, "PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tlsconfig.Load(tt.cert, tt.key)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

// serve runs an HTTPS server with cfg on 127.0.0.1 that answers with the
// negotiated protocol. (httptest's server would add a certificate of its
// own, which crypto/tls prefers to GetCertificate for clients that send no
// server name.)
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, r.Proto)
		}),
		TLSConfig:         cfg,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // refused handshakes are the point
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeTLS(ln, "", "")
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return "https://" + ln.Addr().String()
}

func TestServer(t *testing.T) {
	t.Parallel()
	ca := testca.New("server CA")
	_, certFile, keyFile := pair(t, ca, t.TempDir())
	cert, err := tlsconfig.Load(certFile, keyFile)
	require.NoError(t, err)
	url := serve(t, tlsconfig.Server(cert, nil))
	addr := url[len("https://"):]

	// HTTP/2 over TLS with a client that trusts the CA.
	res, err := tlsconfig.HTTPClient(ca.Pool()).Get(url)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, "HTTP/2.0", string(body))

	tests := []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.2 AEAD", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
		{"TLS 1.2 CBC", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg.Clone()
			cfg.RootCAs = ca.Pool()
			conn, err := tls.Dial("tcp", addr, cfg)
			if tt.ok {
				require.NoError(t, err)
				conn.Close()
				return
			}
			require.Error(t, err)
		})
	}
}

func TestServerMutualTLS(t *testing.T) {
	t.Parallel()
	ca, clientCA := testca.New("server CA"), testca.New("client CA")
	dir := t.TempDir()
	_, certFile, keyFile := pair(t, ca, dir)
	cert, err := tlsconfig.Load(certFile, keyFile)
	require.NoError(t, err)
	clientCAs, err := tlsconfig.LoadCertPool(clientCA.WriteFile(dir))
	require.NoError(t, err)
	url := serve(t, tlsconfig.Server(cert, clientCAs))

	get := func(certs ...tls.Certificate) error {
		tr := tlsconfig.Transport(ca.Pool())
		tr.TLSClientConfig.Certificates = certs
		res, err := (&http.Client{Transport: tr}).Get(url)
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	require.Error(t, get(), "a client without a certificate is refused")
	require.Error(t, get(ca.Issue("stranger").TLS), "a certificate of another CA is refused")
	require.NoError(t, get(clientCA.Issue("backend").TLS))
}

// TestCertificateConcurrentReload runs handshakes while the certificate is
// reloaded (for -race).
func TestCertificateConcurrentReload(t *testing.T) {
	t.Parallel()
	ca := testca.New("concurrent CA")
	_, certFile, keyFile := pair(t, ca, t.TempDir())
	cert, err := tlsconfig.Load(certFile, keyFile)
	require.NoError(t, err)
	url := serve(t, tlsconfig.Server(cert, nil))

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				tr := tlsconfig.Transport(ca.Pool())
				tr.DisableKeepAlives = true
				res, err := (&http.Client{Transport: tr}).Get(url)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
			}
		})
	}
	for range 10 {
		ca.Issue("otpd").WriteFiles(certFile, keyFile)
		require.NoError(t, cert.Reload())
	}
	wg.Wait()
}

func TestRoots(t *testing.T) {
	t.Parallel()
	ca := testca.New("private CA")
	dir := t.TempDir()
	url := serve(t, ca.Issue("provider").ServerConfig())

	// No file: nil, the system's roots, which do not know the CA.
	roots, err := tlsconfig.Roots("", "")
	require.NoError(t, err)
	require.Nil(t, roots)
	_, err = tlsconfig.HTTPClient(roots).Get(url)
	_, ok := errors.AsType[*tls.CertificateVerificationError](err)
	require.True(t, ok, "%v", err)

	// With the CA's file, the server is trusted.
	roots, err = tlsconfig.Roots(ca.WriteFile(dir))
	require.NoError(t, err)
	res, err := tlsconfig.HTTPClient(roots).Get(url)
	require.NoError(t, err)
	res.Body.Close()

	// A file that holds no certificate is an error, not an empty pool.
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("nope"), 0o600))
	_, err = tlsconfig.Roots(notPEM)
	require.ErrorContains(t, err, "no PEM certificate")
	_, err = tlsconfig.Roots(filepath.Join(dir, "missing.pem"))
	require.ErrorContains(t, err, "no such file")
	_, err = tlsconfig.LoadCertPool(notPEM)
	require.Error(t, err)
}
