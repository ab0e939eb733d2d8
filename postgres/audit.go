package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otpd/otpd"
)

const (
	auditColumns   = `id, at, actor, action, service_id, target, details`
	sqlAppendAudit = `INSERT INTO audit_log (` + auditColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`
	sqlListAudit   = `SELECT ` + auditColumns + ` FROM audit_log WHERE true`
)

// AppendAudit appends an entry to the audit log.
func (s *Store) AppendAudit(ctx context.Context, e *otpd.AuditEntry) error {
	details := []byte("{}")
	if e.Details != nil {
		var err error
		if details, err = json.Marshal(e.Details); err != nil {
			return fmt.Errorf("postgres: append audit: details: %w", err)
		}
	}
	if _, err := s.pool.Exec(ctx, sqlAppendAudit, e.ID, ts(e.At), e.Actor, e.Action, e.ServiceID, e.Target, string(details)); err != nil {
		return fmt.Errorf("postgres: append audit: %w", err)
	}
	return nil
}

// ListAudit returns the entries that match f, last appended first. With
// many nodes, append order is the order in which the inserts took their
// sequence numbers, which is as close to "when" as the nodes can agree on.
func (s *Store) ListAudit(ctx context.Context, f otpd.AuditFilter) ([]*otpd.AuditEntry, error) {
	var q strings.Builder
	q.WriteString(sqlListAudit)
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.ServiceID != "" {
		q.WriteString(` AND service_id = ` + arg(f.ServiceID))
	}
	if f.Action != "" {
		q.WriteString(` AND action = ` + arg(f.Action))
	}
	if !f.Since.IsZero() {
		q.WriteString(` AND at >= ` + arg(ts(f.Since)))
	}
	if f.Before != "" {
		// Entries are never deleted, so the cursor's entry is there; an
		// id this store never wrote falls back to id (time) order.
		c := arg(f.Before)
		q.WriteString(` AND seq < COALESCE((SELECT seq FROM audit_log WHERE id = ` + c + `),
			(SELECT COALESCE(MIN(seq), 9223372036854775807) FROM audit_log WHERE id >= ` + c + `))`)
	}
	q.WriteString(` ORDER BY seq DESC LIMIT ` + arg(sqlLimit(f.Limit)))
	rows, err := s.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*otpd.AuditEntry, error) {
		var e otpd.AuditEntry
		var at time.Time
		var details []byte
		if err := row.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.ServiceID, &e.Target, &details); err != nil {
			return nil, err
		}
		e.At = fromTS(at)
		if err := json.Unmarshal(details, &e.Details); err != nil {
			return nil, fmt.Errorf("entry %s: details: %w", e.ID, err)
		}
		if len(e.Details) == 0 {
			e.Details = nil
		}
		return &e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit: %w", err)
	}
	return out, nil
}
