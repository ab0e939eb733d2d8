package delivery_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/delivery"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/postgres"
)

// pgSchemaDSN returns a DSN for a fresh schema on the test server, as the
// postgres package's tests make them (OTPD_TEST_POSTGRES_DSN, or the local
// default), and drops the schema when b ends. Without a server the
// benchmark is skipped, or fails on CI.
func pgSchemaDSN(b *testing.B) string {
	b.Helper()
	dsn := os.Getenv("OTPD_TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL is not reachable (set OTPD_TEST_POSTGRES_DSN to use another server): %v", err)
		if os.Getenv("CI") == "true" {
			b.Fatal(msg)
		}
		b.Skip(msg)
	}
	defer conn.Close(context.Background())
	schema := "otpd_bench_" + strings.ToLower(rand.Text())
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			_, err = conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`)
			conn.Close(ctx)
		}
		if err != nil {
			b.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn + " search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// countingStore counts a dispatcher's claims, to show what the wake-ups
// cost the database: every wake-up is one claim statement, whether or not
// it finds a message.
type countingStore struct {
	otpd.Store
	claims atomic.Int64
}

func (s *countingStore) ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]otpd.ClaimedMessage, error) {
	s.claims.Add(1)
	return s.Store.ClaimMessages(ctx, now, lease, limit)
}

// BenchmarkPickupPostgres is BenchmarkPickup on PostgreSQL: pickup latency,
// from a start's commit (Start returning) to the channel's Send, in an open
// loop at a fixed rate. Every write, the claims and outcomes included, is a
// durable commit (synchronous_commit=on). Variants:
//
//   - one-node: starts and delivery on one node, whose engine wakes its
//     dispatcher in-process after each commit (Engine's Notify);
//   - one-node+listen: the same with the node's Store.Listen also waking the
//     dispatcher, as otpd serve should wire it: each start wakes it twice;
//   - cross-node: starts on node A, whose engine wakes nothing; delivery on
//     node B, another pool on the same schema, whose dispatcher only
//     B's Store.Listen wakes: pickup by LISTEN/NOTIFY;
//   - handoff: one-node+listen with the engine handing each message straight
//     to the dispatcher (otpd.Handoff), as otpd serve wires it: no claim.
//
// claims/msg is the dispatcher's claim statements per message sent, and
// notifies/msg the notifications its Listen received per message.
// Run: go test -run '^$' -bench PickupPostgres -benchtime 1x ./delivery/
func BenchmarkPickupPostgres(b *testing.B) {
	for _, variant := range []string{"one-node", "one-node+listen", "cross-node", "handoff"} {
		for _, rate := range []int{100, 500} {
			b.Run(fmt.Sprintf("%s/rate=%d", variant, rate), func(b *testing.B) {
				benchmarkPickupPostgres(b, variant, rate)
			})
		}
	}
}

func benchmarkPickupPostgres(b *testing.B, variant string, rate int) {
	ctx := context.Background()
	dsn := pgSchemaDSN(b)
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	const seconds = 4
	n := rate * seconds
	ch := &stampChannel{seen: map[string]time.Time{}, all: make(chan struct{}), want: n}
	keyring := otpd.NewKeyring(time.Now())
	newEngine := func(store otpd.Store, notify func(), handoff otpd.Handoff) *otpd.Engine {
		e, err := otpd.NewEngine(otpd.Config{
			Store: store, Keyring: keyring, Renderer: message.New(), Notify: notify, Handoff: handoff,
			Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: ch},
		})
		if err != nil {
			b.Fatal(err)
		}
		return e
	}

	// Node B delivers; node A starts. In the one-node variants they are
	// one node.
	storeB := open()
	counted := &countingStore{Store: storeB}
	disp := delivery.New(counted, delivery.Options{Workers: 32})
	engineB := newEngine(storeB, disp.Notify, nil)
	engineA, listen := engineB, false
	switch variant {
	case "one-node+listen":
		listen = true
	case "cross-node":
		engineA, listen = newEngine(open(), nil, nil), true
	case "handoff":
		engineB = newEngine(storeB, disp.Notify, disp)
		engineA, listen = engineB, true
	}
	svc, err := engineA.CreateService(ctx, &otpd.Service{Name: "Acme", Policy: otpd.DefaultPolicy()})
	if err != nil {
		b.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	var notified atomic.Int64 // notifications Listen received
	var workers sync.WaitGroup
	// Before the stores close, however the benchmark ends.
	b.Cleanup(func() { stop(); workers.Wait() })
	workers.Go(func() { _ = disp.Run(runCtx, engineB.Deliver) })
	if listen {
		listening := make(chan struct{})
		var once sync.Once
		workers.Go(func() {
			_ = storeB.Listen(runCtx, func() {
				once.Do(func() { close(listening) })
				notified.Add(1)
				disp.Notify()
			})
		})
		select {
		case <-listening:
		case <-time.After(10 * time.Second):
			b.Fatal("Listen did not start listening")
		}
	}

	committed := make(map[string]time.Time, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	claimsBefore, notifiedBefore := counted.claims.Load(), notified.Load()
	begin := time.Now()
	b.ResetTimer()
	for i := range n {
		// Open loop: each start goes at its scheduled time, however slow
		// the previous ones were.
		time.Sleep(time.Until(begin.Add(time.Duration(i) * interval)))
		wg.Go(func() {
			v, err := engineA.Start(ctx, svc.ID, otpd.StartRequest{To: fmt.Sprintf("+4477009%05d", i)})
			if err != nil {
				b.Error(err)
				return
			}
			at := time.Now()
			mu.Lock()
			committed[v.ID] = at
			mu.Unlock()
		})
	}
	wg.Wait()
	select {
	case <-ch.all:
	case <-time.After(30 * time.Second):
		ch.mu.Lock()
		sent := len(ch.seen)
		ch.mu.Unlock()
		b.Fatalf("only %d of %d messages sent", sent, n)
	}
	b.StopTimer()
	claims := counted.claims.Load() - claimsBefore

	lat := make([]time.Duration, 0, n)
	ch.mu.Lock()
	for id, c := range committed {
		lat = append(lat, max(0, ch.seen[id].Sub(c)))
	}
	ch.mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(claims)/float64(n), "claims/msg")
	b.ReportMetric(float64(notified.Load()-notifiedBefore)/float64(n), "notifies/msg")
}
