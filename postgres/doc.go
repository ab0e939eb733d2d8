// Package postgres is otpd's shared store: an otpd.Store and
// otpd.IdempotencyStore on a PostgreSQL database (10 or later; the tests
// run against 15), through a pgx connection pool. Any number of otpd nodes
// may share one database: checks, resends and cancels work on any node, a
// code is valid once across all of them, and a queued message is claimed by
// one node at a time.
//
// Open takes a DSN, as libpq does: a URL
//
//	postgres://otpd:secret@db.example.com:5432/otpd?sslmode=verify-full&pool_max_conns=16
//
// or keyword/value pairs (host=db.example.com dbname=otpd ...). The PG*
// environment variables, ~/.pgpass and service files apply as with libpq.
// The store lives in the first schema on the search_path ("public" unless
// the role or the DSN says otherwise: search_path=otpd in the DSN, or ALTER
// ROLE otpd SET search_path = otpd). Open creates its tables there and
// migrates them, once, however many nodes start at once: migrations hold a
// transaction-scoped advisory lock.
//
// # Connection pool
//
// Each Store (each node) holds one pool. The DSN's pool_* settings size it;
// what they mean for otpd, and otpd's defaults where they differ from
// pgxpool's:
//
//   - pool_max_conns: the most connections the node opens. Default
//     max(8, 4 × GOMAXPROCS) — from the CPUs the process may use, not the
//     host's (pgxpool's own default, max(4, host CPUs), counts the host's,
//     which in a container can be many times more). A store call holds a
//     connection only while its own statements run: a start, a check or a
//     claim is one to three round trips; delivery workers hold none while
//     they talk to a channel. But most of a start's time on its connection
//     is spent waiting for its commits to reach the server's disk, not on a
//     CPU: on a 2-core machine one node did 25–40 % more starts with 12
//     connections than with 4 (docs/BENCHMARKS.md). When every connection
//     is busy a call waits for one, bounded by its context.
//   - pool_min_conns, pool_min_idle_conns (default 0): connections kept open
//     while the node is quiet. The dispatcher and the sweeper touch the
//     database every second, so a node seldom drops to none; set
//     pool_min_idle_conns=2 or so if the first request after a quiet spell
//     must not pay for a connection set-up (TCP, TLS, authentication: a few
//     milliseconds, more across regions).
//   - pool_max_conn_lifetime (default 1h) and pool_max_conn_lifetime_jitter
//     (default 5m here, 0 in pgxpool): connections are replaced after this
//     long, so that nodes spread over the servers again after a fail-over or
//     a DNS change; the jitter keeps a node from replacing all of its
//     connections at the same moment.
//   - pool_max_conn_idle_time (default 30m), pool_health_check_period
//     (default 1m): idle connections are closed after this, and checked
//     this often.
//   - connect_timeout (seconds; default none): the bound on one connection
//     attempt when the caller's context has none.
//   - application_name (default "otpd"): what pg_stat_activity shows.
//
// Sizing for N nodes: every node may open pool_max_conns connections, so
// keep N × pool_max_conns, plus what other clients and a replica or backup
// need, below the server's max_connections minus
// superuser_reserved_connections (100 − 3 by default). PostgreSQL's own
// throughput peaks at a few active connections per server core; past that,
// connections add contention, not speed. With the default server settings
// and 4 nodes, pool_max_conns=20 leaves room for everything else; on a
// server with 8 cores, pool_max_conns=8 per node already keeps it busy. To
// run more nodes than the server has connections for, put PgBouncer in
// front of it (below).
//
// # Server settings
//
//   - synchronous_commit must stay on (the default) or stronger: the store
//     answers a start only once its verification and its queued message are
//     durable, and with it off a crash can lose commits already answered.
//   - idle_in_transaction_session_timeout (say 30s, set on otpd's role)
//     bounds how long a frozen node (a paused VM, a network partition) can
//     hold a verification's row lock; otpd's own transactions last
//     milliseconds.
//
// # PgBouncer
//
// Session pooling needs nothing. Transaction pooling works too: migrations
// use a transaction-scoped lock, and no statement relies on session state.
// But PgBouncer refuses startup parameters it does not know, so set the
// search_path on the role rather than in the DSN; and pgx prepares its
// statements, which PgBouncer supports from 1.21 on with
// max_prepared_statements set; for older versions add
// default_query_exec_mode=exec to the DSN.
//
// # Concurrency across nodes
//
// UpdateVerification locks the verification's row (SELECT … FOR NO KEY
// UPDATE) from its load to its commit, so updates of one verification —
// checks, resends, cancels, delivery outcomes — run one after another, on
// whatever nodes they start, each seeing what the last one wrote.
// ClaimMessages leases messages in one UPDATE whose sub-select locks the
// rows it picks and skips rows another node is claiming (FOR UPDATE SKIP
// LOCKED): nodes claiming at once get different messages, and none waits
// for another. The sweeper's batches (expire, purge) work the same way.
// An idempotency key is reserved by INSERT … ON CONFLICT DO NOTHING, so one
// request of many, on any nodes, owns it.
//
// Transactions run at READ COMMITTED, PostgreSQL's default: the row lock
// provides the serialization that matters, and no statement can fail with a
// serialization error that would have to be retried.
//
// # Representation
//
// Times are TIMESTAMPTZ(3) columns, written truncated to the millisecond and
// read back in UTC: whatever a caller stores comes back truncated to the
// millisecond, exactly as from the SQLite store. Durations are whole
// seconds; a duration with a fraction of a second is refused rather than
// silently rounded. Lists are JSONB, byte strings BYTEA, and ids TEXT
// COLLATE "C", so that they sort as Go sorts them whatever the database's
// collation.
package postgres
