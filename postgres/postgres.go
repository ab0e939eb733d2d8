package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/internal/sqlmigrate"
)

var (
	_ otpd.Store              = (*Store)(nil)
	_ otpd.IdempotencyStore   = (*Store)(nil)
	_ otpd.InvalidationSource = (*Store)(nil)
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is returned by Open when the schema was migrated by a newer
// otpd than this one.
var ErrSchemaTooNew = sqlmigrate.ErrSchemaTooNew

// sqlMigrationLock serializes migrations of one schema across every node
// that starts at once. The lock is transaction-scoped, so it is released by
// the migration's commit or rollback, or when a node dies mid-migration, and
// it works through PgBouncer in transaction mode. Its first key is otpd's
// ("otpd" in ASCII); its second is the schema being migrated, so that otpd
// installations in different schemas of one database do not wait for each
// other. current_schema() is NULL when no schema on the search_path exists:
// the lock is then taken on "" and the migration fails with PostgreSQL's own
// "no schema has been selected" error.
const sqlMigrationLock = `SELECT pg_advisory_xact_lock(1869901924, hashtext(coalesce(current_schema(), '')))`

// Store is an otpd.Store and otpd.IdempotencyStore on a PostgreSQL database,
// through a pgx connection pool. It is safe for concurrent use, and any
// number of Stores, in any number of processes, may share one database.
type Store struct {
	pool   *pgxpool.Pool
	sealer otpd.Sealer // encrypts personal data at rest; nil: stored in clear
	subs   subscribers // of invalidations, fed by Listen (invalidate.go)
}

type config struct {
	pool   []func(*pgxpool.Config)
	sealer otpd.Sealer
}

// WithSealer encrypts personal data before it is written — destinations,
// end users' IP addresses, device tokens, event payloads and remembered
// API responses — and decrypts it when read. Values written without a
// sealer stay readable. Every node sharing the database needs the same keys.
func WithSealer(sl otpd.Sealer) Option {
	return func(c *config) { c.sealer = sl }
}

// An Option configures Open.
type Option func(*config)

// WithPoolConfig lets fn change the pool's configuration after Open has
// parsed the DSN and applied otpd's defaults, and before it connects: for
// settings a DSN cannot carry (a tracer, a TLS configuration, hooks). fn
// must not replace ConnConfig.
func WithPoolConfig(fn func(*pgxpool.Config)) Option {
	return func(c *config) { c.pool = append(c.pool, fn) }
}

// Defaults for what the DSN does not set. See the package documentation.
const (
	defaultMinMaxConns           = 8
	defaultMaxConnLifetimeJitter = 5 * time.Minute
	defaultApplicationName       = "otpd"
)

// Open connects to the database named by dsn (a postgres:// URL or a
// keyword/value string, as libpq takes them, with pgxpool's pool_* settings),
// and brings the schema up to date: the first schema on the search_path, as
// PostgreSQL picks it for CREATE TABLE. A schema migrated by a newer otpd is
// refused with an error wrapping ErrSchemaTooNew.
//
// Open fails when the database cannot be reached, rather than returning a
// Store that would fail later.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	pc, err := parseConfig(dsn)
	if err != nil {
		// pgconn's parse errors carry the DSN with its password redacted.
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	for _, fn := range cfg.pool {
		fn(pc)
	}
	where := fmt.Sprintf("%s:%d/%s", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database)

	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	return &Store{pool: pool, sealer: cfg.sealer}, nil
}

// parseConfig parses dsn and fills in otpd's defaults for the settings it
// leaves out.
func parseConfig(dsn string) (*pgxpool.Config, error) {
	// pgxpool.ParseConfig consumes the pool_* settings, so whether the DSN
	// set one is read first from the connection settings, where they
	// appear as unknown run-time parameters.
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	set := func(name string) bool { _, ok := cc.RuntimeParams[name]; return ok }

	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if !set("pool_max_conns") {
		// pgxpool's default counts the host's CPUs (runtime.NumCPU), which
		// in a container can be many times the CPUs the process may use:
		// a fleet of nodes would then reserve far more of the server's
		// max_connections than it can keep busy. GOMAXPROCS follows the
		// container's CPU limit.
		pc.MaxConns = defaultMaxConns(runtime.GOMAXPROCS(0))
	}
	if !set("pool_max_conn_lifetime_jitter") {
		pc.MaxConnLifetimeJitter = min(defaultMaxConnLifetimeJitter, pc.MaxConnLifetime/4)
	}
	if _, ok := pc.ConnConfig.RuntimeParams["application_name"]; !ok {
		pc.ConnConfig.RuntimeParams["application_name"] = defaultApplicationName
	}
	return pc, nil
}

// defaultMaxConns is pool_max_conns when the DSN does not set it, for a
// process that may use procs CPUs: four connections per CPU, because a
// start's connection spends most of its time waiting for commits to reach
// the disk rather than on a CPU (see doc.go), and at least
// defaultMinMaxConns so a one- or two-CPU node is not starved.
func defaultMaxConns(procs int) int32 {
	return int32(max(defaultMinMaxConns, 4*procs))
}

// migrate applies the embedded migrations. internal/sqlmigrate speaks
// database/sql, so it gets a database/sql view of the pool for the purpose;
// closing that view hands its connection back to the pool.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := sqlmigrate.Load(migrationFS, "migrations")
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	_, err = sqlmigrate.Apply(ctx, db, ms, sqlmigrate.Options{LockSQL: sqlMigrationLock})
	return err
}

// Ping reports whether the store can reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the pool's connections, once every call in progress has
// returned its connection. A closed Store must not be used.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// inTx runs fn in a transaction and commits it when fn returns nil. The
// deferred rollback (a no-op after Commit) also runs when fn panics, so the
// connection goes back to the pool; should the rollback itself fail (a
// cancelled ctx), pgx closes the connection, which ends the transaction on
// the server.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after Commit; fn's error is the one worth returning
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// execBatch sends b, whose statements return no rows, in one round trip and
// returns how many rows each affected. Outside an explicit transaction the
// statements of a batch run in one implicit transaction: all or nothing.
func execBatch(ctx context.Context, q interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, b *pgx.Batch) ([]int64, error) {
	br := q.SendBatch(ctx, b)
	n := make([]int64, b.Len())
	for i := range n {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return nil, err
		}
		n[i] = tag.RowsAffected()
	}
	return n, br.Close()
}

// execOne runs a statement that must affect exactly one row, and returns a
// not-found error when it affected none.
func (s *Store) execOne(ctx context.Context, what, id, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(what, id)
	}
	return nil
}

// execCount runs a batch statement whose last parameter is the batch size,
// and returns how many rows it affected. A limit of 0 or less does nothing.
func (s *Store) execCount(ctx context.Context, query string, limit int, args ...any) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, query, append(args, limit)...)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// notFound returns an error wrapping otpd.ErrNotFound.
func notFound(what, id string) error {
	return fmt.Errorf("%s %s: %w", what, id, otpd.ErrNotFound)
}

// isNoRows reports whether err says a query returned no row.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// ts encodes t for a NOT NULL time column: truncated to the millisecond, as
// the SQLite store keeps times (Unix milliseconds), in UTC. The zero time
// stays the zero time (0001-01-01 UTC, which the column holds).
func ts(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// nullTS encodes t for a nullable time column: the zero time is NULL.
func nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// fromTS decodes a time column, in UTC.
func fromTS(t time.Time) time.Time { return t.UTC() }

// fromNullTS decodes a nullable time column: NULL is the zero time.
func fromNullTS(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// truncate is what a time becomes once stored and read back.
func truncate(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return ts(t)
}

// seconds encodes a duration as whole seconds.
func seconds(field string, d time.Duration) (int64, error) {
	if d%time.Second != 0 {
		return 0, fmt.Errorf("%s %v is not a whole number of seconds", field, d)
	}
	return int64(d / time.Second), nil
}

func fromSeconds(n int64) time.Duration { return time.Duration(n) * time.Second }

// sqlLimit maps "no limit" (0 or less) to NULL, which PostgreSQL's LIMIT
// takes as no limit.
func sqlLimit(n int) any {
	if n <= 0 {
		return nil
	}
	return n
}
