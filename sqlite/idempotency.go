package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/otpd/otpd"
)

const (
	idempotencyColumns = `scope, key, request_hash, completed, status_code, header, body,
	created_at, locked_until`
	sqlGetIdempotency = `SELECT ` + idempotencyColumns + ` FROM idempotency_keys
	WHERE scope = ? AND key = ?`
	// A new key (the common case) is one statement in the writer: the
	// existing record is read only when the insert found one.
	sqlInsertIdempotency = `INSERT INTO idempotency_keys (` + idempotencyColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING`
	// A record written with the verification of its request
	// (otpd.IdempotentWrite): complete at once.
	sqlInsertCompletedIdempotency = `INSERT INTO idempotency_keys (` + idempotencyColumns + `, subject)
	VALUES (?, ?, ?, 1, ?, ?, ?, ?, NULL, ?) ON CONFLICT (scope, key) DO NOTHING`
	sqlLockIdempotency = `UPDATE idempotency_keys SET locked_until = ?
	WHERE scope = ? AND key = ?`
	sqlCompleteIdempotency = `UPDATE idempotency_keys
	SET completed = 1, status_code = ?, header = ?, body = ?, locked_until = NULL, subject = ?
	WHERE scope = ? AND key = ?`
	sqlReleaseIdempotency = `DELETE FROM idempotency_keys
	WHERE scope = ? AND key = ? AND completed = 0`
	sqlPurgeIdempotency = `DELETE FROM idempotency_keys
	WHERE rowid IN (
		SELECT rowid FROM idempotency_keys WHERE created_at < ?
		ORDER BY created_at LIMIT ?)`
)

func scanIdempotency(sl otpd.Sealer, sc scanner) (*otpd.IdempotencyRecord, error) {
	var (
		r           otpd.IdempotencyRecord
		createdAt   int64
		lockedUntil sql.NullInt64
	)
	err := sc.Scan(&r.Scope, &r.Key, &r.RequestHash, &r.Completed, &r.StatusCode, &r.Header, &r.Body,
		&createdAt, &lockedUntil)
	if err != nil {
		return nil, err
	}
	r.CreatedAt = fromMillis(createdAt)
	r.LockedUntil = fromNullMillis(lockedUntil)
	return &r, otpd.OpenIdempotency(sl, &r)
}

// ReserveIdempotencyKey records rec as started, or returns the record that
// exists. rec.CreatedAt is taken as the time of the request: an in-progress
// record whose LockedUntil is not after it is taken over, its lock moved to
// rec.LockedUntil so that no other request takes it over as well.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, rec *otpd.IdempotencyRecord) (*otpd.IdempotencyRecord, error) {
	var existing *otpd.IdempotencyRecord
	// Sealed before the write, not on the writer goroutine.
	body, err := otpd.SealIdempotencyBody(s.sealer, rec)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reserve idempotency key: %w", err)
	}
	err = s.write(ctx, func(tx *txn) error {
		existing = nil
		res, err := tx.exec(sqlInsertIdempotency, rec.Scope, rec.Key, rec.RequestHash,
			rec.Completed, rec.StatusCode, rec.Header, body, millis(rec.CreatedAt),
			nullMillis(rec.LockedUntil))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		existing, err = scanIdempotency(tx.sealer, tx.queryRow(sqlGetIdempotency, rec.Scope, rec.Key))
		if err != nil {
			return err
		}
		if existing.Completed || existing.LockedUntil.UnixMilli() > rec.CreatedAt.UnixMilli() {
			return nil
		}
		if _, err := tx.exec(sqlLockIdempotency, nullMillis(rec.LockedUntil), rec.Scope, rec.Key); err != nil {
			return err
		}
		existing.LockedUntil = truncate(rec.LockedUntil)
		existing.Taken = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: reserve idempotency key: %w", err)
	}
	return existing, nil
}

// GetIdempotencyKey returns the record under (scope, key), from the read
// pool.
func (s *Store) GetIdempotencyKey(ctx context.Context, scope, key string) (*otpd.IdempotencyRecord, error) {
	r, err := scanIdempotency(s.sealer, s.readRow(ctx, sqlGetIdempotency, scope, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: idempotency key: %w", otpd.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: idempotency key: %w", err)
	}
	return r, nil
}

// idempotentInsert prepares the insert of an otpd.IdempotentWrite's
// record for the verification v: rendered and sealed off the writer. It
// returns nil when ctx carries none.
func (s *Store) idempotentInsert(ctx context.Context, v *otpd.Verification) (*otpd.IdempotentWrite, []any, error) {
	w := otpd.IdempotentWriteFrom(ctx)
	if w == nil {
		return nil, nil, nil
	}
	if err := w.Complete(v); err != nil {
		return nil, nil, err
	}
	r := w.Record
	body, err := otpd.SealIdempotencyBody(s.sealer, r)
	if err != nil {
		return nil, nil, err
	}
	return w, []any{r.Scope, r.Key, r.RequestHash, r.StatusCode, r.Header, body, millis(r.CreatedAt), r.Subject}, nil
}

// CompleteIdempotencyKey stores the response of a reserved request.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, rec *otpd.IdempotencyRecord) error {
	err := s.write(ctx, func(tx *txn) error {
		body, err := otpd.SealIdempotencyBody(tx.sealer, rec)
		if err != nil {
			return err
		}
		return execOne(tx, "idempotency key", rec.Key, sqlCompleteIdempotency,
			rec.StatusCode, rec.Header, body, rec.Subject, rec.Scope, rec.Key)
	})
	if err != nil {
		return fmt.Errorf("sqlite: complete idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey deletes an in-progress record. Releasing a record
// that does not exist, or is complete, does nothing.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, scope, key string) error {
	err := s.write(ctx, func(tx *txn) error {
		_, err := tx.exec(sqlReleaseIdempotency, scope, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: release idempotency key: %w", err)
	}
	return nil
}

// PurgeIdempotencyKeys deletes up to limit records created before t, oldest
// first.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.execCount(ctx, sqlPurgeIdempotency, limit, millis(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge idempotency keys: %w", err)
	}
	return n, nil
}
