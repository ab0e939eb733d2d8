package otpd

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

// ID prefixes, as the API shows them.
const (
	PrefixService      = "svc_"
	PrefixKey          = "key_"
	PrefixVerification = "ver_"
	PrefixMessage      = "msg_"
	PrefixEvent        = "evt_"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns prefix followed by 26 characters: 48 bits of milliseconds
// since the Unix epoch and 80 random bits, in Crockford's base32 alphabet.
// Time-ordered ids keep B-tree inserts at the right edge of the index, which
// keeps batched inserts cheap, and sort by creation time for cursors.
func NewID(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("otpd: crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return prefix + idEncoding.EncodeToString(b[:])
}

// HasPrefix reports whether id looks like an id of the given prefix.
func HasPrefix(id, prefix string) bool {
	return len(id) == len(prefix)+26 && strings.HasPrefix(id, prefix)
}
