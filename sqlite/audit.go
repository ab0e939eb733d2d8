package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/otpd/otpd"
)

const (
	auditColumns   = `id, at, actor, action, service_id, target, details`
	sqlAppendAudit = `INSERT INTO audit_log (` + auditColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)`
	sqlListAudit   = `SELECT ` + auditColumns + ` FROM audit_log WHERE 1 = 1`
)

// AppendAudit appends an entry to the audit log.
func (s *Store) AppendAudit(ctx context.Context, e *otpd.AuditEntry) error {
	details, err := encodeAuditDetails(e.Details)
	if err != nil {
		return fmt.Errorf("sqlite: append audit: %w", err)
	}
	err = s.write(ctx, func(tx *txn) error {
		_, err := tx.exec(sqlAppendAudit, e.ID, millis(e.At), e.Actor, e.Action, e.ServiceID, e.Target, details)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: append audit: %w", err)
	}
	return nil
}

// ListAudit returns the entries that match f, last appended first.
func (s *Store) ListAudit(ctx context.Context, f otpd.AuditFilter) ([]*otpd.AuditEntry, error) {
	var q strings.Builder
	q.WriteString(sqlListAudit)
	var args []any
	if f.ServiceID != "" {
		q.WriteString(` AND service_id = ?`)
		args = append(args, f.ServiceID)
	}
	if f.Action != "" {
		q.WriteString(` AND action = ?`)
		args = append(args, f.Action)
	}
	if !f.Since.IsZero() {
		q.WriteString(` AND at >= ?`)
		args = append(args, millis(f.Since))
	}
	if f.Before != "" {
		// Entries are never deleted, so the cursor's entry is there; an
		// id this store never wrote falls back to id (time) order.
		q.WriteString(` AND seq < COALESCE((SELECT seq FROM audit_log WHERE id = ?),
			(SELECT COALESCE(MIN(seq), 9223372036854775807) FROM audit_log WHERE id >= ?))`)
		args = append(args, f.Before, f.Before)
	}
	q.WriteString(` ORDER BY seq DESC LIMIT ?`)
	args = append(args, sqlLimit(f.Limit))
	rows, err := s.readRows(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	defer rows.Close()
	var out []*otpd.AuditEntry
	for rows.Next() {
		var e otpd.AuditEntry
		var at int64
		var details string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.ServiceID, &e.Target, &details); err != nil {
			return nil, fmt.Errorf("sqlite: list audit: %w", err)
		}
		e.At = fromMillis(at)
		if e.Details, err = decodeAuditDetails([]byte(details)); err != nil {
			return nil, fmt.Errorf("sqlite: list audit: entry %s: %w", e.ID, err)
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	return out, nil
}

// encodeAuditDetails stores details as a JSON object ({} for none).
func encodeAuditDetails(d map[string]any) (string, error) {
	if d == nil {
		return "{}", nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("details: %w", err)
	}
	return string(b), nil
}

func decodeAuditDetails(b []byte) (map[string]any, error) {
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("details: %w", err)
	}
	if len(d) == 0 {
		return nil, nil
	}
	return d, nil
}
