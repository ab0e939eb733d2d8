package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/otpd/otpd"
)

const eventColumns = `seq, id, service_id, verification_id, message_id, type, created_at, data,
	state, attempts, next_attempt_at, deadline, last_attempt_at, last_status_code, last_error,
	delivered_at`

const (
	// An event of a service without a webhook_url is disabled as it is
	// written, so that it never enters the delivery queue.
	sqlInsertEvent = `INSERT INTO events (id, service_id, verification_id, message_id, type,
		created_at, data, state, attempts, next_attempt_at, deadline, last_attempt_at,
		last_status_code, last_error, delivered_at)
	SELECT ?, id, ?, ?, ?, ?, ?, CASE WHEN webhook_url <> '' THEN ? ELSE 'disabled' END, ?, ?, ?, ?, ?, ?, ?
	FROM services WHERE id = ?`
	sqlGetEvent   = `SELECT ` + eventColumns + ` FROM events WHERE service_id = ? AND id = ?`
	sqlListEvents = `SELECT ` + eventColumns + ` FROM events INDEXED BY events_service
	WHERE service_id = ?`
	sqlListAttempts = `SELECT event_id, at, url, status_code, error, duration_ms
	FROM event_attempts WHERE event_id = ? ORDER BY rowid`
	// Only the oldest pending event of a verification may be claimed: its
	// later events wait, so that a receiver sees them in order.
	sqlClaimEvents = `UPDATE events SET lease_until = ?
	WHERE seq IN (
		SELECT e.seq FROM events e INDEXED BY events_due
		WHERE e.state = 'pending' AND e.next_attempt_at <= ?
			AND (e.lease_until IS NULL OR e.lease_until <= ?)
			AND NOT EXISTS (SELECT 1 FROM events p INDEXED BY events_pending
				WHERE p.verification_id = e.verification_id AND p.state = 'pending' AND p.seq < e.seq)
		ORDER BY e.next_attempt_at, e.seq LIMIT ?)
	RETURNING ` + eventColumns
	sqlInsertAttempt = `INSERT INTO event_attempts (event_id, at, url, status_code, error, duration_ms)
	VALUES (?, ?, ?, ?, ?, ?)`
	sqlSetDelivery = `UPDATE events SET state = ?, attempts = ?, next_attempt_at = ?, deadline = ?,
		last_attempt_at = ?, last_status_code = ?, last_error = ?, delivered_at = ?, lease_until = NULL
	WHERE id = ?`
	sqlRedeliverEvent = `UPDATE events SET state = 'pending', next_attempt_at = ?, deadline = ?,
		lease_until = NULL
	WHERE service_id = ? AND id = ?
	RETURNING ` + eventColumns
	sqlPurgeEvents = `DELETE FROM events
	WHERE seq IN (
		SELECT seq FROM events INDEXED BY events_created
		WHERE created_at < ? AND state <> 'pending'
		ORDER BY created_at LIMIT ?)`

	sqlDueForExpiry = `SELECT service_id, id FROM verifications INDEXED BY verifications_expiry
	WHERE status = 'pending' AND expires_at <= ?
	ORDER BY expires_at LIMIT ?`

	sqlSaveEarlyReceipt = `INSERT INTO early_receipts (ref, channel, raw_ref, status, error, received_at)
	VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (ref) DO UPDATE SET channel = excluded.channel, raw_ref = excluded.raw_ref,
		status = excluded.status, error = excluded.error, received_at = excluded.received_at`
	sqlAnyEarlyReceipt = `SELECT EXISTS (SELECT 1 FROM early_receipts
		WHERE ref IN (SELECT value FROM json_each(?)))`
	sqlTakeEarlyReceipts = `DELETE FROM early_receipts
	WHERE ref IN (SELECT value FROM json_each(?))
	RETURNING channel, raw_ref, status, error`
	sqlPurgeEarlyReceipts = `DELETE FROM early_receipts
	WHERE ref IN (
		SELECT ref FROM early_receipts INDEXED BY early_receipts_received
		WHERE received_at < ? ORDER BY received_at LIMIT ?)`
)

// deliveryArgs returns d's columns from state to delivered_at.
func deliveryArgs(d otpd.EventDelivery) []any {
	return []any{string(d.State), d.Attempts, nullMillis(d.NextAttemptAt), nullMillis(d.Deadline),
		nullMillis(d.LastAttemptAt), d.LastStatusCode, d.LastError, nullMillis(d.DeliveredAt)}
}

// eventRow is an event's sqlInsertEvent arguments, its data sealed.
type eventRow []any

// prepareEvents returns the rows of v's new events, made (sealed) before
// the write so that the writer goroutine only runs the inserts.
func prepareEvents(sl otpd.Sealer, v *otpd.Verification) ([]eventRow, error) {
	if len(v.Events) == 0 {
		return nil, nil
	}
	rows := make([]eventRow, 0, len(v.Events))
	for _, e := range v.Events {
		if e.ServiceID != v.ServiceID || e.VerificationID != v.ID {
			return nil, fmt.Errorf("event %s is not of verification %s", e.ID, v.ID)
		}
		row, err := eventArgs(sl, e)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// eventArgs returns e's sqlInsertEvent arguments, its data sealed.
func eventArgs(sl otpd.Sealer, e *otpd.Event) (eventRow, error) {
	data, err := otpd.SealEventData(sl, e)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	args := append([]any{e.ID, e.VerificationID, e.MessageID, string(e.Type), millis(e.CreatedAt), nonNil(data)},
		deliveryArgs(e.Delivery)...)
	return append(args, e.ServiceID), nil
}

// insertEvent writes one event, disabled when its service has no
// webhook_url.
func insertEvent(tx *txn, e *otpd.Event) error {
	row, err := eventArgs(tx.sealer, e)
	if err != nil {
		return err
	}
	return writeEvents(tx, []eventRow{row})
}

// writeEvents inserts events, each disabled when its service has no
// webhook_url.
func writeEvents(tx *txn, events []eventRow) error {
	for _, args := range events {
		if _, err := tx.exec(sqlInsertEvent, args...); err != nil {
			return fmt.Errorf("event %s: %w", args[0], err)
		}
	}
	return nil
}

// scanEvent reads a row of eventColumns.
func scanEvent(sl otpd.Sealer, sc interface{ Scan(...any) error }) (seq int64, e *otpd.Event, err error) {
	e = &otpd.Event{}
	var typ, state string
	var created int64
	var next, deadline, last, delivered sql.NullInt64
	d := &e.Delivery
	err = sc.Scan(&seq, &e.ID, &e.ServiceID, &e.VerificationID, &e.MessageID, &typ, &created, &e.Data,
		&state, &d.Attempts, &next, &deadline, &last, &d.LastStatusCode, &d.LastError, &delivered)
	if err != nil {
		return 0, nil, err
	}
	e.Type, e.CreatedAt, d.State = otpd.EventType(typ), fromMillis(created), otpd.EventDeliveryState(state)
	d.NextAttemptAt, d.Deadline = fromNullMillis(next), fromNullMillis(deadline)
	d.LastAttemptAt, d.DeliveredAt = fromNullMillis(last), fromNullMillis(delivered)
	return seq, e, otpd.OpenEvent(sl, e)
}

// ListEvents returns the service's events that match f, newest first.
func (s *Store) ListEvents(ctx context.Context, f otpd.EventFilter) ([]*otpd.Event, error) {
	var q strings.Builder
	q.WriteString(sqlListEvents)
	args := []any{f.ServiceID}
	if f.Type != "" {
		q.WriteString(` AND type = ?`)
		args = append(args, string(f.Type))
	}
	if f.VerificationID != "" {
		q.WriteString(` AND verification_id = ?`)
		args = append(args, f.VerificationID)
	}
	if !f.Since.IsZero() {
		q.WriteString(` AND created_at >= ?`)
		args = append(args, millis(f.Since))
	}
	if f.Before != "" {
		// Events older than the cursor's, in write order; a cursor whose
		// event was purged meanwhile falls back to id order (ids are
		// time-ordered), rather than ending the listing.
		q.WriteString(` AND seq < COALESCE((SELECT seq FROM events WHERE service_id = ? AND id = ?),
			(SELECT COALESCE(MIN(seq), 9223372036854775807) FROM events WHERE service_id = ? AND id >= ?))`)
		args = append(args, f.ServiceID, f.Before, f.ServiceID, f.Before)
	}
	q.WriteString(` ORDER BY seq DESC LIMIT ?`)
	args = append(args, sqlLimit(f.Limit))
	rows, err := s.readRows(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list events: %w", err)
	}
	defer rows.Close()
	var out []*otpd.Event
	for rows.Next() {
		_, e, err := scanEvent(s.sealer, rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list events: %w", err)
	}
	return out, nil
}

// GetEvent returns an event of the service.
func (s *Store) GetEvent(ctx context.Context, serviceID, id string) (*otpd.Event, error) {
	_, e, err := scanEvent(s.sealer, s.readRow(ctx, sqlGetEvent, serviceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get event: %w", notFound("event", id))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get event: %w", err)
	}
	return e, nil
}

// ListDeliveryAttempts returns the attempts of an event of the service,
// oldest first.
func (s *Store) ListDeliveryAttempts(ctx context.Context, serviceID, eventID string) ([]*otpd.DeliveryAttempt, error) {
	var out []*otpd.DeliveryAttempt
	err := s.read(ctx, func(tx *txn) error {
		if _, _, err := scanEvent(tx.sealer, tx.queryRow(sqlGetEvent, serviceID, eventID)); errors.Is(err, sql.ErrNoRows) {
			return notFound("event", eventID)
		} else if err != nil {
			return err
		}
		rows, err := tx.query(sqlListAttempts, eventID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a := &otpd.DeliveryAttempt{}
			var at, ms int64
			if err := rows.Scan(&a.EventID, &at, &a.URL, &a.StatusCode, &a.Error, &ms); err != nil {
				return err
			}
			a.At, a.Duration = fromMillis(at), time.Duration(ms)*time.Millisecond
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list delivery attempts: %w", err)
	}
	return out, nil
}

// ClaimEvents leases up to limit due events, each the oldest pending event
// of its verification, in one statement.
func (s *Store) ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*otpd.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	type claimed struct {
		seq int64
		e   *otpd.Event
	}
	var out []claimed
	err := s.write(ctx, func(tx *txn) error {
		out = out[:0]
		rows, err := tx.query(sqlClaimEvents, millis(now.Add(lease)), millis(now), millis(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			seq, e, err := scanEvent(tx.sealer, rows)
			if err != nil {
				return err
			}
			out = append(out, claimed{seq, e})
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim events: %w", err)
	}
	// RETURNING promises no order.
	slices.SortFunc(out, func(a, b claimed) int {
		return cmp.Or(a.e.Delivery.NextAttemptAt.Compare(b.e.Delivery.NextAttemptAt), cmp.Compare(a.seq, b.seq))
	})
	evs := make([]*otpd.Event, len(out))
	for i, c := range out {
		evs[i] = c.e
	}
	return evs, nil
}

// RecordDeliveryAttempt appends an attempt and sets the event's delivery.
func (s *Store) RecordDeliveryAttempt(ctx context.Context, a *otpd.DeliveryAttempt, d otpd.EventDelivery) error {
	err := s.write(ctx, func(tx *txn) error {
		if err := execOne(tx, "event", a.EventID, sqlSetDelivery, append(deliveryArgs(d), a.EventID)...); err != nil {
			return err
		}
		_, err := tx.exec(sqlInsertAttempt, a.EventID, millis(a.At), a.URL, a.StatusCode, a.Error, a.Duration.Milliseconds())
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: record delivery attempt: %w", err)
	}
	return nil
}

// SetEventDelivery sets an event's delivery without an attempt.
func (s *Store) SetEventDelivery(ctx context.Context, eventID string, d otpd.EventDelivery) error {
	err := s.write(ctx, func(tx *txn) error {
		return execOne(tx, "event", eventID, sqlSetDelivery, append(deliveryArgs(d), eventID)...)
	})
	if err != nil {
		return fmt.Errorf("sqlite: set event delivery: %w", err)
	}
	return nil
}

// RedeliverEvent makes an event pending again.
func (s *Store) RedeliverEvent(ctx context.Context, serviceID, id string, now, deadline time.Time) (*otpd.Event, error) {
	var e *otpd.Event
	err := s.write(ctx, func(tx *txn) (err error) {
		_, e, err = scanEvent(tx.sealer, tx.queryRow(sqlRedeliverEvent, millis(now), millis(deadline), serviceID, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("event", id)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: redeliver event: %w", err)
	}
	return e, nil
}

// PurgeEvents deletes up to limit events created before t that are not
// pending; their attempts go with them (ON DELETE CASCADE).
func (s *Store) PurgeEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.execCount(ctx, sqlPurgeEvents, limit, millis(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge events: %w", err)
	}
	return n, nil
}

// DueForExpiry returns up to limit pending verifications past their expiry.
func (s *Store) DueForExpiry(ctx context.Context, now time.Time, limit int) ([]otpd.VerificationRef, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.readRows(ctx, sqlDueForExpiry, millis(now), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: due for expiry: %w", err)
	}
	defer rows.Close()
	var out []otpd.VerificationRef
	for rows.Next() {
		var r otpd.VerificationRef
		if err := rows.Scan(&r.ServiceID, &r.ID); err != nil {
			return nil, fmt.Errorf("sqlite: due for expiry: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: due for expiry: %w", err)
	}
	return out, nil
}

// SaveEarlyReceipt keeps a receipt whose ref is not recorded yet.
func (s *Store) SaveEarlyReceipt(ctx context.Context, ref string, r otpd.Receipt, at time.Time) error {
	err := s.write(ctx, func(tx *txn) error {
		_, err := tx.exec(sqlSaveEarlyReceipt, ref, string(r.Channel), r.Ref, string(r.Status), r.Error, millis(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: save early receipt: %w", err)
	}
	return nil
}

// TakeEarlyReceipts deletes and returns the receipts kept under refs.
func (s *Store) TakeEarlyReceipts(ctx context.Context, refs []string) ([]otpd.Receipt, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(refs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: take early receipts: %w", err)
	}
	// Every send's outcome asks, and almost never is there one: look on
	// the read pool first rather than queue a write for the writer. A
	// receipt kept after this look is not lost: RecordReceipt looks for
	// its message again after keeping it, finds the refs this send's
	// outcome already committed, and takes the receipt itself.
	var found bool
	if err := s.readRow(ctx, sqlAnyEarlyReceipt, string(list)).Scan(&found); err != nil {
		return nil, fmt.Errorf("sqlite: take early receipts: %w", err)
	}
	if !found {
		return nil, nil
	}
	var out []otpd.Receipt
	err = s.write(ctx, func(tx *txn) error {
		out = out[:0]
		rows, err := tx.query(sqlTakeEarlyReceipts, string(list))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r otpd.Receipt
			var ch, st string
			if err := rows.Scan(&ch, &r.Ref, &st, &r.Error); err != nil {
				return err
			}
			r.Channel, r.Status = otpd.ChannelName(ch), otpd.MessageStatus(st)
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: take early receipts: %w", err)
	}
	return out, nil
}

// PurgeEarlyReceipts deletes up to limit receipts received before t.
func (s *Store) PurgeEarlyReceipts(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.execCount(ctx, sqlPurgeEarlyReceipts, limit, millis(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge early receipts: %w", err)
	}
	return n, nil
}
