// Package sqlite is otpd's embedded store: an otpd.Store and
// otpd.IdempotencyStore on one SQLite file, through modernc.org/sqlite (pure
// Go, so the otpd binary stays static).
//
// # Connections
//
// A Store holds two connection pools on the file. Writes go through a pool
// of exactly one connection whose transactions begin IMMEDIATE: the write
// lock is taken at BEGIN, so writers queue in Go instead of meeting
// SQLITE_BUSY halfway through a transaction (a deferred transaction that
// read first cannot be upgraded once another wrote), and a read-modify-write
// such as UpdateVerification cannot interleave with another. Reads go
// through a pool of query_only connections that, in WAL mode, never block
// the writer nor wait for it. BEGIN IMMEDIATE also serializes writers of
// other processes on the same file, with busy_timeout as their patience.
//
// # Durability
//
// The journal is in WAL mode with synchronous=FULL. In WAL mode
// synchronous=NORMAL syncs only at checkpoints, so a power loss can roll back
// the last transactions that were reported committed; otpd must not forget a
// verification it answered 201 for, nor a queued message (a delivery job), so
// every commit is synced. The price is one fsync per write transaction.
//
// # Representation
//
// Times are stored as integer milliseconds since the Unix epoch and read
// back in UTC: whatever a caller stores comes back truncated to the
// millisecond. Durations are whole seconds; a duration with a fraction of a
// second is refused rather than silently rounded.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/internal/sqlmigrate"
)

var (
	_ otpd.Store            = (*Store)(nil)
	_ otpd.IdempotencyStore = (*Store)(nil)
	_ otpd.WriteBacklogger  = (*Store)(nil)
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer otpd than this one.
var ErrSchemaTooNew = sqlmigrate.ErrSchemaTooNew

// Store is an otpd.Store and otpd.IdempotencyStore on a SQLite file. It is
// safe for concurrent use.
type Store struct {
	path string
	w    *sql.DB // one connection; transactions BEGIN IMMEDIATE
	r    *sql.DB // query_only connections
	ws   map[string]*sql.Stmt
	rs   map[string]*sql.Stmt

	writes     chan *writeReq // to the writer goroutine: see groupcommit.go
	backlog    atomic.Int64   // writes in write(): waiting for the writer or running
	closing    chan struct{}  // closed by Close
	closeOnce  sync.Once
	writerDone chan struct{} // closed when the writer has stopped
	sealer     otpd.Sealer   // encrypts personal data at rest; nil: stored in clear
	recent     recentReads   // see recent.go
	turns      turns         // see turns.go
	bigCache   bool          // the write connection has the import's cache: see setCache; the writer's
}

type config struct {
	busyTimeout  time.Duration
	maxReadConns int
	sealer       otpd.Sealer
}

// WithSealer encrypts personal data before it is written — destinations,
// end users' IP addresses, device tokens, event payloads and remembered
// API responses — and decrypts it when read. Values written without a
// sealer stay readable.
func WithSealer(sl otpd.Sealer) Option {
	return func(c *config) { c.sealer = sl }
}

// An Option configures Open.
type Option func(*config)

// WithBusyTimeout sets how long a connection waits for a lock held by
// another process before giving up with SQLITE_BUSY. The default is 5s.
// Within one Store writers queue for the single write connection instead.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busyTimeout = d }
}

// WithMaxReadConns sets the size of the read pool. The default is
// max(4, GOMAXPROCS).
func WithMaxReadConns(n int) Option {
	return func(c *config) { c.maxReadConns = n }
}

// Open opens (creating it with mode 0600 if needed) the database at path
// and brings its schema up to date. A database migrated by a newer otpd is
// refused with an error wrapping ErrSchemaTooNew.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg := config{busyTimeout: 5 * time.Second, maxReadConns: max(4, runtime.GOMAXPROCS(0))}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.busyTimeout < 0 || cfg.maxReadConns < 1 {
		return nil, fmt.Errorf("sqlite: open %s: invalid options", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// SQLite would create the file with the process umask (often 0644);
	// the database holds webhook secrets and key hashes, so create it
	// private. The -wal and -shm files SQLite creates inherit its mode.
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	s := &Store{path: abs, writes: make(chan *writeReq), closing: make(chan struct{}), writerDone: make(chan struct{}), sealer: cfg.sealer}
	busy := strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10)
	s.w, err = sql.Open("sqlite", dsn(abs, url.Values{
		"_pragma": {
			"busy_timeout(" + busy + ")",
			"journal_mode(WAL)",
			"synchronous(FULL)", // see the package doc: NORMAL may lose commits in WAL mode
			"foreign_keys(ON)",
			// A batch that runs again with a savepoint per write (see
			// runBatch), and a statement that may change many rows, make
			// SQLite keep a sub-journal of the pages it changes, to roll
			// back just that write or statement. With temp_store=FILE it
			// spills to a temporary file past 64 KiB — an open, writes and
			// a close per batch, 5 % of the server's CPU under load when
			// every write had a savepoint, all of it on the writer. The
			// sub-journal only ever serves a rollback within the open
			// transaction; crash recovery uses the WAL, so keeping it in
			// memory costs no durability, only memory for a batch's pages.
			"temp_store(MEMORY)",
		},
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.w.PingContext(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := migrate(ctx, s.w); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if s.ws, err = prepare(ctx, s.w, writeQueries); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	go s.writer()

	s.r, err = sql.Open("sqlite", dsn(abs, url.Values{
		"_pragma": {
			"busy_timeout(" + busy + ")",
			"foreign_keys(ON)",
			"query_only(ON)",
		},
	}))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(cfg.maxReadConns)
	s.r.SetMaxIdleConns(cfg.maxReadConns)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)
	if s.rs, err = prepare(ctx, s.r, readQueries); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// dsn makes a modernc.org/sqlite data source name. The path goes in a file:
// URI, escaped, so that a '?' or '#' in it cannot be taken for the query.
func dsn(path string, q url.Values) string {
	return "file:" + (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath() + "?" + q.Encode()
}

func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := sqlmigrate.Load(migrationFS, "migrations")
	if err != nil {
		return err
	}
	_, err = sqlmigrate.Apply(ctx, db, ms, sqlmigrate.Options{})
	return err
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Ping reports whether both pools can reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the store. The write connection closes last, so that it
// checkpoints the WAL into the database file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	<-s.writerDone
	closeStmts(s.rs)
	closeStmts(s.ws)
	var errR error
	if s.r != nil {
		errR = s.r.Close()
	}
	// SQLite's advice for long-lived connections: let it refresh the
	// planner's statistics, cheaply, before closing. Failing is harmless.
	s.w.Exec("PRAGMA optimize") //nolint:errcheck // best effort
	errW := s.w.Close()
	if err := errors.Join(errR, errW); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Every constant statement is prepared once per pool, at Open. SQLite's
// parser is a large share of a small query's cost (half of a
// GetVerification, measured), and preparing at Open also checks every
// statement against the schema before the store serves anything. Only
// statements put together at run time (ListVerifications) are prepared on
// each use.
var (
	writeQueries = []string{
		sqlInsertService, sqlUpdateService, sqlDeleteService,
		sqlInsertKey, sqlDeleteKey, sqlTouchKey,
		sqlInsertVerification, sqlGetVerification, sqlGetMessages, sqlUpdateVerification, sqlBumpVersion,
		sqlInsertMessage, sqlUpdateMessage, sqlInsertRef,
		sqlClaimMessages, sqlClaimFallbacks, sqlPurgeVerifications,
		sqlInsertEvent, sqlClaimEvents, sqlInsertAttempt, sqlSetDelivery, sqlRedeliverEvent,
		sqlPurgeEvents, sqlSaveEarlyReceipt, sqlTakeEarlyReceipts, sqlPurgeEarlyReceipts,
		sqlInsertFingerprint, sqlGetFingerprint,
		sqlInsertDevice, sqlDeleteDevice, sqlMarkDeviceDead,
		sqlServiceExists, sqlTemplateCreated, sqlInsertTemplate, sqlUpdateTemplate, sqlDeleteTemplate,
		sqlGetIdempotency, sqlInsertIdempotency, sqlInsertCompletedIdempotency, sqlLockIdempotency, sqlCompleteIdempotency,
		sqlReleaseIdempotency, sqlPurgeIdempotency,
		sqlAddConversion, sqlPurgeConversions, sqlActiveBlock, sqlInsertBlock, sqlLiftBlock,
		sqlSavepoint, sqlRelease, sqlRollbackTo,
	}
	readQueries = []string{
		sqlGetService, sqlListServices, sqlGetKey, sqlListKeys, sqlKeyLastUsed,
		sqlGetVerification, sqlGetMessages, sqlGetMessagesIn, sqlFindPending, sqlFindRef,
		sqlGetEvent, sqlListAttempts, sqlDueForExpiry, sqlGetDevice, sqlListDevices,
		sqlConversionStats, sqlGetBlock,
		sqlGetTemplate, sqlListTemplates, sqlAnyEarlyReceipt, sqlGetIdempotency,
	}
)

// prepare prepares queries on db. database/sql prepares a statement again,
// once, on each further connection of the pool that uses it, and keeps it
// for the connection's life, which here is the Store's.
func prepare(ctx context.Context, db *sql.DB, queries []string) (map[string]*sql.Stmt, error) {
	stmts := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		if stmts[q] != nil {
			continue
		}
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			closeStmts(stmts)
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		stmts[q] = st
	}
	return stmts, nil
}

func closeStmts(stmts map[string]*sql.Stmt) {
	for _, st := range stmts {
		st.Close()
	}
}

// txn is a transaction that runs the pool's prepared statements, or with
// a nil tx, statements each on their own through the pool db.
type txn struct {
	ctx    context.Context
	tx     *sql.Tx
	db     *sql.DB // when tx is nil
	stmts  map[string]*sql.Stmt
	sealer otpd.Sealer
	// dirty records that a statement run through this txn may have
	// changed the database: it changed rows, or it failed (a failure's
	// partial effect is not known). Group commit runs a write outside a
	// savepoint and needs to know whether its failure left anything behind.
	dirty bool
}

// queryer is what a txn runs statements on: its transaction or its pool.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (t *txn) on() queryer {
	if t.tx == nil {
		return t.db
	}
	return t.tx
}

// stmt returns query's prepared statement bound to the transaction, or nil.
// A statement is bound with the transaction's connection, never through the
// pool: taking another connection while holding the only write connection
// would wait forever.
func (t *txn) stmt(query string) *sql.Stmt {
	st := t.stmts[query]
	if st != nil && t.tx != nil {
		return t.tx.StmtContext(t.ctx, st)
	}
	return st
}

func (t *txn) exec(query string, args ...any) (sql.Result, error) {
	var (
		res sql.Result
		err error
	)
	if st := t.stmt(query); st != nil {
		res, err = st.ExecContext(t.ctx, args...)
	} else {
		res, err = t.on().ExecContext(t.ctx, query, args...)
	}
	if t.tx != nil && !t.dirty {
		if err != nil {
			t.dirty = true
		} else if n, nerr := res.RowsAffected(); nerr != nil || n > 0 {
			t.dirty = true
		}
	}
	return res, err
}

// query runs a query. A write with RETURNING (the claims) is a query too:
// it leaves the txn dirty, as any statement that is not a SELECT does.
func (t *txn) query(query string, args ...any) (*sql.Rows, error) {
	t.markQuery(query)
	if st := t.stmt(query); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.on().QueryContext(t.ctx, query, args...)
}

func (t *txn) queryRow(query string, args ...any) *sql.Row {
	t.markQuery(query)
	if st := t.stmt(query); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.on().QueryRowContext(t.ctx, query, args...)
}

// markQuery marks the txn dirty for a query that may write: whether it
// changed rows is not known until its rows are read.
func (t *txn) markQuery(query string) {
	if t.tx != nil && !t.dirty && !readOnly(query) {
		t.dirty = true
	}
}

// readOnly reports whether query is a SELECT, which changes nothing.
func readOnly(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

// read runs fn in a read transaction on the read pool, so that what it reads
// in several queries is one snapshot.
func (s *Store) read(ctx context.Context, fn func(*txn) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to commit
	return fn(&txn{ctx: ctx, tx: tx, stmts: s.rs, sealer: s.sealer})
}

// readRow runs a one-statement read on the read pool, outside a transaction.
func (s *Store) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := s.rs[query]; st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.r.QueryRowContext(ctx, query, args...)
}

// readRows runs a one-statement read on the read pool, outside a
// transaction.
func (s *Store) readRows(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := s.rs[query]; st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.r.QueryContext(ctx, query, args...)
}

// notFound returns an error wrapping otpd.ErrNotFound.
func notFound(what, id string) error {
	return fmt.Errorf("%s %s: %w", what, id, otpd.ErrNotFound)
}

// millis encodes t for an INTEGER NOT NULL column.
func millis(t time.Time) int64 { return t.UnixMilli() }

// nullMillis encodes t for a nullable INTEGER column: the zero time is NULL.
func nullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMillis decodes a time column, in UTC.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// fromNullMillis decodes a nullable time column: NULL is the zero time.
func fromNullMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return fromMillis(ms.Int64)
}

// truncate is what a time becomes once stored and read back.
func truncate(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return fromMillis(t.UnixMilli())
}

// seconds encodes a duration as whole seconds.
func seconds(field string, d time.Duration) (int64, error) {
	if d%time.Second != 0 {
		return 0, fmt.Errorf("%s %v is not a whole number of seconds", field, d)
	}
	return int64(d / time.Second), nil
}

func fromSeconds(n int64) time.Duration { return time.Duration(n) * time.Second }
