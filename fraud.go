package otpd

import (
	"strings"
	"time"
)

// PrefixBlock is the id prefix of fraud blocks.
const PrefixBlock = "blk_"

// BlockScope says what a block's key names.
type BlockScope string

// Block scopes.
const (
	// ScopePrefix: the key is a number prefix ("+8821612"), matched
	// against the start of E.164 numbers. Blocks made by the guard use
	// Destination.Prefix; an admin may block a shorter range.
	ScopePrefix BlockScope = "prefix"
	// ScopeCountry: the key is an ISO 3166 alpha-2 region ("GB"), matched
	// against Destination.Region.
	ScopeCountry BlockScope = "country"
)

// Valid reports whether s is a known scope.
func (s BlockScope) Valid() bool { return s == ScopePrefix || s == ScopeCountry }

// Who made or lifted a block.
const (
	BlockByGuard = "guard" // the conversion-rate guard
	BlockByAdmin = "admin" // a request with the admin token
)

// Block stops a service's verifications to a number range or a country
// for a while: the fraud guard's answer to traffic that is never checked
// (SMS pumping), or an admin's. A block never holds a full destination.
type Block struct {
	ID        string // blk_…
	ServiceID string
	Scope     BlockScope
	Key       string // a number prefix or a region, by Scope
	// Level is how many blocks of the same service, scope and key were
	// made in the escalation window before this one: each level blocks
	// for longer.
	Level  int
	Reason string
	// CreatedBy is BlockByGuard or BlockByAdmin.
	CreatedBy string
	// Started and Approved are the verifications the guard judged (0 for
	// a block made by an admin).
	Started, Approved int64
	CreatedAt         time.Time
	ExpiresAt         time.Time
	LiftedAt          time.Time // zero unless lifted before it expired
	LiftedBy          string    // BlockByAdmin when lifted
}

// ActiveAt reports whether the block stops verifications at t.
func (b *Block) ActiveAt(t time.Time) bool {
	return b.LiftedAt.IsZero() && t.Before(b.ExpiresAt)
}

// EndedAt is when the block stopped (or will stop) blocking: when it was
// lifted, else when it expires.
func (b *Block) EndedAt() time.Time {
	if !b.LiftedAt.IsZero() {
		return b.LiftedAt
	}
	return b.ExpiresAt
}

// Matches reports whether the block covers dest, a phone destination.
func (b *Block) Matches(dest Destination) bool {
	if dest.Kind != DestinationPhone {
		return false
	}
	switch b.Scope {
	case ScopePrefix:
		return strings.HasPrefix(dest.Address, b.Key)
	case ScopeCountry:
		return dest.Region == b.Key
	}
	return false
}

// BlockFilter selects blocks for Store.ListBlocks.
type BlockFilter struct {
	ServiceID string     // "" for every service
	ActiveAt  time.Time  // when set, only blocks active at this time
	Scope     BlockScope // with Key: only blocks of this scope and key
	Key       string
	Since     time.Time // when set, only blocks created at or after it
	Before    string    // cursor: only blocks with ids less than this
	Limit     int       // at most this many; <= 0: all
}

// ConversionDelta adds to the counts of one counter bucket: the
// verifications of a service started, and approved, for one number prefix
// or country, among those created in the bucket that begins at Bucket.
type ConversionDelta struct {
	ServiceID string
	Scope     BlockScope
	Key       string
	Bucket    time.Time
	Started   int64
	Approved  int64
}

// ConversionStat is the sum of a key's counter buckets over a span.
type ConversionStat struct {
	ServiceID string
	Scope     BlockScope
	Key       string
	Started   int64
	Approved  int64
}

// Fraud event types: a block was made or lifted. Their VerificationID is
// the block's id, so a block's events are delivered in order without
// waiting for any verification's, and their Data is the block as the API
// shows it.
const (
	EventFraudBlockCreated EventType = "fraud.block_created"
	EventFraudBlockLifted  EventType = "fraud.block_lifted"
)
