package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A batch runs without savepoints. A write that fails after changing rows,
// or panics, makes the batch run again with a savepoint per write: then
// only that write is undone, every other write of the batch is committed
// once, and a write that failed before changing anything costs no rerun.
func TestBatchWithoutSavepoints(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	insert := func(tx *txn, id string) error {
		_, err := tx.exec(`INSERT INTO key_fingerprints (key_id, fingerprint) VALUES (?, 'f')`, id)
		return err
	}
	type write struct {
		name string
		fn   func(*txn) error
		err  error // what its caller gets
		kept bool  // its row is there after the batch
	}
	tests := []struct {
		name   string
		writes []write
		rerun  bool // the batch ran a second time, with savepoints
	}{
		{
			name: "all succeed",
			writes: []write{
				{name: "a", fn: func(tx *txn) error { return insert(tx, "a") }, kept: true},
				{name: "b", fn: func(tx *txn) error { return insert(tx, "b") }, kept: true},
			},
		},
		{
			name: "a failure before any change is not rerun",
			writes: []write{
				{name: "a", fn: func(tx *txn) error { return insert(tx, "a") }, kept: true},
				{name: "clean", fn: func(tx *txn) error {
					var n int
					if err := tx.queryRow(`SELECT count(*) FROM key_fingerprints`).Scan(&n); err != nil {
						return err
					}
					return boom
				}, err: boom},
				{name: "none", fn: func(tx *txn) error {
					// An UPDATE that matches nothing changes nothing.
					if _, err := tx.exec(`UPDATE key_fingerprints SET fingerprint = 'x' WHERE key_id = 'nope'`); err != nil {
						return err
					}
					return boom
				}, err: boom},
				{name: "b", fn: func(tx *txn) error { return insert(tx, "b") }, kept: true},
			},
		},
		{
			name: "a failure after a change undoes only itself",
			writes: []write{
				{name: "a", fn: func(tx *txn) error { return insert(tx, "a") }, kept: true},
				{name: "dirty", fn: func(tx *txn) error {
					if err := insert(tx, "dirty"); err != nil {
						return err
					}
					return boom
				}, err: boom},
				{name: "b", fn: func(tx *txn) error { return insert(tx, "b") }, kept: true},
			},
			rerun: true,
		},
		{
			name: "a failed statement undoes only its write",
			writes: []write{
				{name: "a", fn: func(tx *txn) error { return insert(tx, "a") }, kept: true},
				{name: "twice", fn: func(tx *txn) error {
					if err := insert(tx, "twice"); err != nil {
						return err
					}
					return insert(tx, "twice") // a constraint failure
				}, err: errors.New("UNIQUE constraint failed")},
				{name: "b", fn: func(tx *txn) error { return insert(tx, "b") }, kept: true},
			},
			rerun: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := openInternal(t)
			hold := holdWriter(t, s)
			runs := make([]atomic.Int32, len(tt.writes))
			errs := make([]error, len(tt.writes))
			var wg sync.WaitGroup
			for i, w := range tt.writes {
				wg.Go(func() {
					errs[i] = s.write(ctx, func(tx *txn) error {
						runs[i].Add(1)
						return w.fn(tx)
					})
				})
			}
			require.Eventually(t, func() bool { return s.WriteBacklog() == 1+len(tt.writes) },
				5*time.Second, time.Millisecond, "the writes queue behind the held one")
			close(hold)
			wg.Wait()

			rerun := false
			for i, w := range tt.writes {
				if w.err == nil {
					require.NoError(t, errs[i], w.name)
				} else {
					require.ErrorContains(t, errs[i], w.err.Error(), w.name)
				}
				var n int
				require.NoError(t, s.r.QueryRowContext(ctx, `SELECT count(*) FROM key_fingerprints WHERE key_id = ?`, w.name).Scan(&n))
				if w.kept {
					require.Equal(t, 1, n, "%s is written once", w.name)
				} else {
					require.Zero(t, n, "%s is undone", w.name)
				}
				rerun = rerun || runs[i].Load() > 1
			}
			require.Equal(t, tt.rerun, rerun, "whether the batch ran again with savepoints")
		})
	}
}

// A write that panics inside a batch panics in its caller, leaves nothing,
// and the batch's other writes are committed.
func TestBatchPanicReranWithSavepoints(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	hold := holdWriter(t, s)
	var wg sync.WaitGroup
	var panicked atomic.Value
	for i := range 4 {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					panicked.Store(fmt.Sprint(p))
				}
			}()
			err := s.write(t.Context(), func(tx *txn) error {
				if _, err := tx.exec(`INSERT INTO key_fingerprints (key_id, fingerprint) VALUES (?, 'f')`, fmt.Sprint(i)); err != nil {
					return err
				}
				if i == 2 {
					panic("boom")
				}
				return nil
			})
			require.NoError(t, err)
		})
	}
	require.Eventually(t, func() bool { return s.WriteBacklog() == 5 }, 5*time.Second, time.Millisecond)
	close(hold)
	wg.Wait()
	require.Equal(t, "boom", panicked.Load())
	var keys []string
	rows, err := s.r.QueryContext(context.Background(), `SELECT key_id FROM key_fingerprints ORDER BY key_id`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"0", "1", "3"}, keys)
}

// openInternal opens a store in a temporary directory, closed when t ends.
func openInternal(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "otpd.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// holdWriter keeps the writer busy until the returned channel is closed,
// so that writes sent meanwhile queue and then run as one batch.
func holdWriter(t *testing.T, s *Store) chan struct{} {
	t.Helper()
	hold, held := make(chan struct{}), make(chan struct{})
	go s.write(t.Context(), func(*txn) error { close(held); <-hold; return nil }) //nolint:errcheck // a no-op
	<-held
	return hold
}
