package storetest

import (
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

// newRecord returns an in-progress record of a request made at now.
func newRecord(scope string, now time.Time) *otpd.IdempotencyRecord {
	h := sha256.Sum256([]byte("POST /v1/services/x/verifications " + randomHex(8)))
	return &otpd.IdempotencyRecord{
		Scope:       scope,
		Key:         "idem-" + randomHex(8),
		RequestHash: h[:],
		CreatedAt:   now,
		LockedUntil: now.Add(30 * time.Second),
	}
}

// newRecordLike returns a fresh copy of rec's request, as a retry of it
// would make.
func newRecordLike(rec *otpd.IdempotencyRecord) *otpd.IdempotencyRecord {
	return &otpd.IdempotencyRecord{Scope: rec.Scope, Key: rec.Key, RequestHash: rec.RequestHash, CreatedAt: rec.CreatedAt}
}

func (b *testBundle) reserve(t *testing.T, rec *otpd.IdempotencyRecord) *otpd.IdempotencyRecord {
	t.Helper()
	existing, err := b.s.ReserveIdempotencyKey(b.ctx, rec)
	require.NoError(t, err)
	return existing
}

func requireRecord(t *testing.T, want, got *otpd.IdempotencyRecord) {
	t.Helper()
	require.NotNil(t, got)
	require.Equal(t, normIdempotency(want), normIdempotency(got))
}

func testIdempotency(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("ReserveCompleteReplay", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		rec := newRecord("admin", b.now)
		require.Nil(t, b.reserve(t, rec), "a new key is reserved")

		// A retry while the first is in flight sees it in progress.
		retry := *rec
		retry.CreatedAt = b.now.Add(time.Second)
		retry.LockedUntil = retry.CreatedAt.Add(30 * time.Second)
		requireRecord(t, rec, b.reserve(t, &retry))

		done := *rec
		done.Completed = true
		done.StatusCode = 201
		done.Header = []byte(`{"Content-Type":["application/json"]}`)
		done.Body = []byte(`{"id":"ver_x"}`)
		require.NoError(t, b.s.CompleteIdempotencyKey(b.ctx, &done))

		// A retry after completion, even past the old lock, replays it.
		retry.CreatedAt = b.now.Add(time.Hour)
		retry.LockedUntil = retry.CreatedAt.Add(30 * time.Second)
		got := b.reserve(t, &retry)
		require.False(t, got.Taken)
		done.LockedUntil = got.LockedUntil // what a completed record keeps as its lock is the store's business
		requireRecord(t, &done, got)

		// Releasing a completed record does nothing.
		require.NoError(t, b.s.ReleaseIdempotencyKey(b.ctx, rec.Scope, rec.Key))
		got = b.reserve(t, &retry)
		require.True(t, got.Completed)
	})

	t.Run("GetDoesNotReserve", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		rec := newRecord("admin", b.now)
		_, err := b.s.GetIdempotencyKey(b.ctx, rec.Scope, rec.Key)
		require.ErrorIs(t, err, otpd.ErrNotFound)
		require.Nil(t, b.reserve(t, rec), "the look left the key unused")
		got, err := b.s.GetIdempotencyKey(b.ctx, rec.Scope, rec.Key)
		require.NoError(t, err)
		requireRecord(t, rec, got)
	})

	t.Run("WrittenWithTheVerification", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		rec := newRecord(svc.ID, b.now)
		rec.LockedUntil = time.Time{}
		w := &otpd.IdempotentWrite{Record: rec, Render: func(v *otpd.Verification) (int, []byte, []byte, error) {
			return 201, []byte(`{"Content-Type":"application/json"}`), []byte(`{"id":"` + v.ID + `","to":"` + v.To + `"}`), nil
		}}
		ctx := otpd.WithIdempotentWrite(b.ctx, w)
		v := NewVerification(svc, b.now)
		require.NoError(t, b.s.CreateVerification(ctx, v))
		require.True(t, w.Written)

		got, err := b.s.GetIdempotencyKey(b.ctx, rec.Scope, rec.Key)
		require.NoError(t, err)
		want := *rec
		want.Completed, want.StatusCode = true, 201
		want.Header = []byte(`{"Content-Type":"application/json"}`)
		want.Body = []byte(`{"id":"` + v.ID + `","to":"` + v.To + `"}`)
		require.Equal(t, v.ToKey, want.Subject, "the record is about the verification's destination")
		want.Subject = "" // written for erasure, not read back
		requireRecord(t, &want, got)
		// A request with the key after this one is a replay.
		retry := *rec
		retry.CreatedAt = b.now.Add(time.Minute)
		retry.LockedUntil = retry.CreatedAt.Add(time.Minute)
		requireRecord(t, &want, b.reserve(t, &retry))
		// Erasing the destination takes the remembered response with it.
		_, err = b.s.EraseDestination(b.ctx, svc.ID, []string{v.ToKey})
		require.NoError(t, err)
		_, err = b.s.GetIdempotencyKey(b.ctx, rec.Scope, rec.Key)
		require.ErrorIs(t, err, otpd.ErrNotFound)
	})

	t.Run("UsedKeyWritesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		for _, first := range []string{"reserved", "written"} {
			t.Run(first, func(t *testing.T) {
				rec := newRecord(svc.ID, b.now)
				render := func(v *otpd.Verification) (int, []byte, []byte, error) {
					return 201, nil, []byte(v.ID), nil
				}
				if first == "reserved" {
					require.Nil(t, b.reserve(t, rec))
				} else {
					w := &otpd.IdempotentWrite{Record: newRecordLike(rec), Render: render}
					require.NoError(t, b.s.CreateVerification(otpd.WithIdempotentWrite(b.ctx, w), NewVerification(svc, b.now)))
				}
				before, err := b.s.GetIdempotencyKey(b.ctx, rec.Scope, rec.Key)
				require.NoError(t, err)

				w := &otpd.IdempotentWrite{Record: newRecordLike(rec), Render: render}
				v := NewVerification(svc, b.now)
				err = b.s.CreateVerification(otpd.WithIdempotentWrite(b.ctx, w), v)
				require.ErrorIs(t, err, otpd.ErrIdempotencyKeyUsed)
				require.False(t, w.Written)
				_, err = b.s.GetVerification(b.ctx, svc.ID, v.ID)
				require.ErrorIs(t, err, otpd.ErrNotFound, "the verification was not written either")
				after, err := b.s.GetIdempotencyKey(b.ctx, rec.Scope, rec.Key)
				require.NoError(t, err)
				requireRecord(t, before, after)
			})
		}
	})

	t.Run("ConcurrentWritesOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		rec := newRecord(svc.ID, b.now)
		const n = 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			written []string
			used    int
		)
		for range n {
			wg.Go(func() {
				w := &otpd.IdempotentWrite{Record: newRecordLike(rec), Render: func(v *otpd.Verification) (int, []byte, []byte, error) {
					return 201, nil, []byte(v.ID), nil
				}}
				v := NewVerification(svc, b.now)
				err := b.s.CreateVerification(otpd.WithIdempotentWrite(b.ctx, w), v)
				mu.Lock()
				defer mu.Unlock()
				if errors.Is(err, otpd.ErrIdempotencyKeyUsed) {
					used++
					return
				}
				require.NoError(t, err)
				written = append(written, v.ID)
			})
		}
		wg.Wait()
		require.Len(t, written, 1, "one request with the key wrote its verification")
		require.Equal(t, n-1, used)
		got, err := b.s.GetIdempotencyKey(b.ctx, rec.Scope, rec.Key)
		require.NoError(t, err)
		require.Equal(t, written[0], string(got.Body))
		vs, err := b.s.ListVerifications(b.ctx, otpd.VerificationFilter{ServiceID: svc.ID, Limit: 100})
		require.NoError(t, err)
		require.Len(t, vs, 1)
	})

	t.Run("ScopesAreSeparate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		rec := newRecord("svc_a", b.now)
		require.Nil(t, b.reserve(t, rec))
		other := *rec
		other.Scope = "svc_b"
		require.Nil(t, b.reserve(t, &other), "the same key in another scope is another record")
	})

	t.Run("Release", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		rec := newRecord("admin", b.now)
		require.Nil(t, b.reserve(t, rec))
		require.NoError(t, b.s.ReleaseIdempotencyKey(b.ctx, rec.Scope, rec.Key))
		require.Nil(t, b.reserve(t, rec), "a released key may be reserved again")
	})

	t.Run("TakeOverAfterLock", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		now := time.Now()
		// A node reserved the key a minute ago and died.
		rec := newRecord("admin", now.Add(-time.Minute))
		rec.LockedUntil = now.Add(-time.Second)
		require.Nil(t, b.reserve(t, rec))

		retry := *rec
		retry.CreatedAt = now
		retry.LockedUntil = now.Add(30 * time.Second)
		got := b.reserve(t, &retry)
		require.NotNil(t, got)
		require.True(t, got.Taken, "an abandoned reservation is taken over")
		require.False(t, got.Completed)
		require.Equal(t, rec.RequestHash, got.RequestHash)

		// The new owner holds the lock now: nobody else takes it over.
		again := retry
		again.CreatedAt = now.Add(time.Second)
		got = b.reserve(t, &again)
		require.NotNil(t, got)
		require.False(t, got.Taken)
		require.False(t, got.Completed)
	})

	t.Run("CompletedIsNeverTakenOver", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		now := time.Now()
		rec := newRecord("admin", now.Add(-time.Minute))
		rec.LockedUntil = now.Add(-time.Second)
		require.Nil(t, b.reserve(t, rec))
		rec.Completed, rec.StatusCode = true, 200
		require.NoError(t, b.s.CompleteIdempotencyKey(b.ctx, rec))

		retry := *rec
		retry.Completed, retry.StatusCode = false, 0
		retry.CreatedAt = now
		retry.LockedUntil = now.Add(30 * time.Second)
		got := b.reserve(t, &retry)
		require.NotNil(t, got)
		require.False(t, got.Taken)
		require.True(t, got.Completed)
		require.Equal(t, 200, got.StatusCode)
	})

	t.Run("ConcurrentReserveOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		rec := newRecord("admin", b.now)
		const n = 20
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			reserved int
		)
		for range n {
			wg.Go(func() {
				r := *rec
				existing, err := b.s.ReserveIdempotencyKey(b.ctx, &r)
				if err != nil {
					t.Errorf("ReserveIdempotencyKey: %v", err)
					return
				}
				if existing == nil {
					mu.Lock()
					reserved++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Equal(t, 1, reserved, "exactly one request may own a key")
	})

	t.Run("CompleteNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		rec := newRecord("admin", b.now)
		rec.Completed = true
		require.ErrorIs(t, b.s.CompleteIdempotencyKey(b.ctx, rec), otpd.ErrNotFound)
	})

	t.Run("PurgeInBatches", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		cutoff := ms(b.now)
		var old []*otpd.IdempotencyRecord
		for i := range 5 {
			rec := newRecord("admin", cutoff.Add(-24*time.Hour+time.Duration(i)*time.Millisecond))
			require.Nil(t, b.reserve(t, rec))
			old = append(old, rec)
		}
		kept := newRecord("admin", cutoff)
		require.Nil(t, b.reserve(t, kept))

		var counts []int
		for {
			n, err := b.s.PurgeIdempotencyKeys(b.ctx, cutoff, 2)
			require.NoError(t, err)
			counts = append(counts, n)
			if n == 0 {
				break
			}
		}
		require.Equal(t, []int{2, 2, 1, 0}, counts)

		for _, rec := range old {
			require.Nil(t, b.reserve(t, rec), "a purged key is free again")
		}
		requireRecord(t, kept, b.reserve(t, kept))
	})
}
