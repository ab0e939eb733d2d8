package postgres_test

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/postgres"
	"github.com/otpd/otpd/ratelimit/ratelimittest"
	"github.com/otpd/otpd/storetest"
)

// The tests need a PostgreSQL server; each test works in a schema of its
// own, made for it and dropped after it, so tests run in parallel and leave
// nothing behind.
const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func testDSN() string {
	if dsn := os.Getenv("OTPD_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return defaultTestDSN
}

var admin struct {
	once sync.Once
	pool *pgxpool.Pool
	err  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	// The tests spend their time waiting for the server (DDL for each
	// test's schema, commits), not computing: run more of them at once
	// than the default of GOMAXPROCS, unless -parallel says otherwise.
	// Each test's pools stay small (at most 4 connections a store where
	// GOMAXPROCS <= 4), so this stays far below max_connections.
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		flag.Set("test.parallel", strconv.Itoa(max(4, runtime.GOMAXPROCS(0)))) //nolint:errcheck // a known flag and a valid value
	}
	code := m.Run()
	if admin.pool != nil {
		admin.pool.Close()
	}
	os.Exit(code)
}

// adminPool returns a pool on the test database for setting up and tearing
// down schemas. When the server cannot be reached the test is skipped, or
// fails on CI, where a missing server is a broken setup, not a choice.
func adminPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	admin.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cfg, err := pgxpool.ParseConfig(testDSN())
		if err != nil {
			admin.err = err
			return
		}
		cfg.MaxConns = 4
		admin.pool, admin.err = pgxpool.NewWithConfig(ctx, cfg)
		if admin.err == nil {
			if admin.err = admin.pool.Ping(ctx); admin.err != nil {
				admin.pool.Close()
				admin.pool = nil
			}
		}
	})
	if admin.err != nil {
		msg := fmt.Sprintf("PostgreSQL is not reachable at %s (set OTPD_TEST_POSTGRES_DSN to use another server): %v", redact(testDSN()), admin.err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return admin.pool
}

var passwordRe = regexp.MustCompile(`password=\S+`)

// redact hides a password in a DSN.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return passwordRe.ReplaceAllString(dsn, "password=xxxxx")
}

// newSchema creates an empty schema and drops it, with everything in it,
// when t ends.
func newSchema(t testing.TB) string {
	t.Helper()
	pool := adminPool(t)
	schema := "otpd_test_" + strings.ToLower(rand.Text())
	_, err := pool.Exec(t.Context(), `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// dsnIn returns the test DSN with schema as its search_path and the given
// extra settings.
func dsnIn(t testing.TB, schema string, extra ...string) string {
	t.Helper()
	dsn := testDSN()
	kv := append([]string{"search_path", schema}, extra...)
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		for i := 0; i < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for i := 0; i < len(kv); i += 2 {
		dsn += " " + kv[i] + "=" + kv[i+1]
	}
	return dsn
}

// openStore opens a store on schema and closes it when t ends (before the
// schema is dropped: cleanups run last first).
func openStore(t testing.TB, schema string, extra ...string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsnIn(t, schema, extra...))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	t.Parallel()
	adminPool(t)
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openStore(t, newSchema(t))
	})
}

// TestStoreExecMode runs the suite with the statements sent unprepared,
// as PgBouncer before 1.21 in transaction mode needs them (see the package
// documentation).
func TestStoreExecMode(t *testing.T) {
	t.Parallel()
	adminPool(t)
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openStore(t, newSchema(t), "default_query_exec_mode", "exec")
	})
}

func TestTablesGoInTheSearchPathSchema(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	openStore(t, schema)
	var n int
	err := adminPool(t).QueryRow(t.Context(), `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = $1 AND table_name IN ('schema_migrations', 'services', 'keys',
			'verifications', 'messages', 'idempotency_keys')`, schema).Scan(&n)
	require.NoError(t, err)
	require.Equal(t, 6, n)
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	const nodes = 5
	stores := make([]*postgres.Store, nodes)
	errs := make([]error, nodes)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(t.Context(), dsnIn(t, schema))
		})
	}
	close(start)
	wg.Wait()
	for i := range nodes {
		require.NoError(t, errs[i], "node %d", i)
		t.Cleanup(func() { stores[i].Close() })
	}

	var versions int
	err := stores[0].Pool().QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&versions)
	require.NoError(t, err)
	require.Equal(t, migrationFiles(t), versions, "each migration applied once")

	// And every node works on the one schema.
	svc := storetest.NewService(time.Now())
	require.NoError(t, stores[1].CreateService(t.Context(), svc))
	_, err = stores[4].GetService(t.Context(), svc.ID)
	require.NoError(t, err)
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := newSchema(t)
	now := time.Now()

	s, err := postgres.Open(ctx, dsnIn(t, schema))
	require.NoError(t, err)
	svc := storetest.NewService(now)
	require.NoError(t, s.CreateService(ctx, svc))
	v := storetest.NewVerification(svc, now)
	require.NoError(t, s.CreateVerification(ctx, v))
	require.NoError(t, s.Close())

	s = openStore(t, schema)
	got, err := s.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, v.ID, got.ID)
	require.Len(t, got.Messages, 1)
	claimed, err := s.ClaimMessages(ctx, now, time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1, "the queued message survives a restart")
}

func TestTooNewSchemaIsRefused(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	s := openStore(t, schema)
	_, err := s.Pool().Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')`)
	require.NoError(t, err)

	_, err = postgres.Open(t.Context(), dsnIn(t, schema))
	require.ErrorIs(t, err, postgres.ErrSchemaTooNew)
	require.ErrorContains(t, err, "9999")
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback refuses at once.
	_, err := postgres.Open(ctx, "postgres://otpd:hunter2@127.0.0.1:1/otpd?sslmode=disable&connect_timeout=5")
	require.Error(t, err)
	require.ErrorContains(t, err, "postgres: open 127.0.0.1:1/otpd")
	require.NotContains(t, err.Error(), "hunter2")

	_, err = postgres.Open(ctx, "postgres://otpd:hunter2@127.0.0.1/otpd?pool_max_conns=zero")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}

func TestPoolDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := postgres.ParseConfig("postgres://otpd@db.example.com/otpd")
	require.NoError(t, err)
	require.Equal(t, postgres.DefaultMaxConns(runtime.GOMAXPROCS(0)), cfg.MaxConns)
	require.Equal(t, 5*time.Minute, cfg.MaxConnLifetimeJitter)
	require.Equal(t, time.Hour, cfg.MaxConnLifetime)
	require.Equal(t, "otpd", cfg.ConnConfig.RuntimeParams["application_name"])

	// What the DSN sets wins, also when it is pgxpool's default.
	cfg, err = postgres.ParseConfig("postgres://otpd@db.example.com/otpd?pool_max_conns=7&pool_max_conn_lifetime_jitter=0s&application_name=otpd-eu&search_path=otpd")
	require.NoError(t, err)
	require.Equal(t, int32(7), cfg.MaxConns)
	require.Equal(t, time.Duration(0), cfg.MaxConnLifetimeJitter)
	require.Equal(t, "otpd-eu", cfg.ConnConfig.RuntimeParams["application_name"])
	require.Equal(t, "otpd", cfg.ConnConfig.RuntimeParams["search_path"])

	cfg, err = postgres.ParseConfig("host=db.example.com dbname=otpd pool_max_conns=3 pool_max_conn_lifetime=4m")
	require.NoError(t, err)
	require.Equal(t, int32(3), cfg.MaxConns)
	require.Equal(t, time.Minute, cfg.MaxConnLifetimeJitter, "the jitter is at most a quarter of the lifetime")
}

// TestDefaultMaxConns pins the documented default, max(8, 4 × GOMAXPROCS),
// for CPU counts other than this machine's.
func TestDefaultMaxConns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		procs int
		want  int32
	}{
		{1, 8},
		{2, 8},
		{3, 12},
		{4, 16},
		{16, 64},
	} {
		require.Equal(t, tc.want, postgres.DefaultMaxConns(tc.procs), "GOMAXPROCS=%d", tc.procs)
	}
}

func TestWithPoolConfig(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	s, err := postgres.Open(t.Context(), dsnIn(t, schema), postgres.WithPoolConfig(func(c *pgxpool.Config) {
		c.MaxConns = 2
		c.ConnConfig.RuntimeParams["application_name"] = "otpd-test"
	}))
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, int32(2), s.Pool().Config().MaxConns)
	var name string
	require.NoError(t, s.Pool().QueryRow(t.Context(), `SHOW application_name`).Scan(&name))
	require.Equal(t, "otpd-test", name)
}

func TestDurationsMustBeWholeSeconds(t *testing.T) {
	t.Parallel()
	s := openStore(t, newSchema(t))
	svc := storetest.NewService(time.Now())
	svc.Policy.ResendCooldown = 1500 * time.Millisecond
	require.ErrorContains(t, s.CreateService(t.Context(), svc), "whole number of seconds")
}

func TestTimesAreTruncatedNotRounded(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openStore(t, newSchema(t))
	// 999.9 µs past the millisecond: a TIMESTAMPTZ(3) column would round
	// it up; the store keeps milliseconds as Unix milliseconds do.
	now := time.UnixMilli(1_800_000_000_123).Add(999_900 * time.Nanosecond)
	svc := storetest.NewService(now)
	require.NoError(t, s.CreateService(ctx, svc))
	got, err := s.GetService(ctx, svc.ID)
	require.NoError(t, err)
	require.Equal(t, time.UnixMilli(1_800_000_000_123).UTC(), got.CreatedAt)
	require.Equal(t, time.UTC, got.CreatedAt.Location())
}

func TestUpdateVerificationPanicReleasesLock(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openStore(t, newSchema(t))
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
	// The row lock is free again (this would wait for it), and nothing was
	// written.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got, err := s.UpdateVerification(ctx, svc.ID, v.ID, func(*otpd.Verification) error { return nil })
	require.NoError(t, err)
	require.Equal(t, v.Attempts, got.Attempts)
	require.Zero(t, s.Pool().Stat().AcquiredConns(), "every connection is back in the pool")
}

// TestNoChangeWritesNothing checks that UpdateVerification writes only what
// fn changed: a row it did not change keeps its version (xmin).
func TestNoChangeWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openStore(t, newSchema(t))
	svc := storetest.NewService(time.Now())
	require.NoError(t, s.CreateService(ctx, svc))
	v := storetest.NewVerification(svc, time.Now())
	v.Messages = append(v.Messages, storetest.NewMessage(v, time.Now()))
	require.NoError(t, s.CreateVerification(ctx, v))

	versions := func() (string, []string) {
		t.Helper()
		var vx string
		require.NoError(t, s.Pool().QueryRow(ctx, `SELECT xmin::text FROM verifications WHERE id = $1`, v.ID).Scan(&vx))
		rows, err := s.Pool().Query(ctx, `SELECT xmin::text FROM messages WHERE verification_id = $1 ORDER BY seq`, v.ID)
		require.NoError(t, err)
		mx, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return vx, mx
	}
	v0, m0 := versions()

	// Reassigning equal values (times with other nanoseconds, other
	// locations) is no change.
	_, err := s.UpdateVerification(ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
		got.UpdatedAt = got.UpdatedAt.Add(time.Microsecond).Local()
		got.Messages[0].CreatedAt = got.Messages[0].CreatedAt.Local()
		return nil
	})
	require.NoError(t, err)
	v1, m1 := versions()
	require.Equal(t, v0, v1)
	require.Equal(t, m0, m1)

	// A change of one message writes that message alone.
	_, err = s.UpdateVerification(ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
		got.Messages[1].Attempts++
		return nil
	})
	require.NoError(t, err)
	v2, m2 := versions()
	require.Equal(t, v0, v2)
	require.Equal(t, m0[0], m2[0])
	require.NotEqual(t, m0[1], m2[1])
}

// twoNodes returns two stores on one schema, as two otpd processes sharing
// a database would have them, each with a name it shows the server.
func twoNodes(t *testing.T) (a, b *postgres.Store) {
	t.Helper()
	schema := newSchema(t)
	return openStore(t, schema, "application_name", schema+"_a"), openStore(t, schema, "application_name", schema+"_b")
}

func TestTwoNodesApproveOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	svc := storetest.NewService(time.Now())
	require.NoError(t, a.CreateService(ctx, svc))
	v := storetest.NewVerification(svc, time.Now())
	v.Attempts = 0
	require.NoError(t, a.CreateVerification(ctx, v))

	errNotPending := errors.New("not pending")
	const n = 40
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		approved []int
		wrong    int
	)
	for i := range n {
		node := []*postgres.Store{a, b}[i%2]
		wg.Go(func() {
			// Every other check is a wrong code: it must use an attempt
			// while pending, and none may be lost.
			correct := i%4 < 2
			_, err := node.UpdateVerification(ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
				if got.Status != otpd.StatusPending {
					return errNotPending
				}
				if !correct {
					got.Attempts++
					return nil
				}
				got.Status = otpd.StatusApproved
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && correct:
				approved = append(approved, i%2)
			case err == nil:
				wrong++
			case errors.Is(err, errNotPending):
			default:
				t.Errorf("node %d: UpdateVerification: %v", i%2, err)
			}
		})
	}
	wg.Wait()
	require.Len(t, approved, 1, "exactly one correct check may approve, on whichever node")
	got, err := b.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.StatusApproved, got.Status)
	require.Equal(t, wrong, got.Attempts, "every wrong check that got in is counted")
}

func TestTwoNodesIncrementsAreNotLost(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	svc := storetest.NewService(time.Now())
	require.NoError(t, a.CreateService(ctx, svc))
	v := storetest.NewVerification(svc, time.Now())
	v.Attempts = 0
	require.NoError(t, a.CreateVerification(ctx, v))

	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		node := []*postgres.Store{a, b}[i%2]
		wg.Go(func() {
			_, err := node.UpdateVerification(ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
				got.Attempts++
				// Each update also adds a message: the next one, on
				// either node, must load it.
				if len(got.Messages) != got.Attempts {
					return fmt.Errorf("loaded %d messages after %d updates", len(got.Messages), got.Attempts-1)
				}
				got.Messages = append(got.Messages, storetest.NewMessage(got, time.Now()))
				return nil
			})
			if err != nil {
				t.Errorf("UpdateVerification: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := a.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, n, got.Attempts)
	require.Len(t, got.Messages, n+1)
}

// holdLock returns a channel for an fn to close once it holds a
// verification's lock, a channel for it to wait on, and a func that ends the
// wait. The func also runs when the test ends (before the stores close, if
// they were opened first): a failed test must not leave an fn blocked,
// holding a connection its pool's Close would wait for.
func holdLock(t *testing.T) (locked chan struct{}, wait <-chan struct{}, release func()) {
	t.Helper()
	ch := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(release)
	return make(chan struct{}), ch, release
}

// TestUpdateWaitsForOtherNode holds a verification's lock on one node while
// the other node's update of it is known to be waiting, and checks that the
// waiting update then sees everything the first wrote.
func TestUpdateWaitsForOtherNode(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	svc := storetest.NewService(time.Now())
	require.NoError(t, a.CreateService(ctx, svc))
	v := storetest.NewVerification(svc, time.Now())
	require.NoError(t, a.CreateVerification(ctx, v))

	locked, wait, release := holdLock(t)
	resend := storetest.NewMessage(v, time.Now())
	aDone := make(chan error, 1)
	go func() {
		_, err := a.UpdateVerification(ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
			close(locked)
			<-wait
			got.Sends++
			got.Messages = append(got.Messages, resend)
			return nil
		})
		aDone <- err
	}()
	<-locked

	var seen *otpd.Verification
	bDone := make(chan error, 1)
	go func() {
		_, err := b.UpdateVerification(ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
			seen = got.Clone()
			got.Status = otpd.StatusCanceled
			return nil
		})
		bDone <- err
	}()

	// Wait until node b's backend waits for the row lock.
	var bName string
	require.NoError(t, b.Pool().QueryRow(ctx, `SHOW application_name`).Scan(&bName))
	require.Eventually(t, func() bool {
		var waiting int
		err := adminPool(t).QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, bName).Scan(&waiting)
		return err == nil && waiting == 1
	}, 10*time.Second, 5*time.Millisecond, "node b must wait for node a's lock")
	select {
	case err := <-bDone:
		t.Fatalf("node b finished while node a held the lock: %v", err)
	default:
	}

	release()
	require.NoError(t, <-aDone)
	require.NoError(t, <-bDone)
	require.Equal(t, v.Sends+1, seen.Sends, "node b loads node a's write")
	require.Len(t, seen.Messages, 2, "node b loads the message node a added")
	require.Equal(t, resend.ID, seen.Messages[1].ID)

	got, err := a.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.StatusCanceled, got.Status)
	require.Len(t, got.Messages, 2)
}

// TestDueForExpiryDoesNotWaitForLocks: the sweeper's look-up does not wait
// for a verification another node is updating (the engine's expiry then
// re-checks it under the lock), and what that node made final is no longer
// due.
func TestDueForExpiryDoesNotWaitForLocks(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	now := time.Now()
	svc := storetest.NewService(now)
	require.NoError(t, a.CreateService(ctx, svc))
	v := storetest.NewVerification(svc, now)
	v.ExpiresAt = now.Add(-time.Second) // lapsed, not yet swept
	require.NoError(t, a.CreateVerification(ctx, v))

	locked, wait, release := holdLock(t)
	aDone := make(chan error, 1)
	go func() {
		_, err := a.UpdateVerification(ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
			close(locked)
			<-wait
			got.Status = otpd.StatusCanceled
			return nil
		})
		aDone <- err
	}()
	<-locked

	sweepCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	refs, err := b.DueForExpiry(sweepCtx, now, 10)
	require.NoError(t, err, "the sweeper must not wait for the lock")
	require.Equal(t, []otpd.VerificationRef{{ServiceID: svc.ID, ID: v.ID}}, refs)

	release()
	require.NoError(t, <-aDone)
	refs, err = b.DueForExpiry(ctx, now, 10)
	require.NoError(t, err)
	require.Empty(t, refs, "canceled is not pending")
	got, err := b.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.StatusCanceled, got.Status)
}

func TestTwoNodesClaimNeverShare(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	now := time.Now()
	svc := storetest.NewService(now)
	require.NoError(t, a.CreateService(ctx, svc))
	want := map[string]bool{}
	for i := range 40 {
		v := storetest.NewVerification(svc, now.Add(time.Duration(i)*time.Millisecond))
		for range 4 {
			v.Messages = append(v.Messages, storetest.NewMessage(v, now))
		}
		require.NoError(t, a.CreateVerification(ctx, v))
		for _, m := range v.Messages {
			want[m.ID] = true
		}
	}

	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got = map[string]int{}
	)
	for i := range 8 {
		node := []*postgres.Store{a, b}[i%2]
		wg.Go(func() {
			for {
				claimed, err := node.ClaimMessages(ctx, now.Add(time.Minute), time.Hour, 3)
				if err != nil {
					t.Errorf("ClaimMessages: %v", err)
					return
				}
				if len(claimed) == 0 {
					return
				}
				mu.Lock()
				for _, c := range claimed {
					got[c.MessageID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, got, len(want), "every message is claimed")
	for id, n := range got {
		require.True(t, want[id], "claimed unknown message %s", id)
		require.Equal(t, 1, n, "message %s claimed %d times", id, n)
	}
}

func TestTwoNodesReserveOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	now := time.Now()
	rec := &otpd.IdempotencyRecord{
		Scope: "admin", Key: "idem-1", RequestHash: []byte("h"),
		CreatedAt: now, LockedUntil: now.Add(30 * time.Second),
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		reserved int
	)
	for i := range 20 {
		node := []*postgres.Store{a, b}[i%2]
		wg.Go(func() {
			r := *rec
			existing, err := node.ReserveIdempotencyKey(ctx, &r)
			if err != nil {
				t.Errorf("ReserveIdempotencyKey: %v", err)
				return
			}
			if existing == nil {
				mu.Lock()
				reserved++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, reserved)

	// The owner died; of the retries on both nodes after its lock ran
	// out, one takes the record over.
	later := now.Add(time.Minute)
	var taken int
	for i := range 20 {
		node := []*postgres.Store{a, b}[i%2]
		wg.Go(func() {
			r := *rec
			r.CreatedAt, r.LockedUntil = later, later.Add(30*time.Second)
			existing, err := node.ReserveIdempotencyKey(ctx, &r)
			if err != nil {
				t.Errorf("ReserveIdempotencyKey: %v", err)
				return
			}
			if existing != nil && existing.Taken {
				mu.Lock()
				taken++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, taken)
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

func TestRateLimiter(t *testing.T) {
	t.Parallel()
	adminPool(t)
	ratelimittest.Run(t, func(t *testing.T) func() otpd.RateLimiter {
		schema := newSchema(t)
		return func() otpd.RateLimiter { return openStore(t, schema) }
	})
}

func TestPurgeRateCounts(t *testing.T) {
	t.Parallel()
	s := openStore(t, newSchema(t))
	ctx := t.Context()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	short := otpd.RateHit{Key: "a", Limit: otpd.RateLimit{N: 5, Per: time.Minute}}
	long := otpd.RateHit{Key: "b", Limit: otpd.RateLimit{N: 5, Per: time.Hour}}
	require.NoError(t, s.Add(ctx, at, []otpd.RateHit{short, long}))
	n, err := s.PurgeRateCounts(ctx, at.Add(time.Minute), 100)
	require.NoError(t, err)
	require.Zero(t, n, "the slot still counts")
	n, err = s.PurgeRateCounts(ctx, at.Add(2*time.Minute), 100)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the minute limit's slot is over, the hour's is not")
	wait, err := s.Wait(ctx, at.Add(2*time.Minute), []otpd.RateHit{long})
	require.NoError(t, err)
	require.Zero(t, wait)
}

func TestStoreSealed(t *testing.T) {
	t.Parallel()
	adminPool(t)
	sealer := otpd.NewKeyring(time.Now())
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openSealed(t, newSchema(t), sealer)
	})
}

// TestNoPersonalDataInClear dumps every table the store wrote, as
// pg_dump's data would show it, and greps it for the personal data
// written through a sealing store.
func TestNoPersonalDataInClear(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	keyring := otpd.NewKeyring(time.Now())
	s := openSealed(t, schema, keyring)
	p := storetest.WritePersonalData(t, s)

	pool := adminPool(t)
	var tables []string
	rows, err := pool.Query(t.Context(), `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, schema)
	require.NoError(t, err)
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, tables, "verifications")
	var dump strings.Builder
	for _, table := range tables {
		rows, err := pool.Query(t.Context(), `SELECT t::text FROM `+pgx.Identifier{schema, table}.Sanitize()+` t`)
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		for _, l := range lines {
			dump.WriteString(l + "\n")
		}
	}
	require.Contains(t, dump.String(), "enc1:", "the dump holds the sealed values")
	for _, plain := range p.Plain {
		require.NotContains(t, dump.String(), plain, "the database holds %q in clear", plain)
	}
	_, err = openStore(t, schema).GetVerification(t.Context(), p.Service.ID, p.Verification.ID)
	require.ErrorIs(t, err, otpd.ErrUnsealable, "without the keyring it refuses rather than showing ciphertext")
}

// openSealed is openStore with a sealer.
func openSealed(t testing.TB, schema string, sl otpd.Sealer) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsnIn(t, schema), postgres.WithSealer(sl))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}
