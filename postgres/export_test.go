package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// ParseConfig is parseConfig: the DSN with otpd's defaults filled in.
var ParseConfig = parseConfig

// DefaultMaxConns is defaultMaxConns: pool_max_conns for a process with
// procs CPUs when the DSN does not set it.
var DefaultMaxConns = defaultMaxConns
