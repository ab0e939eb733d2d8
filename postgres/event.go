package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
	SELECT $1, id, $2, $3, $4, $5, $6, CASE WHEN webhook_url <> '' THEN $7 ELSE 'disabled' END,
		$8, $9, $10, $11, $12, $13, $14
	FROM services WHERE id = $15`
	sqlGetEvent     = `SELECT ` + eventColumns + ` FROM events WHERE service_id = $1 AND id = $2`
	sqlListAttempts = `SELECT event_id, at, url, status_code, error, duration_ms
	FROM event_attempts WHERE event_id = $1 ORDER BY seq`
	// Only the oldest pending event of a verification may be claimed: its
	// later events wait, so that a receiver sees them in order. The lock
	// and SKIP LOCKED work as in sqlClaimMessages.
	sqlClaimEvents = `UPDATE events SET lease_until = $1
	WHERE seq IN (
		SELECT e.seq FROM events e
		WHERE e.state = 'pending' AND e.next_attempt_at <= $2
			AND (e.lease_until IS NULL OR e.lease_until <= $2)
			AND NOT EXISTS (SELECT 1 FROM events p
				WHERE p.verification_id = e.verification_id AND p.state = 'pending' AND p.seq < e.seq)
		ORDER BY e.next_attempt_at, e.seq LIMIT $3
		FOR NO KEY UPDATE SKIP LOCKED)
	RETURNING ` + eventColumns
	sqlInsertAttempt = `INSERT INTO event_attempts (event_id, at, url, status_code, error, duration_ms)
	VALUES ($1, $2, $3, $4, $5, $6)`
	sqlSetDelivery = `UPDATE events SET state = $1, attempts = $2, next_attempt_at = $3,
		deadline = $4, last_attempt_at = $5, last_status_code = $6, last_error = $7,
		delivered_at = $8, lease_until = NULL
	WHERE id = $9`
	sqlRedeliverEvent = `UPDATE events SET state = 'pending', next_attempt_at = $1, deadline = $2,
		lease_until = NULL
	WHERE service_id = $3 AND id = $4
	RETURNING ` + eventColumns
	sqlPurgeEvents = `DELETE FROM events
	WHERE seq IN (
		SELECT seq FROM events
		WHERE created_at < $1 AND state <> 'pending'
		ORDER BY created_at LIMIT $2
		FOR UPDATE SKIP LOCKED)`

	sqlDueForExpiry = `SELECT service_id, id FROM verifications
	WHERE status = 'pending' AND expires_at <= $1
	ORDER BY expires_at LIMIT $2`

	sqlSaveEarlyReceipt = `INSERT INTO early_receipts (ref, channel, raw_ref, status, error, received_at)
	VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (ref) DO UPDATE SET channel = excluded.channel, raw_ref = excluded.raw_ref,
		status = excluded.status, error = excluded.error, received_at = excluded.received_at`
	sqlTakeEarlyReceipts = `DELETE FROM early_receipts WHERE ref = ANY($1)
	RETURNING channel, raw_ref, status, error`
	sqlPurgeEarlyReceipts = `DELETE FROM early_receipts
	WHERE ref IN (
		SELECT ref FROM early_receipts WHERE received_at < $1
		ORDER BY received_at LIMIT $2
		FOR UPDATE SKIP LOCKED)`
)

// deliveryArgs returns d's columns from state to delivered_at.
func deliveryArgs(d otpd.EventDelivery) []any {
	return []any{string(d.State), d.Attempts, nullTS(d.NextAttemptAt), nullTS(d.Deadline),
		nullTS(d.LastAttemptAt), d.LastStatusCode, d.LastError, nullTS(d.DeliveredAt)}
}

// queueInsertEvents queues the inserts of the events of a change.
func queueInsertEvents(sl otpd.Sealer, b *pgx.Batch, v *otpd.Verification) error {
	for _, e := range v.Events {
		if e.ServiceID != v.ServiceID || e.VerificationID != v.ID {
			return fmt.Errorf("event %s is not of verification %s", e.ID, v.ID)
		}
		args, err := eventArgs(sl, e)
		if err != nil {
			return err
		}
		b.Queue(sqlInsertEvent, args...)
	}
	return nil
}

// eventArgs returns the arguments of sqlInsertEvent for e, its data sealed.
func eventArgs(sl otpd.Sealer, e *otpd.Event) ([]any, error) {
	data, err := otpd.SealEventData(sl, e)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	args := append([]any{e.ID, e.VerificationID, e.MessageID, string(e.Type), ts(e.CreatedAt), nonNil(data)},
		deliveryArgs(e.Delivery)...)
	return append(args, e.ServiceID), nil
}

// scanEvent reads a row of eventColumns.
func scanEvent(sl otpd.Sealer, row pgx.Row) (seq int64, e *otpd.Event, err error) {
	e = &otpd.Event{}
	var typ, state string
	var created time.Time
	var next, deadline, last, delivered *time.Time
	d := &e.Delivery
	err = row.Scan(&seq, &e.ID, &e.ServiceID, &e.VerificationID, &e.MessageID, &typ, &created, &e.Data,
		&state, &d.Attempts, &next, &deadline, &last, &d.LastStatusCode, &d.LastError, &delivered)
	if err != nil {
		return 0, nil, err
	}
	e.Type, e.CreatedAt, d.State = otpd.EventType(typ), fromTS(created), otpd.EventDeliveryState(state)
	d.NextAttemptAt, d.Deadline = fromNullTS(next), fromNullTS(deadline)
	d.LastAttemptAt, d.DeliveredAt = fromNullTS(last), fromNullTS(delivered)
	return seq, e, otpd.OpenEvent(sl, e)
}

// ListEvents returns the service's events that match f, newest first.
func (s *Store) ListEvents(ctx context.Context, f otpd.EventFilter) ([]*otpd.Event, error) {
	var q strings.Builder
	q.WriteString(`SELECT ` + eventColumns + ` FROM events WHERE service_id = $1`)
	args := []any{f.ServiceID}
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Type != "" {
		q.WriteString(` AND type = ` + param(string(f.Type)))
	}
	if f.VerificationID != "" {
		q.WriteString(` AND verification_id = ` + param(f.VerificationID))
	}
	if !f.Since.IsZero() {
		q.WriteString(` AND created_at >= ` + param(ts(f.Since)))
	}
	if f.Before != "" {
		// Events older than the cursor's, in write order; a cursor whose
		// event was purged meanwhile falls back to id order (ids are
		// time-ordered), rather than ending the listing.
		before := param(f.Before)
		q.WriteString(` AND seq < COALESCE((SELECT seq FROM events WHERE service_id = $1 AND id = ` + before + `),
			(SELECT COALESCE(MIN(seq), 9223372036854775807) FROM events WHERE service_id = $1 AND id >= ` + before + `))`)
	}
	q.WriteString(` ORDER BY seq DESC LIMIT ` + param(sqlLimit(f.Limit)))
	rows, err := s.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*otpd.Event, error) {
		_, e, err := scanEvent(s.sealer, row)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list events: %w", err)
	}
	return out, nil
}

// GetEvent returns an event of the service.
func (s *Store) GetEvent(ctx context.Context, serviceID, id string) (*otpd.Event, error) {
	_, e, err := scanEvent(s.sealer, s.pool.QueryRow(ctx, sqlGetEvent, serviceID, id))
	if isNoRows(err) {
		return nil, fmt.Errorf("postgres: get event: %w", notFound("event", id))
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get event: %w", err)
	}
	return e, nil
}

// ListDeliveryAttempts returns the attempts of an event of the service,
// oldest first.
func (s *Store) ListDeliveryAttempts(ctx context.Context, serviceID, eventID string) ([]*otpd.DeliveryAttempt, error) {
	if _, err := s.GetEvent(ctx, serviceID, eventID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sqlListAttempts, eventID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list delivery attempts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*otpd.DeliveryAttempt, error) {
		a := &otpd.DeliveryAttempt{}
		var at time.Time
		var ms int64
		if err := row.Scan(&a.EventID, &at, &a.URL, &a.StatusCode, &a.Error, &ms); err != nil {
			return nil, err
		}
		a.At, a.Duration = fromTS(at), time.Duration(ms)*time.Millisecond
		return a, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list delivery attempts: %w", err)
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
	rows, err := s.pool.Query(ctx, sqlClaimEvents, ts(now.Add(lease)), ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claimed, error) {
		seq, e, err := scanEvent(s.sealer, row)
		return claimed{seq, e}, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim events: %w", err)
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

// RecordDeliveryAttempt appends an attempt and sets the event's delivery,
// in one transaction.
func (s *Store) RecordDeliveryAttempt(ctx context.Context, a *otpd.DeliveryAttempt, d otpd.EventDelivery) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlSetDelivery, append(deliveryArgs(d), a.EventID)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("event", a.EventID)
		}
		_, err = tx.Exec(ctx, sqlInsertAttempt, a.EventID, ts(a.At), a.URL, a.StatusCode, a.Error, a.Duration.Milliseconds())
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: record delivery attempt: %w", err)
	}
	return nil
}

// SetEventDelivery sets an event's delivery without an attempt.
func (s *Store) SetEventDelivery(ctx context.Context, eventID string, d otpd.EventDelivery) error {
	if err := s.execOne(ctx, "event", eventID, sqlSetDelivery, append(deliveryArgs(d), eventID)...); err != nil {
		return fmt.Errorf("postgres: set event delivery: %w", err)
	}
	return nil
}

// RedeliverEvent makes an event pending again.
func (s *Store) RedeliverEvent(ctx context.Context, serviceID, id string, now, deadline time.Time) (*otpd.Event, error) {
	_, e, err := scanEvent(s.sealer, s.pool.QueryRow(ctx, sqlRedeliverEvent, ts(now), ts(deadline), serviceID, id))
	if isNoRows(err) {
		return nil, fmt.Errorf("postgres: redeliver event: %w", notFound("event", id))
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: redeliver event: %w", err)
	}
	return e, nil
}

// PurgeEvents deletes up to limit events created before t that are not
// pending; their attempts go with them (ON DELETE CASCADE).
func (s *Store) PurgeEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.execCount(ctx, sqlPurgeEvents, limit, ts(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: purge events: %w", err)
	}
	return n, nil
}

// DueForExpiry returns up to limit pending verifications past their expiry.
func (s *Store) DueForExpiry(ctx context.Context, now time.Time, limit int) ([]otpd.VerificationRef, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, sqlDueForExpiry, ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: due for expiry: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (otpd.VerificationRef, error) {
		var r otpd.VerificationRef
		err := row.Scan(&r.ServiceID, &r.ID)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: due for expiry: %w", err)
	}
	return out, nil
}

// SaveEarlyReceipt keeps a receipt whose ref is not recorded yet.
func (s *Store) SaveEarlyReceipt(ctx context.Context, ref string, r otpd.Receipt, at time.Time) error {
	_, err := s.pool.Exec(ctx, sqlSaveEarlyReceipt, ref, string(r.Channel), r.Ref, string(r.Status), r.Error, ts(at))
	if err != nil {
		return fmt.Errorf("postgres: save early receipt: %w", err)
	}
	return nil
}

// TakeEarlyReceipts deletes and returns the receipts kept under refs. The
// DELETE … RETURNING hands each row to one caller only.
func (s *Store) TakeEarlyReceipts(ctx context.Context, refs []string) ([]otpd.Receipt, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, sqlTakeEarlyReceipts, refs)
	if err != nil {
		return nil, fmt.Errorf("postgres: take early receipts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (otpd.Receipt, error) {
		var r otpd.Receipt
		var ch, st string
		err := row.Scan(&ch, &r.Ref, &st, &r.Error)
		r.Channel, r.Status = otpd.ChannelName(ch), otpd.MessageStatus(st)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: take early receipts: %w", err)
	}
	return out, nil
}

// PurgeEarlyReceipts deletes up to limit receipts received before t.
func (s *Store) PurgeEarlyReceipts(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.execCount(ctx, sqlPurgeEarlyReceipts, limit, ts(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: purge early receipts: %w", err)
	}
	return n, nil
}
