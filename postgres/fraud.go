package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otpd/otpd"
)

const blockColumns = `id, service_id, scope, key, level, reason, created_by, started, approved,
	created_at, expires_at, lifted_at, lifted_by`

const (
	// One statement for the whole batch. Joining services drops the
	// deltas of a deleted service instead of failing the batch on its
	// foreign key; the ORDER BY makes every node lock rows in one order,
	// so concurrent flushes cannot deadlock.
	sqlAddConversions = `INSERT INTO fraud_counters AS c (service_id, scope, key, bucket, started, approved)
	SELECT d.service_id, d.scope, d.key, d.bucket, d.started, d.approved
	FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[], $6::bigint[])
		AS d (service_id, scope, key, bucket, started, approved)
	JOIN services s ON s.id = d.service_id
	ORDER BY d.service_id, d.scope, d.key, d.bucket
	ON CONFLICT (service_id, scope, key, bucket) DO UPDATE
	SET started = c.started + excluded.started, approved = c.approved + excluded.approved`
	// A bucket counts only from the end of the key's last block: an
	// active block's end is in the future, so its key has no stats.
	sqlConversionStats = `SELECT c.service_id, c.scope, c.key, SUM(c.started)::bigint, SUM(c.approved)::bigint
	FROM fraud_counters c
	WHERE c.bucket >= $1 AND c.bucket < $2
		AND c.bucket >= COALESCE((SELECT MAX(COALESCE(b.lifted_at, b.expires_at)) FROM fraud_blocks b
			WHERE b.service_id = c.service_id AND b.scope = c.scope AND b.key = c.key), '-infinity')
	GROUP BY c.service_id, c.scope, c.key
	HAVING SUM(c.started) >= $3`
	sqlPurgeConversions = `DELETE FROM fraud_counters
	WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM fraud_counters WHERE bucket < $1 ORDER BY bucket LIMIT $2))`

	// Of concurrent CreateBlocks for one key, on any node, the advisory
	// lock lets one at a time look for an active block and insert: a
	// unique index cannot say "active", which depends on the time.
	sqlLockBlockKey = `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`
	sqlActiveBlock  = `SELECT ` + blockColumns + ` FROM fraud_blocks
	WHERE service_id = $1 AND scope = $2 AND key = $3 AND lifted_at IS NULL AND expires_at > $4
	ORDER BY created_at DESC LIMIT 1`
	sqlInsertBlock = `INSERT INTO fraud_blocks (` + blockColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	sqlGetBlock  = `SELECT ` + blockColumns + ` FROM fraud_blocks WHERE service_id = $1 AND id = $2`
	sqlLiftBlock = `UPDATE fraud_blocks SET lifted_at = $1, lifted_by = $2
	WHERE service_id = $3 AND id = $4 AND lifted_at IS NULL AND expires_at > $1`
)

func scanBlock(row pgx.Row) (*otpd.Block, error) {
	var (
		b                otpd.Block
		scope            string
		created, expires time.Time
		lifted           *time.Time
	)
	err := row.Scan(&b.ID, &b.ServiceID, &scope, &b.Key, &b.Level, &b.Reason, &b.CreatedBy, &b.Started,
		&b.Approved, &created, &expires, &lifted, &b.LiftedBy)
	if err != nil {
		return nil, err
	}
	b.Scope = otpd.BlockScope(scope)
	b.CreatedAt, b.ExpiresAt, b.LiftedAt = fromTS(created), fromTS(expires), fromNullTS(lifted)
	return &b, nil
}

// AddConversions adds the deltas to their buckets in one statement.
func (s *Store) AddConversions(ctx context.Context, deltas []otpd.ConversionDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	// Sum duplicates first: one statement may not update a row twice.
	type bucketKey struct {
		service, scope, key string
		bucket              int64
	}
	sums := map[bucketKey]*otpd.ConversionDelta{}
	var keys []bucketKey
	for _, d := range deltas {
		k := bucketKey{d.ServiceID, string(d.Scope), d.Key, d.Bucket.UnixMilli()}
		if c := sums[k]; c != nil {
			c.Started += d.Started
			c.Approved += d.Approved
			continue
		}
		c := d
		sums[k] = &c
		keys = append(keys, k)
	}
	n := len(keys)
	svc, scope, key := make([]string, n), make([]string, n), make([]string, n)
	bucket, started, approved := make([]time.Time, n), make([]int64, n), make([]int64, n)
	for i, k := range keys {
		d := sums[k]
		svc[i], scope[i], key[i] = d.ServiceID, string(d.Scope), d.Key
		bucket[i], started[i], approved[i] = ts(d.Bucket), d.Started, d.Approved
	}
	if _, err := s.pool.Exec(ctx, sqlAddConversions, svc, scope, key, bucket, started, approved); err != nil {
		return fmt.Errorf("postgres: add conversions: %w", err)
	}
	return nil
}

// ConversionStats sums the buckets in [from, to) per key.
func (s *Store) ConversionStats(ctx context.Context, from, to time.Time, minStarted int64) ([]otpd.ConversionStat, error) {
	rows, err := s.pool.Query(ctx, sqlConversionStats, ts(from), ts(to), minStarted)
	if err != nil {
		return nil, fmt.Errorf("postgres: conversion stats: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (otpd.ConversionStat, error) {
		var c otpd.ConversionStat
		var scope string
		err := row.Scan(&c.ServiceID, &scope, &c.Key, &c.Started, &c.Approved)
		c.Scope = otpd.BlockScope(scope)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: conversion stats: %w", err)
	}
	return out, nil
}

// PurgeConversions deletes up to limit buckets that begin before t.
func (s *Store) PurgeConversions(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.execCount(ctx, sqlPurgeConversions, limit, ts(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: purge conversions: %w", err)
	}
	return n, nil
}

// CreateBlock inserts b unless its key has an active block, holding the
// key's advisory lock so that nodes judging at once make one block.
func (s *Store) CreateBlock(ctx context.Context, b *otpd.Block, ev *otpd.Event) (*otpd.Block, error) {
	var existing *otpd.Block
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		existing = nil
		lockKey := b.ServiceID + " " + string(b.Scope) + " " + b.Key
		if _, err := tx.Exec(ctx, sqlLockBlockKey, lockKey); err != nil {
			return err
		}
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM services WHERE id = $1`, b.ServiceID).Scan(&one); isNoRows(err) {
			return notFound("service", b.ServiceID)
		} else if err != nil {
			return err
		}
		cur, err := scanBlock(tx.QueryRow(ctx, sqlActiveBlock, b.ServiceID, string(b.Scope), b.Key, ts(b.CreatedAt)))
		switch {
		case err == nil:
			existing = cur
			return nil
		case !isNoRows(err):
			return err
		}
		batch := &pgx.Batch{}
		batch.Queue(sqlInsertBlock, b.ID, b.ServiceID, string(b.Scope), b.Key, b.Level, b.Reason, b.CreatedBy,
			b.Started, b.Approved, ts(b.CreatedAt), ts(b.ExpiresAt), nullTS(b.LiftedAt), b.LiftedBy)
		if ev != nil {
			args, err := eventArgs(s.sealer, ev)
			if err != nil {
				return err
			}
			batch.Queue(sqlInsertEvent, args...)
		}
		_, err = execBatch(ctx, tx, batch)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: create block: %w", err)
	}
	return existing, nil
}

// GetBlock returns a block of the service.
func (s *Store) GetBlock(ctx context.Context, serviceID, id string) (*otpd.Block, error) {
	b, err := scanBlock(s.pool.QueryRow(ctx, sqlGetBlock, serviceID, id))
	if isNoRows(err) {
		return nil, fmt.Errorf("postgres: get block: %w", notFound("block", id))
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get block %s: %w", id, err)
	}
	return b, nil
}

// ListBlocks returns the blocks matching f, newest first.
func (s *Store) ListBlocks(ctx context.Context, f otpd.BlockFilter) ([]*otpd.Block, error) {
	var q strings.Builder
	q.WriteString(`SELECT ` + blockColumns + ` FROM fraud_blocks WHERE true`)
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.ServiceID != "" {
		q.WriteString(" AND service_id = " + arg(f.ServiceID))
	}
	if !f.ActiveAt.IsZero() {
		q.WriteString(" AND lifted_at IS NULL AND expires_at > " + arg(ts(f.ActiveAt)))
	}
	if f.Scope != "" {
		q.WriteString(" AND scope = " + arg(string(f.Scope)) + " AND key = " + arg(f.Key))
	}
	if !f.Since.IsZero() {
		q.WriteString(" AND created_at >= " + arg(ts(f.Since)))
	}
	if f.Before != "" {
		q.WriteString(" AND id < " + arg(f.Before))
	}
	q.WriteString(" ORDER BY id DESC LIMIT " + arg(sqlLimit(f.Limit)))
	rows, err := s.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list blocks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*otpd.Block, error) { return scanBlock(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list blocks: %w", err)
	}
	return out, nil
}

// LiftBlock lifts an active block and writes ev, in one transaction.
func (s *Store) LiftBlock(ctx context.Context, b *otpd.Block, ev *otpd.Event) error {
	batch := &pgx.Batch{}
	batch.Queue(sqlLiftBlock, ts(b.LiftedAt), b.LiftedBy, b.ServiceID, b.ID)
	if ev != nil {
		args, err := eventArgs(s.sealer, ev)
		if err != nil {
			return fmt.Errorf("postgres: lift block: %w", err)
		}
		batch.Queue(sqlInsertEvent, args...)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		n, err := execBatch(ctx, tx, batch)
		if err != nil {
			return err
		}
		if n[0] == 0 {
			return notFound("active block", b.ID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: lift block: %w", err)
	}
	return nil
}
