// Package sqlmigrate applies numbered SQL migrations to a database/sql
// database. It is shared by the SQL stores (sqlite, postgres), so its own SQL
// uses no placeholders — their syntax differs between engines — and only
// constructs both engines accept.
//
// Migrations are files named NNNN_name.sql (NNNN a positive decimal number,
// name lower-case letters, digits and underscores) in an fs.FS, usually an
// embed.FS. They are forward-only: each runs once, in version order, in its own
// transaction together with the row that records it in the schema_migrations
// table. A database that records a version the binary does not know was
// migrated by a newer binary; Apply refuses it with ErrSchemaTooNew rather than
// run against a schema it does not understand.
package sqlmigrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
)

// ErrSchemaTooNew is returned when the database records a migration newer
// than any the binary knows.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Options tune Apply for an engine.
type Options struct {
	// Table records applied versions; "schema_migrations" when empty. It is
	// written into the SQL as is, so it must be a plain identifier.
	Table string
	// LockSQL, when set, runs first in every migration transaction, to keep
	// nodes that start at once from migrating together (on PostgreSQL e.g.
	// "SELECT pg_advisory_xact_lock(8212)"). SQLite needs none when its
	// transactions begin IMMEDIATE: the write lock is taken at BEGIN.
	LockSQL string
}

var fileRe = regexp.MustCompile(`^([0-9]+)_([a-z0-9_]+)\.sql$`)
var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Load reads the migrations in dir of fsys, sorted by version. Files not
// ending in .sql are ignored; a .sql file with another name form, or two
// files with one version, is an error.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlmigrate: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		m := fileRe.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("sqlmigrate: %s: name is not NNNN_name.sql", e.Name())
		}
		v, err := strconv.Atoi(m[1])
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlmigrate: %s: version must be a positive number", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("sqlmigrate: %w", err)
		}
		ms = append(ms, Migration{Version: v, Name: m[2], SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("sqlmigrate: two migrations with version %d", ms[i].Version)
		}
	}
	return ms, nil
}

// Apply brings db up to the last of migrations (sorted by version, as Load
// returns them) and returns the versions it applied, in order. Applying is
// idempotent: a version already recorded is skipped, also when another node
// recorded it while Apply ran.
func Apply(ctx context.Context, db *sql.DB, migrations []Migration, opts Options) ([]int, error) {
	table := opts.Table
	if table == "" {
		table = "schema_migrations"
	}
	if !identRe.MatchString(table) {
		return nil, fmt.Errorf("sqlmigrate: table name %q is not a plain identifier", table)
	}
	known := map[int]bool{}
	latest := 0
	for i, m := range migrations {
		if m.Version <= 0 || (i > 0 && m.Version <= migrations[i-1].Version) {
			return nil, fmt.Errorf("sqlmigrate: migrations must have positive, increasing versions (got %d)", m.Version)
		}
		known[m.Version] = true
		latest = m.Version
	}

	create := "CREATE TABLE IF NOT EXISTS " + table + ` (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)`
	if err := inTx(ctx, db, opts.LockSQL, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, create)
		return err
	}); err != nil {
		return nil, fmt.Errorf("sqlmigrate: create %s: %w", table, err)
	}

	applied, err := versions(ctx, db, table)
	if err != nil {
		return nil, err
	}
	for _, v := range applied {
		if v > latest {
			return nil, fmt.Errorf("sqlmigrate: %w: the database is at version %d, this binary knows up to %d; upgrade it", ErrSchemaTooNew, v, latest)
		}
		if !known[v] {
			return nil, fmt.Errorf("sqlmigrate: the database records version %d, which this binary does not know", v)
		}
	}

	var done []int
	for _, m := range migrations {
		if slices.Contains(applied, m.Version) {
			continue
		}
		ran := false
		err := inTx(ctx, db, opts.LockSQL, func(tx *sql.Tx) error {
			// Checked again under the transaction's lock: another node may
			// have applied it since versions was read.
			var n int
			q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE version = %d", table, m.Version)
			if err := tx.QueryRowContext(ctx, q).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			// The name matched fileRe (or came from the caller's code), so
			// it needs no escaping beyond a doubled quote.
			ins := fmt.Sprintf("INSERT INTO %s (version, name) VALUES (%d, '%s')", table, m.Version, quote(m.Name))
			if _, err := tx.ExecContext(ctx, ins); err != nil {
				return err
			}
			ran = true
			return nil
		})
		if err != nil {
			return done, fmt.Errorf("sqlmigrate: migration %d_%s: %w", m.Version, m.Name, err)
		}
		if ran {
			done = append(done, m.Version)
		}
	}
	return done, nil
}

// Version returns the highest version recorded in db, 0 when none is. The
// table must exist: Apply creates it.
func Version(ctx context.Context, db *sql.DB, table string) (int, error) {
	if table == "" {
		table = "schema_migrations"
	}
	if !identRe.MatchString(table) {
		return 0, fmt.Errorf("sqlmigrate: table name %q is not a plain identifier", table)
	}
	vs, err := versions(ctx, db, table)
	if err != nil {
		return 0, err
	}
	if len(vs) == 0 {
		return 0, nil
	}
	return slices.Max(vs), nil
}

func versions(ctx context.Context, db *sql.DB, table string) ([]int, error) {
	rows, err := db.QueryContext(ctx, "SELECT version FROM "+table+" ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("sqlmigrate: read %s: %w", table, err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("sqlmigrate: read %s: %w", table, err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlmigrate: read %s: %w", table, err)
	}
	return vs, nil
}

func inTx(ctx context.Context, db *sql.DB, lockSQL string, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if lockSQL != "" {
		if _, err := tx.ExecContext(ctx, lockSQL); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func quote(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			b = append(b, '\'')
		}
		b = append(b, s[i])
	}
	return string(b)
}
