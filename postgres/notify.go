package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/otpd/otpd"
)

// Cross-node wake-ups.
//
// Every write that makes a message claimable (a start's CreateVerification;
// an UpdateVerification that appends a queued message, a resend) sends a
// notification once it has committed, and each node's Listen, hearing it,
// wakes its dispatcher: a message queued on one node is claimed at once by
// whichever node is free. The notification is sent only after the commit,
// never for a write that rolled back, and PostgreSQL delivers it only when
// its own transaction commits, so a listener that hears it sees the message.
//
// Where the notification goes in relation to the commit matters for speed.
// PostgreSQL keeps notifications in commit order by taking one lock, for the
// whole cluster, from the moment a transaction that notified starts to
// commit until it has committed, WAL flush included (async.c,
// PreCommit_Notify). Had every start notified inside its own transaction,
// starts would commit one at a time, each waiting out the one before's
// flush: no group commit, and a ceiling of one start per flush time across
// all nodes and every other notifying client of the server. Measured with
// BenchmarkCreateVerification/Parallel at 16 goroutines on a 2-CPU machine
// (fsync about 0.7 ms): 240-420 µs a start without a notification,
// 650-1,800 µs with it inside the transaction, 280-390 µs with it after.
// So CreateVerification commits first and then notifies in a transaction
// of its own, in the same round trip (commitThenNotify): that transaction
// writes nothing, so its commit does not wait for a flush, and it holds
// the lock for microseconds.
//
// UpdateVerification notifies inside its transaction instead: its COMMIT
// is a round trip of its own, after the write batch, and a notification
// after it would cost one more. Inside, it is atomic and free, at the
// price of holding the lock over the flush, which is cheap for what it
// covers: resends, a few per cent of starts and bounded by the resend
// cooldown. A retry's new time notifies nobody: it is in the future, no
// node could claim it on hearing, and the dispatchers' poll finds it when
// it comes.
//
// The channel is named after the schema the store lives in: "otpd_messages_"
// and the first 12 hex digits of the MD5 of current_schema(). Notifications
// reach every session of the database that listens on the channel, whatever
// its search_path, so otpd installations in different schemas of one
// database would otherwise wake each other's dispatchers for nothing. A hash
// rather than the schema's name because a channel name is an identifier of
// at most 63 bytes, and pg_notify refuses a longer one: a long schema name
// would make every start fail. The server computes the name in the
// statement itself, from the same current_schema() as the tables the
// transaction wrote to, so a sender and a listener cannot disagree about it
// and Open need not look it up.
const (
	sqlMessagesChannel = `'otpd_messages_' || left(md5(coalesce(current_schema(), '')), 12)`
	sqlNotifyMessages  = `SELECT pg_notify(` + sqlMessagesChannel + `, '')`
	sqlListenChannels  = `SELECT ` + sqlMessagesChannel + `, ` + sqlCacheChannel
)

// queuesMessage reports whether writing after over before (nil for a new
// verification) makes a message claimable that was not: a new queued
// message, or one that has become queued. fn has not been checked when
// UpdateVerification asks, so nil messages are passed over here; they are
// refused by queueChanges.
func queuesMessage(before, after *otpd.Verification) bool {
	queued := map[string]bool{}
	if before != nil {
		for _, m := range before.Messages {
			if m != nil && m.Status == otpd.MessageQueued {
				queued[m.ID] = true
			}
		}
	}
	for _, m := range after.Messages {
		// A message leased as it is inserted was handed to this node's
		// dispatcher (otpd.Handoff): no other node can claim it.
		if m != nil && m.Status == otpd.MessageQueued && !queued[m.ID] && m.LeaseUntil.IsZero() {
			return true
		}
	}
	return false
}

// commitThenNotify makes b, whose statements would run as one implicit
// transaction, an explicit transaction followed by the notification, in a
// transaction of its own: both in the one round trip of the batch. When a
// statement of b fails, the server skips the rest of the batch, the
// notification and the COMMIT included; the transaction is then left
// aborted, and the pool closes the connection rather than reuse it.
func commitThenNotify(b *pgx.Batch) {
	b.QueuedQueries = append([]*pgx.QueuedQuery{{SQL: "BEGIN"}}, b.QueuedQueries...)
	b.Queue("COMMIT")
	b.Queue(sqlNotifyMessages)
}

// How Listen keeps its connection.
const (
	// listenHealthInterval is how long Listen waits for a notification
	// before it checks the connection with a ping. A connection that died
	// without a word (a host gone, a NAT mapping dropped) is found within
	// about this long plus listenPingTimeout, and the pings keep
	// idle_session_timeout and idle firewalls from closing a quiet one.
	listenHealthInterval = 15 * time.Second
	listenPingTimeout    = 5 * time.Second
	// The wait before the n-th reconnection attempt in a row grows from
	// listenMinBackoff to listenMaxBackoff; the first attempt after a
	// connection that worked is immediate.
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 5 * time.Second
)

// Listen calls notify whenever a message has been queued in the store, by
// any node, this one included, and tells SubscribeInvalidations'
// subscribers of services and keys changed (invalidate.go). Every write that queues a message (a
// start, a resend) notifies once committed, through PostgreSQL's
// LISTEN/NOTIFY, on a channel of the store's schema; Listen listens on it
// and calls notify once for each notification. With notify set to a
// delivery.Dispatcher's Notify, a message queued on one node is claimed at
// once by whichever node is free, rather than at the next poll. notify must
// not block: Listen calls it from its receive loop. Many calls in a row are
// expected; the dispatcher's Notify coalesces them.
//
// Listen holds one connection of its own for as long as it runs, taken from
// the pool (so the pool's hooks and settings apply) and then kept out of it:
// the pool may open another in its place, so count pool_max_conns + 1
// connections per node. That connection must be a session of its own with
// the server: through PgBouncer in transaction mode, LISTEN does not work,
// and a node then finds other nodes' messages by its poll alone.
//
// When the connection fails, or stops answering, Listen connects again,
// immediately and then with a growing backoff (up to 5 s, with
// jitter so that nodes do not reconnect in step after a fail-over). Each
// time it starts listening, the first time included, it calls notify once:
// messages may have been queued while it was not listening. Nothing is lost
// while it is down; delivery then falls back to the dispatcher's poll.
//
// Listen does not report the failures it recovers from. It returns nil
// when ctx ends, having closed its connection, and must have returned
// before the Store is closed.
func (s *Store) Listen(ctx context.Context, notify func()) error {
	for failures := 0; ; failures++ {
		conn, cacheChannel, err := s.listenConn(ctx)
		if err == nil {
			failures = 0
			notify()
			s.invalidate(otpd.Invalidation{Kind: otpd.InvalidateAll})
			s.receive(ctx, conn, cacheChannel, notify)
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			conn.Close(closeCtx) //nolint:errcheck // the connection is being dropped, working or not
			cancel()
		}
		if ctx.Err() != nil {
			return nil
		}
		if failures == 0 {
			// The first attempt after a connection that worked: a
			// terminated session or a dropped connection is usually
			// replaced at once.
			continue
		}
		wait := min(listenMaxBackoff, listenMinBackoff<<min(failures-1, 16))
		wait = wait/2 + rand.N(wait/2+1) //nolint:gosec // jitter, not a secret
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// listenConn takes a connection out of the pool and starts listening on it,
// on the messages channel and the cache channel (invalidate.go), whose name
// it returns.
func (s *Store) listenConn(ctx context.Context) (conn *pgx.Conn, cacheChannel string, err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("postgres: listen: %w", err)
	}
	conn = pc.Hijack()
	var messages string
	err = conn.QueryRow(ctx, sqlListenChannels).Scan(&messages, &cacheChannel)
	if err == nil {
		_, err = conn.Exec(ctx, `LISTEN `+pgx.Identifier{messages}.Sanitize()+`; LISTEN `+pgx.Identifier{cacheChannel}.Sanitize())
	}
	if err != nil {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(closeCtx) //nolint:errcheck // the error that matters is err
		return nil, "", fmt.Errorf("postgres: listen: %w", err)
	}
	return conn, cacheChannel, nil
}

// receive calls notify for each notification of the messages channel conn
// receives, and tells subscribers of each of the cache channel's, until ctx
// ends or the connection fails. While no notification comes, it pings the
// server every listenHealthInterval.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn, cacheChannel string, notify func()) {
	for {
		waitCtx, cancel := context.WithTimeout(ctx, listenHealthInterval)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil && n.Channel == cacheChannel:
			s.invalidate(parseInvalidation(n.Payload))
		case err == nil:
			notify()
		case ctx.Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
			// Quiet for a while. A timed-out wait leaves the connection
			// usable (pgconn reads the message it was in the middle of,
			// if any, on the next call): make sure it still is.
			pingCtx, cancel := context.WithTimeout(ctx, listenPingTimeout)
			err := conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return
			}
		default:
			return
		}
	}
}
