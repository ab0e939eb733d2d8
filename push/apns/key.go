package apns

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParseKey reads an APNs authentication token signing key: the .p8 file
// Apple's developer account hands out, a PEM "PRIVATE KEY" block holding
// a PKCS #8 ECDSA key on P-256. A SEC 1 "EC PRIVATE KEY" block (what
// openssl ecparam writes) is taken too. Errors never quote the key.
func ParseKey(pemBytes []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("apns: key is not PEM (want the .p8 file's contents, -----BEGIN PRIVATE KEY-----)")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("apns: key is not a valid PKCS #8 private key")
		}
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("apns: key is not a valid SEC 1 EC private key")
		}
	default:
		return nil, fmt.Errorf("apns: key is a PEM %q block, want \"PRIVATE KEY\"", printable(block.Type, 40))
	}
	ek, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("apns: key is a %T, want an ECDSA P-256 key (ES256)", key)
	}
	if ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("apns: key is on curve %s, want P-256 (ES256)", ek.Curve.Params().Name)
	}
	return ek, nil
}
