package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

// closedVerification returns an approved verification of svc created at
// at, its message delivered with two refs (a two-part SMS) and the events a
// served verification leaves.
func closedVerification(svc *otpd.Service, at time.Time) *otpd.Verification {
	v := NewVerification(svc, at)
	v.Status, v.UpdatedAt = otpd.StatusApproved, at.Add(20*time.Second)
	m := v.Messages[0]
	m.Status, m.Attempts, m.ProviderID, m.UpdatedAt = otpd.MessageDelivered, 1, "smpp:42", at.Add(2*time.Second)
	m.Refs = []string{"sms:import:" + v.ID + ":a", "sms:import:" + v.ID + ":b"}
	for i, typ := range []otpd.EventType{otpd.EventVerificationCreated, otpd.EventMessageSent,
		otpd.EventMessageDelivered, otpd.EventVerificationApproved} {
		e := NewEvent(v, typ, at.Add(time.Duration(i)*time.Second))
		if typ == otpd.EventVerificationCreated || typ == otpd.EventVerificationApproved {
			e.MessageID = ""
		}
		v.Events = append(v.Events, e)
	}
	return v
}

// setupImport skips t when the store is no otpd.VerificationImporter.
func setupImport(t *testing.T, newStore func(t *testing.T) Store) (*testBundle, otpd.VerificationImporter) {
	t.Helper()
	b := setup(t, newStore)
	imp, ok := b.s.(otpd.VerificationImporter)
	if !ok {
		t.Skip("the store imports no verifications")
	}
	return b, imp
}

func testImportVerifications(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("ReadsBackAsCreated", func(t *testing.T) {
		t.Parallel()
		b, imp := setupImport(t, newStore)
		svc := b.service(t)
		var vs []*otpd.Verification
		for i := range 50 {
			vs = append(vs, closedVerification(svc, b.now.Add(time.Duration(i-50)*time.Minute)))
		}
		require.NoError(t, imp.ImportVerifications(b.ctx, vs))

		for _, v := range []*otpd.Verification{vs[0], vs[27], vs[49]} {
			got, err := b.s.GetVerification(b.ctx, svc.ID, v.ID)
			require.NoError(t, err)
			want := v.Clone()
			want.Events = nil // written, not read back with the verification
			want.Messages[0].Refs = nil
			requireVerification(t, want, got)

			for _, ref := range v.Messages[0].Refs {
				cm, err := b.s.FindMessageByRef(b.ctx, ref)
				require.NoError(t, err)
				require.Equal(t, otpd.ClaimedMessage{ServiceID: svc.ID, VerificationID: v.ID, MessageID: v.Messages[0].ID}, cm)
			}
			evs := b.listEvents(t, otpd.EventFilter{ServiceID: svc.ID, VerificationID: v.ID})
			wantEvs := make([]*otpd.Event, 0, len(v.Events))
			for i := len(v.Events) - 1; i >= 0; i-- { // newest first
				wantEvs = append(wantEvs, v.Events[i])
			}
			requireEvents(t, wantEvs, evs)
		}

		all, err := b.s.ListVerifications(b.ctx, otpd.VerificationFilter{ServiceID: svc.ID, Now: b.now})
		require.NoError(t, err)
		require.Len(t, all, len(vs))
		require.Equal(t, vs[49].ID, all[0].ID, "newest first")
		require.Len(t, b.listEvents(t, otpd.EventFilter{ServiceID: svc.ID}), 4*len(vs))
	})

	t.Run("AllOrNothing", func(t *testing.T) {
		t.Parallel()
		b, imp := setupImport(t, newStore)
		svc := b.service(t)
		taken := b.verification(t, svc, b.now)
		fresh := closedVerification(svc, b.now.Add(-time.Hour))
		dup := closedVerification(svc, b.now)
		dup.ID = taken.ID
		for _, e := range dup.Events {
			e.VerificationID = taken.ID
		}
		dup.Messages[0].VerificationID = taken.ID
		require.Error(t, imp.ImportVerifications(b.ctx, []*otpd.Verification{fresh, dup}))
		_, err := b.s.GetVerification(b.ctx, svc.ID, fresh.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound)
		_, err = b.s.FindMessageByRef(b.ctx, fresh.Messages[0].Refs[0])
		require.ErrorIs(t, err, otpd.ErrNotFound)
		require.Empty(t, b.listEvents(t, otpd.EventFilter{ServiceID: svc.ID, VerificationID: fresh.ID}))
	})
}
