package tlsconfig

// This file is the API server's side: a certificate and key read from
// files and swapped atomically when they are reloaded (on SIGHUP), and the
// server configuration that presents it.
//
// A reload that fails — a missing or unreadable file, a key that does not
// match the certificate, a certificate already expired — changes nothing:
// the server goes on presenting the certificate it has, so renewing a
// certificate can never take the server down. Connections already open
// keep the certificate they were made with; new handshakes get the new one.

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"time"
)

// Certificate is a certificate chain and its key, loaded from two PEM
// files. It is safe for concurrent use: handshakes read it while Reload
// replaces it.
type Certificate struct {
	certFile, keyFile string
	now               func() time.Time
	current           atomic.Pointer[tls.Certificate]
}

// Load reads the certificate chain (leaf first) and its private key. It
// fails when either file cannot be read or parsed, the key does not match
// the certificate, or the certificate has expired or is not yet valid.
func Load(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile, now: time.Now}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again and, if they hold a usable pair, presents
// it from the next handshake on. On error the certificate in use stays.
func (c *Certificate) Reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls certificate %s, key %s: %w", c.certFile, c.keyFile, err)
	}
	leaf := pair.Leaf // parsed by LoadX509KeyPair, unless GODEBUG x509keypairleaf=0
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return fmt.Errorf("tls certificate %s: %w", c.certFile, err)
		}
		pair.Leaf = leaf
	}
	now := c.now()
	switch {
	case now.After(leaf.NotAfter):
		return fmt.Errorf("tls certificate %s expired at %s", c.certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("tls certificate %s is not valid before %s", c.certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	c.current.Store(&pair)
	return nil
}

// Leaf returns the certificate presented now, parsed: its serial number
// and expiry are what a reload's log line shows.
func (c *Certificate) Leaf() *x509.Certificate {
	return c.current.Load().Leaf
}

// GetCertificate implements tls.Config.GetCertificate.
func (c *Certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current.Load(), nil
}

// Server returns the server's TLS configuration: TLS 1.2 at least,
// with only forward-secret AEAD cipher suites for 1.2 (TLS 1.3's are all
// of that kind and not configurable), HTTP/2 offered, and the certificate
// taken from cert at each handshake. When clientCAs is not nil, clients
// must present a certificate those CAs issued (mutual TLS).
func Server(cert *Certificate, clientCAs *x509.CertPool) *tls.Config {
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   CipherSuites,
		GetCertificate: cert.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if clientCAs != nil {
		cfg.ClientCAs = clientCAs
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg
}

// CipherSuites are the TLS 1.2 suites the server accepts: ECDHE key
// exchange (forward secrecy) with AES-GCM or ChaCha20-Poly1305. CBC and
// static-RSA suites, which Go still allows, are left out.
var CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}
