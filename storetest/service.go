package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

func testServices(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("CreateGet", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := NewService(b.now)
		require.NoError(t, b.s.CreateService(b.ctx, svc))
		got, err := b.s.GetService(b.ctx, svc.ID)
		require.NoError(t, err)
		requireService(t, svc, got)
	})

	t.Run("CreateGetMinimal", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := &otpd.Service{ID: otpd.NewID(otpd.PrefixService, b.now), Name: "Min", Policy: otpd.DefaultPolicy(), CreatedAt: b.now, UpdatedAt: b.now}
		require.NoError(t, svc.Validate())
		require.NoError(t, b.s.CreateService(b.ctx, svc))
		got, err := b.s.GetService(b.ctx, svc.ID)
		require.NoError(t, err)
		requireService(t, svc, got)
		require.Empty(t, got.Countries)
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		_, err := b.s.GetService(b.ctx, otpd.NewID(otpd.PrefixService, b.now))
		require.ErrorIs(t, err, otpd.ErrNotFound)
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		dup := *svc
		dup.Name = "Impostor"
		require.Error(t, b.s.CreateService(b.ctx, &dup))
		got, err := b.s.GetService(b.ctx, svc.ID)
		require.NoError(t, err)
		requireService(t, svc, got)
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		var all []*otpd.Service
		for i := range 5 {
			svc := NewService(b.now.Add(time.Duration(i) * time.Millisecond))
			require.NoError(t, b.s.CreateService(b.ctx, svc))
			all = append(all, svc)
		}
		page := func(after string, limit int) []*otpd.Service {
			t.Helper()
			got, err := b.s.ListServices(b.ctx, after, limit)
			require.NoError(t, err)
			return got
		}
		requireServices := func(want, got []*otpd.Service) {
			t.Helper()
			require.Len(t, got, len(want))
			for i := range want {
				requireService(t, want[i], got[i])
			}
		}
		requireServices(all, page("", 10))
		requireServices(all[:2], page("", 2))
		requireServices(all[2:4], page(all[1].ID, 2))
		requireServices(all[4:], page(all[3].ID, 2))
		require.Empty(t, page(all[4].ID, 2))
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		other := b.service(t)

		upd := &otpd.Service{
			ID:   svc.ID,
			Name: "Acme Bank Europe",
			Policy: otpd.Policy{
				CodeLength:       4,
				Alphabet:         otpd.AlphabetDigits,
				TTL:              time.Minute,
				MaxTTL:           72 * time.Hour,
				MaxCheckAttempts: 20,
				MaxSends:         1,
				ResendCooldown:   0,
			},
			Channels:      []otpd.ChannelName{otpd.ChannelEmail},
			Countries:     nil,
			Locale:        "fr",
			WebhookURL:    "",
			WebhookSecret: "",
			AppHash:       "",
			WebOTPDomain:  "",
			Limits:        otpd.Limits{ClientIP: otpd.RateLimit{N: 100, Per: time.Hour}},
			SafeList:      []string{"+33"},
			CreatedAt:     b.now.Add(-time.Hour),
			UpdatedAt:     b.now.Add(time.Minute),
		}
		require.NoError(t, b.s.UpdateService(b.ctx, upd))
		got, err := b.s.GetService(b.ctx, svc.ID)
		require.NoError(t, err)
		requireService(t, upd, got)

		got, err = b.s.GetService(b.ctx, other.ID)
		require.NoError(t, err)
		requireService(t, other, got)

		missing := NewService(b.now)
		require.ErrorIs(t, b.s.UpdateService(b.ctx, missing), otpd.ErrNotFound)
		_, err = b.s.GetService(b.ctx, missing.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound, "an update must not create")
	})

	t.Run("DeleteCascades", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		a, other := b.service(t), b.service(t)
		keyA, keyB := NewKey(a, b.now), NewKey(other, b.now)
		require.NoError(t, b.s.CreateKey(b.ctx, keyA))
		require.NoError(t, b.s.CreateKey(b.ctx, keyB))
		va := b.verification(t, a, b.now)
		vb := b.verification(t, other, b.now)

		require.NoError(t, b.s.DeleteService(b.ctx, a.ID))

		_, err := b.s.GetService(b.ctx, a.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound)
		_, err = b.s.GetKey(b.ctx, keyA.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound)
		keys, err := b.s.ListKeys(b.ctx, a.ID)
		require.NoError(t, err)
		require.Empty(t, keys)
		_, err = b.s.GetVerification(b.ctx, a.ID, va.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound)
		list, err := b.s.ListVerifications(b.ctx, otpd.VerificationFilter{ServiceID: a.ID, Now: b.now, Limit: 10})
		require.NoError(t, err)
		require.Empty(t, list)

		// Its queued messages are gone from the delivery queue too.
		claimed, err := b.s.ClaimMessages(b.ctx, b.now.Add(time.Hour), time.Minute, 10)
		require.NoError(t, err)
		require.Equal(t, []otpd.ClaimedMessage{{ServiceID: other.ID, VerificationID: vb.ID, MessageID: vb.Messages[0].ID}}, claimed)

		// The other service is untouched.
		got, err := b.s.GetService(b.ctx, other.ID)
		require.NoError(t, err)
		requireService(t, other, got)
		gotKey, err := b.s.GetKey(b.ctx, keyB.ID)
		require.NoError(t, err)
		requireKey(t, keyB, gotKey)
		requireVerification(t, vb, b.get(t, vb))

		require.ErrorIs(t, b.s.DeleteService(b.ctx, a.ID), otpd.ErrNotFound)
	})
}

func testKeys(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("CreateGet", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		fresh := NewKey(svc, b.now)
		used := NewKey(svc, b.now.Add(time.Millisecond))
		used.Name = "worker"
		used.LastUsedAt = b.now.Add(time.Minute)
		for _, k := range []*otpd.Key{fresh, used} {
			require.NoError(t, b.s.CreateKey(b.ctx, k))
			got, err := b.s.GetKey(b.ctx, k.ID)
			require.NoError(t, err)
			requireKey(t, k, got)
		}
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		_, err := b.s.GetKey(b.ctx, otpd.NewID(otpd.PrefixKey, b.now))
		require.ErrorIs(t, err, otpd.ErrNotFound)
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc, other := b.service(t), b.service(t)
		var want []*otpd.Key
		for i := range 3 {
			k := NewKey(svc, b.now.Add(time.Duration(i)*time.Millisecond))
			require.NoError(t, b.s.CreateKey(b.ctx, k))
			want = append(want, k)
		}
		require.NoError(t, b.s.CreateKey(b.ctx, NewKey(other, b.now)))

		got, err := b.s.ListKeys(b.ctx, svc.ID)
		require.NoError(t, err)
		require.Len(t, got, len(want))
		for i := range want {
			requireKey(t, want[i], got[i])
		}

		got, err = b.s.ListKeys(b.ctx, otpd.NewID(otpd.PrefixService, b.now))
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("DeleteIsScoped", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc, other := b.service(t), b.service(t)
		k := NewKey(svc, b.now)
		require.NoError(t, b.s.CreateKey(b.ctx, k))

		require.ErrorIs(t, b.s.DeleteKey(b.ctx, other.ID, k.ID), otpd.ErrNotFound)
		_, err := b.s.GetKey(b.ctx, k.ID)
		require.NoError(t, err, "another service must not delete the key")

		require.NoError(t, b.s.DeleteKey(b.ctx, svc.ID, k.ID))
		_, err = b.s.GetKey(b.ctx, k.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound)
		require.ErrorIs(t, b.s.DeleteKey(b.ctx, svc.ID, k.ID), otpd.ErrNotFound)
	})

	t.Run("Touch", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		k := NewKey(svc, b.now)
		require.NoError(t, b.s.CreateKey(b.ctx, k))
		lastUsed := func() time.Time {
			t.Helper()
			got, err := b.s.GetKey(b.ctx, k.ID)
			require.NoError(t, err)
			return got.LastUsedAt
		}

		t0 := b.now.Add(time.Second)
		require.NoError(t, b.s.TouchKey(b.ctx, k.ID, t0))
		require.Equal(t, ms(t0), ms(lastUsed()))

		// Within a minute the store may skip the write.
		t1 := t0.Add(10 * time.Second)
		require.NoError(t, b.s.TouchKey(b.ctx, k.ID, t1))
		require.Contains(t, []time.Time{ms(t0), ms(t1)}, ms(lastUsed()))

		t2 := t0.Add(5 * time.Minute)
		require.NoError(t, b.s.TouchKey(b.ctx, k.ID, t2))
		require.Equal(t, ms(t2), ms(lastUsed()))

		require.ErrorIs(t, b.s.TouchKey(b.ctx, otpd.NewID(otpd.PrefixKey, b.now), t2), otpd.ErrNotFound)
	})
}
