package otpd

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
)

// Sealer encrypts personal data (destinations, end users' IP addresses,
// device tokens, and the API documents that carry them) before a store
// writes it, and decrypts it when the store reads it back. context binds a
// sealed value to where it belongs (a row's id and column), so a value
// copied into another row does not open.
type Sealer interface {
	Seal(plaintext []byte, context string) ([]byte, error)
	Open(sealed []byte, context string) ([]byte, error)
}

// sealedPrefix starts every sealed value: "enc1:<key id>:<base64 of nonce
// and ciphertext>". Values without it were written before encryption was on
// and are read as they are.
const sealedPrefix = "enc1:"

// IsSealed reports whether a stored value is sealed.
func IsSealed(b []byte) bool { return bytes.HasPrefix(b, []byte(sealedPrefix)) }

// Seal encrypts plaintext with the current key (AES-256-GCM under a subkey
// of it), authenticating context with it.
func (k *Keyring) Seal(plaintext []byte, context string) ([]byte, error) {
	rk := k.keys[k.current]
	nonce := make([]byte, rk.seal.NonceSize(), rk.seal.NonceSize()+len(plaintext)+rk.seal.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	ct := rk.seal.Seal(nonce, nonce, plaintext, []byte(context))
	out := make([]byte, 0, len(sealedPrefix)+len(rk.id)+1+base64.RawStdEncoding.EncodedLen(len(ct)))
	out = append(out, sealedPrefix...)
	out = append(out, rk.id...)
	out = append(out, ':')
	return base64.RawStdEncoding.AppendEncode(out, ct), nil
}

// ErrUnsealable is returned for a sealed value that does not open: a key
// missing from the keyring, a value tampered with or moved to another row.
var ErrUnsealable = errors.New("sealed value does not open")

// Open decrypts a value Seal made with any key of the keyring.
func (k *Keyring) Open(sealed []byte, context string) ([]byte, error) {
	rest, ok := bytes.CutPrefix(sealed, []byte(sealedPrefix))
	if !ok {
		return nil, fmt.Errorf("%w: not sealed", ErrUnsealable)
	}
	id, enc, ok := bytes.Cut(rest, []byte{':'})
	if !ok {
		return nil, fmt.Errorf("%w: malformed", ErrUnsealable)
	}
	rk := k.keys[string(id)]
	if rk == nil {
		return nil, fmt.Errorf("%w: key %q is not in the keyring", ErrUnsealable, id)
	}
	ct, err := base64.RawStdEncoding.AppendDecode(nil, enc)
	if err != nil || len(ct) < rk.seal.NonceSize() {
		return nil, fmt.Errorf("%w: malformed", ErrUnsealable)
	}
	nonce, ct := ct[:rk.seal.NonceSize()], ct[rk.seal.NonceSize():]
	pt, err := rk.seal.Open(nil, nonce, ct, []byte(context))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnsealable, context)
	}
	return pt, nil
}

// SealerRef is a Sealer whose keyring can be replaced while it is in use,
// for keyring rotation without a restart. The zero SealerRef seals nothing.
type SealerRef struct{ p atomic.Pointer[Keyring] }

// NewSealerRef returns a SealerRef that seals with k.
func NewSealerRef(k *Keyring) *SealerRef {
	r := &SealerRef{}
	r.Set(k)
	return r
}

// Set replaces the keyring. Keys of the old one that values were sealed
// with must still be in the new one.
func (r *SealerRef) Set(k *Keyring) { r.p.Store(k) }

// Seal seals with the current keyring.
func (r *SealerRef) Seal(plaintext []byte, context string) ([]byte, error) {
	k := r.p.Load()
	if k == nil {
		return nil, errors.New("seal: no keyring")
	}
	return k.Seal(plaintext, context)
}

// Open opens with the current keyring.
func (r *SealerRef) Open(sealed []byte, context string) ([]byte, error) {
	k := r.p.Load()
	if k == nil {
		return nil, errors.New("open: no keyring")
	}
	return k.Open(sealed, context)
}

// SealString seals s for storage, or returns it as it is when s is empty
// or there is no sealer.
func SealString(sl Sealer, s, context string) (string, error) {
	if sl == nil || s == "" {
		return s, nil
	}
	b, err := sl.Seal([]byte(s), context)
	return string(b), err
}

// OpenString reverses SealString; a stored value that is not sealed (from
// before encryption was turned on) is returned as it is.
func OpenString(sl Sealer, stored, context string) (string, error) {
	if !IsSealed([]byte(stored)) {
		return stored, nil
	}
	if sl == nil {
		return "", fmt.Errorf("%w: %s: the store was opened without a keyring", ErrUnsealable, context)
	}
	b, err := sl.Open([]byte(stored), context)
	return string(b), err
}

// SealBytes is SealString for byte values.
func SealBytes(sl Sealer, b []byte, context string) ([]byte, error) {
	if sl == nil || len(b) == 0 {
		return b, nil
	}
	return sl.Seal(b, context)
}

// OpenBytes is OpenString for byte values.
func OpenBytes(sl Sealer, stored []byte, context string) ([]byte, error) {
	if !IsSealed(stored) {
		return stored, nil
	}
	if sl == nil {
		return nil, fmt.Errorf("%w: %s: the store was opened without a keyring", ErrUnsealable, context)
	}
	return sl.Open(stored, context)
}

// SealContext is the context a store seals a column of a row under.
func SealContext(table, column, id string) string { return table + "." + column + ":" + id }

// OpenVerification opens the sealed fields of a verification a store read:
// its destination and client IP.
func OpenVerification(sl Sealer, v *Verification) error {
	var err error
	if v.To, err = OpenString(sl, v.To, SealContext("verifications", "to", v.ID)); err != nil {
		return err
	}
	v.ClientIP, err = OpenString(sl, v.ClientIP, SealContext("verifications", "client_ip", v.ID))
	return err
}

// SealVerificationFields returns the sealed forms of a verification's
// destination and client IP, for a store to write.
func SealVerificationFields(sl Sealer, v *Verification) (to, clientIP string, err error) {
	if to, err = SealString(sl, v.To, SealContext("verifications", "to", v.ID)); err != nil {
		return "", "", err
	}
	clientIP, err = SealString(sl, v.ClientIP, SealContext("verifications", "client_ip", v.ID))
	return to, clientIP, err
}

// SealEventData seals an event's payload (the verification as the API
// showed it, destination included) for a store to write.
func SealEventData(sl Sealer, e *Event) ([]byte, error) {
	return SealBytes(sl, e.Data, SealContext("events", "data", e.ID))
}

// OpenEvent opens the payload of an event a store read.
func OpenEvent(sl Sealer, e *Event) error {
	var err error
	e.Data, err = OpenBytes(sl, e.Data, SealContext("events", "data", e.ID))
	return err
}

// SealDeviceToken seals a device's push token for a store to write.
func SealDeviceToken(sl Sealer, d *Device) (string, error) {
	return SealString(sl, d.Token, SealContext("devices", "token", d.ID))
}

// OpenDevice opens the token of a device a store read.
func OpenDevice(sl Sealer, d *Device) error {
	var err error
	d.Token, err = OpenString(sl, d.Token, SealContext("devices", "token", d.ID))
	return err
}

// SealIdempotencyBody seals a remembered response body (which may hold a
// destination) for a store to write.
func SealIdempotencyBody(sl Sealer, r *IdempotencyRecord) ([]byte, error) {
	return SealBytes(sl, r.Body, SealContext("idempotency_keys", "body", r.Scope+"/"+r.Key))
}

// OpenIdempotency opens the body of a remembered response a store read.
func OpenIdempotency(sl Sealer, r *IdempotencyRecord) error {
	var err error
	r.Body, err = OpenBytes(sl, r.Body, SealContext("idempotency_keys", "body", r.Scope+"/"+r.Key))
	return err
}

// FallbackToColumn is the stored form of a verification's FallbackTo, before
// sealing: a JSON object, or "" when there is none.
func FallbackToColumn(v *Verification) (string, error) {
	if len(v.FallbackTo) == 0 {
		return "", nil
	}
	b, err := json.Marshal(v.FallbackTo)
	return string(b), err
}

// SealFallbackTo seals the stored form of FallbackTo in place of plain.
func SealFallbackTo(sl Sealer, id, plain string) (string, error) {
	return SealString(sl, plain, SealContext("verifications", "fallback_to", id))
}

// OpenFallbackTo sets v.FallbackTo from its stored, possibly sealed, form.
func OpenFallbackTo(sl Sealer, v *Verification, stored string) error {
	plain, err := OpenString(sl, stored, SealContext("verifications", "fallback_to", v.ID))
	if err != nil || plain == "" {
		return err
	}
	if err := json.Unmarshal([]byte(plain), &v.FallbackTo); err != nil {
		return fmt.Errorf("verification %s: fallback_to: %w", v.ID, err)
	}
	return nil
}
