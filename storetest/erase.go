package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

func testEraseDestination(t *testing.T, newStore func(t *testing.T) Store) {
	b := setup(t, newStore)
	svc, other := b.service(t), b.service(t)
	const erased, kept = "tk_erase", "tk_keep"
	// Under two keys of the keyring: erasure matches either.
	var gone []*otpd.Verification
	for i, key := range []string{erased + "_k1", erased + "_k2"} {
		v := b.verification(t, svc, b.now.Add(time.Duration(i)*time.Millisecond), func(v *otpd.Verification) {
			v.ToKey = key
			v.Status = otpd.StatusApproved
			v.Events = []*otpd.Event{NewEvent(v, otpd.EventVerificationCreated, b.now)}
		})
		gone = append(gone, v)
	}
	stay := b.verification(t, svc, b.now, func(v *otpd.Verification) {
		v.ToKey = kept
		v.Events = []*otpd.Event{NewEvent(v, otpd.EventVerificationCreated, b.now)}
	})
	// Another service's verification under the same key is its own.
	elsewhere := b.verification(t, other, b.now, func(v *otpd.Verification) { v.ToKey = erased + "_k1" })
	remember := func(key, subject string) {
		rec := &otpd.IdempotencyRecord{Scope: svc.ID, Key: key, RequestHash: randomBytes(32), CreatedAt: b.now, LockedUntil: b.now.Add(time.Minute)}
		_, err := b.s.ReserveIdempotencyKey(b.ctx, rec)
		require.NoError(t, err)
		rec.Completed, rec.StatusCode, rec.Body, rec.Subject = true, 201, []byte(`{}`), subject
		require.NoError(t, b.s.CompleteIdempotencyKey(b.ctx, rec))
	}
	remember("a", erased+"_k2")
	remember("b", kept)
	remember("c", "")

	got, err := b.s.EraseDestination(b.ctx, svc.ID, []string{erased + "_k1", erased + "_k2"})
	require.NoError(t, err)
	require.Equal(t, otpd.Erasure{Verifications: 2, Events: 2, Responses: 1}, got)

	for _, v := range gone {
		_, err := b.s.GetVerification(b.ctx, svc.ID, v.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound)
	}
	_, err = b.s.GetVerification(b.ctx, svc.ID, stay.ID)
	require.NoError(t, err)
	_, err = b.s.GetVerification(b.ctx, other.ID, elsewhere.ID)
	require.NoError(t, err, "another service's data stays")
	events, err := b.s.ListEvents(b.ctx, otpd.EventFilter{ServiceID: svc.ID, Limit: 10})
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, stay.ID, events[0].VerificationID)
	for key, want := range map[string]bool{"a": false, "b": true, "c": true} {
		rec := &otpd.IdempotencyRecord{Scope: svc.ID, Key: key, RequestHash: randomBytes(32), CreatedAt: b.now, LockedUntil: b.now.Add(time.Minute)}
		existing, err := b.s.ReserveIdempotencyKey(b.ctx, rec)
		require.NoError(t, err)
		require.Equal(t, want, existing != nil, "response %s", key)
	}

	again, err := b.s.EraseDestination(b.ctx, svc.ID, []string{erased + "_k1"})
	require.NoError(t, err)
	require.Zero(t, again, "nothing left to erase is not an error")
}
