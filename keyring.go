package otpd

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Keyring holds the server keys that codes are derived and hashed with. Each
// key has an id that is stored with what it protected, so keys can rotate:
// the current key protects new verifications, older keys still verify the
// ones they protected.
type Keyring struct {
	current string
	keys    map[string]*ringKey
	order   []string // oldest first
}

type ringKey struct {
	id        string
	secret    []byte
	createdAt time.Time
	code      []byte      // subkey: code derivation
	hash      []byte      // subkey: code hashing
	index     []byte      // subkey: blind index of destinations
	seal      cipher.AEAD // subkey: AES-256-GCM for personal data at rest
}

// keyringFile is the JSON form of a keyring, as stored in the data directory.
type keyringFile struct {
	Current string `json:"current"`
	Keys    []struct {
		ID        string    `json:"id"`
		Secret    string    `json:"secret"` // base64, 32 bytes
		CreatedAt time.Time `json:"created_at"`
	} `json:"keys"`
}

var keyIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// NewKeyring returns a keyring with one fresh random key.
func NewKeyring(now time.Time) *Keyring {
	k := &Keyring{keys: map[string]*ringKey{}}
	k.Rotate(now)
	return k
}

// Rotate adds a fresh random key and makes it current. It returns its id.
func (k *Keyring) Rotate(now time.Time) string {
	id := k.Add(now)
	k.current = id
	return id
}

// Add adds a fresh random key without making it current, and returns its
// id. It is the first half of a rotation across many nodes: every node
// must know a key (and so verify its codes) before any node signs with it;
// Activate is the second half.
func (k *Keyring) Add(now time.Time) string {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		panic("otpd: crypto/rand failed: " + err.Error())
	}
	id := fmt.Sprintf("k%d", len(k.order)+1)
	for k.keys[id] != nil {
		id += "x"
	}
	k.add(id, secret, now)
	return id
}

// Activate makes the key id current: new verifications are protected with
// it from then on.
func (k *Keyring) Activate(id string) error {
	if k.keys[id] == nil {
		return fmt.Errorf("keyring: key %q is not in the keyring", id)
	}
	k.current = id
	return nil
}

// KeyInfo describes a key of a keyring without its secret.
type KeyInfo struct {
	ID        string
	CreatedAt time.Time
	Current   bool
	// Fingerprint identifies the secret without revealing it (see
	// Fingerprints).
	Fingerprint string
}

// Keys describes the keys of the keyring, oldest first.
func (k *Keyring) Keys() []KeyInfo {
	fps := k.Fingerprints()
	out := make([]KeyInfo, 0, len(k.order))
	for _, id := range k.order {
		out = append(out, KeyInfo{ID: id, CreatedAt: k.keys[id].createdAt, Current: id == k.current, Fingerprint: fps[id]})
	}
	return out
}

// CanReplace reports, as an error wrapping ErrKeyringMismatch, why k cannot
// replace old in a running server: it lacks a key of old (verifications
// protected with it could no longer be checked) or holds another secret
// under one of old's ids (they would all fail). Adding keys and changing
// the current one are what rotation is, and are fine.
func (k *Keyring) CanReplace(old *Keyring) error {
	mine, theirs := k.Fingerprints(), old.Fingerprints()
	var missing, differ []string
	for id, fp := range theirs {
		switch got, ok := mine[id]; {
		case !ok:
			missing = append(missing, id)
		case got != fp:
			differ = append(differ, id)
		}
	}
	slices.Sort(missing)
	slices.Sort(differ)
	switch {
	case len(missing) > 0:
		return fmt.Errorf("%w: the new keyring lacks key %s, which may still protect pending verifications; keep old keys",
			ErrKeyringMismatch, strings.Join(missing, ", "))
	case len(differ) > 0:
		return fmt.Errorf("%w: key %s has another secret in the new keyring; a key id must never get a new secret (add a key instead)",
			ErrKeyringMismatch, strings.Join(differ, ", "))
	}
	return nil
}

func (k *Keyring) add(id string, secret []byte, createdAt time.Time) {
	sub := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(sub("otpd/v1/seal"))
	if err != nil {
		panic("otpd: aes: " + err.Error()) // a 32-byte key cannot fail
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("otpd: gcm: " + err.Error())
	}
	k.keys[id] = &ringKey{id: id, secret: secret, createdAt: createdAt,
		code: sub("otpd/v1/code"), hash: sub("otpd/v1/hash"), index: sub("otpd/v1/index"), seal: aead}
	k.order = append(k.order, id)
}

// ParseKeyring reads a keyring from its JSON form.
func ParseKeyring(data []byte) (*Keyring, error) {
	var f keyringFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	k := &Keyring{keys: map[string]*ringKey{}, current: f.Current}
	for _, e := range f.Keys {
		if !keyIDRe.MatchString(e.ID) {
			return nil, fmt.Errorf("keyring: bad key id %q", e.ID)
		}
		if k.keys[e.ID] != nil {
			return nil, fmt.Errorf("keyring: key id %q appears twice", e.ID)
		}
		secret, err := base64.StdEncoding.DecodeString(e.Secret)
		if err != nil || len(secret) < 32 {
			return nil, fmt.Errorf("keyring: key %q: secret must be at least 32 bytes of base64", e.ID)
		}
		k.add(e.ID, secret, e.CreatedAt)
	}
	if len(k.keys) == 0 {
		return nil, errors.New("keyring: no keys")
	}
	if k.keys[k.current] == nil {
		return nil, fmt.Errorf("keyring: current key %q is not in the keyring", f.Current)
	}
	return k, nil
}

// MarshalJSON writes the keyring in the form ParseKeyring reads. The result
// holds secrets: store it with mode 0600.
func (k *Keyring) MarshalJSON() ([]byte, error) {
	var f keyringFile
	f.Current = k.current
	for _, id := range k.order {
		e := k.keys[id]
		f.Keys = append(f.Keys, struct {
			ID        string    `json:"id"`
			Secret    string    `json:"secret"`
			CreatedAt time.Time `json:"created_at"`
		}{e.id, base64.StdEncoding.EncodeToString(e.secret), e.createdAt.UTC()})
	}
	return json.MarshalIndent(f, "", "  ")
}

// CurrentID is the id of the key that protects new verifications.
func (k *Keyring) CurrentID() string { return k.current }

func (k *Keyring) key(id string) (*ringKey, error) {
	rk := k.keys[id]
	if rk == nil {
		return nil, fmt.Errorf("keyring: key %q is not in the keyring", id)
	}
	return rk, nil
}

// DeriveCode returns the code of a verification: length symbols of the
// alphabet, drawn by rejection sampling from an HMAC-SHA-256 stream keyed by
// the key's code subkey over the verification id and salt. Rejection
// sampling (discarding bytes at or above the largest multiple of the
// alphabet size) keeps every symbol exactly equally likely.
func (k *Keyring) DeriveCode(keyID, verificationID string, salt []byte, alphabet Alphabet, length int) (string, error) {
	rk, err := k.key(keyID)
	if err != nil {
		return "", err
	}
	symbols := alphabet.Symbols()
	m := hmac.New(sha256.New, rk.code)
	m.Write([]byte(verificationID))
	m.Write([]byte{0})
	m.Write(salt)
	seed := m.Sum(nil)

	limit := 256 - 256%len(symbols)
	out := make([]byte, 0, length)
	for counter := byte(0); len(out) < length; counter++ {
		block := hmac.New(sha256.New, seed)
		block.Write([]byte{counter})
		for _, b := range block.Sum(nil) {
			if int(b) >= limit {
				continue
			}
			out = append(out, symbols[int(b)%len(symbols)])
			if len(out) == length {
				break
			}
		}
	}
	return string(out), nil
}

// HashCode returns the keyed hash that is stored for a code: HMAC-SHA-256
// with the key's hash subkey over the service, the verification, the code
// and the canonical transaction. Binding the ids in stops a hash from one
// verification being replayed against another.
func (k *Keyring) HashCode(keyID, serviceID, verificationID, code string, txn *Transaction) ([]byte, error) {
	rk, err := k.key(keyID)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, rk.hash)
	for _, f := range []string{serviceID, verificationID, code, txn.canonical()} {
		m.Write([]byte(itoa(len(f))))
		m.Write([]byte{':'})
		m.Write([]byte(f))
	}
	return m.Sum(nil), nil
}

// DestinationKeys returns the blind index of a destination under every key,
// current first. Look-ups match any of them, so rotating keys does not hide
// older verifications; new rows store the first.
func (k *Keyring) DestinationKeys(serviceID, to string) []string {
	out := make([]string, 0, len(k.order))
	out = append(out, k.destinationKey(k.keys[k.current], serviceID, to))
	for _, id := range k.order {
		if id != k.current {
			out = append(out, k.destinationKey(k.keys[id], serviceID, to))
		}
	}
	return out
}

func (k *Keyring) destinationKey(rk *ringKey, serviceID, to string) string {
	m := hmac.New(sha256.New, rk.index)
	m.Write([]byte(serviceID))
	m.Write([]byte{0})
	m.Write([]byte(to))
	return rk.id + ":" + hex.EncodeToString(m.Sum(nil)[:20])
}

// Fingerprints returns, for each key id, a fingerprint of the key: a keyed
// hash that identifies the secret without revealing it. Nodes sharing a
// store record and compare them (Engine.CheckKeyring), because nodes with
// different keys under the same id would each refuse the others' codes.
func (k *Keyring) Fingerprints() map[string]string {
	out := make(map[string]string, len(k.keys))
	for id, rk := range k.keys {
		m := hmac.New(sha256.New, rk.secret)
		m.Write([]byte("otpd/v1/fingerprint"))
		out[id] = hex.EncodeToString(m.Sum(nil)[:16])
	}
	return out
}

// BlindIndex returns a keyed hash of value under the current key, scoped to
// a service: what otpd stores or counts in place of a value that must not
// be kept in clear (an end user's IP address in a rate-limit key, say).
func (k *Keyring) BlindIndex(serviceID, value string) string {
	return k.destinationKey(k.keys[k.current], serviceID, value)
}
