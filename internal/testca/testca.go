// Package testca makes certificate authorities and the certificates they
// issue, for tests of TLS clients and servers on loopback: a test trusts
// exactly the CA it made, so "the client refuses an unknown CA" and "the
// client accepts the configured CA" can both be shown without the
// internet or the system's roots.
//
// Keys are ECDSA P-256 and certificates are valid from an hour ago for a
// day. Errors can only come from crypto/rand, which does not fail, so the
// functions panic rather than take a testing.TB: a CA can then be made
// once per package with sync.OnceValue.
package testca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority made for a test.
type CA struct {
	// Cert is the CA's self-signed certificate.
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// New makes a CA whose subject's common name is name.
func New(name string) *CA {
	key := newKey()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der := must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key))
	return &CA{Cert: must(x509.ParseCertificate(der)), key: key}
}

// Pool returns a pool that trusts the CA and nothing else.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// PEM returns the CA's certificate PEM-encoded, as a CA bundle file holds it.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// WriteFile writes the CA's certificate (PEM) to dir and returns its path.
func (ca *CA) WriteFile(dir string) string {
	path := filepath.Join(dir, "ca-"+ca.Cert.SerialNumber.Text(16)+".pem")
	if err := os.WriteFile(path, ca.PEM(), 0o600); err != nil {
		panic(err)
	}
	return path
}

// ClientConfig returns a TLS client configuration that trusts only the CA.
func (ca *CA) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
}

// Leaf is a certificate the CA issued and its private key.
type Leaf struct {
	// Cert is the parsed certificate; its SerialNumber is random, so a
	// test can tell two leaves apart on the wire.
	Cert *x509.Certificate
	// TLS is the certificate chain (leaf, then CA) with the key, for a
	// tls.Config's Certificates.
	TLS tls.Certificate
	// CertPEM is the chain as a certificate file holds it; KeyPEM the
	// key (PKCS #8).
	CertPEM, KeyPEM []byte
}

// Issue makes a certificate for 127.0.0.1, ::1 and localhost, good for
// both server and client authentication, with common name cn.
func (ca *CA) Issue(cn string) *Leaf {
	key := newKey()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der := must(x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key))
	keyDER := must(x509.MarshalPKCS8PrivateKey(key))
	certPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca.PEM()...)
	return &Leaf{
		Cert:    must(x509.ParseCertificate(der)),
		TLS:     tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key},
		CertPEM: certPEM,
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// ServerConfig returns a TLS server configuration presenting the leaf.
func (l *Leaf) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{l.TLS}, MinVersion: tls.VersionTLS12}
}

// WriteFiles writes the chain and the key (mode 0600) to certFile and
// keyFile, replacing them atomically (a server reloading them never reads
// half a file).
func (l *Leaf) WriteFiles(certFile, keyFile string) {
	writeAtomic(certFile, l.CertPEM)
	writeAtomic(keyFile, l.KeyPEM)
}

func writeAtomic(path string, data []byte) {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		panic(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		panic(err)
	}
}

func newKey() *ecdsa.PrivateKey {
	return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
}

// newSerial returns a random 128-bit serial number.
func newSerial() *big.Int {
	return must(rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128)))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic("testca: " + err.Error())
	}
	return v
}
