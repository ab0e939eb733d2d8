package postgres_test

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/postgres"
	"github.com/otpd/otpd/storetest"
)

// waitFor bounds every wait for a notification: far above what a working
// listener takes (a millisecond or so), far below the test's own timeout.
const waitFor = 10 * time.Second

// listener is a running Store.Listen whose notify calls the test counts.
type listener struct {
	wakes chan struct{}
	stop  func() error
}

// listen runs s.Listen until the test ends or stop is called, and waits
// until it listens: Listen calls notify once when it starts listening.
func listen(t *testing.T, s *postgres.Store) *listener {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// notify must not block: a buffer far larger than any test needs, and
	// a dropped wake-up would fail the test that waits for it.
	l := &listener{wakes: make(chan struct{}, 1024)}
	done := make(chan error, 1)
	go func() {
		done <- s.Listen(ctx, func() {
			select {
			case l.wakes <- struct{}{}:
			default:
			}
		})
	}()
	var err error
	stopped := false
	l.stop = func() error {
		if stopped {
			return err
		}
		stopped = true
		cancel()
		select {
		case err = <-done:
		case <-time.After(waitFor):
			t.Fatal("Listen did not return after its context ended")
		}
		return err
	}
	// Before the store closes: cleanups run last first.
	t.Cleanup(func() { require.NoError(t, l.stop()) })
	l.wait(t, "Listen starts listening")
	return l
}

// wait waits for one call of notify.
func (l *listener) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-l.wakes:
	case <-time.After(waitFor):
		t.Fatalf("no wake-up within %v: %s", waitFor, what)
	}
}

// rawListener is a plain connection listening on the channel of schema,
// named as notify.go documents it. Unlike Listen's notify it sees each
// notification's payload, so a test can send a marker after the writes
// that must not notify and check that the marker comes first.
type rawListener struct {
	conn    *pgx.Conn
	channel string
}

func newRawListener(t *testing.T, schema string) *rawListener {
	t.Helper()
	return newRawListenerOn(t, schema, "otpd_messages_")
}

// newRawListenerOn listens on the channel of schema whose name begins with
// prefix: "otpd_messages_" or "otpd_cache_" (invalidate.go).
func newRawListenerOn(t *testing.T, schema, prefix string) *rawListener {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsnIn(t, schema))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	r := &rawListener{conn: conn}
	require.NoError(t, conn.QueryRow(t.Context(),
		`SELECT $1::text || left(md5(current_schema()), 12)`, prefix).Scan(&r.channel))
	_, err = conn.Exec(t.Context(), `LISTEN `+pgx.Identifier{r.channel}.Sanitize())
	require.NoError(t, err)
	return r
}

// mark sends a notification with payload on r's channel, in a transaction
// of its own.
func (r *rawListener) mark(t *testing.T, payload string) {
	t.Helper()
	_, err := adminPool(t).Exec(t.Context(), `SELECT pg_notify($1, $2)`, r.channel, payload)
	require.NoError(t, err)
}

// next returns the payload of the next notification.
func (r *rawListener) next(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	n, err := r.conn.WaitForNotification(ctx)
	require.NoError(t, err, "no notification within %v", waitFor)
	return n.Payload
}

func TestListenWakesOtherNode(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	svc := storetest.NewService(time.Now())
	require.NoError(t, a.CreateService(ctx, svc))
	lb := listen(t, b)

	v := storetest.NewVerification(svc, time.Now())
	require.NoError(t, a.CreateVerification(ctx, v))
	lb.wait(t, "a start on node a wakes node b")

	_, err := a.UpdateVerification(ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
		got.Sends++
		got.Messages = append(got.Messages, storetest.NewMessage(got, time.Now()))
		return nil
	})
	require.NoError(t, err)
	lb.wait(t, "a resend on node a wakes node b")

	claimed, err := b.ClaimMessages(ctx, time.Now().Add(time.Second), time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 2, "what woke node b is there for it to claim")
}

// TestNotifyOnlyWhatCommitsAMessage: writes that queue no message, and
// writes that roll back, notify nobody; the marker sent after them is the
// first notification to arrive.
func TestNotifyOnlyWhatCommitsAMessage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := newSchema(t)
	s := openStore(t, schema)
	raw := newRawListener(t, schema)
	now := time.Now()
	svc := storetest.NewService(now)
	require.NoError(t, s.CreateService(ctx, svc))
	v := storetest.NewVerification(svc, now)
	require.NoError(t, s.CreateVerification(ctx, v))
	require.Empty(t, raw.next(t), "a start notifies")
	other := storetest.NewVerification(svc, now)
	require.NoError(t, s.CreateVerification(ctx, other))
	require.Empty(t, raw.next(t))

	// A start that fails.
	require.Error(t, s.CreateVerification(ctx, v), "a duplicate")
	// An update whose fn fails after queueing a message: nothing is
	// written.
	errFn := errors.New("fn failed")
	_, err := s.UpdateVerification(ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
		got.Messages = append(got.Messages, storetest.NewMessage(got, now))
		return errFn
	})
	require.ErrorIs(t, err, errFn)
	// An update whose writes fail after the notification has run in its
	// transaction: the message it adds has the id of another
	// verification's message, and the transaction rolls back.
	_, err = s.UpdateVerification(ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
		m := storetest.NewMessage(got, now)
		m.ID = other.Messages[0].ID
		got.Messages = append(got.Messages, m)
		return nil
	})
	require.Error(t, err)
	// Updates that queue nothing new: a check, a retry's new time, a sent
	// message.
	for _, fn := range []func(*otpd.Verification){
		func(got *otpd.Verification) { got.Attempts++ },
		func(got *otpd.Verification) {
			got.Messages[0].Attempts++
			got.Messages[0].NextAttemptAt = now.Add(time.Minute)
		},
		func(got *otpd.Verification) { got.Messages[0].Status = otpd.MessageSent },
	} {
		_, err = s.UpdateVerification(ctx, svc.ID, v.ID, func(got *otpd.Verification) error { fn(got); return nil })
		require.NoError(t, err)
	}
	// Messages handed straight to their node's dispatcher (otpd.Handoff)
	// are inserted leased: no other node could claim them.
	handed := storetest.NewVerification(svc, now)
	handed.Messages[0].LeaseUntil = now.Add(time.Minute)
	require.NoError(t, s.CreateVerification(ctx, handed))
	_, err = s.UpdateVerification(ctx, svc.ID, handed.ID, func(got *otpd.Verification) error {
		m := storetest.NewMessage(got, now)
		m.LeaseUntil = now.Add(time.Minute)
		got.Messages = append(got.Messages, m)
		return nil
	})
	require.NoError(t, err)

	raw.mark(t, "marker")
	require.Equal(t, "marker", raw.next(t), "nothing before the marker notified")

	// A message that becomes queued again notifies.
	_, err = s.UpdateVerification(ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
		got.Messages[0].Status = otpd.MessageQueued
		return nil
	})
	require.NoError(t, err)
	require.Empty(t, raw.next(t))
}

// TestNotifyPerSchema: stores in different schemas of one database do not
// wake each other.
func TestNotifyPerSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mine, theirs := newSchema(t), newSchema(t)
	s := openStore(t, theirs)
	rawMine, rawTheirs := newRawListener(t, mine), newRawListener(t, theirs)
	require.NotEqual(t, rawMine.channel, rawTheirs.channel)

	lt := listen(t, s)
	svc := storetest.NewService(time.Now())
	require.NoError(t, s.CreateService(ctx, svc))
	require.NoError(t, s.CreateVerification(ctx, storetest.NewVerification(svc, time.Now())))
	lt.wait(t, "a start wakes its own schema's listener")
	require.Empty(t, rawTheirs.next(t))

	rawMine.mark(t, "marker")
	require.Equal(t, "marker", rawMine.next(t), "the other schema's start did not notify this one")
}

// TestNotifyLongSchemaName: the channel name stays within PostgreSQL's
// 63 bytes however long the schema's name is.
func TestNotifyLongSchemaName(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := ("otpd_test_" + strings.ToLower(rand.Text()) + strings.Repeat("_long", 10))[:63]
	_, err := adminPool(t).Exec(ctx, `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := adminPool(t).Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	s := openStore(t, schema)
	l := listen(t, s)
	svc := storetest.NewService(time.Now())
	require.NoError(t, s.CreateService(ctx, svc))
	require.NoError(t, s.CreateVerification(ctx, storetest.NewVerification(svc, time.Now())))
	l.wait(t, "a start in a schema with a 63-byte name")
}

// listeningSessions returns the pids of the sessions named app whose last
// statement was a LISTEN: a running Listen's. It may be called from a
// require.Eventually condition, so it reports an error without stopping
// the test.
func listeningSessions(t *testing.T, app string) []int {
	t.Helper()
	rows, err := adminPool(t).Query(t.Context(), `SELECT pid FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE 'LISTEN %'`, app)
	var pids []int
	if err == nil {
		pids, err = pgx.CollectRows(rows, pgx.RowTo[int])
	}
	if err != nil {
		t.Errorf("listening sessions: %v", err)
	}
	return pids
}

// appName returns the application_name s shows the server.
func appName(t *testing.T, s *postgres.Store) string {
	t.Helper()
	var name string
	require.NoError(t, s.Pool().QueryRow(t.Context(), `SHOW application_name`).Scan(&name))
	return name
}

// TestListenReconnects: when the listener's session is terminated, Listen
// connects again, calls notify (messages may have been queued meanwhile),
// and goes on hearing of new messages.
func TestListenReconnects(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	svc := storetest.NewService(time.Now())
	require.NoError(t, a.CreateService(ctx, svc))
	lb := listen(t, b)

	pids := listeningSessions(t, appName(t, b))
	require.Len(t, pids, 1)
	for round := range 2 {
		old := pids[0]
		var ok bool
		require.NoError(t, adminPool(t).QueryRow(ctx, `SELECT pg_terminate_backend($1)`, old).Scan(&ok))
		require.True(t, ok)
		lb.wait(t, "Listen reconnects and calls notify")
		// The old session may linger in pg_stat_activity for a moment.
		require.Eventually(t, func() bool {
			pids = listeningSessions(t, appName(t, b))
			return len(pids) == 1 && pids[0] != old
		}, waitFor, 10*time.Millisecond, "round %d: one new listening session", round)

		require.NoError(t, a.CreateVerification(ctx, storetest.NewVerification(svc, time.Now())))
		lb.wait(t, "the new session hears of new messages")
	}
}

// TestListenQuiet: a listener that has heard nothing for longer than its
// health check interval (15 s) has checked its connection and still hears
// of new messages.
func TestListenQuiet(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the listener's 15 s health check")
	}
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	svc := storetest.NewService(time.Now())
	require.NoError(t, a.CreateService(ctx, svc))
	lb := listen(t, b)

	pids := listeningSessions(t, appName(t, b))
	require.Len(t, pids, 1)
	// The health check pings on the listening session: its last statement
	// is no longer the LISTEN. (Or the session is gone, which the check
	// below reports.)
	lastQuery := func() (string, error) {
		var query string
		err := adminPool(t).QueryRow(ctx, `SELECT query FROM pg_stat_activity WHERE pid = $1`, pids[0]).Scan(&query)
		return query, err
	}
	require.Eventually(t, func() bool {
		query, err := lastQuery()
		return err != nil || !strings.HasPrefix(query, "LISTEN ")
	}, 30*time.Second, 100*time.Millisecond, "the listener checks its connection")

	require.NoError(t, a.CreateVerification(ctx, storetest.NewVerification(svc, time.Now())))
	lb.wait(t, "a start after a quiet spell")
	_, err := lastQuery()
	require.NoError(t, err, "the listening session is the one it started with")
}

func TestListenReturnsWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := newSchema(t)
	s := openStore(t, schema, "application_name", schema)
	l := listen(t, s)
	require.Len(t, listeningSessions(t, schema), 1)
	require.NoError(t, l.stop())

	// Its session is closed, not handed back to the pool.
	require.Eventually(t, func() bool { return len(listeningSessions(t, schema)) == 0 },
		waitFor, 10*time.Millisecond)

	// A context that has already ended: Listen returns at once.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.NoError(t, s.Listen(cancelled, func() { t.Error("notify called") }))
}

// BenchmarkListenWake measures what LISTEN/NOTIFY adds to a cross-node
// pickup: from CreateVerification returning on node A to node B's Listen
// calling notify, one start at a time at up to 500/s, as p50/p99/max.
// Run: go test -run '^$' -bench ListenWake -benchtime 2000x ./postgres/
func BenchmarkListenWake(b *testing.B) {
	ctx := b.Context()
	schema := newSchema(b)
	a, other := openStore(b, schema), openStore(b, schema)
	svc := storetest.NewService(time.Now())
	require.NoError(b, a.CreateService(ctx, svc))

	wakes := make(chan time.Time, 1)
	listenCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = other.Listen(listenCtx, func() {
			select {
			case wakes <- time.Now():
			default:
			}
		})
	}()
	b.Cleanup(func() { cancel(); <-done })
	select {
	case <-wakes: // listening
	case <-time.After(waitFor):
		b.Fatal("Listen did not start listening")
	}

	lat := make([]time.Duration, 0, b.N)
	tick := time.NewTicker(time.Second / 500)
	defer tick.Stop()
	for b.Loop() {
		<-tick.C
		require.NoError(b, a.CreateVerification(ctx, storetest.NewVerification(svc, time.Now())))
		committed := time.Now()
		select {
		case at := <-wakes:
			lat = append(lat, max(0, at.Sub(committed)))
		case <-time.After(waitFor):
			b.Fatal("no wake-up")
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
