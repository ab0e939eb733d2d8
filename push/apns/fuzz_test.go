package apns_test

import (
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"unicode"

	"github.com/otpd/otpd/push/apns"
)

// FuzzParseKey feeds arbitrary bytes to the .p8 loader: it must never
// panic, must return only P-256 keys, and its errors must not quote the
// input beyond a PEM block type.
func FuzzParseKey(f *testing.F) {
	key, p8 := newKey(f)
	f.Add(p8)
	sec1, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustRSAPKCS8(f)}))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN \x00\xff-----\nAAAA\n-----END \x00\xff-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := apns.ParseKey(data)
		if err != nil {
			if k != nil {
				t.Fatal("key and error")
			}
			for _, r := range err.Error() {
				if !unicode.IsPrint(r) {
					t.Fatalf("unprintable error %q", err)
				}
			}
			if len(err.Error()) > 200 {
				t.Fatalf("long error %q", err)
			}
			return
		}
		if k.Curve != elliptic.P256() {
			t.Fatalf("curve %v", k.Curve.Params().Name)
		}
		if !strings.Contains(string(data), "PRIVATE KEY") {
			t.Fatal("a key without a PEM block")
		}
	})
}
