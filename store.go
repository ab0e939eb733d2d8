package otpd

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store is where otpd keeps services, keys, verifications and their
// messages. Implementations: package sqlite (the embedded default) and
// package postgres (shared by many nodes). Every implementation must pass the behaviour suite in
// package storetest.
//
// Methods return an error wrapping ErrNotFound when a looked-up row does not
// exist. Methods scoped by serviceID behave as if rows of other services do
// not exist: that is what keeps tenants apart.
type Store interface {
	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error

	// CreateService inserts s. s.ID is set by the caller.
	CreateService(ctx context.Context, s *Service) error
	// GetService returns the service with the given id.
	GetService(ctx context.Context, id string) (*Service, error)
	// ListServices returns services in id order (oldest first) after the
	// cursor (an id; "" starts at the beginning), at most limit of them
	// (limit <= 0: all).
	ListServices(ctx context.Context, after string, limit int) ([]*Service, error)
	// UpdateService replaces every field of the service with s.ID.
	UpdateService(ctx context.Context, s *Service) error
	// DeleteService removes the service and everything that belongs to it:
	// keys, verifications, messages, devices, templates.
	DeleteService(ctx context.Context, id string) error

	// CreateKey inserts k.
	CreateKey(ctx context.Context, k *Key) error
	// GetKey returns the key with the given id, whatever its service:
	// authentication looks a key up before it knows the service.
	GetKey(ctx context.Context, id string) (*Key, error)
	// ListKeys returns the service's keys, oldest first.
	ListKeys(ctx context.Context, serviceID string) ([]*Key, error)
	// DeleteKey removes a key of the service.
	DeleteKey(ctx context.Context, serviceID, id string) error
	// TouchKey records that the key was used at t. Implementations may
	// skip the write when the stored time is less than a minute older.
	TouchKey(ctx context.Context, id string, t time.Time) error

	// CreateVerification inserts v and all of v.Messages in one durable
	// transaction: a queued message is a delivery job, so it must exist
	// once CreateVerification returns, or not at all.
	CreateVerification(ctx context.Context, v *Verification) error
	// GetVerification returns a verification of the service with its
	// messages, oldest first.
	GetVerification(ctx context.Context, serviceID, id string) (*Verification, error)
	// ListVerifications returns the service's verifications newest first.
	ListVerifications(ctx context.Context, f VerificationFilter) ([]*Verification, error)
	// FindPending returns the newest verification of the service whose
	// ToKey is one of toKeys, whose status is pending and which has not
	// expired at now.
	FindPending(ctx context.Context, serviceID string, toKeys []string, now time.Time) (*Verification, error)
	// UpdateVerification loads a verification of the service with its
	// messages, calls fn with it, and if fn returns nil, writes what fn
	// changed — the verification's fields, changed messages and messages
	// fn appended — in one transaction. Updates of one verification are
	// serialized: no other UpdateVerification of it runs between the load
	// and the write, on this node or any other sharing the store. That is
	// what makes a correct code valid exactly once. fn's error is returned
	// as is, and nothing is written. Refs that fn adds to a message are
	// recorded for FindMessageByRef. fn may run while the verification is
	// locked (in SQLite, first on a read and written only if the
	// verification did not change since, else again inside the writer's
	// transaction; in PostgreSQL, holding the row lock and a pool
	// connection): it must not call the store and must not do network I/O,
	// and since it may be called more than once, each time with a fresh
	// load, it must set what it reports to its caller on every call rather
	// than accumulate. Messages keep the order in which they were added.
	UpdateVerification(ctx context.Context, serviceID, id string, fn func(*Verification) error) (*Verification, error)

	// FindMessageByRef returns the message that a receipt's ref (as stored
	// in Message.Refs) belongs to, whatever its service.
	FindMessageByRef(ctx context.Context, ref string) (ClaimedMessage, error)

	// ClaimMessages leases up to limit queued messages whose NextAttemptAt
	// is not after now and whose lease (if any) has run out, for lease,
	// oldest first, and returns them. A claimed message is not returned
	// again until its lease runs out, so a node that dies mid-send leaves
	// its messages to be claimed again.
	ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ClaimedMessage, error)

	// ClaimFallbacks leases up to limit messages whose FallbackAt is not
	// after now, by moving their FallbackAt to now+lease (so a node that
	// dies handling one leaves it to be claimed again), and returns them,
	// soonest first.
	ClaimFallbacks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ClaimedMessage, error)

	// DueForExpiry returns up to limit pending verifications whose
	// ExpiresAt is not after now, oldest expiry first. The engine expires
	// each in its own UpdateVerification, so each gets its event.
	DueForExpiry(ctx context.Context, now time.Time, limit int) ([]VerificationRef, error)
	// PurgeVerifications deletes up to limit verifications (and their
	// messages) created before t that are no longer pending, and returns
	// how many it deleted.
	PurgeVerifications(ctx context.Context, before time.Time, limit int) (int, error)
	// EraseDestination deletes, in one transaction, everything of the
	// service about one destination: its verifications whose ToKey is one
	// of toKeys (whatever their status), with their messages, references
	// and events, and the remembered responses whose Subject is one of
	// toKeys. Erasing a destination with nothing stored is not an error.
	EraseDestination(ctx context.Context, serviceID string, toKeys []string) (Erasure, error)

	// Events. CreateVerification and UpdateVerification write the
	// verification's Events in their transaction: an event whose service
	// has a webhook_url at that moment is stored with the Delivery the
	// engine gave it (pending); otherwise its Delivery.State is
	// EventDisabled. Events keep the order in which they were written, per
	// verification, whatever their ids.

	// ListEvents returns the events matching f, newest first, with their
	// Data and Delivery.
	ListEvents(ctx context.Context, f EventFilter) ([]*Event, error)
	// GetEvent returns an event of the service.
	GetEvent(ctx context.Context, serviceID, id string) (*Event, error)
	// ListDeliveryAttempts returns the delivery attempts of an event of the
	// service, oldest first.
	ListDeliveryAttempts(ctx context.Context, serviceID, eventID string) ([]*DeliveryAttempt, error)
	// ClaimEvents leases up to limit pending events whose NextAttemptAt is
	// not after now and whose lease (if any) has run out, for lease, and
	// returns them. Only the oldest pending event of a verification is
	// ever claimable, so a verification's events are delivered in order: a
	// later one waits until the earlier one is delivered or given up.
	ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Event, error)
	// RecordDeliveryAttempt appends attempt to the event's attempts and
	// sets its Delivery to d, releasing its lease, in one transaction.
	RecordDeliveryAttempt(ctx context.Context, attempt *DeliveryAttempt, d EventDelivery) error
	// SetEventDelivery sets the Delivery of an event without recording an
	// attempt (an event found disabled when it was due), releasing its
	// lease.
	SetEventDelivery(ctx context.Context, eventID string, d EventDelivery) error
	// RedeliverEvent makes an event of the service pending again: due at
	// now, given up after deadline, its lease cleared; its attempts stay.
	// It returns the updated event.
	RedeliverEvent(ctx context.Context, serviceID, id string, now, deadline time.Time) (*Event, error)
	// PurgeEvents deletes up to limit events created before t that are not
	// pending, with their attempts, and returns how many it deleted.
	PurgeEvents(ctx context.Context, before time.Time, limit int) (int, error)

	// Early receipts: a receipt can arrive before its send's outcome (and
	// so its refs) is recorded. It is kept here until the refs are.

	// SaveEarlyReceipt keeps r under ref (qualified as in Message.Refs),
	// received at at. A second receipt for the same ref replaces the first.
	SaveEarlyReceipt(ctx context.Context, ref string, r Receipt, at time.Time) error
	// TakeEarlyReceipts deletes and returns the receipts kept under any of
	// refs. Of concurrent calls, each receipt is returned to one only.
	TakeEarlyReceipts(ctx context.Context, refs []string) ([]Receipt, error)
	// PurgeEarlyReceipts deletes up to limit receipts received before t
	// (their message never showed up) and returns how many it deleted.
	PurgeEarlyReceipts(ctx context.Context, before time.Time, limit int) (int, error)

	// CreateDevice inserts a push device.
	CreateDevice(ctx context.Context, d *Device) error
	// GetDevice returns a device of the service.
	GetDevice(ctx context.Context, serviceID, id string) (*Device, error)
	// ListDevices returns the service's devices in id order after the
	// cursor ("" from the start), at most limit (<= 0: all).
	ListDevices(ctx context.Context, serviceID, after string, limit int) ([]*Device, error)
	// DeleteDevice removes a device of the service.
	DeleteDevice(ctx context.Context, serviceID, id string) error
	// MarkDeviceDead records that the push service refused the device's
	// token, at at, unless it is already dead.
	MarkDeviceDead(ctx context.Context, serviceID, id, reason string, at time.Time) error

	// PutTemplate stores t as the template of its service for its key,
	// replacing the Subject, Text and UpdatedAt of one already there (whose
	// CreatedAt stays, and is set in t); created reports that there was
	// none. It returns an error wrapping ErrNotFound when the service does
	// not exist. t's key is stored as given: the engine canonicalizes it.
	PutTemplate(ctx context.Context, t *MessageTemplate) (created bool, err error)
	// GetTemplate returns the service's template for k.
	GetTemplate(ctx context.Context, serviceID string, k TemplateKey) (*MessageTemplate, error)
	// ListTemplates returns all of the service's templates ordered by
	// channel, purpose and locale (byte order: CompareTemplateKeys); none
	// is not an error, whether or not the service exists.
	ListTemplates(ctx context.Context, serviceID string) ([]*MessageTemplate, error)
	// DeleteTemplate removes the service's template for k. DeleteService
	// removes all of a service's templates.
	DeleteTemplate(ctx context.Context, serviceID string, k TemplateKey) error

	// RegisterKeyFingerprints records the fingerprint of each key id that
	// has none yet, and returns the recorded fingerprint of every id in
	// fps (the given one, or the one recorded before by any node).
	RegisterKeyFingerprints(ctx context.Context, fps map[string]string) (map[string]string, error)

	// ---- Fraud guard (package fraud): conversion counters and blocks ----
	// Counters and blocks belong to their service: DeleteService removes
	// them. They hold number prefixes and regions, never a destination.

	// AddConversions adds each delta's counts to its counter bucket,
	// creating the bucket at zero, in one transaction. Deltas of a
	// service that does not exist (deleted meanwhile) are dropped without
	// an error. Concurrent calls, from any node, add up.
	AddConversions(ctx context.Context, deltas []ConversionDelta) error
	// ConversionStats sums, per service, scope and key, the counter
	// buckets that begin at or after from and before to, and returns the
	// sums whose Started is at least minStarted. A bucket counts only if
	// it begins at or after the EndedAt of every block of its key, so
	// that a key with an active block has no stats and a lifted or ended
	// block is not made again from the traffic that made it.
	ConversionStats(ctx context.Context, from, to time.Time, minStarted int64) ([]ConversionStat, error)
	// PurgeConversions deletes up to limit counter buckets that begin
	// before t and returns how many it deleted.
	PurgeConversions(ctx context.Context, before time.Time, limit int) (int, error)

	// CreateBlock inserts b, and ev (when not nil) in the same
	// transaction as events are written for verifications, unless the
	// service has a block of b's scope and key active at b.CreatedAt:
	// then it inserts nothing and returns that block as existing. Of
	// concurrent calls for one key, on any node, at most one inserts.
	// It fails with ErrNotFound when the service does not exist.
	CreateBlock(ctx context.Context, b *Block, ev *Event) (existing *Block, err error)
	// GetBlock returns a block of the service.
	GetBlock(ctx context.Context, serviceID, id string) (*Block, error)
	// ListBlocks returns the blocks matching f, newest first.
	ListBlocks(ctx context.Context, f BlockFilter) ([]*Block, error)
	// LiftBlock records b.LiftedAt and b.LiftedBy on the block of
	// b.ServiceID with b.ID, and writes ev (when not nil) in the same
	// transaction, if the block is active at b.LiftedAt. It fails with
	// ErrNotFound when there is no such block or it is no longer active
	// (lifted or expired), and then writes nothing.
	LiftBlock(ctx context.Context, b *Block, ev *Event) error

	// ---- Audit log (audit.go) ----

	// AppendAudit appends an entry to the audit log. Entries are never
	// updated or deleted, and outlive the service they name.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	// ListAudit returns the entries that match f, newest (last appended)
	// first.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)
}

// VerificationImporter is implemented by stores that can write many
// verifications in one transaction. It is for loading a history, not for
// serving: otpd bench --prefill fills a store with millions of closed
// verifications through it, which one CreateVerification each, one
// transaction each, would take an hour to do. Nothing on the request path
// uses it, and a store need not implement it.
type VerificationImporter interface {
	// ImportVerifications inserts vs as CreateVerification would insert
	// each — its messages and its events (Verification.Events), personal
	// data sealed the same way — and also each message's Refs, as
	// UpdateVerification records them when a send's outcome is written.
	// All of vs is written in one transaction or none of it is; an id
	// that exists already fails the whole call.
	ImportVerifications(ctx context.Context, vs []*Verification) error
}

// ClaimedMessage identifies a message leased for delivery.
type ClaimedMessage struct {
	ServiceID      string
	VerificationID string
	MessageID      string
	// Verification, on a message handed over in-process (Handoff), is the
	// verification as the write that queued the message committed it, so
	// that Deliver need not read it back. Claims from the store leave it
	// nil.
	Verification *Verification
}

// VerificationFilter selects verifications for ListVerifications.
type VerificationFilter struct {
	ServiceID string
	// Status, when set, matches the status as seen at Now: pending means
	// pending and not yet expired; expired includes pending ones past
	// their expiry that the sweeper has not yet marked.
	Status VerificationStatus
	ToKeys []string // when set, only these destinations (any key)
	Now    time.Time
	Before string // cursor: only ids less than this
	Limit  int    // at most this many; <= 0: all
}

// Key is a service key: a bearer secret that may call the verification
// endpoints of its own service only. The secret is shown once; the store
// keeps its SHA-256 (the secret has 256 bits of entropy, so a fast hash is
// enough and keeps authentication cheap).
type Key struct {
	ID         string
	ServiceID  string
	Name       string
	SecretHash []byte
	CreatedAt  time.Time
	LastUsedAt time.Time // zero when never used
}

// IdempotencyStore keeps the responses of requests that carried an
// Idempotency-Key, so a retried request gets the first response again.
type IdempotencyStore interface {
	// ReserveIdempotencyKey records that a request with (scope, key) and
	// the given request hash has started. When a record exists it is
	// returned instead and nothing changes; a record that is still in
	// progress but whose LockedUntil has passed (its node died) is taken
	// over: returned with Taken set, its lock moved to rec.LockedUntil so
	// that no second retry takes it over too. rec.CreatedAt is the request
	// time against which LockedUntil is judged. The returned record keeps
	// its own RequestHash, so the caller can tell a different body.
	ReserveIdempotencyKey(ctx context.Context, rec *IdempotencyRecord) (existing *IdempotencyRecord, err error)
	// CompleteIdempotencyKey stores the response of a reserved request.
	CompleteIdempotencyKey(ctx context.Context, rec *IdempotencyRecord) error
	// ReleaseIdempotencyKey deletes an in-progress record, so the request
	// may be retried (used when it failed in a way worth retrying).
	ReleaseIdempotencyKey(ctx context.Context, scope, key string) error
	// PurgeIdempotencyKeys deletes up to limit records created before t.
	PurgeIdempotencyKeys(ctx context.Context, before time.Time, limit int) (int, error)
	// GetIdempotencyKey returns the record under (scope, key) as it is,
	// without reserving or taking anything over; ErrNotFound when there is
	// none. It is the read before a request whose record is written with
	// its own change (IdempotentWrite).
	GetIdempotencyKey(ctx context.Context, scope, key string) (*IdempotencyRecord, error)
}

// IdempotentWrite asks the store to remember a request's response in the
// transaction that creates the request's verification, instead of in a
// reservation and a completion of their own: a start with an
// Idempotency-Key is then one durable write, not three. It travels in the
// context (WithIdempotentWrite), so that the engine between the API and
// the store needs to know nothing of it, and every Store's
// CreateVerification honours it:
//
//   - it sets Record.Subject to the verification's ToKey and
//     Record's response to what Render returns for the verification, and
//     inserts Record, complete, in the same transaction as the
//     verification;
//   - if a record under Record's scope and key exists, it writes nothing
//     and returns an error wrapping ErrIdempotencyKeyUsed;
//   - it sets Written once the record was written with the verification.
//
// A store's other writes ignore it.
type IdempotentWrite struct {
	// Record names the request: Scope, Key, RequestHash and CreatedAt.
	Record *IdempotencyRecord
	// Render returns the response to remember for the verification about
	// to be created: the one the request answers with.
	Render func(v *Verification) (status int, header, body []byte, err error)
	// Written is set by the store when the record was committed with the
	// verification.
	Written bool
}

// ErrIdempotencyKeyUsed is what a store's CreateVerification returns
// (wrapped) when an IdempotentWrite's key has a record already: nothing was
// written, and the caller answers from that record.
var ErrIdempotencyKeyUsed = errors.New("idempotency key already used")

type idempotentWriteKey struct{}

// WithIdempotentWrite returns a context that asks the store to write w's
// record with the verification the request creates.
func WithIdempotentWrite(ctx context.Context, w *IdempotentWrite) context.Context {
	return context.WithValue(ctx, idempotentWriteKey{}, w)
}

// IdempotentWriteFrom returns the IdempotentWrite of ctx, or nil. Stores
// call it in CreateVerification.
func IdempotentWriteFrom(ctx context.Context) *IdempotentWrite {
	w, _ := ctx.Value(idempotentWriteKey{}).(*IdempotentWrite)
	return w
}

// Complete renders w's response for v into w.Record, ready for a store to
// write with v. The store seals the body as for any record.
func (w *IdempotentWrite) Complete(v *Verification) error {
	if w.Render == nil {
		return errors.New("idempotent write without a renderer")
	}
	status, header, body, err := w.Render(v)
	if err != nil {
		return fmt.Errorf("render idempotent response: %w", err)
	}
	r := w.Record
	r.Completed, r.StatusCode, r.Header, r.Body = true, status, header, body
	r.Subject = v.ToKey
	r.LockedUntil = time.Time{}
	return nil
}

// IdempotencyRecord is one remembered request and, once complete, its
// response.
type IdempotencyRecord struct {
	Scope       string // who asked: the admin or a key's service, so keys cannot collide across tenants
	Key         string
	RequestHash []byte // SHA-256 of method, path and body
	Completed   bool
	StatusCode  int
	Header      []byte // the response headers worth replaying, encoded by the caller
	Body        []byte
	CreatedAt   time.Time
	LockedUntil time.Time // an in-progress record is abandoned after this
	Taken       bool      // set on a returned record that was taken over
	// Subject is the blind index (Verification.ToKey) of the destination
	// the remembered response is about, if any, so that erasing a
	// destination's data finds it. Written by CompleteIdempotencyKey.
	Subject string
}
