package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

func claimedOf(v *otpd.Verification, ms ...*otpd.Message) []otpd.ClaimedMessage {
	out := make([]otpd.ClaimedMessage, len(ms))
	for i, m := range ms {
		out[i] = otpd.ClaimedMessage{ServiceID: v.ServiceID, VerificationID: v.ID, MessageID: m.ID}
	}
	return out
}

func (b *testBundle) claim(t *testing.T, now time.Time, lease time.Duration, limit int) []otpd.ClaimedMessage {
	t.Helper()
	got, err := b.s.ClaimMessages(b.ctx, now, lease, limit)
	require.NoError(t, err)
	return got
}

func testClaimMessages(t *testing.T, newStore func(t *testing.T) Store) {
	const lease = 30 * time.Second

	t.Run("OnceWithinLease", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		now := ms(b.now)

		require.Equal(t, claimedOf(v, v.Messages[0]), b.claim(t, now, lease, 10))
		require.Empty(t, b.claim(t, now, lease, 10), "claimed messages are leased")
		require.Empty(t, b.claim(t, now.Add(lease-time.Millisecond), lease, 10))
		require.Equal(t, claimedOf(v, v.Messages[0]), b.claim(t, now.Add(lease), lease, 10), "a lease runs out")
		require.Empty(t, b.claim(t, now.Add(lease), lease, 10))
	})

	t.Run("InsertedLeased", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		now := ms(b.now)
		// A message handed straight to its node's dispatcher (otpd.Handoff)
		// is inserted leased: no node claims it before the lease runs out.
		v := b.verification(t, svc, b.now, func(v *otpd.Verification) { v.Messages[0].LeaseUntil = now.Add(lease) })
		require.Empty(t, b.claim(t, now, lease, 10))
		require.Equal(t, claimedOf(v, v.Messages[0]), b.claim(t, now.Add(lease), lease, 10))

		var m *otpd.Message
		_, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
			m = NewMessage(v, now)
			m.LeaseUntil = now.Add(lease)
			v.Messages = append(v.Messages, m)
			return nil
		})
		require.NoError(t, err)
		require.Empty(t, b.claim(t, now.Add(lease-time.Millisecond), lease, 10), "appended leased, too")
		require.Equal(t, claimedOf(v, m), b.claim(t, now.Add(lease), time.Hour, 10))
		for _, got := range b.get(t, v).Messages {
			require.True(t, got.LeaseUntil.IsZero(), "LeaseUntil is not read back")
		}
	})

	t.Run("RespectsNextAttemptAt", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		now := ms(b.now)
		v := b.verification(t, svc, b.now, func(v *otpd.Verification) { v.Messages[0].NextAttemptAt = now.Add(10 * time.Second) })

		require.Empty(t, b.claim(t, now, lease, 10))
		require.Empty(t, b.claim(t, now.Add(10*time.Second-time.Millisecond), lease, 10))
		require.Equal(t, claimedOf(v, v.Messages[0]), b.claim(t, now.Add(10*time.Second), lease, 10))
	})

	t.Run("OldestFirstUpToLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		now := ms(b.now)
		// Created in one order, due in another.
		due := []time.Duration{-3, -5, -1, -4, -2}
		var vs []*otpd.Verification
		for i, d := range due {
			vs = append(vs, b.verification(t, svc, b.now.Add(time.Duration(i)*time.Millisecond), func(v *otpd.Verification) {
				v.Messages[0].NextAttemptAt = now.Add(d * time.Second)
			}))
		}
		byDue := []*otpd.Verification{vs[1], vs[3], vs[0], vs[4], vs[2]}
		var want []otpd.ClaimedMessage
		for _, v := range byDue {
			want = append(want, claimedOf(v, v.Messages[0])...)
		}
		require.Equal(t, want[:2], b.claim(t, now, lease, 2))
		require.Equal(t, want[2:], b.claim(t, now, lease, 10))
		require.Empty(t, b.claim(t, now, lease, 10))
	})

	t.Run("OnlyQueued", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now, func(v *otpd.Verification) {
			for _, st := range []otpd.MessageStatus{otpd.MessageSent, otpd.MessageDelivered, otpd.MessageFailed, otpd.MessageUndelivered} {
				m := NewMessage(v, b.now)
				m.Status = st
				v.Messages = append(v.Messages, m)
			}
		})
		require.Equal(t, claimedOf(v, v.Messages[0]), b.claim(t, b.now, lease, 10))
	})

	t.Run("LeaveQueueByUpdate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		now := ms(b.now)
		require.Len(t, b.claim(t, now, lease, 10), 1)
		_, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
			got.Messages[0].Status = otpd.MessageSent
			got.Messages[0].Attempts++
			return nil
		})
		require.NoError(t, err)
		require.Empty(t, b.claim(t, now.Add(time.Hour), lease, 10), "a sent message is no longer queued")
	})

	t.Run("ProgressKeepsLease", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		now := ms(b.now)
		require.Len(t, b.claim(t, now, lease, 10), 1)
		// The worker holding the message records progress without
		// leaving the queue: the lease must still hold.
		_, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
			got.Messages[0].Attempts++
			got.Messages[0].UpdatedAt = now.Add(time.Second)
			return nil
		})
		require.NoError(t, err)
		require.Empty(t, b.claim(t, now.Add(time.Second), lease, 10))
		require.Len(t, b.claim(t, now.Add(lease), lease, 10), 1)
	})

	t.Run("RescheduleDropsLease", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		now := ms(b.now)
		const longLease = time.Hour
		require.Len(t, b.claim(t, now, longLease, 10), 1)
		// The send failed; the worker schedules a retry sooner than the
		// lease would run out. The retry must happen then.
		retry := now.Add(10 * time.Second)
		_, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
			got.Messages[0].Attempts++
			got.Messages[0].Error = "throttled"
			got.Messages[0].NextAttemptAt = retry
			return nil
		})
		require.NoError(t, err)
		require.Empty(t, b.claim(t, retry.Add(-time.Millisecond), longLease, 10))
		require.Equal(t, claimedOf(v, v.Messages[0]), b.claim(t, retry, longLease, 10))
	})

	t.Run("ConcurrentClaimersNeverShare", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		want := map[string]bool{}
		for i := range 20 {
			v := b.verification(t, svc, b.now.Add(time.Duration(i)*time.Millisecond), func(v *otpd.Verification) {
				v.Messages = append(v.Messages, NewMessage(v, b.now), NewMessage(v, b.now))
			})
			for _, m := range v.Messages {
				want[m.ID] = true
			}
		}
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			got = map[string]int{}
		)
		for range 10 {
			wg.Go(func() {
				for {
					claimed, err := b.s.ClaimMessages(b.ctx, b.now.Add(time.Minute), time.Hour, 4)
					if err != nil {
						t.Errorf("ClaimMessages: %v", err)
						return
					}
					if len(claimed) == 0 {
						return
					}
					mu.Lock()
					for _, c := range claimed {
						got[c.MessageID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Len(t, got, len(want))
		for id, n := range got {
			require.True(t, want[id], "claimed unknown message %s", id)
			require.Equal(t, 1, n, "message %s claimed %d times", id, n)
		}
	})
}

func testDueForExpiry(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("InBatches", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		now := ms(b.now)
		at := func(i int) time.Time { return b.now.Add(time.Duration(i) * time.Millisecond) }
		var lapsed []*otpd.Verification
		for i := range 5 {
			lapsed = append(lapsed, b.verification(t, svc, at(i), func(v *otpd.Verification) {
				v.ExpiresAt = now.Add(-time.Duration(i) * time.Second) // the first expires exactly at now
			}))
		}
		b.verification(t, svc, at(5), func(v *otpd.Verification) { v.ExpiresAt = now.Add(time.Millisecond) })
		b.verification(t, svc, at(6), func(v *otpd.Verification) {
			v.Status = otpd.StatusApproved
			v.ExpiresAt = now.Add(-time.Hour)
		})

		// Oldest expiry first, at most limit; expiring them (as the engine
		// does) takes them out of the next batch.
		var batches [][]otpd.VerificationRef
		for {
			refs, err := b.s.DueForExpiry(b.ctx, now, 2)
			require.NoError(t, err)
			if len(refs) == 0 {
				break
			}
			batches = append(batches, refs)
			for _, r := range refs {
				_, err := b.s.UpdateVerification(b.ctx, r.ServiceID, r.ID, func(v *otpd.Verification) error {
					v.Status = otpd.StatusExpired
					return nil
				})
				require.NoError(t, err)
			}
			require.Less(t, len(batches), 10, "DueForExpiry keeps returning expired verifications")
		}
		ref := func(v *otpd.Verification) otpd.VerificationRef {
			return otpd.VerificationRef{ServiceID: v.ServiceID, ID: v.ID}
		}
		require.Equal(t, [][]otpd.VerificationRef{
			{ref(lapsed[4]), ref(lapsed[3])},
			{ref(lapsed[2]), ref(lapsed[1])},
			{ref(lapsed[0])},
		}, batches)
	})
}

func testPurgeVerifications(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("InBatches", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		cutoff := ms(b.now)
		old := func(i int) time.Time { return cutoff.Add(-time.Hour + time.Duration(i)*time.Millisecond) }
		status := func(s otpd.VerificationStatus) func(*otpd.Verification) {
			return func(v *otpd.Verification) { v.Status = s }
		}
		var purged []*otpd.Verification
		for i, s := range []otpd.VerificationStatus{otpd.StatusApproved, otpd.StatusExpired, otpd.StatusCanceled, otpd.StatusFailed, otpd.StatusMaxAttemptsReached} {
			purged = append(purged, b.verification(t, svc, old(i), status(s)))
		}
		oldPending := b.verification(t, svc, old(10))
		atCutoff := b.verification(t, svc, cutoff, status(otpd.StatusApproved))

		var counts []int
		for {
			n, err := b.s.PurgeVerifications(b.ctx, cutoff, 2)
			require.NoError(t, err)
			counts = append(counts, n)
			if n == 0 {
				break
			}
		}
		require.Equal(t, []int{2, 2, 1, 0}, counts)

		for _, v := range purged {
			_, err := b.s.GetVerification(b.ctx, svc.ID, v.ID)
			require.ErrorIs(t, err, otpd.ErrNotFound)
		}
		requireVerification(t, oldPending, b.get(t, oldPending))
		requireVerification(t, atCutoff, b.get(t, atCutoff))

		// The purged verifications' messages went with them.
		claimed := b.claim(t, cutoff.Add(time.Hour), time.Minute, 100)
		require.ElementsMatch(t, append(claimedOf(oldPending, oldPending.Messages...), claimedOf(atCutoff, atCutoff.Messages...)...), claimed)
	})
}

func testClaimFallbacks(t *testing.T, newStore func(t *testing.T) Store) {
	b := setup(t, newStore)
	svc := b.service(t)
	now := ms(b.now)
	const lease = 30 * time.Second
	arm := func(v *otpd.Verification, at time.Time) {
		t.Helper()
		_, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
			m := v.Messages[0]
			m.Status, m.FallbackAt = otpd.MessageSent, at
			return nil
		})
		require.NoError(t, err)
	}
	due := b.verification(t, svc, now)
	later := b.verification(t, svc, now)
	none := b.verification(t, svc, now)
	arm(due, now.Add(-time.Second))
	arm(later, now.Add(time.Minute))
	arm(none, time.Time{})
	require.Equal(t, now.Add(time.Minute), b.get(t, later).Messages[0].FallbackAt, "FallbackAt is read back")

	claim := func(at time.Time) []otpd.ClaimedMessage {
		t.Helper()
		got, err := b.s.ClaimFallbacks(b.ctx, at, lease, 10)
		require.NoError(t, err)
		return got
	}
	require.Equal(t, claimedOf(due, due.Messages[0]), claim(now))
	require.Empty(t, claim(now), "leased")
	require.Equal(t, claimedOf(due, due.Messages[0]), claim(now.Add(lease)), "the lease runs out")
	// Handled: the fallback is cleared.
	_, err := b.s.UpdateVerification(b.ctx, svc.ID, due.ID, func(v *otpd.Verification) error {
		v.Messages[0].FallbackAt = time.Time{}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, claimedOf(later, later.Messages[0]), claim(now.Add(time.Hour)))
}
