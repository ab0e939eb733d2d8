package securitytest_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// secrets runs a little of everything through a server and returns what
// must never be found in clear where it keeps data or writes logs:
// destinations, end users' IPs, codes, device tokens, and the API key and
// webhook secrets.
func secrets(t *testing.T, b *testBundle) []string {
	t.Helper()
	ctx := t.Context()
	tag := strings.ToLower(rand.Text()[:6])
	phone := fmt.Sprintf("+4477009%05d", int(tag[0])*100+int(tag[1]))
	email := "ana." + tag + "@example.com"
	ip := "198.51.100.77"
	out := []string{phone, phone[1:], email, ip, b.svc.WebhookSecret, b.keySecret}

	v, err := b.key.StartVerification(ctx, b.svc.ID, client.StartParams{To: phone, ClientIP: ip})
	require.NoError(t, err)
	code := b.code(t, phone, 1)
	out = append(out, code)
	res, err := b.key.CheckVerification(ctx, b.svc.ID, v.ID, client.CheckParams{Code: "2222222222"})
	require.NoError(t, err)
	require.False(t, res.Valid)
	res, err = b.key.CheckVerification(ctx, b.svc.ID, v.ID, client.CheckParams{Code: code})
	require.NoError(t, err)
	require.True(t, res.Valid)

	ev, err := b.key.StartVerification(ctx, b.svc.ID, client.StartParams{To: email, Channel: client.ChannelEmail})
	require.NoError(t, err)
	emailCode := b.emailCode(t, email)
	out = append(out, emailCode)
	_, err = b.key.CheckByDestination(ctx, b.svc.ID, client.CheckByDestinationParams{To: email, Code: emailCode})
	require.NoError(t, err)
	_ = ev

	token := "fcm-" + tag + "-" + strings.ToLower(rand.Text())
	_, err = b.key.RegisterDevice(ctx, b.svc.ID, client.RegisterDeviceParams{Platform: "android", Token: token})
	require.NoError(t, err)
	return append(out, token)
}

// TestNothingInClearOnSQLite greps the SQLite database's files, and the
// server's debug log, for the secrets of a run.
func TestNothingInClearOnSQLite(t *testing.T) {
	t.Parallel()
	b := setup(t, client.CreateServiceParams{CodeAlphabet: client.AlphabetAlphanumeric, CodeLength: 10,
		Channels: []string{"sms", "email"}, WebhookURL: "http://127.0.0.1:9/otpd"})
	plain := secrets(t, b)
	b.srv.Stop(t)

	files, err := filepath.Glob(filepath.Join(b.srv.DataDir, "*"))
	require.NoError(t, err)
	read := 0
	for _, f := range files {
		if filepath.Base(f) == "keyring.json" {
			continue // the keys themselves, mode 0600; see docs/SECURITY.md
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			continue // a directory
		}
		read++
		for _, p := range plain {
			require.NotContains(t, string(raw), p, "%s holds %q in clear", filepath.Base(f), p)
		}
	}
	require.Positive(t, read)
	requireCleanLog(t, b, plain)
}

// TestNothingInClearOnPostgreSQL dumps every table of the schema the
// server used and greps it, and the log, for the secrets of a run.
func TestNothingInClearOnPostgreSQL(t *testing.T) {
	t.Parallel()
	pool, dsn := postgresSchema(t)
	b := setup(t, client.CreateServiceParams{CodeAlphabet: client.AlphabetAlphanumeric, CodeLength: 10,
		Channels: []string{"sms", "email"}, WebhookURL: "http://127.0.0.1:9/otpd"}, "--store", dsn)
	plain := secrets(t, b)
	b.srv.Stop(t)

	schema := mustSchema(t, dsn)
	rows, err := pool.Query(t.Context(), `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, schema)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, tables, "verifications")
	var dump strings.Builder
	for _, table := range tables {
		rows, err := pool.Query(t.Context(), `SELECT t::text FROM `+pgx.Identifier{schema, table}.Sanitize()+` t`)
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		dump.WriteString(strings.Join(lines, "\n"))
	}
	require.Contains(t, dump.String(), "enc1:")
	for _, p := range plain {
		require.NotContains(t, dump.String(), p, "the database holds %q in clear", p)
	}
	requireCleanLog(t, b, plain)
}

// requireCleanLog checks the structured log. (In --dev, which these tests
// need for the dev inbox, stdout shows each message the inbox received,
// code and all: that is the dev inbox's purpose, and it does not exist
// without --dev.)
func requireCleanLog(t *testing.T, b *testBundle, plain []string) {
	t.Helper()
	require.Contains(t, b.srv.Stdout(), "[dev inbox]")
	log := b.srv.Log()
	require.Contains(t, log, "otpd listening", "the log was captured")
	for _, p := range plain {
		require.NotContains(t, log, p, "the log holds %q", p)
	}
}

const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// postgresSchema makes an empty schema for one test, dropped after it,
// and returns an admin pool and a DSN that uses the schema. Without a
// server the test is skipped, or fails on CI.
func postgresSchema(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	base := os.Getenv("OTPD_TEST_POSTGRES_DSN")
	if base == "" {
		base = defaultTestDSN
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, base)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL is not reachable (set OTPD_TEST_POSTGRES_DSN): %v", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(pool.Close)
	schema := "otpd_sec_" + strings.ToLower(rand.Text())
	_, err = pool.Exec(t.Context(), `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return pool, u.String()
}

func mustSchema(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	return u.Query().Get("search_path")
}
