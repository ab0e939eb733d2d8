package fraud_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/fraud"
	"github.com/otpd/otpd/postgres"
	"github.com/otpd/otpd/sqlite"
	"github.com/otpd/otpd/storetest"
)

// Every test body runs against both real stores: the guard's correctness
// lives as much in their SQL (sums, the cut-off after a block, one active
// block per key) as in the Guard.
func forEachStore(t *testing.T, body func(t *testing.T, s otpd.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "otpd.db"))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		body(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		s, err := postgres.Open(t.Context(), postgresSchema(t))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		body(t, s)
	})
}

// postgresSchema creates a fresh schema on the test server and returns a
// DSN that uses it; it is dropped when the test ends. Without a server the
// test fails under CI=true and is skipped elsewhere.
func postgresSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("OTPD_TEST_POSTGRES_DSN")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	conn, err := pgx.Connect(t.Context(), base)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI: %v", err)
		}
		t.Skipf("PostgreSQL is not reachable (%v); skipping", err)
	}
	defer conn.Close(context.Background())
	schema := "otpd_fraud_" + strings.ToLower(rand.Text())
	_, err = conn.Exec(t.Context(), "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// clock is a fake clock that tests move.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// observer counts what the guard reports.
type observer struct {
	mu      sync.Mutex
	created map[otpd.BlockScope]int
	active  int
}

func (o *observer) BlockCreated(s otpd.BlockScope) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.created[s]++
}

func (o *observer) ActiveBlocks(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.active = n
}

// testBundle is what a test works with: a service on a store, a clock and
// a guard on them.
type testBundle struct {
	ctx   context.Context
	store otpd.Store
	clock *clock
	svc   *otpd.Service
	g     *fraud.Guard
	obs   *observer
}

const maturity = 2 * time.Minute

func setup(t *testing.T, s otpd.Store) *testBundle {
	t.Helper()
	b := &testBundle{ctx: t.Context(), store: s, clock: &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}}
	b.svc = storetest.NewService(b.clock.Now())
	require.NoError(t, s.CreateService(b.ctx, b.svc))
	b.g, b.obs = b.guard(t)
	return b
}

// guard returns another guard on the bundle's store and clock: another
// node.
func (b *testBundle) guard(t *testing.T) (*fraud.Guard, *observer) {
	t.Helper()
	obs := &observer{created: map[otpd.BlockScope]int{}}
	g, err := fraud.New(fraud.Config{
		Store:         b.store,
		MinVolume:     50,
		MinConversion: 0.2,
		Maturity:      maturity,
		Window:        time.Hour,
		Bucket:        time.Minute,
		EventData: func(blk *otpd.Block, _ time.Time) ([]byte, error) {
			return json.Marshal(map[string]any{"id": blk.ID, "key": blk.Key})
		},
		Observer: obs,
		Now:      b.clock.Now,
	})
	require.NoError(t, err)
	return g, obs
}

func dest(t *testing.T, number string) otpd.Destination {
	t.Helper()
	d, err := otpd.ParseDestination(number)
	require.NoError(t, err)
	return d
}

// traffic starts n verifications to numbers made by number(i) at the
// clock's time, and approves those for which approve(i) holds.
func (b *testBundle) traffic(t *testing.T, g *fraud.Guard, n int, number func(i int) string, approve func(i int) bool) {
	t.Helper()
	now := b.clock.Now()
	for i := range n {
		d := dest(t, number(i))
		g.Started(b.svc.ID, d, now)
		if approve(i) {
			g.Approved(b.svc.ID, d, now)
		}
	}
}

// settle flushes, moves the clock by d and sweeps; it returns what the
// sweep made.
func (b *testBundle) settle(t *testing.T, g *fraud.Guard, d time.Duration) []*otpd.Block {
	t.Helper()
	require.NoError(t, g.Flush(b.ctx))
	b.clock.Add(d)
	made, err := g.Sweep(b.ctx)
	require.NoError(t, err)
	return made
}

// blocked reports whether g refuses number now, and checks the refusal.
func (b *testBundle) blocked(t *testing.T, g *fraud.Guard, number string) bool {
	t.Helper()
	err := g.Screen(b.ctx, b.svc, dest(t, number), b.clock.Now())
	if err == nil {
		return false
	}
	require.ErrorIs(t, err, otpd.ErrDestinationBlocked)
	var oe *otpd.Error
	require.ErrorAs(t, err, &oe)
	require.Equal(t, "to", oe.Param)
	require.NotContains(t, oe.Detail, number, "the refusal names the range, never the number")
	return true
}

func pumped(i int) string   { return fmt.Sprintf("+3712512%04d", i) } // LV, prefix +3712512
func legitLV(i int) string  { return fmt.Sprintf("+3716712%04d", i) } // LV, prefix +3716712
func legitGB(i int) string  { return fmt.Sprintf("+44770090%04d", i) }
func never(int) bool        { return false }
func always(int) bool       { return true }
func mostly(i int) bool     { return i%10 != 0 }
func spreadLV(i int) string { return fmt.Sprintf("+37125%02d%04d", i%100, i) } // one start per prefix

func TestGuard(t *testing.T) {
	t.Parallel()
	type probe struct {
		number  string
		blocked bool
	}
	tests := []struct {
		name string
		// traffic runs at the start; checked approvals come with it, or
		// a minute later for late.
		traffic func(t *testing.T, b *testBundle)
		// before: the probes while the traffic has not matured; after:
		// once it has.
		before, after []probe
		// made are the keys blocked by the sweep after maturity.
		made []string
	}{
		{
			name: "pumping one prefix is blocked once its buckets mature",
			traffic: func(t *testing.T, b *testBundle) {
				b.traffic(t, b.g, 300, pumped, never)
				b.traffic(t, b.g, 400, legitLV, mostly) // the country converts well overall
				b.traffic(t, b.g, 100, legitGB, mostly)
			},
			before: []probe{{pumped(1), false}, {legitLV(1), false}},
			after:  []probe{{pumped(1), true}, {pumped(9999), true}, {legitLV(1), false}, {legitGB(1), false}},
			made:   []string{"+3712512"},
		},
		{
			name: "a legitimate burst checked within the minute is never blocked",
			traffic: func(t *testing.T, b *testBundle) {
				b.traffic(t, b.g, 1000, legitGB, always)
			},
			before: []probe{{legitGB(1), false}},
			after:  []probe{{legitGB(1), false}},
		},
		{
			name: "approvals that come later are credited to the start's bucket",
			traffic: func(t *testing.T, b *testBundle) {
				start := b.clock.Now()
				for i := range 200 {
					b.g.Started(b.svc.ID, dest(t, legitGB(i)), start)
				}
				require.NoError(t, b.g.Flush(b.ctx))
				b.clock.Add(90 * time.Second) // checked a minute and a half later
				for i := range 150 {
					b.g.Approved(b.svc.ID, dest(t, legitGB(i)), start)
				}
			},
			after: []probe{{legitGB(1), false}},
		},
		{
			name: "below the minimum volume nothing is judged",
			traffic: func(t *testing.T, b *testBundle) {
				b.traffic(t, b.g, 49, pumped, never)
			},
			after: []probe{{pumped(1), false}},
		},
		{
			name: "a pumped country is blocked even when no prefix has the volume",
			traffic: func(t *testing.T, b *testBundle) {
				b.traffic(t, b.g, 300, spreadLV, never)
				b.traffic(t, b.g, 100, legitGB, always)
			},
			after: []probe{{pumped(1), true}, {legitLV(1), true}, {legitGB(1), false}},
			made:  []string{"LV"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, s otpd.Store) {
				b := setup(t, s)
				tt.traffic(t, b)
				// Not yet matured: a bucket is judged Maturity after it
				// ended.
				require.Empty(t, b.settle(t, b.g, maturity))
				for _, p := range tt.before {
					require.Equal(t, p.blocked, b.blocked(t, b.g, p.number), p.number)
				}
				made := b.settle(t, b.g, time.Minute)
				var keys []string
				for _, blk := range made {
					keys = append(keys, blk.Key)
					require.Equal(t, otpd.BlockByGuard, blk.CreatedBy)
					require.Equal(t, 0, blk.Level)
					require.Equal(t, b.clock.Now().Add(15*time.Minute), blk.ExpiresAt, "the first level lasts 15 minutes")
				}
				require.ElementsMatch(t, tt.made, keys)
				for _, p := range tt.after {
					require.Equal(t, p.blocked, b.blocked(t, b.g, p.number), p.number)
				}
				// Sweeping again makes no second block, and the next
				// hours make none either.
				require.Empty(t, b.settle(t, b.g, time.Minute))
				require.Empty(t, b.settle(t, b.g, time.Hour))
				require.Equal(t, len(tt.made), b.obs.created[otpd.ScopePrefix]+b.obs.created[otpd.ScopeCountry])
			})
		})
	}
}

// pump runs an attack on the pumped prefix and sweeps once it matured.
func (b *testBundle) pump(t *testing.T, g *fraud.Guard) []*otpd.Block {
	t.Helper()
	b.traffic(t, g, 100, pumped, never)
	b.traffic(t, g, 100, legitLV, always)
	return b.settle(t, g, maturity+time.Minute)
}

func TestSafeList(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s otpd.Store) {
		b := setup(t, s)
		require.Len(t, b.pump(t, b.g), 1)
		b.svc.SafeList = []string{pumped(7), "+37125129"}
		require.False(t, b.blocked(t, b.g, pumped(7)), "an exact number")
		require.False(t, b.blocked(t, b.g, pumped(9123)), "a prefix")
		require.True(t, b.blocked(t, b.g, pumped(8)))
	})
}

func TestEscalation(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s otpd.Store) {
		b := setup(t, s)
		for level, d := range []time.Duration{15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 24 * time.Hour} {
			made := b.pump(t, b.g)
			require.Len(t, made, 1, "level %d", level)
			require.Equal(t, level, made[0].Level)
			require.Equal(t, made[0].CreatedAt.Add(d), made[0].ExpiresAt)
			require.True(t, b.blocked(t, b.g, pumped(1)))
			// Once it expires, the traffic that made it does not make
			// another; only a new attack does.
			b.clock.Add(d)
			require.False(t, b.blocked(t, b.g, pumped(1)))
			require.Empty(t, b.settle(t, b.g, time.Minute))
		}
		// A week later the ladder starts over.
		b.clock.Add(8 * 24 * time.Hour)
		made := b.pump(t, b.g)
		require.Len(t, made, 1)
		require.Zero(t, made[0].Level)
	})
}

func TestLift(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s otpd.Store) {
		b := setup(t, s)
		made := b.pump(t, b.g)
		require.Len(t, made, 1)
		blk := made[0]

		list, err := b.g.ListBlocks(b.ctx, b.svc.ID, false, "", 0)
		require.NoError(t, err)
		require.Len(t, list, 1)

		b.clock.Add(time.Minute)
		lifted, err := b.g.Lift(b.ctx, b.svc.ID, blk.ID, otpd.BlockByAdmin)
		require.NoError(t, err)
		require.Equal(t, b.clock.Now(), lifted.LiftedAt)
		require.Equal(t, otpd.BlockByAdmin, lifted.LiftedBy)
		require.False(t, b.blocked(t, b.g, pumped(1)))
		// Lifting again: it is not active.
		_, err = b.g.Lift(b.ctx, b.svc.ID, blk.ID, otpd.BlockByAdmin)
		require.ErrorIs(t, err, otpd.ErrNotFound)
		// The data that made it does not make it again.
		require.Empty(t, b.settle(t, b.g, time.Minute))
		require.False(t, b.blocked(t, b.g, pumped(1)))

		list, err = b.g.ListBlocks(b.ctx, b.svc.ID, false, "", 0)
		require.NoError(t, err)
		require.Empty(t, list)
		list, err = b.g.ListBlocks(b.ctx, b.svc.ID, true, "", 0)
		require.NoError(t, err)
		require.Len(t, list, 1)

		// Both changes are events of the service, keyed by the block.
		evs, err := s.ListEvents(b.ctx, otpd.EventFilter{ServiceID: b.svc.ID})
		require.NoError(t, err)
		require.Len(t, evs, 2)
		require.Equal(t, otpd.EventFraudBlockLifted, evs[0].Type)
		require.Equal(t, otpd.EventFraudBlockCreated, evs[1].Type)
		require.Equal(t, blk.ID, evs[0].VerificationID)
		require.JSONEq(t, `{"id":"`+blk.ID+`","key":"+3712512"}`, string(evs[1].Data))

		// A new attack after the lift is blocked again, one level up.
		made = b.pump(t, b.g)
		require.Len(t, made, 1)
		require.Equal(t, 1, made[0].Level)
	})
}

func TestManualBlock(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s otpd.Store) {
		b := setup(t, s)
		blk, created, err := b.g.Block(b.ctx, b.svc.ID, otpd.ScopePrefix, "+37125", time.Hour, "")
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, otpd.BlockByAdmin, blk.CreatedBy)
		require.True(t, b.blocked(t, b.g, pumped(1)), "a shorter prefix covers the range")
		require.False(t, b.blocked(t, b.g, legitLV(1)))
		again, created, err := b.g.Block(b.ctx, b.svc.ID, otpd.ScopePrefix, "+37125", 2*time.Hour, "")
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, blk.ID, again.ID)

		cblk, _, err := b.g.Block(b.ctx, b.svc.ID, otpd.ScopeCountry, "lv", time.Hour, "ops ticket 12")
		require.NoError(t, err)
		require.Equal(t, "LV", cblk.Key)
		require.True(t, b.blocked(t, b.g, legitLV(1)))

		for _, bad := range []struct {
			scope otpd.BlockScope
			key   string
			d     time.Duration
		}{
			{otpd.ScopePrefix, "37125", time.Hour},
			{otpd.ScopeCountry, "LVA", time.Hour},
			{"region", "LV", time.Hour},
			{otpd.ScopePrefix, "+37125", time.Second},
		} {
			_, _, err := b.g.Block(b.ctx, b.svc.ID, bad.scope, bad.key, bad.d, "")
			require.ErrorIs(t, err, otpd.ErrInvalid, "%+v", bad)
		}
		_, _, err = b.g.Block(b.ctx, "svc_00000000000000000000000000", otpd.ScopePrefix, "+1", time.Hour, "")
		require.ErrorIs(t, err, otpd.ErrNotFound)
	})
}

// Two nodes sharing a store: each counts its own traffic, the counts add
// up, both judge at once, and one block comes of it, which both enforce.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s otpd.Store) {
		b := setup(t, s)
		g2, obs2 := b.guard(t)
		// 30 starts each: neither node alone has the volume.
		b.traffic(t, b.g, 30, pumped, never)
		b.traffic(t, g2, 30, pumped, never)
		b.traffic(t, g2, 100, legitLV, always) // the country converts well
		require.NoError(t, b.g.Flush(b.ctx))
		require.NoError(t, g2.Flush(b.ctx))
		b.clock.Add(maturity + time.Minute)

		var wg sync.WaitGroup
		made := make([][]*otpd.Block, 2)
		for i, g := range []*fraud.Guard{b.g, g2} {
			wg.Go(func() {
				var err error
				made[i], err = g.Sweep(b.ctx)
				require.NoError(t, err)
			})
		}
		wg.Wait()
		require.Equal(t, 1, len(made[0])+len(made[1]), "one block of the two sweeps")
		require.Equal(t, 1, b.obs.created[otpd.ScopePrefix]+obs2.created[otpd.ScopePrefix])
		// The node that did not make it enforces it too, at the latest
		// after a refresh.
		for _, g := range []*fraud.Guard{b.g, g2} {
			require.NoError(t, g.Refresh(b.ctx))
			require.True(t, b.blocked(t, g, pumped(1)))
		}
		require.Equal(t, 1, obs2.active)

		// A lift on one node reaches the other with its next refresh.
		blk := append(made[0], made[1]...)[0]
		_, err := b.g.Lift(b.ctx, b.svc.ID, blk.ID, otpd.BlockByAdmin)
		require.NoError(t, err)
		require.NoError(t, g2.Refresh(b.ctx))
		require.False(t, b.blocked(t, g2, pumped(1)))
	})
}

// A restarted node (a new Guard) loads the blocks from the store.
func TestRestart(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s otpd.Store) {
		b := setup(t, s)
		require.Len(t, b.pump(t, b.g), 1)
		fresh, _ := b.guard(t)
		require.False(t, b.blocked(t, fresh, pumped(1)), "nothing in memory before the first refresh")
		require.NoError(t, fresh.Refresh(b.ctx))
		require.True(t, b.blocked(t, fresh, pumped(1)))
	})
}

// Run flushes, judges and refreshes on its own, and flushes what is left
// when it stops.
func TestRun(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s otpd.Store) {
		b := setup(t, s)
		g, err := fraud.New(fraud.Config{
			Store: s, Maturity: time.Second, Window: time.Minute, Bucket: time.Second, MinVolume: 10,
			FlushInterval: 10 * time.Millisecond, SweepInterval: 20 * time.Millisecond, RefreshInterval: 20 * time.Millisecond,
		})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(b.ctx)
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()
		for i := range 20 {
			g.Started(b.svc.ID, dest(t, pumped(i)), time.Now())
		}
		require.Eventually(t, func() bool {
			return g.Screen(b.ctx, b.svc, dest(t, pumped(1)), time.Now()) != nil
		}, 10*time.Second, 10*time.Millisecond)

		require.Error(t, g.Run(ctx), "Run runs once")

		// Counts made just before the stop are flushed by it; Close
		// returns once Run has.
		g.Started(b.svc.ID, dest(t, legitGB(1)), time.Now())
		require.NoError(t, g.Close())
		require.NoError(t, <-done)
		cancel()
		stats, err := s.ConversionStats(b.ctx, time.Now().Add(-time.Minute), time.Now().Add(time.Minute), 1)
		require.NoError(t, err)
		var gb int64
		for _, st := range stats {
			if st.Key == "GB" {
				gb = st.Started
			}
		}
		require.EqualValues(t, 1, gb)
	})
}

// failingStore fails AddConversions while fail is set.
type failingStore struct {
	otpd.Store
	mu   sync.Mutex
	fail bool
}

func (s *failingStore) AddConversions(ctx context.Context, d []otpd.ConversionDelta) error {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail {
		return errors.New("store down")
	}
	return s.Store.AddConversions(ctx, d)
}

// Counts a flush could not write are kept for the next one.
func TestFlushKeepsCountsOnFailure(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s otpd.Store) {
		fs := &failingStore{Store: s, fail: true}
		b := setup(t, fs)
		b.traffic(t, b.g, 30, pumped, never)
		require.Error(t, b.g.Flush(b.ctx))
		b.traffic(t, b.g, 30, pumped, never)
		fs.mu.Lock()
		fs.fail = false
		fs.mu.Unlock()
		b.traffic(t, b.g, 100, legitLV, always)
		made := b.settle(t, b.g, maturity+time.Minute)
		require.Len(t, made, 1, "the 60 starts of both flushes add up")
		require.EqualValues(t, 60, made[0].Started)
	})
}
