package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/ratelimit"
)

var _ otpd.RateLimiter = (*Store)(nil)

// limitKey is one (key, period) whose counts a call reads or changes.
type limitKey struct {
	key   string
	limit otpd.RateLimit
	n     int64 // events to count: hits of the same key in one call add up
}

// gather merges hits on the same key and period and drops limits that are
// off, in key order: every transaction locks rows in that order, so two
// never wait on each other in a cycle.
func gather(hits []otpd.RateHit) []limitKey {
	out := make([]limitKey, 0, len(hits))
	for _, h := range hits {
		if h.Limit.Off() {
			continue
		}
		i := slices.IndexFunc(out, func(k limitKey) bool { return k.key == h.Key && k.limit.Per == h.Limit.Per })
		if i < 0 {
			out = append(out, limitKey{key: h.Key, limit: h.Limit, n: 1})
			continue
		}
		out[i].n++
		out[i].limit.N = min(out[i].limit.N, h.Limit.N)
	}
	slices.SortFunc(out, func(a, b limitKey) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.limit.Per, b.limit.Per))
	})
	return out
}

// Take counts one event against every hit if each has room, or none. The
// increments come first: their row locks make concurrent takes of a key
// (on any node) wait for each other, so a limit admits exactly its budget;
// a take that does not fit rolls its increments back.
func (s *Store) Take(ctx context.Context, now time.Time, hits []otpd.RateHit) (time.Duration, error) {
	keys := gather(hits)
	if len(keys) == 0 {
		return 0, nil
	}
	var wait time.Duration
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := addCounts(ctx, tx, now, keys); err != nil {
			return err
		}
		counts, err := readCounts(ctx, tx, now, keys)
		if err != nil {
			return err
		}
		for i, k := range keys {
			// The wait for the events just counted is the wait for one
			// event on the counts before them.
			before := slices.Clone(counts[i])
			cur := ratelimit.Slot(k.limit, now)
			for j := range before {
				if before[j].Slot == cur {
					before[j].Count -= k.n
				}
			}
			wait = max(wait, ratelimit.WaitFor(k.limit, now, before))
		}
		if wait > 0 {
			return errRollback
		}
		return nil
	})
	if errors.Is(err, errRollback) {
		return wait, nil
	}
	if err != nil {
		return 0, fmt.Errorf("rate limit take: %w", err)
	}
	return 0, nil
}

// errRollback ends Take's transaction without committing it.
var errRollback = errors.New("postgres: rate limit exceeded")

// Wait returns how long until every hit has room, counting nothing.
func (s *Store) Wait(ctx context.Context, now time.Time, hits []otpd.RateHit) (time.Duration, error) {
	keys := gather(hits)
	if len(keys) == 0 {
		return 0, nil
	}
	counts, err := readCounts(ctx, s.pool, now, keys)
	if err != nil {
		return 0, fmt.Errorf("rate limit wait: %w", err)
	}
	var wait time.Duration
	for i, k := range keys {
		wait = max(wait, ratelimit.WaitFor(k.limit, now, counts[i]))
	}
	return wait, nil
}

// Add counts one event against every hit, with room or not.
func (s *Store) Add(ctx context.Context, now time.Time, hits []otpd.RateHit) error {
	keys := gather(hits)
	if len(keys) == 0 {
		return nil
	}
	if err := addCounts(ctx, s.pool, now, keys); err != nil {
		return fmt.Errorf("rate limit add: %w", err)
	}
	return nil
}

// db is what both a pool and a transaction offer.
type db interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// addCounts adds each key's events to its current slot in one statement.
func addCounts(ctx context.Context, q db, now time.Time, keys []limitKey) error {
	names := make([]string, len(keys))
	pers := make([]int64, len(keys))
	slots := make([]int64, len(keys))
	ns := make([]int64, len(keys))
	expires := make([]int64, len(keys))
	for i, k := range keys {
		names[i], pers[i], ns[i] = k.key, k.limit.Per.Milliseconds(), k.n
		slots[i] = ratelimit.Slot(k.limit, now)
		// The slot stops counting a period after it ends.
		end := time.Unix(0, (slots[i]+1)*(int64(k.limit.Per)/ratelimit.Slots))
		expires[i] = end.Add(k.limit.Per).UnixMilli()
	}
	_, err := q.Exec(ctx, `INSERT INTO rate_counts (key, per_ms, slot, count, expires_at)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
		ON CONFLICT (key, per_ms, slot) DO UPDATE SET count = rate_counts.count + excluded.count`,
		names, pers, slots, ns, expires)
	return err
}

// readCounts returns the live slots of every key, in keys' order.
func readCounts(ctx context.Context, q db, now time.Time, keys []limitKey) ([][]ratelimit.SlotCount, error) {
	names := make([]string, len(keys))
	pers := make([]int64, len(keys))
	firsts := make([]int64, len(keys))
	for i, k := range keys {
		names[i], pers[i] = k.key, k.limit.Per.Milliseconds()
		firsts[i] = ratelimit.FirstLive(k.limit, now)
	}
	rows, err := q.Query(ctx, `SELECT k.i, c.slot, c.count
		FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS k(key, per_ms, first, i)
		JOIN rate_counts c ON c.key = k.key AND c.per_ms = k.per_ms AND c.slot >= k.first`,
		names, pers, firsts)
	if err != nil {
		return nil, err
	}
	out := make([][]ratelimit.SlotCount, len(keys))
	var i int64
	var c ratelimit.SlotCount
	_, err = pgx.ForEachRow(rows, []any{&i, &c.Slot, &c.Count}, func() error {
		out[i-1] = append(out[i-1], c)
		return nil
	})
	return out, err
}

// PurgeRateCounts deletes up to limit rate-limit slots that stopped
// counting before now, and returns how many it deleted.
func (s *Store) PurgeRateCounts(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.execCount(ctx, `DELETE FROM rate_counts WHERE ctid IN (
		SELECT ctid FROM rate_counts WHERE expires_at < $1 LIMIT $2)`, limit, now.UnixMilli())
}
