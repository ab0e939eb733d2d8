package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/otpd/otpd"
)

const (
	sqlEraseEvents = `DELETE FROM events WHERE service_id = $1 AND verification_id IN (
		SELECT id FROM verifications WHERE service_id = $1 AND to_key = ANY($2))`
	sqlEraseVerifications = `DELETE FROM verifications WHERE service_id = $1 AND to_key = ANY($2)`
	sqlEraseResponses     = `DELETE FROM idempotency_keys WHERE subject = ANY($1)`
)

// EraseDestination deletes the service's data about one destination.
func (s *Store) EraseDestination(ctx context.Context, serviceID string, toKeys []string) (otpd.Erasure, error) {
	var out otpd.Erasure
	if len(toKeys) == 0 {
		return out, nil
	}
	b := &pgx.Batch{}
	b.Queue(sqlEraseEvents, serviceID, toKeys)
	b.Queue(sqlEraseVerifications, serviceID, toKeys)
	b.Queue(sqlEraseResponses, toKeys)
	// A batch outside a transaction runs as one implicit transaction.
	n, err := execBatch(ctx, s.pool, b)
	if err != nil {
		return otpd.Erasure{}, fmt.Errorf("postgres: erase destination: %w", err)
	}
	out.Events, out.Verifications, out.Responses = int(n[0]), int(n[1]), int(n[2])
	return out, nil
}
