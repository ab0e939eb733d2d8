package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // the driver otpd uses
)

// runPostgres measures one run of River on a fresh schema, migrated by
// rivermigrate and dropped afterwards. Every commit is durable (the server's
// synchronous_commit, on by default).
func runPostgres(ctx context.Context, p params, dsn, schema string) (result, error) {
	var res result
	err := withSchema(ctx, dsn, schema, func(dsn string) (err error) {
		res, err = runRiverPostgres(ctx, p, dsn, schema)
		return err
	})
	return res, err
}

// withSchema creates schema (dropping what a failed run left), calls f
// with dsn set to search it, and drops the schema.
func withSchema(ctx context.Context, dsn, schema string, f func(dsn string) error) (err error) {
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(context.Background())
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := admin.Exec(ctx, `DROP SCHEMA IF EXISTS `+ident+` CASCADE; CREATE SCHEMA `+ident); err != nil {
		return err
	}
	defer func() {
		if _, derr := admin.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+ident+` CASCADE`); derr != nil && err == nil {
			err = fmt.Errorf("drop schema: %w", derr)
		}
	}()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return f(dsn + " search_path=" + schema)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return f(u.String())
}

func runRiverPostgres(ctx context.Context, p params, dsn, schema string) (result, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return result{}, err
	}
	if p.cfg.PoolMaxConns > 0 {
		pc.MaxConns = p.cfg.PoolMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return result{}, err
	}
	defer pool.Close()
	driver := riverpgxv5.New(pool)
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema})
	if err != nil {
		return result{}, err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return result{}, fmt.Errorf("migrate: %w", err)
	}

	rec := newRecorder(p.rate * p.seconds)
	client, err := newClient(driver, p.cfg, schema, rec)
	if err != nil {
		return result{}, err
	}
	// One job per transaction, inserted with InsertTx as otpd would insert
	// it in the verification's transaction.
	return measure(ctx, p, rec, client.Start, client.Stop, func(ctx context.Context, seq int) error {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.Background())
		if _, err := client.InsertTx(ctx, tx, PickupArgs{Seq: seq}, nil); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}, nil)
}

// runSQLite measures one run on a fresh database file, opened as otpd
// opens its writer (WAL, synchronous=FULL, BEGIN IMMEDIATE) and as River's
// SQLite driver asks (one connection: dbPool.SetMaxOpenConns(1)).
func runSQLite(ctx context.Context, p params, path string) (result, error) {
	db, err := openSQLite(path)
	if err != nil {
		return result{}, err
	}
	defer db.Close()
	writer := db
	if p.cfg.OwnWriter {
		if writer, err = openSQLite(path); err != nil {
			return result{}, err
		}
		defer writer.Close()
	}

	driver := riversqlite.New(db)
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return result{}, err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return result{}, fmt.Errorf("migrate: %w", err)
	}

	rec := newRecorder(p.rate * p.seconds)
	client, err := newClient(driver, p.cfg, "", rec)
	if err != nil {
		return result{}, err
	}
	return measure(ctx, p, rec, client.Start, client.Stop, func(ctx context.Context, seq int) error {
		tx, err := writer.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := client.InsertTx(ctx, tx, PickupArgs{Seq: seq}, nil); err != nil {
			return err
		}
		return tx.Commit()
	}, nil)
}

// openSQLite opens one connection to path, with otpd's writer settings.
func openSQLite(path string) (*sql.DB, error) {
	q := url.Values{
		"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)"},
		"_txlock": {"immediate"},
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	return db, nil
}
