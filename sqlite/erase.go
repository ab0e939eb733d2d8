package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/otpd/otpd"
)

const (
	sqlEraseEvents = `DELETE FROM events WHERE service_id = ? AND verification_id IN (
		SELECT id FROM verifications WHERE service_id = ? AND to_key IN (SELECT value FROM json_each(?)))`
	sqlEraseVerifications = `DELETE FROM verifications
	WHERE service_id = ? AND to_key IN (SELECT value FROM json_each(?))`
	sqlEraseResponses = `DELETE FROM idempotency_keys WHERE subject IN (SELECT value FROM json_each(?))`
)

// EraseDestination deletes the service's data about one destination.
func (s *Store) EraseDestination(ctx context.Context, serviceID string, toKeys []string) (otpd.Erasure, error) {
	var out otpd.Erasure
	if len(toKeys) == 0 {
		return out, nil
	}
	keys, err := json.Marshal(toKeys)
	if err != nil {
		return out, fmt.Errorf("sqlite: erase destination: %w", err)
	}
	err = s.write(ctx, func(tx *txn) error {
		out = otpd.Erasure{}
		for _, step := range []struct {
			query string
			args  []any
			n     *int
		}{
			{sqlEraseEvents, []any{serviceID, serviceID, string(keys)}, &out.Events},
			{sqlEraseVerifications, []any{serviceID, string(keys)}, &out.Verifications},
			{sqlEraseResponses, []any{string(keys)}, &out.Responses},
		} {
			res, err := tx.exec(step.query, step.args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			*step.n = int(n)
		}
		return nil
	})
	// Whatever the outcome: no copy of an erased verification stays in
	// memory (recent.go).
	s.recent.drop()
	if err != nil {
		return otpd.Erasure{}, fmt.Errorf("sqlite: erase destination: %w", err)
	}
	return out, nil
}
