package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/internal/msgdiff"
	"github.com/otpd/otpd/internal/rowcodec"
)

const verificationColumns = `id, service_id, to_addr, to_key, channel, status, locale, purpose,
	reference, client_ip, tx_amount, tx_currency, tx_payee, code_length, code_alphabet, key_id,
	salt, code_hash, max_attempts, attempts, max_sends, sends, resend_cooldown_seconds,
	created_at, updated_at, expires_at, last_sent_at, fallback, fallback_to`

const messageColumns = `id, verification_id, service_id, channel, status, error, provider_id,
	attempts, next_attempt_at, created_at, updated_at, fallback_at`

// The reads of verifications with their messages are one statement each:
// the verifications (v, a sub-select of verificationColumns) joined with
// their messages (m, messageColumns), so that what they return is one
// snapshot, in one round trip. A verification without messages comes back
// once, with NULL message columns.
const (
	joinMessages = ` LEFT JOIN messages m ON m.verification_id = v.id`
	mColumns     = `m.id, m.verification_id, m.service_id, m.channel, m.status, m.error,
	m.provider_id, m.attempts, m.next_attempt_at, m.created_at, m.updated_at, m.fallback_at`

	sqlInsertVerification = `INSERT INTO verifications (` + verificationColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
		$20, $21, $22, $23, $24, $25, $26, $27, $28, $29)`
	sqlGetVerification = `SELECT v.*, ` + mColumns + `
	FROM (SELECT ` + verificationColumns + ` FROM verifications WHERE service_id = $1 AND id = $2) v` +
		joinMessages + `
	ORDER BY m.seq`
	// UpdateVerification's lock. FOR NO KEY UPDATE is the lock an UPDATE
	// that keeps the key takes anyway: it excludes every other
	// UpdateVerification of the row, on any node, until commit, and unlike
	// FOR UPDATE it lets the foreign-key checks of concurrent message
	// inserts through.
	sqlLockVerification = `SELECT ` + verificationColumns + `
	FROM verifications WHERE service_id = $1 AND id = $2 FOR NO KEY UPDATE`
	// Messages come back in insertion order (seq): that is the order of
	// Verification.Messages, oldest first.
	sqlGetMessages = `SELECT ` + messageColumns + ` FROM messages
	WHERE verification_id = $1 ORDER BY seq`
	// Every column but id and service_id, in verificationColumns order.
	sqlUpdateVerification = `UPDATE verifications SET to_addr = $1, to_key = $2, channel = $3,
	status = $4, locale = $5, purpose = $6, reference = $7, client_ip = $8, tx_amount = $9,
	tx_currency = $10, tx_payee = $11, code_length = $12, code_alphabet = $13, key_id = $14,
	salt = $15, code_hash = $16, max_attempts = $17, attempts = $18, max_sends = $19, sends = $20,
	resend_cooldown_seconds = $21, created_at = $22, updated_at = $23, expires_at = $24,
	last_sent_at = $25, fallback = $26, fallback_to = $27
	WHERE id = $28`
	sqlFindPending = `SELECT v.*, ` + mColumns + `
	FROM (SELECT ` + verificationColumns + ` FROM verifications
		WHERE service_id = $1 AND to_key = ANY($2) AND status = 'pending' AND expires_at > $3
		ORDER BY id DESC LIMIT 1) v` + joinMessages + `
	ORDER BY m.seq`
	// ListVerifications puts its statement together from these: the
	// filters it needs go between the head and the tail, which takes the
	// number of the LIMIT parameter. There are a few shapes, each prepared
	// once per connection.
	sqlListVerificationsHead = `SELECT v.*, ` + mColumns + `
	FROM (SELECT ` + verificationColumns + ` FROM verifications WHERE service_id = $1`
	sqlListVerificationsTail = ` ORDER BY id DESC LIMIT $%d) v` + joinMessages + `
	ORDER BY v.id DESC, m.seq`

	sqlInsertRef = `INSERT INTO message_refs (ref, message_id, verification_id, service_id)
	VALUES ($1, $2, $3, $4) ON CONFLICT (ref) DO NOTHING`
	sqlFindRef       = `SELECT message_id, verification_id, service_id FROM message_refs WHERE ref = $1`
	sqlInsertMessage = `INSERT INTO messages (` + messageColumns + `, lease_until)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	// The lease is dropped ($10) when the message leaves the queue or is
	// rescheduled: it then no longer guards a send in flight, and must not
	// keep a rescheduled message from being claimed at its new time. Any
	// other change keeps it, so that a worker recording progress on a
	// message it holds does not hand it to another.
	sqlUpdateMessage = `UPDATE messages SET channel = $1, status = $2, error = $3,
	provider_id = $4, attempts = $5, next_attempt_at = $6, created_at = $7, updated_at = $8,
	fallback_at = $9, lease_until = CASE WHEN $10::boolean THEN NULL ELSE lease_until END
	WHERE id = $11 AND verification_id = $12`

	// The batch statements below pick their rows in a sub-select that locks
	// them, skipping rows another transaction holds. The lock makes
	// PostgreSQL check the row's conditions again on its newest version (a
	// bare sub-select could pick a message another node has just leased, or
	// a verification just approved); skipping lets nodes that run the same
	// statement at once work on different rows instead of queueing behind
	// each other and then finding nothing left. A row skipped for being
	// locked is picked by a later call.
	sqlClaimMessages = `UPDATE messages SET lease_until = $1
	WHERE id IN (
		SELECT id FROM messages
		WHERE status = 'queued' AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
		ORDER BY next_attempt_at, id LIMIT $3
		FOR NO KEY UPDATE SKIP LOCKED)
	RETURNING id, verification_id, service_id, next_attempt_at`
	// A message whose fallback is due is leased with the column the queue
	// uses (a sent message holds no queue lease), so a node that dies
	// handling it leaves it to be claimed again.
	sqlClaimFallbacks = `UPDATE messages SET lease_until = $1
	WHERE id IN (
		SELECT id FROM messages
		WHERE fallback_at IS NOT NULL AND fallback_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
		ORDER BY fallback_at LIMIT $3
		FOR NO KEY UPDATE SKIP LOCKED)
	RETURNING id, verification_id, service_id, fallback_at`
	// Messages go with their verification: ON DELETE CASCADE.
	sqlPurgeVerifications = `DELETE FROM verifications
	WHERE id IN (
		SELECT id FROM verifications
		WHERE created_at < $1 AND status <> 'pending'
		ORDER BY created_at LIMIT $2
		FOR UPDATE SKIP LOCKED)`
)

// verificationArgs returns v's column values in verificationColumns order,
// without id and service_id. The values compare with reflect.DeepEqual as
// the stored row would: times are truncated as stored.
func verificationArgs(v *otpd.Verification) ([]any, error) {
	cooldown, err := seconds("resend cooldown", v.ResendCooldown)
	if err != nil {
		return nil, err
	}
	var amount, currency, payee any
	if t := v.Transaction; t != nil {
		amount, currency, payee = t.Amount, t.Currency, t.Payee
	}
	fallback, err := rowcodec.List(v.Fallback)
	if err != nil {
		return nil, err
	}
	fallbackTo, err := otpd.FallbackToColumn(v)
	if err != nil {
		return nil, err
	}
	return []any{
		v.To, v.ToKey, string(v.Channel), string(v.Status), v.Locale, v.Purpose, v.Reference,
		v.ClientIP, amount, currency, payee, v.CodeLength, string(v.Alphabet), v.KeyID, v.Salt,
		v.CodeHash, v.MaxAttempts, v.Attempts, v.MaxSends, v.Sends, cooldown,
		ts(v.CreatedAt), ts(v.UpdatedAt), ts(v.ExpiresAt), nullTS(v.LastSentAt), fallback, fallbackTo,
	}, nil
}

// messageArgs returns m's column values in messageColumns order, without
// id, verification_id and service_id.
func messageArgs(m *otpd.Message) []any {
	return []any{
		string(m.Channel), string(m.Status), m.Error, m.ProviderID, m.Attempts,
		ts(m.NextAttemptAt), ts(m.CreatedAt), ts(m.UpdatedAt), nullTS(m.FallbackAt),
	}
}

// verificationRow is what a verification's columns are scanned into.
type verificationRow struct {
	v                               otpd.Verification
	channel, status, alphabet       string
	amount, currency, payee         *string
	cooldown                        int64
	createdAt, updatedAt, expiresAt time.Time
	lastSentAt                      *time.Time
	fallback                        []otpd.ChannelName
	fallbackTo                      string
}

func (r *verificationRow) dest() []any {
	v := &r.v
	return []any{&v.ID, &v.ServiceID, &v.To, &v.ToKey, &r.channel, &r.status, &v.Locale, &v.Purpose,
		&v.Reference, &v.ClientIP, &r.amount, &r.currency, &r.payee, &v.CodeLength, &r.alphabet, &v.KeyID,
		&v.Salt, &v.CodeHash, &v.MaxAttempts, &v.Attempts, &v.MaxSends, &v.Sends, &r.cooldown,
		&r.createdAt, &r.updatedAt, &r.expiresAt, &r.lastSentAt, &r.fallback, &r.fallbackTo}
}

func (r *verificationRow) verification() *otpd.Verification {
	v := r.v
	v.Channel = otpd.ChannelName(r.channel)
	v.Status = otpd.VerificationStatus(r.status)
	v.Alphabet = otpd.Alphabet(r.alphabet)
	if r.amount != nil {
		v.Transaction = &otpd.Transaction{Amount: *r.amount, Currency: deref(r.currency), Payee: deref(r.payee)}
	}
	v.ResendCooldown = fromSeconds(r.cooldown)
	v.CreatedAt = fromTS(r.createdAt)
	v.UpdatedAt = fromTS(r.updatedAt)
	v.ExpiresAt = fromTS(r.expiresAt)
	v.LastSentAt = fromNullTS(r.lastSentAt)
	v.Fallback = r.fallback
	return &v
}

// open returns the verification with its sealed columns opened.
func (r *verificationRow) open(sl otpd.Sealer) (*otpd.Verification, error) {
	v := r.verification()
	if err := otpd.OpenVerification(sl, v); err != nil {
		return nil, err
	}
	if err := otpd.OpenFallbackTo(sl, v, r.fallbackTo); err != nil {
		return nil, err
	}
	return v, nil
}

// messageRow is what a message's columns are scanned into. Every column is
// nullable, for the outer join of the verification reads.
type messageRow struct {
	id, verificationID, serviceID, channel, status, error, providerID *string
	attempts                                                          *int
	nextAttemptAt, createdAt, updatedAt, fallbackAt                   *time.Time
}

func (r *messageRow) dest() []any {
	return []any{&r.id, &r.verificationID, &r.serviceID, &r.channel, &r.status, &r.error,
		&r.providerID, &r.attempts, &r.nextAttemptAt, &r.createdAt, &r.updatedAt, &r.fallbackAt}
}

// message returns the scanned message, or nil when the join found none.
func (r *messageRow) message() *otpd.Message {
	if r.id == nil {
		return nil
	}
	m := &otpd.Message{
		ID:             *r.id,
		VerificationID: deref(r.verificationID),
		Channel:        otpd.ChannelName(deref(r.channel)),
		Status:         otpd.MessageStatus(deref(r.status)),
		Error:          deref(r.error),
		ProviderID:     deref(r.providerID),
		NextAttemptAt:  fromNullTS(r.nextAttemptAt),
		CreatedAt:      fromNullTS(r.createdAt),
		UpdatedAt:      fromNullTS(r.updatedAt),
		FallbackAt:     fromNullTS(r.fallbackAt),
	}
	if r.attempts != nil {
		m.Attempts = *r.attempts
	}
	return m
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// collectVerifications reads rows of verifications joined with their
// messages, ordered by verification and then by message seq, and returns
// the verifications in the order of the rows.
func collectVerifications(sl otpd.Sealer, rows pgx.Rows) ([]*otpd.Verification, error) {
	defer rows.Close()
	var out []*otpd.Verification
	for rows.Next() {
		var (
			vr verificationRow
			mr messageRow
		)
		if err := rows.Scan(append(vr.dest(), mr.dest()...)...); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != vr.v.ID {
			v, err := vr.open(sl)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if m := mr.message(); m != nil {
			v := out[len(out)-1]
			v.Messages = append(v.Messages, m)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// checkMessage makes sure m belongs to v (an empty VerificationID means v).
func checkMessage(v *otpd.Verification, m *otpd.Message) error {
	if m == nil {
		return errors.New("nil message")
	}
	if m.VerificationID != "" && m.VerificationID != v.ID {
		return fmt.Errorf("message %s belongs to verification %s, not %s", m.ID, m.VerificationID, v.ID)
	}
	return nil
}

// queueInsertMessage queues the insert of a message of v.
func queueInsertMessage(b *pgx.Batch, v *otpd.Verification, m *otpd.Message) {
	args := append([]any{m.ID, v.ID, v.ServiceID}, messageArgs(m)...)
	b.Queue(sqlInsertMessage, append(args, nullTS(m.LeaseUntil))...)
}

// CreateVerification inserts v and its messages (and the record of an
// otpd.IdempotentWrite in ctx) in one transaction, in one round trip: the inserts go as one batch, which PostgreSQL runs as one
// transaction (then, when it queues a message, notifies: see notify.go).
func (s *Store) CreateVerification(ctx context.Context, v *otpd.Verification) error {
	args, err := verificationArgs(v)
	if err == nil {
		err = rowcodec.SealVerificationArgs(s.sealer, v.ID, args)
	}
	if err != nil {
		return fmt.Errorf("postgres: create verification %s: %w", v.ID, err)
	}
	b := &pgx.Batch{}
	idem, err := s.queueIdempotentInsert(ctx, b, v)
	if err != nil {
		return fmt.Errorf("postgres: create verification %s: %w", v.ID, err)
	}
	b.Queue(sqlInsertVerification, append([]any{v.ID, v.ServiceID}, args...)...)
	for _, m := range v.Messages {
		if err := checkMessage(v, m); err != nil {
			return fmt.Errorf("postgres: create verification %s: %w", v.ID, err)
		}
		queueInsertMessage(b, v, m)
	}
	if err := queueInsertEvents(s.sealer, b, v); err != nil {
		return fmt.Errorf("postgres: create verification %s: %w", v.ID, err)
	}
	// Wake every node's Listen once this has committed; see notify.go.
	if queuesMessage(nil, v) {
		commitThenNotify(b)
	}
	if _, err := execBatch(ctx, s.pool, b); err != nil {
		if isIdempotencyConflict(err) {
			err = otpd.ErrIdempotencyKeyUsed
		}
		return fmt.Errorf("postgres: create verification %s: %w", v.ID, err)
	}
	if idem != nil {
		idem.Written = true
	}
	return nil
}

// GetVerification returns a verification of the service with its messages.
func (s *Store) GetVerification(ctx context.Context, serviceID, id string) (*otpd.Verification, error) {
	rows, err := s.pool.Query(ctx, sqlGetVerification, serviceID, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: get verification %s: %w", id, err)
	}
	vs, err := collectVerifications(s.sealer, rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: get verification %s: %w", id, err)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("postgres: get verification: %w", notFound("verification", id))
	}
	return vs[0], nil
}

// ListVerifications returns the service's verifications that match f, newest
// first, with their messages. A Limit of 0 or less means no limit.
func (s *Store) ListVerifications(ctx context.Context, f otpd.VerificationFilter) ([]*otpd.Verification, error) {
	var q strings.Builder
	args := []any{f.ServiceID}
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	q.WriteString(sqlListVerificationsHead)
	if len(f.ToKeys) > 0 {
		q.WriteString(` AND to_key = ANY(` + param(f.ToKeys) + `)`)
	}
	if f.Before != "" {
		q.WriteString(` AND id < ` + param(f.Before))
	}
	// The status as seen at f.Now, as Verification.StatusAt has it.
	switch f.Status {
	case "":
	case otpd.StatusPending:
		q.WriteString(` AND status = 'pending' AND expires_at > ` + param(ts(f.Now)))
	case otpd.StatusExpired:
		q.WriteString(` AND (status = 'expired' OR (status = 'pending' AND expires_at <= ` + param(ts(f.Now)) + `))`)
	default:
		q.WriteString(` AND status = ` + param(string(f.Status)))
	}
	q.WriteString(fmt.Sprintf(sqlListVerificationsTail, len(args)+1))
	args = append(args, sqlLimit(f.Limit))

	rows, err := s.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list verifications: %w", err)
	}
	out, err := collectVerifications(s.sealer, rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: list verifications: %w", err)
	}
	return out, nil
}

// FindPending returns the newest pending, unexpired verification of the
// service for one of toKeys.
func (s *Store) FindPending(ctx context.Context, serviceID string, toKeys []string, now time.Time) (*otpd.Verification, error) {
	if len(toKeys) == 0 {
		return nil, fmt.Errorf("postgres: find pending verification: %w", otpd.ErrNotFound)
	}
	rows, err := s.pool.Query(ctx, sqlFindPending, serviceID, toKeys, ts(now))
	if err != nil {
		return nil, fmt.Errorf("postgres: find pending verification: %w", err)
	}
	vs, err := collectVerifications(s.sealer, rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: find pending verification: %w", err)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("postgres: find pending verification: %w", otpd.ErrNotFound)
	}
	return vs[0], nil
}

// UpdateVerification loads a verification with its messages, calls fn and
// writes what fn changed, in one transaction that holds the verification's
// row lock (SELECT … FOR NO KEY UPDATE) from the load to the commit: another
// UpdateVerification of the same verification, on this node or any other,
// waits at its load until this one has committed, and then loads what this
// one wrote. Updates of different verifications do not wait for each other.
//
// It costs three round trips: BEGIN, the locked load and the load of the
// messages go as one batch; the writes go as another; then COMMIT.
//
// fn runs while a pool connection and the row lock are held: it must not
// call the Store (an UpdateVerification of the same verification would wait
// for itself). A message fn appends must have an id; its VerificationID is
// filled in when empty. fn may not change the verification's ID or
// ServiceID, nor drop messages.
func (s *Store) UpdateVerification(ctx context.Context, serviceID, id string, fn func(*otpd.Verification) error) (*otpd.Verification, error) {
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue(sqlLockVerification, serviceID, id)
	// A statement of its own, so that it reads after the lock is granted:
	// in READ COMMITTED every statement sees what committed before it
	// started, including the messages the previous holder added.
	b.Queue(sqlGetMessages, id)
	br := s.pool.SendBatch(ctx, b)
	tx := br.Tx()
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after Commit; releases the connection on every other path, panics included

	v, err := loadLocked(s.sealer, br, serviceID, id)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: update verification: %w", err)
	}

	before := v.Clone()
	if err := fn(v); err != nil {
		return nil, err
	}
	wb := &pgx.Batch{}
	// Wake every node's Listen when this commits; see notify.go. First in
	// the batch, though PostgreSQL sends it only on commit.
	if queuesMessage(before, v) {
		wb.Queue(sqlNotifyMessages)
	}
	if err := queueChanges(s.sealer, wb, before, v); err != nil {
		return nil, fmt.Errorf("postgres: update verification: %w", err)
	}
	if wb.Len() > 0 {
		if _, err := execBatch(ctx, tx, wb); err != nil {
			return nil, fmt.Errorf("postgres: update verification %s: %w", id, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("postgres: update verification %s: %w", id, err)
	}
	// Return what a read would now return.
	truncateVerification(v)
	return v, nil
}

// loadLocked reads the results of UpdateVerification's first batch: BEGIN,
// the locked verification, its messages.
func loadLocked(sl otpd.Sealer, br pgx.BatchResults, serviceID, id string) (*otpd.Verification, error) {
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	var vr verificationRow
	err := br.QueryRow().Scan(vr.dest()...)
	if isNoRows(err) {
		return nil, notFound("verification", id)
	}
	if err != nil {
		return nil, fmt.Errorf("verification %s: %w", id, err)
	}
	v, err := vr.open(sl)
	if err != nil {
		return nil, fmt.Errorf("verification %s: %w", id, err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("verification %s: messages: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var mr messageRow
		if err := rows.Scan(mr.dest()...); err != nil {
			return nil, fmt.Errorf("verification %s: messages: %w", id, err)
		}
		v.Messages = append(v.Messages, mr.message())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verification %s: messages: %w", id, err)
	}
	return v, nil
}

// queueChanges queues the writes of the differences between before and
// after: the verification row if any column changed, changed messages, and
// new ones, in the order fn left them in.
func queueChanges(sl otpd.Sealer, b *pgx.Batch, before, after *otpd.Verification) error {
	if after.ID != before.ID || after.ServiceID != before.ServiceID {
		return fmt.Errorf("verification %s: fn changed its id or service", before.ID)
	}
	oldArgs, err := verificationArgs(before)
	if err != nil {
		return err
	}
	newArgs, err := verificationArgs(after)
	if err != nil {
		return fmt.Errorf("verification %s: %w", after.ID, err)
	}
	if !reflect.DeepEqual(oldArgs, newArgs) {
		// Sealed after the comparison: a fresh nonce would make every
		// update look like a change.
		if err := rowcodec.SealVerificationArgs(sl, after.ID, newArgs); err != nil {
			return fmt.Errorf("verification %s: %w", after.ID, err)
		}
		b.Queue(sqlUpdateVerification, append(newArgs, after.ID)...)
	}

	changes, err := msgdiff.Messages(before, after, func(prev, m *otpd.Message) bool {
		return !reflect.DeepEqual(messageArgs(prev), messageArgs(m))
	})
	if err != nil {
		return err
	}
	for _, c := range changes {
		m := c.Message
		if c.New {
			queueInsertMessage(b, after, m)
		}
		for _, ref := range c.Refs {
			b.Queue(sqlInsertRef, ref, m.ID, after.ID, after.ServiceID)
		}
		if c.Update {
			b.Queue(sqlUpdateMessage, append(messageArgs(m), c.DropLease, m.ID, after.ID)...)
		}
	}
	return queueInsertEvents(sl, b, after)
}

// FindMessageByRef returns the message a receipt's ref belongs to.
func (s *Store) FindMessageByRef(ctx context.Context, ref string) (otpd.ClaimedMessage, error) {
	var cm otpd.ClaimedMessage
	err := s.pool.QueryRow(ctx, sqlFindRef, ref).Scan(&cm.MessageID, &cm.VerificationID, &cm.ServiceID)
	if isNoRows(err) {
		return cm, fmt.Errorf("postgres: find message by ref: %w", notFound("message ref", ref))
	}
	if err != nil {
		return cm, fmt.Errorf("postgres: find message by ref: %w", err)
	}
	return cm, nil
}

// truncateVerification brings v's times to what the store keeps.
func truncateVerification(v *otpd.Verification) {
	v.CreatedAt = truncate(v.CreatedAt)
	v.UpdatedAt = truncate(v.UpdatedAt)
	v.ExpiresAt = truncate(v.ExpiresAt)
	v.LastSentAt = truncate(v.LastSentAt)
	for _, m := range v.Messages {
		m.NextAttemptAt = truncate(m.NextAttemptAt)
		m.CreatedAt = truncate(m.CreatedAt)
		m.UpdatedAt = truncate(m.UpdatedAt)
		m.FallbackAt = truncate(m.FallbackAt)
	}
}

// ClaimMessages leases up to limit due queued messages, oldest first, in one
// statement. Nodes claiming at once get different messages: each skips the
// rows another is claiming.
func (s *Store) ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]otpd.ClaimedMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	type claimed struct {
		otpd.ClaimedMessage
		next time.Time
	}
	rows, err := s.pool.Query(ctx, sqlClaimMessages, ts(now.Add(lease)), ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim messages: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claimed, error) {
		var c claimed
		err := row.Scan(&c.MessageID, &c.VerificationID, &c.ServiceID, &c.next)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim messages: %w", err)
	}
	// RETURNING promises no order.
	slices.SortFunc(out, func(a, b claimed) int {
		return cmp.Or(a.next.Compare(b.next), strings.Compare(a.MessageID, b.MessageID))
	})
	msgs := make([]otpd.ClaimedMessage, len(out))
	for i, c := range out {
		msgs[i] = c.ClaimedMessage
	}
	return msgs, nil
}

// PurgeVerifications deletes up to limit verifications created before t that
// are no longer pending, oldest first, with their messages.
func (s *Store) PurgeVerifications(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.execCount(ctx, sqlPurgeVerifications, limit, ts(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: purge verifications: %w", err)
	}
	return n, nil
}

// ClaimFallbacks leases up to limit messages whose fallback is due.
func (s *Store) ClaimFallbacks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]otpd.ClaimedMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	type claimed struct {
		otpd.ClaimedMessage
		at time.Time
	}
	rows, err := s.pool.Query(ctx, sqlClaimFallbacks, ts(now.Add(lease)), ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim fallbacks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claimed, error) {
		var c claimed
		err := row.Scan(&c.MessageID, &c.VerificationID, &c.ServiceID, &c.at)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim fallbacks: %w", err)
	}
	slices.SortFunc(out, func(a, b claimed) int {
		return cmp.Or(a.at.Compare(b.at), strings.Compare(a.MessageID, b.MessageID))
	})
	msgs := make([]otpd.ClaimedMessage, len(out))
	for i, c := range out {
		msgs[i] = c.ClaimedMessage
	}
	return msgs, nil
}
