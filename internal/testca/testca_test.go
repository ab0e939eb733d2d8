package testca_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/internal/testca"
)

func TestLeafVerifies(t *testing.T) {
	t.Parallel()
	ca, other := testca.New("a"), testca.New("b")
	leaf := ca.Issue("server")
	for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
		_, err := leaf.Cert.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.Pool()})
		require.NoError(t, err, name)
		_, err = leaf.Cert.Verify(x509.VerifyOptions{DNSName: name, Roots: other.Pool()})
		require.Error(t, err, name)
	}
	require.NotEqual(t, leaf.Cert.SerialNumber, ca.Issue("server").Cert.SerialNumber)

	pair, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	require.NoError(t, err)
	require.Len(t, pair.Certificate, 2, "leaf and CA")
}
