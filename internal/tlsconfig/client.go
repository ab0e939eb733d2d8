package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
)

// Roots returns the certificate authorities outbound connections trust:
// the system's roots plus the certificates in each PEM bundle of files
// (empty names are skipped). With no file it returns nil, which crypto/tls
// and every channel read as "the system's roots". A file that holds no
// certificate is an error, so a wrong path or format does not go unnoticed
// until the first send.
func Roots(files ...string) (*x509.CertPool, error) {
	var pool *x509.CertPool
	for _, f := range files {
		if f == "" {
			continue
		}
		if pool == nil {
			sys, err := x509.SystemCertPool()
			if err != nil {
				return nil, fmt.Errorf("system certificate pool: %w", err)
			}
			pool = sys
		}
		if err := appendCertsFromFile(pool, f); err != nil {
			return nil, err
		}
	}
	return pool, nil
}

// LoadCertPool reads a PEM bundle of CA certificates into a pool of its
// own, without the system's roots: the CAs that issue client certificates
// for mutual TLS.
func LoadCertPool(file string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if err := appendCertsFromFile(pool, file); err != nil {
		return nil, err
	}
	return pool, nil
}

func appendCertsFromFile(pool *x509.CertPool, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("ca file: %w", err)
	}
	if !pool.AppendCertsFromPEM(data) {
		return fmt.Errorf("ca file %s: no PEM certificate in it", file)
	}
	return nil
}

// Client returns a TLS client configuration for outbound connections:
// TLS 1.2 at least, the server verified against roots (the system's when
// nil) and the name dialed. ServerName is left empty for the dialer to
// fill in from the address.
func Client(roots *x509.CertPool) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
}

// HTTPClient returns an HTTP client for the providers' APIs, verifying
// servers against roots (the system's when nil). Its transport is a clone
// of http.DefaultTransport — proxy from the environment, HTTP/2, its
// dial, handshake and idle timeouts — with Client's TLS settings.
func HTTPClient(roots *x509.CertPool) *http.Client {
	return &http.Client{Transport: Transport(roots)}
}

// Transport returns the transport HTTPClient uses, for clients that need
// their own redirect or timeout policy.
func Transport(roots *x509.CertPool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = Client(roots)
	return t
}
