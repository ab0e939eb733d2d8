package vonage

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"net/url"
	"slices"
	"strings"
)

// SignatureMethod is how an account's signature secret signs requests, as
// chosen in the Vonage dashboard.
type SignatureMethod string

// The signature methods Vonage offers. MD5Hash is the dashboard's default;
// Vonage recommends an HMAC, SHA-256 or SHA-512.
const (
	MD5Hash    SignatureMethod = "md5hash" // MD5 of the parameters followed by the secret
	HMACMD5    SignatureMethod = "md5"
	HMACSHA1   SignatureMethod = "sha1"
	HMACSHA256 SignatureMethod = "sha256"
	HMACSHA512 SignatureMethod = "sha512"
)

func (m SignatureMethod) valid() bool {
	switch m {
	case MD5Hash, HMACMD5, HMACSHA1, HMACSHA256, HMACSHA512:
		return true
	}
	return false
}

// Signature returns the sig of params as Vonage's "Signing messages" guide
// describes it: every parameter but sig, sorted by name, each value with
// '&' and '=' replaced by '_', joined as "&name=value&name=value" (with the
// leading '&'); then for MD5Hash the MD5 of that string followed by the
// secret, in lower-case hex, and for the HMACs the HMAC of the string
// keyed with the secret, in upper-case hex (as Vonage's libraries send
// them; Vonage compares either case). A parameter given more than once
// counts with its first value.
func Signature(method SignatureMethod, secret string, params url.Values) (string, error) {
	var h hash.Hash
	switch method {
	case MD5Hash:
		h = md5.New()
	case HMACMD5:
		h = hmac.New(md5.New, []byte(secret))
	case HMACSHA1:
		h = hmac.New(sha1.New, []byte(secret))
	case HMACSHA256:
		h = hmac.New(sha256.New, []byte(secret))
	case HMACSHA512:
		h = hmac.New(sha512.New, []byte(secret))
	default:
		return "", fmt.Errorf("vonage: unknown signature method %q", method)
	}
	h.Write([]byte(signingString(params)))
	if method == MD5Hash {
		h.Write([]byte(secret))
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil))), nil
}

var sigEscaper = strings.NewReplacer("&", "_", "=", "_")

func signingString(params url.Values) string {
	names := make([]string, 0, len(params))
	for name, vs := range params {
		if name != "sig" && len(vs) > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		b.WriteByte('&')
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(sigEscaper.Replace(params[name][0]))
	}
	return b.String()
}

// validSignature reports, in constant time, whether params carry a sig
// that signs them. Hex case does not matter: Vonage's libraries differ.
func validSignature(method SignatureMethod, secret string, params url.Values) bool {
	got := strings.ToLower(params.Get("sig"))
	if got == "" {
		return false
	}
	want, err := Signature(method, secret, params)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(want)), []byte(got)) == 1
}
