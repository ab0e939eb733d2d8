package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/internal/rowcodec"
)

var _ otpd.VerificationImporter = (*Store)(nil)

// ImportVerifications inserts vs, their messages, the messages' refs and
// vs' events in one transaction (otpd.VerificationImporter), with the row
// encodings of CreateVerification and UpdateVerification. The inserts go
// as one batch, one round trip; nothing is notified, since imported
// verifications queue no message a node would need waking for.
func (s *Store) ImportVerifications(ctx context.Context, vs []*otpd.Verification) error {
	b := &pgx.Batch{}
	for _, v := range vs {
		if err := queueImport(s.sealer, b, v); err != nil {
			return fmt.Errorf("postgres: import verification %s: %w", v.ID, err)
		}
	}
	if _, err := execBatch(ctx, s.pool, b); err != nil {
		return fmt.Errorf("postgres: import verifications: %w", err)
	}
	return nil
}

// queueImport queues v's inserts on b.
func queueImport(sl otpd.Sealer, b *pgx.Batch, v *otpd.Verification) error {
	args, err := verificationArgs(v)
	if err == nil {
		err = rowcodec.SealVerificationArgs(sl, v.ID, args)
	}
	if err != nil {
		return err
	}
	b.Queue(sqlInsertVerification, append([]any{v.ID, v.ServiceID}, args...)...)
	for _, m := range v.Messages {
		if err := checkMessage(v, m); err != nil {
			return err
		}
		queueInsertMessage(b, v, m)
		for _, ref := range m.Refs {
			b.Queue(sqlInsertRef, ref, m.ID, v.ID, v.ServiceID)
		}
	}
	return queueInsertEvents(sl, b, v)
}
