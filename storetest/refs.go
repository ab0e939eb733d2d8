package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

func testMessageRefs(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("RecordedWithUpdateAndFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		mid := v.Messages[0].ID

		_, err := b.s.FindMessageByRef(b.ctx, "sms:r1:a")
		require.ErrorIs(t, err, otpd.ErrNotFound)

		_, err = b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
			v.Messages[0].Status = otpd.MessageSent
			v.Messages[0].Refs = []string{"sms:r1:a", "sms:r1:b"}
			return nil
		})
		require.NoError(t, err)
		for _, ref := range []string{"sms:r1:a", "sms:r1:b"} {
			cm, err := b.s.FindMessageByRef(b.ctx, ref)
			require.NoError(t, err)
			require.Equal(t, otpd.ClaimedMessage{ServiceID: svc.ID, VerificationID: v.ID, MessageID: mid}, cm)
		}

		// An appended message's refs are recorded with it.
		var second *otpd.Message
		_, err = b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
			second = NewMessage(v, b.now)
			second.Refs = []string{"sms:r1:c"}
			v.Messages = append(v.Messages, second)
			return nil
		})
		require.NoError(t, err)
		cm, err := b.s.FindMessageByRef(b.ctx, "sms:r1:c")
		require.NoError(t, err)
		require.Equal(t, second.ID, cm.MessageID)

		// A ref given twice (a repeated outcome) is harmless.
		_, err = b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
			v.Messages[0].Refs = []string{"sms:r1:a"}
			v.Messages[0].Status = otpd.MessageDelivered
			return nil
		})
		require.NoError(t, err)
	})

	t.Run("NotWrittenWhenFnFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		_, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
			v.Messages[0].Refs = []string{"sms:r1:z"}
			return errNotPending
		})
		require.ErrorIs(t, err, errNotPending)
		_, err = b.s.FindMessageByRef(b.ctx, "sms:r1:z")
		require.ErrorIs(t, err, otpd.ErrNotFound)
	})

	t.Run("GoneWithTheService", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		v := b.verification(t, svc, b.now)
		_, err := b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
			v.Messages[0].Refs = []string{"sms:r1:gone"}
			return nil
		})
		require.NoError(t, err)
		require.NoError(t, b.s.DeleteService(b.ctx, svc.ID))
		_, err = b.s.FindMessageByRef(b.ctx, "sms:r1:gone")
		require.ErrorIs(t, err, otpd.ErrNotFound, "erasing a service erases its refs")
	})
}

func testKeyFingerprints(t *testing.T, newStore func(t *testing.T) Store) {
	b := setup(t, newStore)
	got, err := b.s.RegisterKeyFingerprints(b.ctx, map[string]string{"k1": "aa", "k2": "bb"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"k1": "aa", "k2": "bb"}, got)
	// Another node: k1 differs (kept as first recorded), k3 is new.
	got, err = b.s.RegisterKeyFingerprints(b.ctx, map[string]string{"k1": "zz", "k3": "cc"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"k1": "aa", "k3": "cc"}, got)
	got, err = b.s.RegisterKeyFingerprints(b.ctx, map[string]string{})
	require.NoError(t, err)
	require.Empty(t, got)
}
