package otpd_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/ratelimit"
)

// countingStore counts the reads of services and keys, and is an
// otpd.InvalidationSource that tests publish on by hand.
type countingStore struct {
	otpd.Store
	getKey, getService, getVerification, findRef atomic.Int64

	mu   sync.Mutex
	subs []func(otpd.Invalidation)
}

func (s *countingStore) GetKey(ctx context.Context, id string) (*otpd.Key, error) {
	s.getKey.Add(1)
	return s.Store.GetKey(ctx, id)
}

func (s *countingStore) GetService(ctx context.Context, id string) (*otpd.Service, error) {
	s.getService.Add(1)
	return s.Store.GetService(ctx, id)
}

func (s *countingStore) GetVerification(ctx context.Context, serviceID, id string) (*otpd.Verification, error) {
	s.getVerification.Add(1)
	return s.Store.GetVerification(ctx, serviceID, id)
}

func (s *countingStore) FindMessageByRef(ctx context.Context, ref string) (otpd.ClaimedMessage, error) {
	s.findRef.Add(1)
	return s.Store.FindMessageByRef(ctx, ref)
}

func (s *countingStore) SubscribeInvalidations(fn func(otpd.Invalidation)) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, fn)
	return func() {}
}

// publish tells the subscribers, as another node's change would.
func (s *countingStore) publish(inv otpd.Invalidation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fn := range s.subs {
		fn(inv)
	}
}

// setupCounting is setup with the engine on a countingStore and the given
// CacheTTL.
func setupCounting(t *testing.T, ttl time.Duration) (*testBundle, *countingStore) {
	t.Helper()
	var cs *countingStore
	b := setupWith(t, func(cfg *otpd.Config) {
		cs = &countingStore{Store: cfg.Store}
		cfg.Store, cfg.CacheTTL = cs, ttl
		// A limiter, so that checks read the service's limits, with none
		// that the tests' many starts would reach.
		cfg.Limiter = ratelimit.NewMemory()
		off := otpd.NoLimit
		cfg.Limits = otpd.Limits{Destination: off, ClientIP: off, Service: off, Prefix: off, Country: off, FailedChecks: off}
	})
	return b, cs
}

// TestReadsPerVerification counts the reads of keys and services that a
// verification costs — authenticate and start, deliver, authenticate and
// check — without the cache and with it (after the first, which fills it).
func TestReadsPerVerification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		ttl                  time.Duration
		wantKey, wantService int64 // reads per verification in the steady state
	}{
		{"no cache", -1, 2, 3},
		{"cache", time.Hour, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, cs := setupCounting(t, tt.ttl)
			ctx := context.Background()
			_, secret, err := b.engine.CreateKey(ctx, b.svc.ID, "backend")
			require.NoError(t, err)
			verify := func() {
				p, err := b.engine.Authenticate(ctx, secret)
				require.NoError(t, err)
				v, err := b.engine.Start(ctx, p.ServiceID, otpd.StartRequest{To: "+447700900123"})
				require.NoError(t, err)
				code := b.deliver(t, v)
				_, err = b.engine.Authenticate(ctx, secret)
				require.NoError(t, err)
				res, err := b.engine.Check(ctx, p.ServiceID, v.ID, code, nil)
				require.NoError(t, err)
				require.True(t, res.Valid)
			}
			verify() // fills the cache
			keys, services := cs.getKey.Load(), cs.getService.Load()
			const n = 5
			for range n {
				verify()
			}
			gotKey, gotService := (cs.getKey.Load()-keys)/n, (cs.getService.Load()-services)/n
			t.Logf("%s: GetKey %d, GetService %d per verification", tt.name, gotKey, gotService)
			require.Equal(t, tt.wantKey, gotKey, "GetKey per verification")
			require.Equal(t, tt.wantService, gotService, "GetService per verification")
		})
	}
}

// handoffRecorder is an otpd.Handoff that keeps what it is given.
type handoffRecorder struct {
	mu    sync.Mutex
	given []otpd.ClaimedMessage
}

func (h *handoffRecorder) Reserve() (time.Duration, bool) { return time.Minute, true }
func (h *handoffRecorder) Cancel()                        {}
func (h *handoffRecorder) Give(m otpd.ClaimedMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.given = append(h.given, m)
}

func (h *handoffRecorder) last(t *testing.T) otpd.ClaimedMessage {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	require.NotEmpty(t, h.given)
	return h.given[len(h.given)-1]
}

// A message handed over in-process carries the verification as its start
// (or resend) committed it, and Deliver sends from that copy without
// reading the verification back, unless the copy has grown old.
func TestDeliverFromTheHandedCopy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		age       time.Duration // between the start and the delivery
		wantReads int64
	}{
		{"fresh", time.Second, 0},
		{"old", 10 * time.Second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := &handoffRecorder{}
			var cs *countingStore
			b := setupWith(t, func(cfg *otpd.Config) {
				cs = &countingStore{Store: cfg.Store}
				cfg.Store = cs
				cfg.Handoff = h
			})
			ctx := context.Background()
			for _, resend := range []bool{false, true} {
				v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
				require.NoError(t, err)
				if resend {
					b.clock.add(time.Minute) // past the resend cooldown
					v, err = b.engine.Resend(ctx, b.svc.ID, v.ID, "")
					require.NoError(t, err)
				}
				cm := h.last(t)
				require.NotNil(t, cm.Verification)
				require.Equal(t, v.ID, cm.Verification.ID)
				require.NotSame(t, v, cm.Verification, "the dispatcher gets a copy of its own")
				b.clock.add(tt.age)
				reads := cs.getVerification.Load()
				require.NoError(t, b.engine.Deliver(ctx, cm))
				require.Equal(t, tt.wantReads, cs.getVerification.Load()-reads, "GetVerification calls")
				out := b.sms.last(t)
				require.Equal(t, cm.MessageID, out.MessageID)
				got, err := b.engine.GetVerification(ctx, b.svc.ID, v.ID)
				require.NoError(t, err)
				require.Equal(t, otpd.MessageSent, got.Messages[len(got.Messages)-1].Status, "the outcome is recorded")
				res, err := b.engine.Check(ctx, b.svc.ID, v.ID, out.Code, nil)
				require.NoError(t, err)
				require.True(t, res.Valid)
			}
		})
	}
}

// codeLength starts a verification and returns the length of its code.
func codeLength(t *testing.T, b *testBundle) int {
	t.Helper()
	_, code := b.start(t, otpd.StartRequest{To: "+447700900123"})
	return len(code)
}

// TestChangesThroughTheEngineApplyAtOnce: with an hour's TTL, what changes
// through the engine is seen by its next request.
func TestChangesThroughTheEngineApplyAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := setupCounting(t, time.Hour)

	_, secret, err := b.engine.CreateKey(ctx, b.svc.ID, "backend")
	require.NoError(t, err)
	p, err := b.engine.Authenticate(ctx, secret)
	require.NoError(t, err)
	require.NoError(t, b.engine.RevokeKey(ctx, b.svc.ID, p.KeyID))
	_, err = b.engine.Authenticate(ctx, secret)
	requireKind(t, err, otpd.ErrUnauthorized)

	require.Equal(t, 6, codeLength(t, b))
	_, err = b.engine.UpdateService(ctx, b.svc.ID, func(s *otpd.Service) error { s.Policy.CodeLength = 8; return nil })
	require.NoError(t, err)
	require.Equal(t, 8, codeLength(t, b), "the next start uses the updated policy")

	_, secret, err = b.engine.CreateKey(ctx, b.svc.ID, "other")
	require.NoError(t, err)
	_, err = b.engine.Authenticate(ctx, secret)
	require.NoError(t, err)
	require.NoError(t, b.engine.DeleteService(ctx, b.svc.ID))
	_, err = b.engine.Authenticate(ctx, secret)
	requireKind(t, err, otpd.ErrUnauthorized) // the service's keys went with it
	_, err = b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.ErrorIs(t, err, otpd.ErrNotFound)
}

// TestInvalidationFromTheStore: a change made elsewhere (here, straight in
// the store) is seen as soon as the store tells of it, however long the
// TTL; InvalidateAll drops everything.
func TestInvalidationFromTheStore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		inv  func(svc, key string) otpd.Invalidation
	}{
		{"by id", func(_, key string) otpd.Invalidation {
			return otpd.Invalidation{Kind: otpd.InvalidateKey, ID: key}
		}},
		{"by service", func(svc, _ string) otpd.Invalidation {
			return otpd.Invalidation{Kind: otpd.InvalidateService, ID: svc}
		}},
		{"all", func(string, string) otpd.Invalidation {
			return otpd.Invalidation{Kind: otpd.InvalidateAll}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b, cs := setupCounting(t, time.Hour)
			k, secret, err := b.engine.CreateKey(ctx, b.svc.ID, "backend")
			require.NoError(t, err)
			_, err = b.engine.Authenticate(ctx, secret)
			require.NoError(t, err)

			require.NoError(t, b.store.DeleteKey(ctx, b.svc.ID, k.ID)) // as another node would
			_, err = b.engine.Authenticate(ctx, secret)
			require.NoError(t, err, "not told yet: the cached key still works")
			cs.publish(tt.inv(b.svc.ID, k.ID))
			_, err = b.engine.Authenticate(ctx, secret)
			requireKind(t, err, otpd.ErrUnauthorized)
		})
	}
}

// TestCacheTTLBoundsStaleness: a change nobody tells the engine of (another
// process writing the SQLite file of a running server) is seen once the
// TTL has passed.
func TestCacheTTLBoundsStaleness(t *testing.T) {
	t.Parallel()
	const ttl = 300 * time.Millisecond
	ctx := context.Background()
	b, _ := setupCounting(t, ttl)
	k, secret, err := b.engine.CreateKey(ctx, b.svc.ID, "backend")
	require.NoError(t, err)
	_, err = b.engine.Authenticate(ctx, secret)
	require.NoError(t, err)
	require.Equal(t, 6, codeLength(t, b))

	changed := time.Now()
	require.NoError(t, b.store.DeleteKey(ctx, b.svc.ID, k.ID))
	svc := *b.svc
	svc.Policy.CodeLength = 8
	require.NoError(t, b.store.UpdateService(ctx, &svc))
	_, authErr := b.engine.Authenticate(ctx, secret)
	n := codeLength(t, b)
	if time.Since(changed) < ttl/2 { // else the machine was too slow to tell
		require.NoError(t, authErr, "within the TTL the node still uses what it read")
		require.Equal(t, 6, n)
	}
	require.Eventually(t, func() bool {
		_, err := b.engine.Authenticate(ctx, secret)
		return err != nil
	}, 5*time.Second, 20*time.Millisecond, "the revoked key is refused after the TTL")
	require.Equal(t, 8, codeLength(t, b))
	require.Less(t, time.Since(changed), 5*time.Second)
}

// TestCacheConcurrentUse authenticates, starts and checks from many
// goroutines while keys are revoked and the service updated, for the race
// detector; a revoked key is refused by every request that begins after.
func TestCacheConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := setupCounting(t, time.Hour)
	const workers = 4
	secrets := make([]string, workers)
	ids := make([]string, workers)
	for i := range workers {
		k, s, err := b.engine.CreateKey(ctx, b.svc.ID, "backend")
		require.NoError(t, err)
		secrets[i], ids[i] = s, k.ID
	}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for j := range 20 {
				if _, err := b.engine.Authenticate(ctx, secrets[i]); err != nil {
					t.Errorf("worker %d: authenticate: %v", i, err)
					return
				}
				v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+44770090012" + string(rune('0'+j%10))})
				if err != nil {
					t.Errorf("worker %d: start: %v", i, err)
					return
				}
				if _, err := b.engine.Check(ctx, b.svc.ID, v.ID, "000000", nil); err != nil {
					t.Errorf("worker %d: check: %v", i, err)
					return
				}
			}
			if err := b.engine.RevokeKey(ctx, b.svc.ID, ids[i]); err != nil {
				t.Errorf("worker %d: revoke: %v", i, err)
				return
			}
			if _, err := b.engine.Authenticate(ctx, secrets[i]); err == nil {
				t.Errorf("worker %d: a revoked key was accepted", i)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := b.engine.UpdateService(ctx, b.svc.ID, func(*otpd.Service) error { return nil }); err != nil {
				t.Errorf("update service: %v", err)
				return
			}
		}
	})
	wg.Wait()
}

// With a rate limiter, a check applies the destination's cap on wrong codes
// before it compares the code. For a verification this engine started it
// knows the destination key without reading the verification
// (recent.go); once the verification closes it reads it again, and a
// closed verification is answered as closed, not by the cap.
func TestCheckWithoutReadingFirst(t *testing.T) {
	t.Parallel()
	b, cs := setupCounting(t, time.Hour)
	ctx := context.Background()
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	code := b.deliver(t, v)

	reads := cs.getVerification.Load()
	res, err := b.engine.Check(ctx, b.svc.ID, v.ID, wrong(code), nil)
	require.NoError(t, err)
	require.False(t, res.Valid)
	res, err = b.engine.Check(ctx, b.svc.ID, v.ID, code, nil)
	require.NoError(t, err)
	require.True(t, res.Valid)
	require.Equal(t, int64(0), cs.getVerification.Load()-reads, "GetVerification calls while pending")

	_, err = b.engine.Check(ctx, b.svc.ID, v.ID, code, nil)
	requireKind(t, err, otpd.ErrClosed)
	require.Equal(t, int64(1), cs.getVerification.Load()-reads, "a closed verification is read")

	// Past its expiry a verification is read again too, and is expired.
	v, err = b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900124"})
	require.NoError(t, err)
	b.clock.add(time.Hour)
	_, err = b.engine.Check(ctx, b.svc.ID, v.ID, code, nil)
	oe := requireKind(t, err, otpd.ErrClosed)
	require.Equal(t, otpd.StatusExpired, oe.Status)
	require.Equal(t, int64(2), cs.getVerification.Load()-reads)

	// Another service's id is not taken for this one's.
	v, err = b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900125"})
	require.NoError(t, err)
	_, err = b.engine.Check(ctx, "svc_other", v.ID, code, nil)
	require.ErrorIs(t, err, otpd.ErrNotFound)
}

// A receipt for a message this engine sent needs no look-up of its ref
// (recent.go); a repeated one, or one after an erasure, looks it up and is
// harmless.
func TestReceiptWithoutLookingUpTheRef(t *testing.T) {
	t.Parallel()
	b, cs := setupCounting(t, time.Hour)
	ctx := context.Background()
	receipt := func(v *otpd.Verification) otpd.Receipt {
		return otpd.Receipt{Channel: otpd.ChannelSMS, Ref: "p-" + v.Messages[0].ID, Status: otpd.MessageDelivered}
	}
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	b.deliver(t, v)
	require.NoError(t, b.engine.RecordReceipt(ctx, receipt(v)))
	require.Equal(t, int64(0), cs.findRef.Load(), "FindMessageByRef calls")
	got, err := b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.MessageDelivered, got.Messages[0].Status)

	require.NoError(t, b.engine.RecordReceipt(ctx, receipt(v)), "a repeated receipt is ignored")
	require.Equal(t, int64(1), cs.findRef.Load())

	v, err = b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900124"})
	require.NoError(t, err)
	b.deliver(t, v)
	_, err = b.engine.EraseDestination(ctx, b.svc.ID, "+447700900124")
	require.NoError(t, err)
	err = b.engine.RecordReceipt(ctx, receipt(v))
	require.ErrorIs(t, err, otpd.ErrNotFound, "kept as an early receipt: the message is gone")
	require.Equal(t, int64(3), cs.findRef.Load(), "looked up before and after keeping it")
}
