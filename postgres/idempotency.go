package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/otpd/otpd"
)

const (
	idempotencyColumns = `scope, key, request_hash, completed, status_code, header, body,
	created_at, locked_until`
	// A concurrent insert of the same key waits for the other to commit
	// and then does nothing: of any number of requests, on any nodes, one
	// inserts.
	sqlInsertIdempotency = `INSERT INTO idempotency_keys (` + idempotencyColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (scope, key) DO NOTHING`
	// The take-over of an abandoned reservation: an in-progress record
	// whose lock ran out by the time of the request ($4). The UPDATE checks
	// the condition again on the newest version of the row once it holds
	// the row's lock, so of two retries at once, the second sees the lock
	// the first moved and does not take the record over too.
	sqlTakeOverIdempotency = `UPDATE idempotency_keys SET locked_until = $3
	WHERE scope = $1 AND key = $2 AND NOT completed
		AND (locked_until IS NULL OR locked_until <= $4)
	RETURNING ` + idempotencyColumns
	sqlGetIdempotency = `SELECT ` + idempotencyColumns + ` FROM idempotency_keys
	WHERE scope = $1 AND key = $2`
	// A record written with the verification of its request
	// (otpd.IdempotentWrite), complete at once. No ON CONFLICT: a used key
	// must fail the whole batch, verification included.
	sqlInsertCompletedIdempotency = `INSERT INTO idempotency_keys (` + idempotencyColumns + `, subject)
	VALUES ($1, $2, $3, true, $4, $5, $6, $7, NULL, $8)`
	sqlCompleteIdempotency = `UPDATE idempotency_keys
	SET completed = true, status_code = $1, header = $2, body = $3, locked_until = NULL, subject = $4
	WHERE scope = $5 AND key = $6`
	sqlReleaseIdempotency = `DELETE FROM idempotency_keys
	WHERE scope = $1 AND key = $2 AND NOT completed`
	// Skipping locked rows, as the verification batches do (see
	// sqlClaimMessages): sweepers on several nodes delete different rows.
	sqlPurgeIdempotency = `DELETE FROM idempotency_keys
	WHERE (scope, key) IN (
		SELECT scope, key FROM idempotency_keys WHERE created_at < $1
		ORDER BY created_at LIMIT $2
		FOR UPDATE SKIP LOCKED)`
)

// reserveAttempts bounds ReserveIdempotencyKey's loop. Another attempt is
// needed only when the record found by the insert is deleted (released or
// purged) before it can be read, which takes a retry racing a release.
const reserveAttempts = 5

func scanIdempotency(sl otpd.Sealer, row pgx.Row) (*otpd.IdempotencyRecord, error) {
	var (
		r           otpd.IdempotencyRecord
		createdAt   time.Time
		lockedUntil *time.Time
	)
	err := row.Scan(&r.Scope, &r.Key, &r.RequestHash, &r.Completed, &r.StatusCode, &r.Header, &r.Body,
		&createdAt, &lockedUntil)
	if err != nil {
		return nil, err
	}
	r.CreatedAt = fromTS(createdAt)
	r.LockedUntil = fromNullTS(lockedUntil)
	return &r, otpd.OpenIdempotency(sl, &r)
}

// GetIdempotencyKey returns the record under (scope, key).
func (s *Store) GetIdempotencyKey(ctx context.Context, scope, key string) (*otpd.IdempotencyRecord, error) {
	r, err := scanIdempotency(s.sealer, s.pool.QueryRow(ctx, sqlGetIdempotency, scope, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: idempotency key: %w", otpd.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: idempotency key: %w", err)
	}
	return r, nil
}

// queueIdempotentInsert queues, first in b, the insert of the
// otpd.IdempotentWrite's record that ctx carries for v, if any.
func (s *Store) queueIdempotentInsert(ctx context.Context, b *pgx.Batch, v *otpd.Verification) (*otpd.IdempotentWrite, error) {
	w := otpd.IdempotentWriteFrom(ctx)
	if w == nil {
		return nil, nil
	}
	if err := w.Complete(v); err != nil {
		return nil, err
	}
	r := w.Record
	body, err := otpd.SealIdempotencyBody(s.sealer, r)
	if err != nil {
		return nil, err
	}
	b.Queue(sqlInsertCompletedIdempotency, r.Scope, r.Key, r.RequestHash, r.StatusCode, r.Header, body,
		ts(r.CreatedAt), r.Subject)
	return w, nil
}

// isIdempotencyConflict reports whether err is the unique violation of an
// idempotency key's insert.
func isIdempotencyConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.TableName == "idempotency_keys"
}

// ReserveIdempotencyKey records rec as started, or returns the record that
// exists. rec.CreatedAt is taken as the time of the request: an in-progress
// record whose LockedUntil is not after it is taken over, its lock moved to
// rec.LockedUntil so that no other request takes it over as well.
//
// Each step is one statement, atomic on its own: the insert (the usual
// case, one round trip), else the take-over, else a read of the record.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, rec *otpd.IdempotencyRecord) (*otpd.IdempotencyRecord, error) {
	body, err := otpd.SealIdempotencyBody(s.sealer, rec)
	if err != nil {
		return nil, fmt.Errorf("postgres: reserve idempotency key: %w", err)
	}
	for range reserveAttempts {
		tag, err := s.pool.Exec(ctx, sqlInsertIdempotency, rec.Scope, rec.Key, rec.RequestHash,
			rec.Completed, rec.StatusCode, rec.Header, body, ts(rec.CreatedAt), nullTS(rec.LockedUntil))
		if err != nil {
			return nil, fmt.Errorf("postgres: reserve idempotency key: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil, nil
		}

		taken, err := scanIdempotency(s.sealer, s.pool.QueryRow(ctx, sqlTakeOverIdempotency,
			rec.Scope, rec.Key, nullTS(rec.LockedUntil), ts(rec.CreatedAt)))
		if err == nil {
			taken.Taken = true
			return taken, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("postgres: reserve idempotency key: %w", err)
		}

		existing, err := scanIdempotency(s.sealer, s.pool.QueryRow(ctx, sqlGetIdempotency, rec.Scope, rec.Key))
		if err == nil {
			return existing, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("postgres: reserve idempotency key: %w", err)
		}
		// Deleted since the insert found it: try again.
	}
	return nil, fmt.Errorf("postgres: reserve idempotency key: the record kept changing under %d attempts", reserveAttempts)
}

// CompleteIdempotencyKey stores the response of a reserved request.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, rec *otpd.IdempotencyRecord) error {
	body, err := otpd.SealIdempotencyBody(s.sealer, rec)
	if err != nil {
		return fmt.Errorf("postgres: complete idempotency key: %w", err)
	}
	err = s.execOne(ctx, "idempotency key", rec.Key, sqlCompleteIdempotency,
		rec.StatusCode, rec.Header, body, rec.Subject, rec.Scope, rec.Key)
	if err != nil {
		return fmt.Errorf("postgres: complete idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey deletes an in-progress record. Releasing a record
// that does not exist, or is complete, does nothing.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, scope, key string) error {
	if _, err := s.pool.Exec(ctx, sqlReleaseIdempotency, scope, key); err != nil {
		return fmt.Errorf("postgres: release idempotency key: %w", err)
	}
	return nil
}

// PurgeIdempotencyKeys deletes up to limit records created before t, oldest
// first.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.execCount(ctx, sqlPurgeIdempotency, limit, ts(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: purge idempotency keys: %w", err)
	}
	return n, nil
}
