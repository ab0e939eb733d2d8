package sqlite

import (
	"context"
	"fmt"
)

const (
	sqlInsertFingerprint = `INSERT INTO key_fingerprints (key_id, fingerprint) VALUES (?, ?)
	ON CONFLICT (key_id) DO NOTHING`
	sqlGetFingerprint = `SELECT fingerprint FROM key_fingerprints WHERE key_id = ?`
)

// RegisterKeyFingerprints records the fingerprints of key ids not seen yet
// and returns the recorded fingerprint of each id in fps.
func (s *Store) RegisterKeyFingerprints(ctx context.Context, fps map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(fps))
	err := s.write(ctx, func(tx *txn) error {
		for id, fp := range fps {
			if _, err := tx.exec(sqlInsertFingerprint, id, fp); err != nil {
				return err
			}
			var got string
			if err := tx.queryRow(sqlGetFingerprint, id).Scan(&got); err != nil {
				return err
			}
			out[id] = got
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: register key fingerprints: %w", err)
	}
	return out, nil
}
