package sqlite

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/storetest"
)

// The copy a create or an update leaves (recent.go) is exactly what a read
// returns, version included: an update starting from a copy that differed
// would compute its changes against the wrong "before" and could leave a
// column unwritten.
func TestRecentCopyIsWhatAReadReturns(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openInternal(t)
	now := time.Now()
	svc := storetest.NewService(now)
	require.NoError(t, s.CreateService(ctx, svc))

	requireCopyIsRead := func(t *testing.T, v *otpd.Verification) {
		t.Helper()
		c, cv, ok := s.recent.take(v.ServiceID, v.ID)
		require.True(t, ok, "a copy is left")
		read, rv, err := loadVerification(&txn{ctx: ctx, db: s.r, stmts: s.rs, sealer: s.sealer}, v.ServiceID, v.ID)
		require.NoError(t, err)
		require.Equal(t, rv, cv, "version")
		require.Equal(t, read, c)
	}

	v := storetest.NewVerification(svc, now.Add(123456*time.Nanosecond))
	v.Messages[0].LeaseUntil = now.Add(time.Minute) // handed over
	v.Events = []*otpd.Event{event(v, otpd.EventVerificationCreated, "", now)}
	require.NoError(t, s.CreateVerification(ctx, v))
	requireCopyIsRead(t, v)

	// The send's outcome: refs, an event, a fallback armed, a new message.
	got, err := s.UpdateVerification(ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
		m := v.Messages[0]
		m.Status, m.ProviderID, m.Attempts = otpd.MessageSent, "smsc-1", 1
		m.Refs = append(m.Refs, "sms:r:1", "sms:r:2")
		m.FallbackAt = time.Now().Add(30 * time.Second)
		m.UpdatedAt = time.Now()
		v.UpdatedAt = m.UpdatedAt
		v.Events = append(v.Events, event(v, otpd.EventMessageSent, m.ID, m.UpdatedAt))
		n := storetest.NewMessage(v, time.Now())
		n.VerificationID = ""
		n.LeaseUntil = time.Now().Add(time.Minute)
		v.Messages = append(v.Messages, n)
		return nil
	})
	require.NoError(t, err)
	requireCopyIsRead(t, got)

	// Loaded again under the write lock (no copy to start from).
	got, err = s.UpdateVerification(ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
		v.Attempts++
		v.Status = otpd.StatusApproved
		return nil
	})
	require.NoError(t, err)
	requireCopyIsRead(t, got)

	// A read leaves one too.
	_, err = s.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	requireCopyIsRead(t, got)
}

// The copies are bounded: past maxRecent the oldest are forgotten, and a
// drop forgets all of them, also a put whose read began before the drop.
func TestRecentCopiesAreBounded(t *testing.T) {
	t.Parallel()
	var r recentReads
	svc := storetest.NewService(time.Now())
	first := storetest.NewVerification(svc, time.Now())
	r.put(first, 1, r.begin())
	for range maxRecent {
		r.put(storetest.NewVerification(svc, time.Now()), 1, r.begin())
	}
	require.LessOrEqual(t, len(r.cur)+len(r.old), maxRecent)
	_, _, ok := r.take(svc.ID, first.ID)
	require.False(t, ok, "the oldest copy was forgotten")

	v := storetest.NewVerification(svc, time.Now())
	gen := r.begin()
	r.drop()
	r.put(v, 1, gen)
	_, _, ok = r.take(svc.ID, v.ID)
	require.False(t, ok, "a copy read before a drop is not kept")
	r.put(v, 2, r.begin())
	c, version, ok := r.take(svc.ID, v.ID)
	require.True(t, ok)
	require.Equal(t, int64(2), version)
	require.Equal(t, v.ID, c.ID)
	c2, _, ok := r.take(svc.ID, v.ID)
	require.True(t, ok, "the copy stays for a racing update")
	require.NotSame(t, c, c2, "each taker gets its own")
	r.stale(svc.ID, v.ID, 1)
	_, _, ok = r.take(svc.ID, v.ID)
	require.True(t, ok, "a newer copy than the stale version stays")
	r.stale(svc.ID, v.ID, 2)
	_, _, ok = r.take(svc.ID, v.ID)
	require.False(t, ok, "a stale copy is forgotten")
}

func event(v *otpd.Verification, typ otpd.EventType, messageID string, now time.Time) *otpd.Event {
	return &otpd.Event{
		ID: otpd.NewID(otpd.PrefixEvent, now), ServiceID: v.ServiceID, VerificationID: v.ID,
		MessageID: messageID, Type: typ, CreatedAt: now, Data: []byte(`{"id":"` + v.ID + `"}`),
		Delivery: otpd.EventDelivery{State: otpd.EventPending, NextAttemptAt: now, Deadline: now.Add(time.Hour)},
	}
}
