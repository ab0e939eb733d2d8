package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/internal/rowcodec"
)

var _ otpd.VerificationImporter = (*Store)(nil)

// importRow is a verification's insert arguments, made (sealed) before the
// write like CreateVerification's.
type importRow struct {
	v      *otpd.Verification
	args   []any // sqlInsertVerification's, id and service_id first
	events []eventRow
}

// ImportVerifications inserts vs, their messages, the messages' refs and
// vs' events in one transaction (otpd.VerificationImporter). It uses the
// row encodings of CreateVerification and UpdateVerification, so what it
// writes reads back as theirs does. The rows are sealed on the caller's
// goroutine, so that callers preparing batches in parallel keep the
// writer busy with inserts only. The batch is a transaction of its own
// (writeAlone), not a write of the group commit.
func (s *Store) ImportVerifications(ctx context.Context, vs []*otpd.Verification) error {
	rows := make([]importRow, len(vs))
	for i, v := range vs {
		args, err := verificationArgs(v)
		if err == nil {
			err = rowcodec.SealVerificationArgs(s.sealer, v.ID, args)
		}
		for _, m := range v.Messages {
			if err == nil {
				err = checkMessage(v, m)
			}
		}
		var events []eventRow
		if err == nil {
			events, err = prepareEvents(s.sealer, v)
		}
		if err != nil {
			return fmt.Errorf("sqlite: import verification %s: %w", v.ID, err)
		}
		rows[i] = importRow{v: v, args: append([]any{v.ID, v.ServiceID}, args...), events: events}
	}
	err := s.writeImport(ctx, func(tx *txn) error {
		// Bound to the transaction once for the batch: txn.exec binds on
		// every call, an allocation and a lock per row that a batch of
		// thousands of rows notices.
		insV, insM, insR, insE := tx.stmt(sqlInsertVerification), tx.stmt(sqlInsertMessage), tx.stmt(sqlInsertRef), tx.stmt(sqlInsertEvent)
		defer closeAll(insV, insM, insR, insE)
		for _, r := range rows {
			v := r.v
			if _, err := insV.ExecContext(tx.ctx, r.args...); err != nil {
				return fmt.Errorf("verification %s: %w", v.ID, err)
			}
			for _, m := range v.Messages {
				args := append([]any{m.ID, v.ID, v.ServiceID}, messageArgs(m)...)
				if _, err := insM.ExecContext(tx.ctx, append(args, nullMillis(m.LeaseUntil))...); err != nil {
					return fmt.Errorf("message %s: %w", m.ID, err)
				}
				for _, ref := range m.Refs {
					if _, err := insR.ExecContext(tx.ctx, ref, m.ID, v.ID, v.ServiceID); err != nil {
						return fmt.Errorf("message %s ref: %w", m.ID, err)
					}
				}
			}
			for _, e := range r.events {
				if _, err := insE.ExecContext(tx.ctx, e...); err != nil {
					return fmt.Errorf("event %s: %w", e[0], err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: import verifications: %w", err)
	}
	return nil
}

// closeAll closes statements bound to a transaction; the prepared
// statements they were bound from stay open.
func closeAll(stmts ...*sql.Stmt) {
	for _, st := range stmts {
		st.Close()
	}
}
