package sqlite

import "context"

// Pragma returns a PRAGMA's value on a connection of the write pool (write)
// or the read pool.
func (s *Store) Pragma(ctx context.Context, write bool, name string) (string, error) {
	db := s.r
	if write {
		db = s.w
	}
	var v string
	err := db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	return v, err
}

// ExecRead runs a statement on the read pool.
func (s *Store) ExecRead(ctx context.Context, query string) error {
	_, err := s.r.ExecContext(ctx, query)
	return err
}
