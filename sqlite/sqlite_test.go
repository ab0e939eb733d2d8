package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/sqlite"
	"github.com/otpd/otpd/storetest"
)

func openStore(t testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openStore(t, filepath.Join(t.TempDir(), "otpd.db"))
	})
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "otpd.db")
	now := time.Now()

	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	svc := storetest.NewService(now)
	require.NoError(t, s.CreateService(ctx, svc))
	v := storetest.NewVerification(svc, now)
	require.NoError(t, s.CreateVerification(ctx, v))
	require.NoError(t, s.Close())

	s = openStore(t, path)
	got, err := s.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, v.ID, got.ID)
	require.Len(t, got.Messages, 1)
	claimed, err := s.ClaimMessages(ctx, now, time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1, "the queued message survives a restart")
}

func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "otpd.db")
	for range 3 {
		s, err := sqlite.Open(t.Context(), path)
		require.NoError(t, err)
		require.NoError(t, s.Close())
	}
	db := rawDB(t, path)
	var versions, tables int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&versions))
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'verifications'`).Scan(&tables))
	require.Equal(t, migrationFiles(t), versions, "each migration applied once")
	require.Equal(t, 1, tables)
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "otpd.db")
	s := openStore(t, path, sqlite.WithBusyTimeout(7*time.Second))

	tests := []struct {
		write bool
		name  string
		want  string
	}{
		{true, "journal_mode", "wal"},
		{true, "synchronous", "2"}, // FULL
		{true, "foreign_keys", "1"},
		{true, "busy_timeout", "7000"},
		{true, "query_only", "0"},
		{true, "temp_store", "2"}, // MEMORY: savepoint sub-journals stay off disk
		{false, "journal_mode", "wal"},
		{false, "foreign_keys", "1"},
		{false, "busy_timeout", "7000"},
		{false, "query_only", "1"},
	}
	for _, tt := range tests {
		got, err := s.Pragma(ctx, tt.write, tt.name)
		require.NoError(t, err)
		require.Equal(t, tt.want, got, "%s (write pool: %v)", tt.name, tt.write)
	}

	// WAL is a property of the file: a fresh connection sees it too.
	var mode string
	require.NoError(t, rawDB(t, path).QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	require.Equal(t, "wal", mode)
}

func TestFileMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "otpd.db")
	openStore(t, path)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestPathWithSpecialCharacters(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a dir?x=1#frag%20")
	require.NoError(t, os.Mkdir(dir, 0o700))
	path := filepath.Join(dir, "otpd.db")
	s := openStore(t, path)
	require.NoError(t, s.Ping(t.Context()))
	_, err := os.Stat(path + "-wal")
	require.NoError(t, err, "SQLite uses the file that was asked for")
}

func TestTooNewSchemaIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "otpd.db")
	s, err := sqlite.Open(t.Context(), path)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	db := rawDB(t, path)
	_, err = db.Exec(`INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	_, err = sqlite.Open(t.Context(), path)
	require.ErrorIs(t, err, sqlite.ErrSchemaTooNew)
	require.ErrorContains(t, err, "9999")
}

func TestReadPoolIsReadOnly(t *testing.T) {
	t.Parallel()
	s := openStore(t, filepath.Join(t.TempDir(), "otpd.db"))
	require.Error(t, s.ExecRead(t.Context(), `CREATE TABLE x (y INTEGER)`))
}

func TestDurationsMustBeWholeSeconds(t *testing.T) {
	t.Parallel()
	s := openStore(t, filepath.Join(t.TempDir(), "otpd.db"))
	svc := storetest.NewService(time.Now())
	svc.Policy.ResendCooldown = 1500 * time.Millisecond
	require.ErrorContains(t, s.CreateService(t.Context(), svc), "whole number of seconds")
}

func TestUpdateVerificationPanicReleasesWriter(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openStore(t, filepath.Join(t.TempDir(), "otpd.db"))
	svc := storetest.NewService(time.Now())
	require.NoError(t, s.CreateService(ctx, svc))
	v := storetest.NewVerification(svc, time.Now())
	require.NoError(t, s.CreateVerification(ctx, v))

	require.Panics(t, func() {
		s.UpdateVerification(ctx, svc.ID, v.ID, func(v *otpd.Verification) error { //nolint:errcheck // it panics
			v.Attempts = 42
			panic("boom")
		})
	})
	// The write connection is free again, and nothing was written.
	got, err := s.UpdateVerification(ctx, svc.ID, v.ID, func(*otpd.Verification) error { return nil })
	require.NoError(t, err)
	require.Equal(t, v.Attempts, got.Attempts)
}

// UpdateVerification prepares its write from a read and writes it only if
// the verification did not change meanwhile: a write that came between is
// neither overwritten nor lost, and fn runs again on what it wrote.
func TestUpdateVerificationRunsAgainAfterAWriteBetween(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, svc, v := storeWithVerification(t)
	other := openStore(t, s.Path()) // another process on the file

	for _, messagesOnly := range []bool{false, true} {
		// The write between changes only a message: the version guards
		// messages too.
		calls := 0
		var seen []int
		got, err := s.UpdateVerification(ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
			calls++
			seen = append(seen, v.Attempts)
			if calls == 1 {
				_, err := other.UpdateVerification(ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
					if messagesOnly {
						v.Messages[0].Error = "between"
					} else {
						v.Attempts++
					}
					return nil
				})
				require.NoError(t, err)
			}
			v.Attempts++
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, 2, calls, "fn runs again after the write between")
		if messagesOnly {
			require.Equal(t, seen[0], seen[1])
			require.Equal(t, "between", got.Messages[0].Error)
		} else {
			require.Equal(t, seen[0]+1, seen[1], "the second call sees the write between")
		}
		read, err := s.GetVerification(ctx, svc.ID, v.ID)
		require.NoError(t, err)
		require.Equal(t, seen[1]+1, read.Attempts)
		require.Equal(t, got.Attempts, read.Attempts)
	}
}

// An update that starts from what a GetVerification read (recent.go) still
// sees a write that came after that read — here by another Store on the
// same file, as another process would — and erasing a destination leaves
// no copy for an update to start from.
func TestUpdateAfterGetSeesLaterWrites(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "otpd.db")
	s, other := openStore(t, path), openStore(t, path)
	now := time.Now()
	svc := storetest.NewService(now)
	require.NoError(t, s.CreateService(ctx, svc))
	v := storetest.NewVerification(svc, now)
	require.NoError(t, s.CreateVerification(ctx, v))

	read, err := s.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	_, err = other.UpdateVerification(ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
		v.Attempts++
		return nil
	})
	require.NoError(t, err)
	var seen []int
	got, err := s.UpdateVerification(ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
		seen = append(seen, v.Attempts)
		v.Attempts++
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []int{read.Attempts, read.Attempts + 1}, seen, "first from the read, then again from the store")
	require.Equal(t, read.Attempts+2, got.Attempts, "no write lost")

	_, err = s.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	_, err = s.EraseDestination(ctx, svc.ID, []string{v.ToKey})
	require.NoError(t, err)
	calls := 0
	_, err = s.UpdateVerification(ctx, svc.ID, v.ID, func(*otpd.Verification) error {
		calls++
		return nil
	})
	require.ErrorIs(t, err, otpd.ErrNotFound)
	require.Zero(t, calls, "the erased verification's copy was dropped")
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// Writes that wait together share one transaction (group commit); a write
// that fails must roll back only itself, and every write that succeeded
// must be there after a restart.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "otpd.db")
	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	now := time.Now()
	svc := storetest.NewService(now)
	require.NoError(t, s.CreateService(ctx, svc))
	const n = 64
	ids := make([]string, n)
	before := 0
	for i := range ids {
		v := storetest.NewVerification(svc, now)
		require.NoError(t, s.CreateVerification(ctx, v))
		ids[i], before = v.ID, v.Attempts
	}
	require.NotEqual(t, 7, before)
	boom := errors.New("boom")
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			_, err := s.UpdateVerification(ctx, svc.ID, id, func(v *otpd.Verification) error {
				v.Attempts = 7
				if i%2 == 1 {
					return boom
				}
				return nil
			})
			if i%2 == 1 {
				require.ErrorIs(t, err, boom)
			} else {
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.Zero(t, s.WriteBacklog(), "every answered write has left the backlog")
	require.NoError(t, s.Close())

	s, err = sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	for i, id := range ids {
		v, err := s.GetVerification(ctx, svc.ID, id)
		require.NoError(t, err)
		if i%2 == 1 {
			require.Equal(t, before, v.Attempts, "a failed write leaves nothing")
		} else {
			require.Equal(t, 7, v.Attempts, "a successful write is durable")
		}
	}
}

// A write whose context ends while it waits is not run; once Close has
// begun, writes are refused.
func TestWriteAfterCancelAndClose(t *testing.T) {
	t.Parallel()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "otpd.db"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, s.CreateService(ctx, storetest.NewService(time.Now())), context.Canceled)
	require.NoError(t, s.Close())
	require.Error(t, s.CreateService(context.Background(), storetest.NewService(time.Now())))
}

// migrationFiles counts the migrations the package embeds.
func migrationFiles(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			n++
		}
	}
	require.NotZero(t, n)
	return n
}

func TestStoreSealed(t *testing.T) {
	t.Parallel()
	sealer := otpd.NewKeyring(time.Now())
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openStore(t, filepath.Join(t.TempDir(), "otpd.db"), sqlite.WithSealer(sealer))
	})
}

// TestNoPersonalDataInClear greps the database's files for the personal
// data written through a sealing store.
func TestNoPersonalDataInClear(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "otpd.db")
	keyring := otpd.NewKeyring(time.Now())
	s := openStore(t, path, sqlite.WithSealer(keyring))
	p := storetest.WritePersonalData(t, s)
	require.NoError(t, s.Close())

	files, err := filepath.Glob(path + "*") // the database, its WAL and shared memory
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, plain := range p.Plain {
			require.NotContains(t, string(raw), plain, "%s holds %q in clear", filepath.Base(f), plain)
		}
	}

	// Reopened with the keyring it reads back; without it, it refuses
	// rather than showing ciphertext as a destination.
	p.CheckReadsBack(t, openStore(t, path, sqlite.WithSealer(keyring)))
	_, err = openStore(t, path).GetVerification(t.Context(), p.Service.ID, p.Verification.ID)
	require.ErrorIs(t, err, otpd.ErrUnsealable)
}

// TestUnsealedRowsStayReadable: rows written before encryption was turned
// on are read as they are, and new ones are sealed.
func TestUnsealedRowsStayReadable(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "otpd.db")
	plain := openStore(t, path)
	p := storetest.WritePersonalData(t, plain)
	require.NoError(t, plain.Close())
	p.CheckReadsBack(t, openStore(t, path, sqlite.WithSealer(otpd.NewKeyring(time.Now()))))
}

// An update whose version moves on its first two tries — another process
// on the same file updated the verification meanwhile — runs a third time
// under the write lock, where nothing can come between, and loses no write.
func TestUpdateVerificationRunsLockedAfterTwoMoves(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, svc, v := storeWithVerification(t)
	other := openStore(t, s.Path())

	calls := 0
	got, err := s.UpdateVerification(ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
		calls++
		if calls <= 2 {
			_, err := other.UpdateVerification(ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
				v.Attempts += 10
				return nil
			})
			require.NoError(t, err)
		}
		v.Attempts++
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 3, calls)
	require.Equal(t, v.Attempts+21, got.Attempts, "both writes between and this one")
	read, err := s.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, got.Attempts, read.Attempts)
}

// Updates of one verification in one store take turns: the second starts
// from what the first wrote and never reaches the writer with a version
// that moved, so its fn runs once; updates of other verifications do not
// wait for them.
func TestUpdatesOfOneVerificationTakeTurns(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, svc, v := storeWithVerification(t)
	w := storetest.NewVerification(svc, time.Now())
	require.NoError(t, s.CreateVerification(ctx, w))

	const n = 16
	var calls atomic.Int64
	first, release := make(chan struct{}), make(chan struct{})
	holdTurn := sync.OnceFunc(func() { close(first); <-release })
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.UpdateVerification(ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
				calls.Add(1)
				if i == 0 {
					holdTurn()
				}
				v.Attempts++
				return nil
			})
			assert.NoError(t, err)
		})
		if i == 0 {
			<-first // the others queue behind it
		}
	}
	// Another verification's update goes ahead while v's first holds its turn.
	_, err := s.UpdateVerification(ctx, svc.ID, w.ID, func(w *otpd.Verification) error {
		w.Attempts++
		return nil
	})
	require.NoError(t, err)
	close(release)
	wg.Wait()

	require.EqualValues(t, n, calls.Load(), "every fn ran once: no update found the version moved")
	read, err := s.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, v.Attempts+n, read.Attempts)

	// A waiting update gives up when its context ends.
	hold, held := make(chan struct{}), make(chan struct{})
	go s.UpdateVerification(ctx, svc.ID, v.ID, func(*otpd.Verification) error { //nolint:errcheck // only holds the turn
		close(held)
		<-hold
		return nil
	})
	<-held
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = s.UpdateVerification(short, svc.ID, v.ID, func(*otpd.Verification) error {
		t.Error("fn ran without the turn")
		return nil
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(hold)
}

// storeWithVerification opens a store holding a service and one pending
// verification of it.
func storeWithVerification(t *testing.T) (*sqlite.Store, *otpd.Service, *otpd.Verification) {
	t.Helper()
	ctx := t.Context()
	s := openStore(t, filepath.Join(t.TempDir(), "otpd.db"))
	now := time.Now()
	svc := storetest.NewService(now)
	require.NoError(t, s.CreateService(ctx, svc))
	v := storetest.NewVerification(svc, now)
	require.NoError(t, s.CreateVerification(ctx, v))
	return s, svc, v
}
