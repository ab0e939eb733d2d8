package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

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

const (
	sqlInsertVerification = `INSERT INTO verifications (` + verificationColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// With the version, for UpdateVerification: read through versionScanner.
	sqlGetVerification = `SELECT ` + verificationColumns + `, version
	FROM verifications WHERE service_id = ? AND id = ?`
	// Every column but id and service_id, in verificationColumns order.
	sqlUpdateVerification = `UPDATE verifications SET to_addr = ?, to_key = ?, channel = ?,
	status = ?, locale = ?, purpose = ?, reference = ?, client_ip = ?, tx_amount = ?,
	tx_currency = ?, tx_payee = ?, code_length = ?, code_alphabet = ?, key_id = ?, salt = ?,
	code_hash = ?, max_attempts = ?, attempts = ?, max_sends = ?, sends = ?,
	resend_cooldown_seconds = ?, created_at = ?, updated_at = ?, expires_at = ?, last_sent_at = ?,
	fallback = ?, fallback_to = ?, version = version + 1
	WHERE id = ? AND version = ?`
	// An update that changed only messages still moves the version.
	sqlBumpVersion = `UPDATE verifications SET version = version + 1 WHERE id = ? AND version = ?`
	// The look-ups by service name their index. Without statistics (a new
	// database, or one never analyzed) SQLite's planner prefers
	// verifications_expiry for "status = 'pending' AND expires_at > ?",
	// which reads every pending verification of every service.
	sqlFindPending = `SELECT ` + verificationColumns + `
	FROM verifications INDEXED BY verifications_pending
	WHERE service_id = ? AND to_key IN (SELECT value FROM json_each(?))
		AND status = 'pending' AND expires_at > ?
	ORDER BY id DESC LIMIT 1`
	sqlListVerifications = `SELECT ` + verificationColumns + `
	FROM verifications INDEXED BY verifications_service WHERE service_id = ?`
	sqlListVerificationsTo = `SELECT ` + verificationColumns + `
	FROM verifications INDEXED BY verifications_pending
	WHERE service_id = ? AND to_key IN (SELECT value FROM json_each(?))`

	sqlInsertRef = `INSERT INTO message_refs (ref, message_id, verification_id, service_id)
	VALUES (?, ?, ?, ?) ON CONFLICT (ref) DO NOTHING`
	sqlFindRef       = `SELECT message_id, verification_id, service_id FROM message_refs WHERE ref = ?`
	sqlInsertMessage = `INSERT INTO messages (` + messageColumns + `, lease_until)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// Messages come back in insertion order (the rowid): that is the order
	// of Verification.Messages, oldest first.
	sqlGetMessages = `SELECT ` + messageColumns + ` FROM messages
	WHERE verification_id = ? ORDER BY rowid`
	sqlGetMessagesIn = `SELECT ` + messageColumns + ` FROM messages
	WHERE verification_id IN (SELECT value FROM json_each(?)) ORDER BY rowid`
	// The lease is dropped (?, a boolean) when the message leaves the
	// queue or is rescheduled: it then no longer guards a send in flight,
	// and must not keep a rescheduled message from being claimed at its
	// new time. Any other change keeps it, so that a worker recording
	// progress on a message it holds does not hand it to another.
	sqlUpdateMessage = `UPDATE messages SET channel = ?, status = ?, error = ?, provider_id = ?,
	attempts = ?, next_attempt_at = ?, created_at = ?, updated_at = ?, fallback_at = ?,
	lease_until = CASE WHEN ? THEN NULL ELSE lease_until END
	WHERE id = ? AND verification_id = ?`

	sqlClaimMessages = `UPDATE messages SET lease_until = ?
	WHERE id IN (
		SELECT id FROM messages
		WHERE status = 'queued' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
		ORDER BY next_attempt_at, id LIMIT ?)
	RETURNING id, verification_id, service_id, next_attempt_at`

	// A message whose fallback is due is leased with the column the queue
	// uses (a sent message holds no queue lease), so a node that dies
	// handling it leaves it to be claimed again.
	sqlClaimFallbacks = `UPDATE messages SET lease_until = ?
	WHERE id IN (
		SELECT id FROM messages INDEXED BY messages_fallback
		WHERE fallback_at IS NOT NULL AND fallback_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
		ORDER BY fallback_at LIMIT ?)
	RETURNING id, verification_id, service_id, fallback_at`
	// Messages go with their verification: ON DELETE CASCADE.
	sqlPurgeVerifications = `DELETE FROM verifications
	WHERE id IN (
		SELECT id FROM verifications
		WHERE created_at < ? AND status <> 'pending'
		ORDER BY created_at LIMIT ?)`
)

// verificationArgs returns v's column values in verificationColumns order,
// without id and service_id.
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
		millis(v.CreatedAt), millis(v.UpdatedAt), millis(v.ExpiresAt), nullMillis(v.LastSentAt),
		fallback, fallbackTo,
	}, nil
}

// messageArgs returns m's column values in messageColumns order, without
// id, verification_id and service_id.
func messageArgs(m *otpd.Message) []any {
	return []any{
		string(m.Channel), string(m.Status), m.Error, m.ProviderID, m.Attempts,
		millis(m.NextAttemptAt), millis(m.CreatedAt), millis(m.UpdatedAt), nullMillis(m.FallbackAt),
	}
}

type scanner interface{ Scan(...any) error }

// scanVerification reads a row of verificationColumns and opens its sealed
// columns.
func scanVerification(sl otpd.Sealer, sc scanner) (*otpd.Verification, error) {
	var (
		v                               otpd.Verification
		channel, status, alphabet       string
		amount, currency, payee         sql.NullString
		cooldown                        int64
		createdAt, updatedAt, expiresAt int64
		lastSentAt                      sql.NullInt64
		fallback, fallbackTo            string
	)
	err := sc.Scan(&v.ID, &v.ServiceID, &v.To, &v.ToKey, &channel, &status, &v.Locale, &v.Purpose,
		&v.Reference, &v.ClientIP, &amount, &currency, &payee, &v.CodeLength, &alphabet, &v.KeyID,
		&v.Salt, &v.CodeHash, &v.MaxAttempts, &v.Attempts, &v.MaxSends, &v.Sends, &cooldown,
		&createdAt, &updatedAt, &expiresAt, &lastSentAt, &fallback, &fallbackTo)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(fallback), &v.Fallback); err != nil {
		return nil, fmt.Errorf("fallback: %w", err)
	}
	if err := otpd.OpenVerification(sl, &v); err != nil {
		return nil, err
	}
	if err := otpd.OpenFallbackTo(sl, &v, fallbackTo); err != nil {
		return nil, err
	}
	v.Channel = otpd.ChannelName(channel)
	v.Status = otpd.VerificationStatus(status)
	v.Alphabet = otpd.Alphabet(alphabet)
	if amount.Valid {
		v.Transaction = &otpd.Transaction{Amount: amount.String, Currency: currency.String, Payee: payee.String}
	}
	v.ResendCooldown = fromSeconds(cooldown)
	v.CreatedAt = fromMillis(createdAt)
	v.UpdatedAt = fromMillis(updatedAt)
	v.ExpiresAt = fromMillis(expiresAt)
	v.LastSentAt = fromNullMillis(lastSentAt)
	return &v, nil
}

func scanMessage(sc scanner) (*otpd.Message, error) {
	var (
		m                               otpd.Message
		serviceID, channel, status      string
		nextAttempt, createdAt, updated int64
		fallbackAt                      sql.NullInt64
	)
	err := sc.Scan(&m.ID, &m.VerificationID, &serviceID, &channel, &status, &m.Error, &m.ProviderID,
		&m.Attempts, &nextAttempt, &createdAt, &updated, &fallbackAt)
	if err != nil {
		return nil, err
	}
	m.FallbackAt = fromNullMillis(fallbackAt)
	m.Channel = otpd.ChannelName(channel)
	m.Status = otpd.MessageStatus(status)
	m.NextAttemptAt = fromMillis(nextAttempt)
	m.CreatedAt = fromMillis(createdAt)
	m.UpdatedAt = fromMillis(updated)
	return &m, nil
}

// loadVerification reads a verification of the service, its messages and
// its version (see UpdateVerification). Called in a read transaction, the
// two queries see one snapshot; outside one, see updateFromRead.
func loadVerification(q *txn, serviceID, id string) (*otpd.Verification, int64, error) {
	var version int64
	v, err := scanVerification(q.sealer, versionScanner{q.queryRow(sqlGetVerification, serviceID, id), &version})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, notFound("verification", id)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("verification %s: %w", id, err)
	}
	rows, err := q.query(sqlGetMessages, id)
	if err != nil {
		return nil, 0, fmt.Errorf("verification %s: messages: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("verification %s: messages: %w", id, err)
		}
		v.Messages = append(v.Messages, m)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("verification %s: messages: %w", id, err)
	}
	return v, version, nil
}

// versionScanner scans a row of verificationColumns followed by the
// version column.
type versionScanner struct {
	sc      scanner
	version *int64
}

func (s versionScanner) Scan(dest ...any) error {
	return s.sc.Scan(append(dest, s.version)...)
}

// loadMessages fills in the messages of vs with one query.
func loadMessages(q *txn, vs []*otpd.Verification) error {
	if len(vs) == 0 {
		return nil
	}
	ids := make([]string, len(vs))
	byID := make(map[string]*otpd.Verification, len(vs))
	for i, v := range vs {
		ids[i] = v.ID
		byID[v.ID] = v
	}
	idsJSON, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	rows, err := q.query(sqlGetMessagesIn, string(idsJSON))
	if err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return fmt.Errorf("messages: %w", err)
		}
		if v := byID[m.VerificationID]; v != nil {
			v.Messages = append(v.Messages, m)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	return nil
}

// insertMessage inserts a message of v.
func insertMessage(tx *txn, v *otpd.Verification, m *otpd.Message) error {
	args := append([]any{m.ID, v.ID, v.ServiceID}, messageArgs(m)...)
	if _, err := tx.exec(sqlInsertMessage, append(args, nullMillis(m.LeaseUntil))...); err != nil {
		return fmt.Errorf("message %s: %w", m.ID, err)
	}
	return nil
}

// insertRefs records refs of m.
func insertRefs(tx *txn, v *otpd.Verification, m *otpd.Message, refs []string) error {
	for _, ref := range refs {
		if _, err := tx.exec(sqlInsertRef, ref, m.ID, v.ID, v.ServiceID); err != nil {
			return fmt.Errorf("message %s ref: %w", m.ID, err)
		}
	}
	return nil
}

// FindMessageByRef returns the message a receipt's ref belongs to.
func (s *Store) FindMessageByRef(ctx context.Context, ref string) (otpd.ClaimedMessage, error) {
	var cm otpd.ClaimedMessage
	err := s.readRow(ctx, sqlFindRef, ref).Scan(&cm.MessageID, &cm.VerificationID, &cm.ServiceID)
	if errors.Is(err, sql.ErrNoRows) {
		return cm, notFound("message ref", ref)
	}
	if err != nil {
		return cm, fmt.Errorf("sqlite: find message by ref: %w", err)
	}
	return cm, nil
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

// CreateVerification inserts v and its messages in one transaction, with
// the record of an otpd.IdempotentWrite in ctx.
func (s *Store) CreateVerification(ctx context.Context, v *otpd.Verification) error {
	args, err := verificationArgs(v)
	if err == nil {
		err = rowcodec.SealVerificationArgs(s.sealer, v.ID, args)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create verification %s: %w", v.ID, err)
	}
	for _, m := range v.Messages {
		if err := checkMessage(v, m); err != nil {
			return fmt.Errorf("sqlite: create verification %s: %w", v.ID, err)
		}
	}
	// Sealed here, not on the writer goroutine: see UpdateVerification.
	events, err := prepareEvents(s.sealer, v)
	if err != nil {
		return fmt.Errorf("sqlite: create verification %s: %w", v.ID, err)
	}
	idem, idemArgs, err := s.idempotentInsert(ctx, v)
	if err != nil {
		return fmt.Errorf("sqlite: create verification %s: %w", v.ID, err)
	}
	gen := s.recent.begin()
	err = s.write(ctx, func(tx *txn) error {
		if idem != nil {
			// First, so that a used key costs no other statement; the
			// savepoint drops nothing else then.
			res, err := tx.exec(sqlInsertCompletedIdempotency, idemArgs...)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return cmp.Or(err, otpd.ErrIdempotencyKeyUsed)
			}
		}
		if _, err := tx.exec(sqlInsertVerification, append([]any{v.ID, v.ServiceID}, args...)...); err != nil {
			return err
		}
		for _, m := range v.Messages {
			if err := insertMessage(tx, v, m); err != nil {
				return err
			}
		}
		return writeEvents(tx, events)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create verification %s: %w", v.ID, err)
	}
	if idem != nil {
		idem.Written = true
	}
	// The send's outcome is its next update (recent.go).
	s.recent.put(v, 0, gen)
	return nil
}

// GetVerification returns a verification of the service with its messages.
func (s *Store) GetVerification(ctx context.Context, serviceID, id string) (*otpd.Verification, error) {
	var (
		v       *otpd.Verification
		version int64
	)
	gen := s.recent.begin()
	err := s.read(ctx, func(tx *txn) (err error) {
		v, version, err = loadVerification(tx, serviceID, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: get verification: %w", err)
	}
	s.recent.put(v, version, gen)
	return v, nil
}

// ListVerifications returns the service's verifications that match f, newest
// first, with their messages. A Limit of 0 or less means no limit.
func (s *Store) ListVerifications(ctx context.Context, f otpd.VerificationFilter) ([]*otpd.Verification, error) {
	var q strings.Builder
	args := []any{f.ServiceID}
	if len(f.ToKeys) > 0 {
		keys, err := json.Marshal(f.ToKeys)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list verifications: %w", err)
		}
		q.WriteString(sqlListVerificationsTo)
		args = append(args, string(keys))
	} else {
		q.WriteString(sqlListVerifications)
	}
	if f.Before != "" {
		q.WriteString(` AND id < ?`)
		args = append(args, f.Before)
	}
	// The status as seen at f.Now, as Verification.StatusAt has it.
	switch f.Status {
	case "":
	case otpd.StatusPending:
		q.WriteString(` AND status = 'pending' AND expires_at > ?`)
		args = append(args, millis(f.Now))
	case otpd.StatusExpired:
		q.WriteString(` AND (status = 'expired' OR (status = 'pending' AND expires_at <= ?))`)
		args = append(args, millis(f.Now))
	default:
		q.WriteString(` AND status = ?`)
		args = append(args, string(f.Status))
	}
	q.WriteString(` ORDER BY id DESC LIMIT ?`)
	args = append(args, sqlLimit(f.Limit))

	var out []*otpd.Verification
	err := s.read(ctx, func(tx *txn) error {
		rows, err := tx.query(q.String(), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scanVerification(tx.sealer, rows)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return loadMessages(tx, out)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list verifications: %w", err)
	}
	return out, nil
}

// FindPending returns the newest pending, unexpired verification of the
// service for one of toKeys.
func (s *Store) FindPending(ctx context.Context, serviceID string, toKeys []string, now time.Time) (*otpd.Verification, error) {
	if len(toKeys) == 0 {
		return nil, fmt.Errorf("sqlite: find pending verification: %w", otpd.ErrNotFound)
	}
	keys, err := json.Marshal(toKeys)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find pending verification: %w", err)
	}
	var v *otpd.Verification
	err = s.read(ctx, func(tx *txn) error {
		var err error
		v, err = scanVerification(tx.sealer, tx.queryRow(sqlFindPending, serviceID, string(keys), millis(now)))
		if err != nil {
			return err
		}
		return loadMessages(tx, []*otpd.Verification{v})
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: find pending verification: %w", otpd.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: find pending verification: %w", err)
	}
	return v, nil
}

// UpdateVerification loads a verification with its messages, calls fn and
// writes what fn changed, as if in one write transaction: no other write of
// the verification comes between the load and the write, in this process or
// any other on the same file.
//
// The single writer goroutine runs every write of the store one after
// another, so whatever it does per write is the store's throughput limit.
// UpdateVerification therefore keeps the load, fn and the comparison of
// before and after off it: it loads from the read pool, calls fn and
// prepares the statements on the caller's goroutine, and hands the writer
// only the writes, guarded by the verification's version (a counter every
// such write bumps): if the version moved since the load — another update
// of the same verification committed, or is in the same batch ahead of
// this one — nothing is written and the update runs again the same way,
// and if the version moved once more, a third time, loading inside the
// writer's transaction, where nothing can come between load and write. Of
// concurrent updates of one verification exactly one wins each version,
// which is what makes a correct code valid once.
//
// fn may therefore be called up to three times, each time with a fresh
// load; it must set whatever it reports to its caller on every call, not
// accumulate. fn must not call the Store's write methods: on its last call
// it runs on the writer goroutine. A message fn appends must have an id; its
// VerificationID is filled in when empty. fn may not change the
// verification's ID or ServiceID, nor drop messages, nor update the same
// verification: the updates of one verification take turns in a Store
// (turns.go), and fn's would wait for its own.
func (s *Store) UpdateVerification(ctx context.Context, serviceID, id string, fn func(*otpd.Verification) error) (*otpd.Verification, error) {
	// This process's updates of the verification take turns (turns.go).
	done, err := s.turns.take(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: update verification: %w", err)
	}
	defer done()
	// A second try from a read before the locked one: the write that moved
	// the version is committed by the time this one hears of it, and left
	// its copy (recent.go), so the second try usually needs no read and
	// succeeds without putting the load on the writer. Two updates racing
	// is common — a check arriving while the send's outcome is written.
	v, err := s.updateFromRead(ctx, serviceID, id, fn)
	if errors.Is(err, errVersionMoved) {
		v, err = s.updateFromRead(ctx, serviceID, id, fn)
	}
	if errors.Is(err, errVersionMoved) {
		v, err = s.updateLocked(ctx, serviceID, id, fn)
	}
	return v, err
}

// errVersionMoved reports that a verification changed between the read an
// update was prepared from and its write.
var errVersionMoved = errors.New("sqlite: verification changed since it was read")

// updateFromRead is UpdateVerification's first try: fn and the comparison
// run on the caller's goroutine, on what the read pool shows; the writer
// writes the changes if the verification's version is still the one read.
func (s *Store) updateFromRead(ctx context.Context, serviceID, id string, fn func(*otpd.Verification) error) (*otpd.Verification, error) {
	// Two statements outside a read transaction (which would cost a BEGIN
	// and a ROLLBACK more): the verification row is read first, so a
	// commit that lands between the two — messages newer than the version
	// read — has moved the version, and the write finds it moved.
	// Start from the copy the last read or write left, if any (recent.go).
	gen := s.recent.begin()
	v, version, ok := s.recent.take(serviceID, id)
	if !ok {
		var err error
		v, version, err = loadVerification(&txn{ctx: ctx, db: s.r, stmts: s.rs, sealer: s.sealer}, serviceID, id)
		if err != nil {
			return nil, fmt.Errorf("sqlite: update verification: %w", err)
		}
	}
	before := v.Clone()
	if err := fn(v); err != nil {
		return nil, err
	}
	ch, err := prepareChanges(s.sealer, before, v)
	if err != nil {
		return nil, fmt.Errorf("sqlite: update verification: %w", err)
	}
	if err := s.write(ctx, func(tx *txn) error { return ch.write(tx, version) }); err != nil {
		if errors.Is(err, errVersionMoved) {
			s.recent.stale(serviceID, id, version)
			return nil, err
		}
		return nil, fmt.Errorf("sqlite: update verification: %w", err)
	}
	// Return what a read would now return.
	truncateVerification(v)
	s.recent.put(v, version+1, gen)
	return v, nil
}

// updateLocked loads, calls fn and writes, all inside one write of the
// writer: nothing can change the verification in between. It is the
// fallback of updateFromRead, for a verification other writes are busy
// with.
func (s *Store) updateLocked(ctx context.Context, serviceID, id string, fn func(*otpd.Verification) error) (*otpd.Verification, error) {
	var (
		v       *otpd.Verification
		version int64
		fnErr   error
	)
	gen := s.recent.begin()
	err := s.write(ctx, func(tx *txn) error {
		var err error
		v, version, err = loadVerification(tx, serviceID, id)
		if err != nil {
			return err
		}
		before := v.Clone()
		if fnErr = fn(v); fnErr != nil {
			return fnErr
		}
		ch, err := prepareChanges(tx.sealer, before, v)
		if err != nil {
			return err
		}
		return ch.write(tx, version)
	})
	if fnErr != nil {
		return nil, fnErr
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: update verification: %w", err)
	}
	truncateVerification(v)
	s.recent.put(v, version+1, gen)
	return v, nil
}

// changes are the statements that write what an update changed, prepared
// (compared, encoded, sealed) before they reach the writer.
type changes struct {
	after    *otpd.Verification
	row      []any // the verification's new column values; nil: none changed
	messages []msgdiff.Change
	events   []eventRow
}

// prepareChanges works out the differences between before and after: the
// verification row if any column changed, changed messages, new ones, and
// the events to write.
func prepareChanges(sl otpd.Sealer, before, after *otpd.Verification) (*changes, error) {
	if after.ID != before.ID || after.ServiceID != before.ServiceID {
		return nil, fmt.Errorf("verification %s: fn changed its id or service", before.ID)
	}
	oldArgs, err := verificationArgs(before)
	if err != nil {
		return nil, err
	}
	newArgs, err := verificationArgs(after)
	if err != nil {
		return nil, fmt.Errorf("verification %s: %w", after.ID, err)
	}
	ch := &changes{after: after}
	if !reflect.DeepEqual(oldArgs, newArgs) {
		if err := rowcodec.SealVerificationArgs(sl, after.ID, newArgs); err != nil {
			return nil, fmt.Errorf("verification %s: %w", after.ID, err)
		}
		ch.row = newArgs
	}
	ch.messages, err = msgdiff.Messages(before, after, func(prev, m *otpd.Message) bool {
		return !reflect.DeepEqual(messageArgs(prev), messageArgs(m))
	})
	if err != nil {
		return nil, err
	}
	if ch.events, err = prepareEvents(sl, after); err != nil {
		return nil, err
	}
	return ch, nil
}

// write runs the statements of ch in the writer's transaction, if the
// verification's version is still version, and bumps it; otherwise it
// writes nothing and returns errVersionMoved. The version moves with every
// update, even one that changed only messages: messages are part of what
// an update read.
func (ch *changes) write(tx *txn, version int64) error {
	after := ch.after
	var (
		res sql.Result
		err error
	)
	if ch.row != nil {
		res, err = tx.exec(sqlUpdateVerification, append(ch.row, after.ID, version)...)
	} else {
		res, err = tx.exec(sqlBumpVersion, after.ID, version)
	}
	if err != nil {
		return fmt.Errorf("verification %s: %w", after.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("verification %s: %w", after.ID, err)
	} else if n == 0 {
		return errVersionMoved
	}
	for _, c := range ch.messages {
		m := c.Message
		if c.New {
			if err := insertMessage(tx, after, m); err != nil {
				return err
			}
		}
		if err := insertRefs(tx, after, m, c.Refs); err != nil {
			return err
		}
		if c.Update {
			args := append(messageArgs(m), c.DropLease, m.ID, after.ID)
			if _, err := tx.exec(sqlUpdateMessage, args...); err != nil {
				return fmt.Errorf("message %s: %w", m.ID, err)
			}
		}
	}
	return writeEvents(tx, ch.events)
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
// statement.
func (s *Store) ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]otpd.ClaimedMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	type claimed struct {
		otpd.ClaimedMessage
		next int64
	}
	var out []claimed
	err := s.write(ctx, func(tx *txn) error {
		out = out[:0]
		rows, err := tx.query(sqlClaimMessages, millis(now.Add(lease)), millis(now), millis(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c claimed
			if err := rows.Scan(&c.MessageID, &c.VerificationID, &c.ServiceID, &c.next); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim messages: %w", err)
	}
	// RETURNING promises no order.
	slices.SortFunc(out, func(a, b claimed) int {
		return cmp.Or(cmp.Compare(a.next, b.next), strings.Compare(a.MessageID, b.MessageID))
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
	n, err := s.execCount(ctx, sqlPurgeVerifications, limit, millis(before))
	if n > 0 || err != nil {
		s.recent.drop()
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge verifications: %w", err)
	}
	return n, nil
}

// execCount runs a batch statement whose last parameter is the batch size,
// and returns how many rows it affected. A limit of 0 or less does nothing.
func (s *Store) execCount(ctx context.Context, query string, limit int, args ...any) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.write(ctx, func(tx *txn) error {
		res, err := tx.exec(query, append(args, limit)...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// ClaimFallbacks leases up to limit messages whose fallback is due.
func (s *Store) ClaimFallbacks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]otpd.ClaimedMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	type claimed struct {
		otpd.ClaimedMessage
		at int64
	}
	var out []claimed
	err := s.write(ctx, func(tx *txn) error {
		out = out[:0]
		rows, err := tx.query(sqlClaimFallbacks, millis(now.Add(lease)), millis(now), millis(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c claimed
			if err := rows.Scan(&c.MessageID, &c.VerificationID, &c.ServiceID, &c.at); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim fallbacks: %w", err)
	}
	slices.SortFunc(out, func(a, b claimed) int {
		return cmp.Or(cmp.Compare(a.at, b.at), strings.Compare(a.MessageID, b.MessageID))
	})
	msgs := make([]otpd.ClaimedMessage, len(out))
	for i, c := range out {
		msgs[i] = c.ClaimedMessage
	}
	return msgs, nil
}
