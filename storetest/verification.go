package storetest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

func testVerifications(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("CreateGet", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := NewVerification(svc, b.now)
		failed := NewMessage(v, b.now.Add(time.Second))
		failed.Channel = otpd.ChannelWhatsApp
		failed.Status = otpd.MessageFailed
		failed.Error = "template rejected"
		failed.ProviderID = "wamid.HBgL"
		failed.Attempts = 3
		failed.NextAttemptAt = b.now.Add(time.Minute)
		failed.UpdatedAt = b.now.Add(2 * time.Second)
		v.Messages = append(v.Messages, failed)
		require.NoError(t, b.s.CreateVerification(b.ctx, v))
		requireVerification(t, v, b.get(t, v))
	})

	t.Run("CreateGetMinimal", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now, func(v *otpd.Verification) {
			v.Transaction = nil
			v.Purpose, v.Reference, v.ClientIP = "", "", ""
			v.Attempts, v.Sends = 0, 0
			v.ResendCooldown = 0
			v.LastSentAt = time.Time{}
			v.Messages = nil
		})
		got := b.get(t, v)
		requireVerification(t, v, got)
		require.Nil(t, got.Transaction)
		require.True(t, got.LastSentAt.IsZero())
	})

	t.Run("MessagesKeepInsertionOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		// Made in one millisecond, ids do not sort in creation order;
		// the store must keep the order the messages were added in.
		v := b.verification(t, svc, b.now, func(v *otpd.Verification) {
			v.Messages = nil
			for range 4 {
				v.Messages = append(v.Messages, NewMessage(v, b.now))
			}
			slices.SortFunc(v.Messages, func(x, y *otpd.Message) int { return -strings.Compare(x.ID, y.ID) })
		})
		requireVerification(t, v, b.get(t, v))

		// Appended messages go last, whatever their ids.
		extra := NewMessage(v, b.now.Add(-time.Hour))
		_, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
			got.Messages = append(got.Messages, extra)
			return nil
		})
		require.NoError(t, err)
		v.Messages = append(v.Messages, extra)
		requireVerification(t, v, b.get(t, v))
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc, other := b.service(t), b.service(t)
		v := b.verification(t, svc, b.now)

		_, err := b.s.GetVerification(b.ctx, svc.ID, otpd.NewID(otpd.PrefixVerification, b.now))
		require.ErrorIs(t, err, otpd.ErrNotFound)
		_, err = b.s.GetVerification(b.ctx, other.ID, v.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound, "another service must not see it")
	})

	t.Run("CreateIsAtomic", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := NewVerification(svc, b.now)
		dup := *v.Messages[0]
		v.Messages = append(v.Messages, &dup) // the second insert fails
		require.Error(t, b.s.CreateVerification(b.ctx, v))
		_, err := b.s.GetVerification(b.ctx, svc.ID, v.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound, "nothing of a failed create may remain")
		claimed, err := b.s.ClaimMessages(b.ctx, b.now.Add(time.Hour), time.Minute, 10)
		require.NoError(t, err)
		require.Empty(t, claimed)
	})

	t.Run("CreateRefusesUnknownService", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		v := NewVerification(NewService(b.now), b.now)
		require.Error(t, b.s.CreateVerification(b.ctx, v))
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		dup := NewVerification(svc, b.now)
		dup.ID = v.ID
		require.Error(t, b.s.CreateVerification(b.ctx, dup))
		requireVerification(t, v, b.get(t, v))
	})
}

var errNotPending = errors.New("storetest: not pending")

func testUpdateVerification(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("Fields", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		later := b.now.Add(90 * time.Second)
		salt, hash := randomBytes(16), randomBytes(32)
		change := func(v *otpd.Verification) {
			v.To = "+447700900999"
			v.ToKey = "tk_changed"
			v.Channel = otpd.ChannelWhatsApp
			v.Status = otpd.StatusApproved
			v.Locale = "fr"
			v.Purpose = "login"
			v.Reference = "order-9000"
			v.ClientIP = "198.51.100.1"
			v.Transaction = &otpd.Transaction{Amount: "1.5", Currency: "GBP", Payee: "Other Shop"}
			v.CodeLength = 6
			v.Alphabet = otpd.AlphabetDigits
			v.KeyID = "k2"
			v.Salt = salt
			v.CodeHash = hash
			v.MaxAttempts = 9
			v.Attempts = 4
			v.MaxSends = 7
			v.Sends = 3
			v.ResendCooldown = 2 * time.Minute
			v.UpdatedAt = later
			v.ExpiresAt = later.Add(time.Hour)
			v.LastSentAt = later
		}
		got, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
			requireVerification(t, v, got)
			change(got)
			return nil
		})
		require.NoError(t, err)
		change(v)
		requireVerification(t, v, got)
		requireVerification(t, v, b.get(t, v))

		// And back to no transaction.
		_, err = b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
			got.Transaction = nil
			got.LastSentAt = time.Time{}
			return nil
		})
		require.NoError(t, err)
		v.Transaction = nil
		v.LastSentAt = time.Time{}
		requireVerification(t, v, b.get(t, v))
	})

	t.Run("ModifyMessage", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		change := func(m *otpd.Message) {
			m.Status = otpd.MessageUndelivered
			m.Error = "absent subscriber"
			m.ProviderID = "smsc-42"
			m.Attempts = 2
			m.NextAttemptAt = b.now.Add(time.Minute)
			m.UpdatedAt = b.now.Add(time.Second)
		}
		got, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
			change(got.Message(v.Messages[0].ID))
			return nil
		})
		require.NoError(t, err)
		change(v.Messages[0])
		requireVerification(t, v, got)
		requireVerification(t, v, b.get(t, v))
	})

	t.Run("AppendMessage", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		resend := NewMessage(v, b.now.Add(time.Minute))
		resend.Channel = otpd.ChannelEmail
		got, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
			got.Sends++
			got.LastSentAt = resend.CreatedAt
			got.Messages = append(got.Messages, resend)
			return nil
		})
		require.NoError(t, err)
		v.Sends++
		v.LastSentAt = resend.CreatedAt
		v.Messages = append(v.Messages, resend)
		requireVerification(t, v, got)
		requireVerification(t, v, b.get(t, v))
	})

	t.Run("FnErrorWritesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		fnErr := errors.New("storetest: no")
		_, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
			got.Status = otpd.StatusApproved
			got.Attempts = 99
			got.Messages[0].Status = otpd.MessageSent
			got.Messages = append(got.Messages, NewMessage(got, b.now))
			return fnErr
		})
		require.True(t, err == fnErr, "fn's error must be returned as is, got %v", err) //nolint:errorlint // identity is the contract
		requireVerification(t, v, b.get(t, v))
	})

	t.Run("NoChange", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		got, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(*otpd.Verification) error { return nil })
		require.NoError(t, err)
		requireVerification(t, v, got)
		requireVerification(t, v, b.get(t, v))
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc, other := b.service(t), b.service(t)
		v := b.verification(t, svc, b.now)
		called := false
		fn := func(got *otpd.Verification) error {
			called = true
			got.Status = otpd.StatusCanceled
			return nil
		}
		_, err := b.s.UpdateVerification(b.ctx, svc.ID, otpd.NewID(otpd.PrefixVerification, b.now), fn)
		require.ErrorIs(t, err, otpd.ErrNotFound)
		_, err = b.s.UpdateVerification(b.ctx, other.ID, v.ID, fn)
		require.ErrorIs(t, err, otpd.ErrNotFound, "another service must not update it")
		require.False(t, called)
		requireVerification(t, v, b.get(t, v))
	})

	t.Run("ConcurrentIncrements", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now, func(v *otpd.Verification) { v.Attempts = 0 })
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
					got.Attempts++
					return nil
				})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, n, b.get(t, v).Attempts, "no update may be lost")
	})

	t.Run("ConcurrentApproveOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		const n = 50
		var (
			wg         sync.WaitGroup
			mu         sync.Mutex
			approved   int
			notPending int
		)
		for range n {
			wg.Go(func() {
				_, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(got *otpd.Verification) error {
					if got.Status != otpd.StatusPending {
						return errNotPending
					}
					got.Status = otpd.StatusApproved
					return nil
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					approved++
				case errors.Is(err, errNotPending):
					notPending++
				default:
					t.Errorf("UpdateVerification: %v", err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, 1, approved, "exactly one may approve")
		require.Equal(t, n-1, notPending)
		require.Equal(t, otpd.StatusApproved, b.get(t, v).Status)
	})
}

func testListVerifications(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("NewestFirstWithCursor", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc, other := b.service(t), b.service(t)
		var all []*otpd.Verification // oldest first
		for i := range 7 {
			all = append(all, b.verification(t, svc, b.now.Add(time.Duration(i)*time.Millisecond)))
			b.verification(t, other, b.now.Add(time.Duration(i)*time.Millisecond))
		}
		newest := slices.Clone(all)
		slices.Reverse(newest)

		list := func(before string, limit int) []*otpd.Verification {
			t.Helper()
			got, err := b.s.ListVerifications(b.ctx, otpd.VerificationFilter{ServiceID: svc.ID, Now: b.now, Before: before, Limit: limit})
			require.NoError(t, err)
			return got
		}
		requireVerifications(t, newest, list("", 100))
		requireVerifications(t, newest[:3], list("", 3))
		requireVerifications(t, newest[3:6], list(newest[2].ID, 3))
		requireVerifications(t, newest[6:], list(newest[5].ID, 3))
		require.Empty(t, list(newest[6].ID, 3))
	})

	t.Run("Status", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		now := ms(b.now)
		at := func(i int) time.Time { return b.now.Add(time.Duration(i) * time.Millisecond) }
		pending := b.verification(t, svc, at(0), func(v *otpd.Verification) { v.ExpiresAt = now.Add(time.Millisecond) })
		lapsed := b.verification(t, svc, at(1), func(v *otpd.Verification) { v.ExpiresAt = now }) // expired at now, not yet swept
		expired := b.verification(t, svc, at(2), func(v *otpd.Verification) { v.Status = otpd.StatusExpired; v.ExpiresAt = now.Add(-time.Minute) })
		approved := b.verification(t, svc, at(3), func(v *otpd.Verification) { v.Status = otpd.StatusApproved })
		canceled := b.verification(t, svc, at(4), func(v *otpd.Verification) { v.Status = otpd.StatusCanceled })
		maxed := b.verification(t, svc, at(5), func(v *otpd.Verification) { v.Status = otpd.StatusMaxAttemptsReached })

		tests := []struct {
			status otpd.VerificationStatus
			want   []*otpd.Verification
		}{
			{"", []*otpd.Verification{maxed, canceled, approved, expired, lapsed, pending}},
			{otpd.StatusPending, []*otpd.Verification{pending}},
			{otpd.StatusExpired, []*otpd.Verification{expired, lapsed}},
			{otpd.StatusApproved, []*otpd.Verification{approved}},
			{otpd.StatusCanceled, []*otpd.Verification{canceled}},
			{otpd.StatusMaxAttemptsReached, []*otpd.Verification{maxed}},
			{otpd.StatusFailed, nil},
		}
		for _, tt := range tests {
			got, err := b.s.ListVerifications(b.ctx, otpd.VerificationFilter{ServiceID: svc.ID, Status: tt.status, Now: now, Limit: 100})
			require.NoError(t, err)
			require.Equal(t, ids(tt.want), ids(got), "status %q", tt.status)
		}

		// Paging works within a filter.
		got, err := b.s.ListVerifications(b.ctx, otpd.VerificationFilter{ServiceID: svc.ID, Status: otpd.StatusExpired, Now: now, Before: expired.ID, Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []string{lapsed.ID}, ids(got))
	})

	t.Run("ToKeys", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc, other := b.service(t), b.service(t)
		at := func(i int) time.Time { return b.now.Add(time.Duration(i) * time.Millisecond) }
		toKey := func(k string) func(*otpd.Verification) { return func(v *otpd.Verification) { v.ToKey = k } }
		a1 := b.verification(t, svc, at(0), toKey("a"))
		b.verification(t, svc, at(1), toKey("b"))
		c1 := b.verification(t, svc, at(2), toKey("c"))
		a2 := b.verification(t, svc, at(3), toKey("a"), func(v *otpd.Verification) { v.Status = otpd.StatusApproved })
		b.verification(t, other, at(4), toKey("a"))

		list := func(f otpd.VerificationFilter) []string {
			t.Helper()
			f.ServiceID, f.Now, f.Limit = svc.ID, b.now, 100
			got, err := b.s.ListVerifications(b.ctx, f)
			require.NoError(t, err)
			return ids(got)
		}
		require.Equal(t, ids([]*otpd.Verification{a2, a1}), list(otpd.VerificationFilter{ToKeys: []string{"a"}}))
		require.Equal(t, ids([]*otpd.Verification{a2, c1, a1}), list(otpd.VerificationFilter{ToKeys: []string{"a", "c", "zzz"}}))
		require.Equal(t, ids([]*otpd.Verification{a1}), list(otpd.VerificationFilter{ToKeys: []string{"a"}, Status: otpd.StatusPending}))
		require.Empty(t, list(otpd.VerificationFilter{ToKeys: []string{"zzz"}}))
	})

	t.Run("LoadsMessages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v1 := b.verification(t, svc, b.now)
		v2 := b.verification(t, svc, b.now.Add(time.Millisecond), func(v *otpd.Verification) {
			v.Messages = append(v.Messages, NewMessage(v, b.now.Add(time.Second)))
		})
		v3 := b.verification(t, svc, b.now.Add(2*time.Millisecond), func(v *otpd.Verification) { v.Messages = nil })
		got, err := b.s.ListVerifications(b.ctx, otpd.VerificationFilter{ServiceID: svc.ID, Now: b.now, Limit: 10})
		require.NoError(t, err)
		requireVerifications(t, []*otpd.Verification{v3, v2, v1}, got)
	})
}

func testFindPending(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("NewestPendingUnexpired", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc, other := b.service(t), b.service(t)
		now := ms(b.now)
		at := func(i int) time.Time { return b.now.Add(time.Duration(i) * time.Millisecond) }
		to := func(k string) func(*otpd.Verification) { return func(v *otpd.Verification) { v.ToKey = k } }

		b.verification(t, svc, at(0), to("a"))
		want := b.verification(t, svc, at(1), to("a"))
		b.verification(t, svc, at(2), to("a"), func(v *otpd.Verification) { v.Status = otpd.StatusApproved })
		b.verification(t, svc, at(3), to("a"), func(v *otpd.Verification) { v.ExpiresAt = now }) // expired at now
		b.verification(t, other, at(4), to("a"))
		newestB := b.verification(t, svc, at(5), to("b"))

		find := func(keys ...string) (*otpd.Verification, error) {
			return b.s.FindPending(b.ctx, svc.ID, keys, now)
		}
		got, err := find("a")
		require.NoError(t, err)
		requireVerification(t, want, got)

		got, err = find("a", "b")
		require.NoError(t, err)
		requireVerification(t, newestB, got)

		_, err = find("c")
		require.ErrorIs(t, err, otpd.ErrNotFound)
		_, err = find()
		require.ErrorIs(t, err, otpd.ErrNotFound)

		// Once everything has expired, nothing is pending.
		_, err = b.s.FindPending(b.ctx, svc.ID, []string{"a", "b"}, now.Add(time.Hour))
		require.ErrorIs(t, err, otpd.ErrNotFound)
	})

	t.Run("Scoped", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc, other := b.service(t), b.service(t)
		v := b.verification(t, svc, b.now)
		_, err := b.s.FindPending(b.ctx, other.ID, []string{v.ToKey}, b.now)
		require.ErrorIs(t, err, otpd.ErrNotFound)
	})
}
