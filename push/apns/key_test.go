package apns_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/push/apns"
)

func mustRSAPKCS8(t testing.TB) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return der
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	p256, p8 := newKey(t)
	sec1DER, err := x509.MarshalECPrivateKey(p256)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	p384DER, err := x509.MarshalPKCS8PrivateKey(p384)
	require.NoError(t, err)

	got, err := apns.ParseKey(p8)
	require.NoError(t, err)
	require.True(t, got.Equal(p256))

	// As the developer account hands it out: a .p8 file with a trailing
	// newline, possibly CRLF line ends.
	crlf := []byte{}
	for _, c := range p8 {
		if c == '\n' {
			crlf = append(crlf, '\r')
		}
		crlf = append(crlf, c)
	}
	got, err = apns.ParseKey(crlf)
	require.NoError(t, err)
	require.True(t, got.Equal(p256))

	got, err = apns.ParseKey(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1DER}))
	require.NoError(t, err)
	require.True(t, got.Equal(p256))

	tests := []struct {
		name string
		pem  []byte
		want string
	}{
		{"empty", nil, "not PEM"},
		{"base64 without armour", []byte("MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg"), "not PEM"},
		{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), `"CERTIFICATE"`},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), "PKCS #8"},
		{"garbage SEC 1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0x30}}), "SEC 1"},
		{"RSA", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustRSAPKCS8(t)}), "want an ECDSA P-256 key"},
		{"P-384", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER}), "P-384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := apns.ParseKey(tt.pem)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
