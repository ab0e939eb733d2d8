package sqlmigrate_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/otpd/otpd/internal/sqlmigrate"
)

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db"))
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	require.NoError(t, err)
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	return names
}

func TestLoad(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []int
		wantErr string
	}{
		{
			name: "sorted by version, not by name",
			fsys: fstest.MapFS{
				"m/10_ten.sql":   {Data: []byte("SELECT 10")},
				"m/0002_two.sql": {Data: []byte("SELECT 2")},
				"m/1_one.sql":    {Data: []byte("SELECT 1")},
				"m/README.md":    {Data: []byte("ignored")},
			},
			want: []int{1, 2, 10},
		},
		{
			name:    "bad name",
			fsys:    fstest.MapFS{"m/one.sql": {Data: []byte("SELECT 1")}},
			wantErr: "NNNN_name.sql",
		},
		{
			name:    "version zero",
			fsys:    fstest.MapFS{"m/0000_zero.sql": {Data: []byte("SELECT 1")}},
			wantErr: "positive",
		},
		{
			name: "duplicate version",
			fsys: fstest.MapFS{
				"m/1_a.sql":    {Data: []byte("SELECT 1")},
				"m/0001_b.sql": {Data: []byte("SELECT 1")},
			},
			wantErr: "two migrations with version 1",
		},
		{
			name:    "missing dir",
			fsys:    fstest.MapFS{},
			wantErr: "sqlmigrate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ms, err := sqlmigrate.Load(tt.fsys, "m")
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var got []int
			for _, m := range ms {
				got = append(got, m.Version)
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, "one", ms[0].Name)
			require.Equal(t, "SELECT 1", ms[0].SQL)
		})
	}
}

var (
	m1 = sqlmigrate.Migration{Version: 1, Name: "a", SQL: "CREATE TABLE a (x INTEGER); CREATE INDEX a_x ON a (x);"}
	m2 = sqlmigrate.Migration{Version: 2, Name: "b", SQL: "CREATE TABLE b (y INTEGER)"}
	m3 = sqlmigrate.Migration{Version: 3, Name: "c", SQL: "CREATE TABLE c (z INTEGER)"}
)

func TestApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("applies in order, then nothing", func(t *testing.T) {
		t.Parallel()
		db := openDB(t)
		done, err := sqlmigrate.Apply(ctx, db, []sqlmigrate.Migration{m1, m2}, sqlmigrate.Options{})
		require.NoError(t, err)
		require.Equal(t, []int{1, 2}, done)
		require.Equal(t, []string{"a", "b", "schema_migrations"}, tables(t, db))

		done, err = sqlmigrate.Apply(ctx, db, []sqlmigrate.Migration{m1, m2}, sqlmigrate.Options{})
		require.NoError(t, err)
		require.Empty(t, done)

		v, err := sqlmigrate.Version(ctx, db, "")
		require.NoError(t, err)
		require.Equal(t, 2, v)
	})

	t.Run("applies only what is new", func(t *testing.T) {
		t.Parallel()
		db := openDB(t)
		_, err := sqlmigrate.Apply(ctx, db, []sqlmigrate.Migration{m1}, sqlmigrate.Options{})
		require.NoError(t, err)
		done, err := sqlmigrate.Apply(ctx, db, []sqlmigrate.Migration{m1, m2, m3}, sqlmigrate.Options{})
		require.NoError(t, err)
		require.Equal(t, []int{2, 3}, done)

		var name string
		require.NoError(t, db.QueryRow(`SELECT name FROM schema_migrations WHERE version = 3`).Scan(&name))
		require.Equal(t, "c", name)
	})

	t.Run("failed migration leaves nothing behind", func(t *testing.T) {
		t.Parallel()
		db := openDB(t)
		bad := sqlmigrate.Migration{Version: 2, Name: "bad", SQL: "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;"}
		done, err := sqlmigrate.Apply(ctx, db, []sqlmigrate.Migration{m1, bad, m3}, sqlmigrate.Options{})
		require.ErrorContains(t, err, "migration 2_bad")
		require.Equal(t, []int{1}, done)
		require.Equal(t, []string{"a", "schema_migrations"}, tables(t, db), "the failed migration's first statement must be rolled back")

		v, err := sqlmigrate.Version(ctx, db, "")
		require.NoError(t, err)
		require.Equal(t, 1, v)
	})

	t.Run("newer schema is refused", func(t *testing.T) {
		t.Parallel()
		db := openDB(t)
		_, err := sqlmigrate.Apply(ctx, db, []sqlmigrate.Migration{m1, m2, m3}, sqlmigrate.Options{})
		require.NoError(t, err)
		_, err = sqlmigrate.Apply(ctx, db, []sqlmigrate.Migration{m1, m2}, sqlmigrate.Options{})
		require.ErrorIs(t, err, sqlmigrate.ErrSchemaTooNew)
		require.ErrorContains(t, err, "version 3")
	})

	t.Run("unknown recorded version is refused", func(t *testing.T) {
		t.Parallel()
		db := openDB(t)
		_, err := sqlmigrate.Apply(ctx, db, []sqlmigrate.Migration{m1, m2, m3}, sqlmigrate.Options{})
		require.NoError(t, err)
		_, err = sqlmigrate.Apply(ctx, db, []sqlmigrate.Migration{m1, m3}, sqlmigrate.Options{})
		require.ErrorContains(t, err, "does not know")
		require.False(t, errors.Is(err, sqlmigrate.ErrSchemaTooNew))
	})

	t.Run("custom table and lock statement", func(t *testing.T) {
		t.Parallel()
		db := openDB(t)
		opts := sqlmigrate.Options{Table: "my_versions", LockSQL: "SELECT 1"}
		done, err := sqlmigrate.Apply(ctx, db, []sqlmigrate.Migration{m1}, opts)
		require.NoError(t, err)
		require.Equal(t, []int{1}, done)
		v, err := sqlmigrate.Version(ctx, db, "my_versions")
		require.NoError(t, err)
		require.Equal(t, 1, v)

		_, err = sqlmigrate.Apply(ctx, db, []sqlmigrate.Migration{m1}, sqlmigrate.Options{Table: "x; DROP TABLE a"})
		require.ErrorContains(t, err, "plain identifier")
		_, err = sqlmigrate.Apply(ctx, db, []sqlmigrate.Migration{m2}, sqlmigrate.Options{LockSQL: "NOT SQL"})
		require.Error(t, err)
	})

	t.Run("unsorted migrations are refused", func(t *testing.T) {
		t.Parallel()
		db := openDB(t)
		_, err := sqlmigrate.Apply(ctx, db, []sqlmigrate.Migration{m2, m1}, sqlmigrate.Options{})
		require.ErrorContains(t, err, "increasing")
	})

	t.Run("version needs the table", func(t *testing.T) {
		t.Parallel()
		db := openDB(t)
		_, err := sqlmigrate.Version(ctx, db, "")
		require.Error(t, err)
		_, err = sqlmigrate.Apply(ctx, db, nil, sqlmigrate.Options{})
		require.NoError(t, err)
		v, err := sqlmigrate.Version(ctx, db, "")
		require.NoError(t, err)
		require.Zero(t, v)
	})
}
