package rcs

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
)

// idNamespace is the UUID namespace of RBM message ids derived from otpd
// message ids (a random UUID, fixed once: changing it would change every
// derived id).
var idNamespace = [16]byte{0xa0, 0xaf, 0xd5, 0x90, 0x5b, 0x3c, 0x42, 0x3f, 0x85, 0x77, 0xe1, 0x25, 0x6e, 0xf3, 0x06, 0x16}

// MessageID returns the RBM messageId used for the otpd message with the
// given id: the name-based (SHA-1, version 5) UUID of RFC 9562 section 5.5
// in a namespace of otpd's own, in lower-case hex. RBM requires a UUID,
// and ignores a message whose id was used before by the same agent, so
// every attempt at one otpd message maps to one RBM message. Receipts
// quote this id.
//
// An empty id (a message otpd did not number) gets a random UUID.
func MessageID(otpdMessageID string) string {
	if otpdMessageID == "" {
		return newUUID()
	}
	h := sha1.New()
	h.Write(idNamespace[:])
	h.Write([]byte(otpdMessageID))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return format(u)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		panic("rcs: crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return format(u)
}

func format(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
