package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

const (
	sqlInsertFingerprint = `INSERT INTO key_fingerprints (key_id, fingerprint) VALUES ($1, $2)
	ON CONFLICT (key_id) DO NOTHING`
	sqlGetFingerprint = `SELECT fingerprint FROM key_fingerprints WHERE key_id = $1`
)

// RegisterKeyFingerprints records the fingerprints of key ids not seen yet
// and returns the recorded fingerprint of each id in fps. Of nodes
// registering the same id at once, the first insert to commit wins and the
// others read it.
func (s *Store) RegisterKeyFingerprints(ctx context.Context, fps map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(fps))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for id, fp := range fps {
			if _, err := tx.Exec(ctx, sqlInsertFingerprint, id, fp); err != nil {
				return err
			}
			var got string
			if err := tx.QueryRow(ctx, sqlGetFingerprint, id).Scan(&got); err != nil {
				return err
			}
			out[id] = got
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: register key fingerprints: %w", err)
	}
	return out, nil
}
