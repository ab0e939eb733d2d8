package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/otpd/otpd"
)

const blockColumns = `id, service_id, scope, key, level, reason, created_by, started, approved,
	created_at, expires_at, lifted_at, lifted_by`

const (
	// Selecting from services drops the deltas of a deleted service
	// instead of failing the batch on its foreign key.
	sqlAddConversion = `INSERT INTO fraud_counters (service_id, scope, key, bucket, started, approved)
	SELECT id, ?, ?, ?, ?, ? FROM services WHERE id = ?
	ON CONFLICT (service_id, scope, key, bucket) DO UPDATE
	SET started = started + excluded.started, approved = approved + excluded.approved`
	// A bucket counts only from the end of the key's last block: an
	// active block's end is in the future, so its key has no stats.
	sqlConversionStats = `SELECT c.service_id, c.scope, c.key, SUM(c.started), SUM(c.approved)
	FROM fraud_counters c INDEXED BY fraud_counters_bucket
	WHERE c.bucket >= ? AND c.bucket < ?
		AND c.bucket >= COALESCE((SELECT MAX(COALESCE(b.lifted_at, b.expires_at)) FROM fraud_blocks b
			WHERE b.service_id = c.service_id AND b.scope = c.scope AND b.key = c.key), 0)
	GROUP BY c.service_id, c.scope, c.key
	HAVING SUM(c.started) >= ?`
	sqlPurgeConversions = `DELETE FROM fraud_counters
	WHERE rowid IN (
		SELECT rowid FROM fraud_counters INDEXED BY fraud_counters_bucket
		WHERE bucket < ? ORDER BY bucket LIMIT ?)`

	sqlActiveBlock = `SELECT ` + blockColumns + ` FROM fraud_blocks INDEXED BY fraud_blocks_key
	WHERE service_id = ? AND scope = ? AND key = ? AND lifted_at IS NULL AND expires_at > ?
	ORDER BY created_at DESC LIMIT 1`
	sqlInsertBlock = `INSERT INTO fraud_blocks (` + blockColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlGetBlock  = `SELECT ` + blockColumns + ` FROM fraud_blocks WHERE service_id = ? AND id = ?`
	sqlLiftBlock = `UPDATE fraud_blocks SET lifted_at = ?, lifted_by = ?
	WHERE service_id = ? AND id = ? AND lifted_at IS NULL AND expires_at > ?`
	sqlListBlocks = `SELECT ` + blockColumns + ` FROM fraud_blocks WHERE 1 = 1`
)

func scanBlock(sc interface{ Scan(...any) error }) (*otpd.Block, error) {
	var (
		b                otpd.Block
		scope            string
		created, expires int64
		lifted           sql.NullInt64
	)
	err := sc.Scan(&b.ID, &b.ServiceID, &scope, &b.Key, &b.Level, &b.Reason, &b.CreatedBy, &b.Started,
		&b.Approved, &created, &expires, &lifted, &b.LiftedBy)
	if err != nil {
		return nil, err
	}
	b.Scope = otpd.BlockScope(scope)
	b.CreatedAt, b.ExpiresAt, b.LiftedAt = fromMillis(created), fromMillis(expires), fromNullMillis(lifted)
	return &b, nil
}

// AddConversions adds the deltas to their buckets in one transaction.
func (s *Store) AddConversions(ctx context.Context, deltas []otpd.ConversionDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *txn) error {
		for _, d := range deltas {
			if _, err := tx.exec(sqlAddConversion, string(d.Scope), d.Key, millis(d.Bucket), d.Started, d.Approved, d.ServiceID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: add conversions: %w", err)
	}
	return nil
}

// ConversionStats sums the buckets in [from, to) per key.
func (s *Store) ConversionStats(ctx context.Context, from, to time.Time, minStarted int64) ([]otpd.ConversionStat, error) {
	rows, err := s.readRows(ctx, sqlConversionStats, millis(from), millis(to), minStarted)
	if err != nil {
		return nil, fmt.Errorf("sqlite: conversion stats: %w", err)
	}
	defer rows.Close()
	var out []otpd.ConversionStat
	for rows.Next() {
		var c otpd.ConversionStat
		var scope string
		if err := rows.Scan(&c.ServiceID, &scope, &c.Key, &c.Started, &c.Approved); err != nil {
			return nil, fmt.Errorf("sqlite: conversion stats: %w", err)
		}
		c.Scope = otpd.BlockScope(scope)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: conversion stats: %w", err)
	}
	return out, nil
}

// PurgeConversions deletes up to limit buckets that begin before t.
func (s *Store) PurgeConversions(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.execCount(ctx, sqlPurgeConversions, limit, millis(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge conversions: %w", err)
	}
	return n, nil
}

// CreateBlock inserts b unless its key has an active block. Writes are
// serialized (one writer, BEGIN IMMEDIATE, also across processes), so the
// look-up and the insert cannot interleave with another CreateBlock.
func (s *Store) CreateBlock(ctx context.Context, b *otpd.Block, ev *otpd.Event) (*otpd.Block, error) {
	var existing *otpd.Block
	err := s.write(ctx, func(tx *txn) error {
		existing = nil
		var one int
		if err := tx.queryRow(sqlServiceExists, b.ServiceID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return notFound("service", b.ServiceID)
		} else if err != nil {
			return err
		}
		cur, err := scanBlock(tx.queryRow(sqlActiveBlock, b.ServiceID, string(b.Scope), b.Key, millis(b.CreatedAt)))
		switch {
		case err == nil:
			existing = cur
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.exec(sqlInsertBlock, b.ID, b.ServiceID, string(b.Scope), b.Key, b.Level, b.Reason, b.CreatedBy,
			b.Started, b.Approved, millis(b.CreatedAt), millis(b.ExpiresAt), nullMillis(b.LiftedAt), b.LiftedBy); err != nil {
			return err
		}
		if ev != nil {
			return insertEvent(tx, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: create block: %w", err)
	}
	return existing, nil
}

// GetBlock returns a block of the service.
func (s *Store) GetBlock(ctx context.Context, serviceID, id string) (*otpd.Block, error) {
	b, err := scanBlock(s.readRow(ctx, sqlGetBlock, serviceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get block: %w", notFound("block", id))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get block %s: %w", id, err)
	}
	return b, nil
}

// ListBlocks returns the blocks matching f, newest first.
func (s *Store) ListBlocks(ctx context.Context, f otpd.BlockFilter) ([]*otpd.Block, error) {
	var q strings.Builder
	q.WriteString(sqlListBlocks)
	var args []any
	add := func(cond string, a ...any) {
		q.WriteString(" AND " + cond)
		args = append(args, a...)
	}
	if f.ServiceID != "" {
		add("service_id = ?", f.ServiceID)
	}
	if !f.ActiveAt.IsZero() {
		add("lifted_at IS NULL AND expires_at > ?", millis(f.ActiveAt))
	}
	if f.Scope != "" {
		add("scope = ? AND key = ?", string(f.Scope), f.Key)
	}
	if !f.Since.IsZero() {
		add("created_at >= ?", millis(f.Since))
	}
	if f.Before != "" {
		add("id < ?", f.Before)
	}
	q.WriteString(" ORDER BY id DESC LIMIT ?")
	args = append(args, sqlLimit(f.Limit))
	rows, err := s.readRows(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list blocks: %w", err)
	}
	defer rows.Close()
	var out []*otpd.Block
	for rows.Next() {
		b, err := scanBlock(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list blocks: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list blocks: %w", err)
	}
	return out, nil
}

// LiftBlock lifts an active block and writes ev, in one transaction.
func (s *Store) LiftBlock(ctx context.Context, b *otpd.Block, ev *otpd.Event) error {
	err := s.write(ctx, func(tx *txn) error {
		if err := execOne(tx, "active block", b.ID, sqlLiftBlock, millis(b.LiftedAt), b.LiftedBy, b.ServiceID, b.ID, millis(b.LiftedAt)); err != nil {
			return err
		}
		if ev != nil {
			return insertEvent(tx, ev)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: lift block: %w", err)
	}
	return nil
}
