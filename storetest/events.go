package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

// NewEvent returns a pending event of v of type typ, created at now, due at
// now and given up a day later.
func NewEvent(v *otpd.Verification, typ otpd.EventType, now time.Time) *otpd.Event {
	return &otpd.Event{
		ID:             otpd.NewID(otpd.PrefixEvent, now),
		ServiceID:      v.ServiceID,
		VerificationID: v.ID,
		MessageID:      v.Messages[0].ID,
		Type:           typ,
		CreatedAt:      now,
		Data:           []byte(`{"id":"` + v.ID + `","status":"pending"}`),
		Delivery: otpd.EventDelivery{
			State:         otpd.EventPending,
			NextAttemptAt: now,
			Deadline:      now.Add(24 * time.Hour),
		},
	}
}

func normEvent(e *otpd.Event) *otpd.Event {
	if e == nil {
		return nil
	}
	c := *e
	c.Data = nilIfEmpty(e.Data)
	c.CreatedAt = ms(e.CreatedAt)
	d := &c.Delivery
	d.NextAttemptAt, d.Deadline, d.LastAttemptAt, d.DeliveredAt = ms(d.NextAttemptAt), ms(d.Deadline), ms(d.LastAttemptAt), ms(d.DeliveredAt)
	return &c
}

func requireEvents(t *testing.T, want, got []*otpd.Event) {
	t.Helper()
	require.Equal(t, eventIDs(want), eventIDs(got), "event ids")
	for i := range want {
		require.Equal(t, normEvent(want[i]), normEvent(got[i]))
	}
}

func eventIDs(es []*otpd.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// listEvents lists all events of the service, newest first.
func (b *testBundle) listEvents(t *testing.T, f otpd.EventFilter) []*otpd.Event {
	t.Helper()
	got, err := b.s.ListEvents(b.ctx, f)
	require.NoError(t, err)
	return got
}

// addEvents writes events to v in one UpdateVerification.
func (b *testBundle) addEvents(t *testing.T, v *otpd.Verification, evs ...*otpd.Event) {
	t.Helper()
	_, err := b.s.UpdateVerification(b.ctx, v.ServiceID, v.ID, func(v *otpd.Verification) error {
		v.Events = append(v.Events, evs...)
		return nil
	})
	require.NoError(t, err)
}

func testEvents(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("WrittenWithTheChange", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		var created *otpd.Event
		v := b.verification(t, svc, b.now, func(v *otpd.Verification) {
			created = NewEvent(v, otpd.EventVerificationCreated, b.now)
			v.Events = []*otpd.Event{created}
		})
		requireEvents(t, []*otpd.Event{created}, b.listEvents(t, otpd.EventFilter{ServiceID: svc.ID}))

		// Two events in one write, the second with the smaller id (same
		// millisecond): the store keeps the order they were written in.
		later := b.now.Add(time.Second)
		sent := NewEvent(v, otpd.EventMessageSent, later)
		delivered := NewEvent(v, otpd.EventMessageDelivered, later)
		if delivered.ID > sent.ID {
			sent.ID, delivered.ID = delivered.ID, sent.ID
		}
		b.addEvents(t, v, sent, delivered)
		requireEvents(t, []*otpd.Event{delivered, sent, created}, b.listEvents(t, otpd.EventFilter{ServiceID: svc.ID}))

		got, err := b.s.GetEvent(b.ctx, svc.ID, sent.ID)
		require.NoError(t, err)
		require.Equal(t, normEvent(sent), normEvent(got))

		// Nothing is written when fn fails.
		_, err = b.s.UpdateVerification(b.ctx, svc.ID, v.ID, func(v *otpd.Verification) error {
			v.Events = append(v.Events, NewEvent(v, otpd.EventVerificationApproved, later))
			return errNotPending
		})
		require.ErrorIs(t, err, errNotPending)
		require.Len(t, b.listEvents(t, otpd.EventFilter{ServiceID: svc.ID}), 3)
	})

	t.Run("DisabledWithoutWebhookURL", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := NewService(b.now)
		svc.WebhookURL = ""
		require.NoError(t, b.s.CreateService(b.ctx, svc))
		var ev *otpd.Event
		b.verification(t, svc, b.now, func(v *otpd.Verification) {
			ev = NewEvent(v, otpd.EventVerificationCreated, b.now)
			v.Events = []*otpd.Event{ev}
		})
		got, err := b.s.GetEvent(b.ctx, svc.ID, ev.ID)
		require.NoError(t, err)
		require.Equal(t, otpd.EventDisabled, got.Delivery.State)
		claimed, err := b.s.ClaimEvents(b.ctx, b.now.Add(time.Hour), time.Minute, 10)
		require.NoError(t, err)
		require.Empty(t, claimed, "a disabled event is never claimed")
	})

	t.Run("ListFilters", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc, other := b.service(t), b.service(t)
		v1 := b.verification(t, svc, b.now)
		v2 := b.verification(t, svc, b.now)
		vo := b.verification(t, other, b.now)
		at := func(i int) time.Time { return b.now.Add(time.Duration(i) * time.Second) }
		e1 := NewEvent(v1, otpd.EventVerificationCreated, at(0))
		e2 := NewEvent(v2, otpd.EventVerificationCreated, at(1))
		e3 := NewEvent(v1, otpd.EventMessageSent, at(2))
		e4 := NewEvent(v1, otpd.EventVerificationApproved, at(3))
		eo := NewEvent(vo, otpd.EventVerificationCreated, at(1))
		b.addEvents(t, v1, e1)
		b.addEvents(t, v2, e2)
		b.addEvents(t, v1, e3)
		b.addEvents(t, v1, e4)
		b.addEvents(t, vo, eo)

		tests := []struct {
			name string
			f    otpd.EventFilter
			want []*otpd.Event
		}{
			{"All", otpd.EventFilter{}, []*otpd.Event{e4, e3, e2, e1}},
			{"Type", otpd.EventFilter{Type: otpd.EventVerificationCreated}, []*otpd.Event{e2, e1}},
			{"Verification", otpd.EventFilter{VerificationID: v1.ID}, []*otpd.Event{e4, e3, e1}},
			{"Since", otpd.EventFilter{Since: ms(at(2))}, []*otpd.Event{e4, e3}},
			{"Limit", otpd.EventFilter{Limit: 2}, []*otpd.Event{e4, e3}},
			{"Cursor", otpd.EventFilter{Before: e3.ID, Limit: 2}, []*otpd.Event{e2, e1}},
			{"CursorAndType", otpd.EventFilter{Before: e4.ID, Type: otpd.EventMessageSent}, []*otpd.Event{e3}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.f.ServiceID = svc.ID
				requireEvents(t, tt.want, b.listEvents(t, tt.f))
			})
		}

		// A cursor whose event is gone (purged between pages) still pages
		// on, by id: events created after it are left out, older ones not.
		gone := otpd.NewID(otpd.PrefixEvent, at(2).Add(-time.Millisecond))
		requireEvents(t, []*otpd.Event{e2, e1}, b.listEvents(t, otpd.EventFilter{ServiceID: svc.ID, Before: gone}))

		// Tenants: another service's event is not found through this one.
		_, err := b.s.GetEvent(b.ctx, svc.ID, eo.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound)
		_, err = b.s.ListDeliveryAttempts(b.ctx, svc.ID, eo.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound)
		_, err = b.s.RedeliverEvent(b.ctx, svc.ID, eo.ID, b.now, b.now.Add(time.Hour))
		require.ErrorIs(t, err, otpd.ErrNotFound)
		requireEvents(t, []*otpd.Event{eo}, b.listEvents(t, otpd.EventFilter{ServiceID: other.ID}))

		// Erasing a service erases its events.
		require.NoError(t, b.s.DeleteService(b.ctx, other.ID))
		_, err = b.s.GetEvent(b.ctx, other.ID, eo.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound)
	})

	t.Run("ClaimInOrderPerVerification", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		now := ms(b.now)
		v1 := b.verification(t, svc, now)
		v2 := b.verification(t, svc, now)
		a1 := NewEvent(v1, otpd.EventVerificationCreated, now)
		a2 := NewEvent(v1, otpd.EventMessageSent, now)
		c1 := NewEvent(v2, otpd.EventVerificationCreated, now)
		future := NewEvent(v2, otpd.EventMessageSent, now)
		future.Delivery.NextAttemptAt = now.Add(time.Hour)
		b.addEvents(t, v1, a1, a2)
		b.addEvents(t, v2, c1)
		b.addEvents(t, v2, future)

		claimed, err := b.s.ClaimEvents(b.ctx, now, time.Minute, 10)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{a1.ID, c1.ID}, eventIDs(claimed), "only each verification's oldest pending event")
		for _, e := range claimed {
			if e.ID == a1.ID {
				require.Equal(t, normEvent(a1), normEvent(e), "claimed events carry their data")
			}
		}
		again, err := b.s.ClaimEvents(b.ctx, now, time.Minute, 10)
		require.NoError(t, err)
		require.Empty(t, again, "leased events and those behind them wait")

		// a1 delivered: a2 is next. c1 fails and is due later: future, due
		// even later, still waits behind it.
		d := otpd.EventDelivery{State: otpd.EventDelivered, Attempts: 1, LastAttemptAt: now, LastStatusCode: 204, DeliveredAt: now}
		require.NoError(t, b.s.RecordDeliveryAttempt(b.ctx, &otpd.DeliveryAttempt{EventID: a1.ID, At: now, URL: svc.WebhookURL, StatusCode: 204, Duration: 3 * time.Millisecond}, d))
		retry := otpd.EventDelivery{State: otpd.EventPending, Attempts: 1, NextAttemptAt: now.Add(30 * time.Second), Deadline: c1.Delivery.Deadline,
			LastAttemptAt: now, LastStatusCode: 503, LastError: "503 Service Unavailable"}
		require.NoError(t, b.s.RecordDeliveryAttempt(b.ctx, &otpd.DeliveryAttempt{EventID: c1.ID, At: now, URL: svc.WebhookURL, StatusCode: 503, Error: "503 Service Unavailable", Duration: time.Second}, retry))

		claimed, err = b.s.ClaimEvents(b.ctx, now, time.Minute, 10)
		require.NoError(t, err)
		require.Equal(t, []string{a2.ID}, eventIDs(claimed))
		claimed, err = b.s.ClaimEvents(b.ctx, now.Add(2*time.Hour), time.Minute, 10)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{a2.ID, c1.ID}, eventIDs(claimed), "a2's lease ran out; the retried c1 is due again, and before future")

		got, err := b.s.GetEvent(b.ctx, svc.ID, a1.ID)
		require.NoError(t, err)
		require.Equal(t, normEvent(&otpd.Event{ID: a1.ID, ServiceID: svc.ID, VerificationID: v1.ID, MessageID: a1.MessageID,
			Type: a1.Type, CreatedAt: a1.CreatedAt, Data: a1.Data, Delivery: d}), normEvent(got))
		attempts, err := b.s.ListDeliveryAttempts(b.ctx, svc.ID, c1.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 1)
		require.Equal(t, otpd.DeliveryAttempt{EventID: c1.ID, At: now, URL: svc.WebhookURL, StatusCode: 503, Error: "503 Service Unavailable", Duration: time.Second}, *attempts[0])
	})

	t.Run("LeaseRunsOut", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		now := ms(b.now)
		v := b.verification(t, svc, now)
		e := NewEvent(v, otpd.EventVerificationCreated, now)
		b.addEvents(t, v, e)
		claimed, err := b.s.ClaimEvents(b.ctx, now, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, claimed, 1)
		claimed, err = b.s.ClaimEvents(b.ctx, now.Add(time.Minute), time.Minute, 10)
		require.NoError(t, err)
		require.Equal(t, []string{e.ID}, eventIDs(claimed), "a node that died mid-delivery leaves the event to others")
	})

	t.Run("ConcurrentClaimsTakeEachOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		now := ms(b.now)
		want := map[string]bool{}
		for range 40 {
			v := b.verification(t, svc, now)
			e := NewEvent(v, otpd.EventVerificationCreated, now)
			b.addEvents(t, v, e)
			want[e.ID] = true
		}
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					claimed, err := b.s.ClaimEvents(b.ctx, now, time.Minute, 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(claimed) == 0 {
						return
					}
					mu.Lock()
					for _, e := range claimed {
						got[e.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Len(t, got, len(want))
		for id, n := range got {
			require.True(t, want[id])
			require.Equal(t, 1, n, "event %s claimed %d times", id, n)
		}
	})

	t.Run("Redeliver", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		now := ms(b.now)
		v := b.verification(t, svc, now)
		e := NewEvent(v, otpd.EventVerificationCreated, now)
		b.addEvents(t, v, e)
		_, err := b.s.ClaimEvents(b.ctx, now, time.Minute, 10)
		require.NoError(t, err)
		gaveUp := otpd.EventDelivery{State: otpd.EventGivenUp, Attempts: 1, LastAttemptAt: now, LastError: "connection refused"}
		require.NoError(t, b.s.RecordDeliveryAttempt(b.ctx, &otpd.DeliveryAttempt{EventID: e.ID, At: now, URL: svc.WebhookURL, Error: "connection refused"}, gaveUp))

		later := now.Add(time.Hour)
		got, err := b.s.RedeliverEvent(b.ctx, svc.ID, e.ID, later, later.Add(72*time.Hour))
		require.NoError(t, err)
		want := gaveUp
		want.State, want.NextAttemptAt, want.Deadline = otpd.EventPending, later, later.Add(72*time.Hour)
		require.Equal(t, normEvent(&otpd.Event{ID: e.ID, ServiceID: svc.ID, VerificationID: v.ID, MessageID: e.MessageID,
			Type: e.Type, CreatedAt: e.CreatedAt, Data: e.Data, Delivery: want}), normEvent(got))
		claimed, err := b.s.ClaimEvents(b.ctx, later, time.Minute, 10)
		require.NoError(t, err)
		require.Equal(t, []string{e.ID}, eventIDs(claimed))
		attempts, err := b.s.ListDeliveryAttempts(b.ctx, svc.ID, e.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 1, "earlier attempts are kept")

		_, err = b.s.RedeliverEvent(b.ctx, svc.ID, "evt_nope", later, later)
		require.ErrorIs(t, err, otpd.ErrNotFound)
	})

	t.Run("SetDelivery", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		now := ms(b.now)
		v := b.verification(t, svc, now)
		e := NewEvent(v, otpd.EventVerificationCreated, now)
		b.addEvents(t, v, e)
		_, err := b.s.ClaimEvents(b.ctx, now, time.Minute, 10)
		require.NoError(t, err)
		require.NoError(t, b.s.SetEventDelivery(b.ctx, e.ID, otpd.EventDelivery{State: otpd.EventDisabled}))
		got, err := b.s.GetEvent(b.ctx, svc.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, otpd.EventDelivery{State: otpd.EventDisabled}, got.Delivery)
		require.ErrorIs(t, b.s.SetEventDelivery(b.ctx, "evt_nope", otpd.EventDelivery{State: otpd.EventDisabled}), otpd.ErrNotFound)
	})

	t.Run("Purge", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		cutoff := ms(b.now)
		v := b.verification(t, svc, cutoff)
		old := func(i int, st otpd.EventDeliveryState) *otpd.Event {
			e := NewEvent(v, otpd.EventMessageSent, cutoff.Add(-time.Hour+time.Duration(i)*time.Millisecond))
			e.Delivery.State = st
			return e
		}
		var purged []*otpd.Event
		for i, st := range []otpd.EventDeliveryState{otpd.EventDelivered, otpd.EventGivenUp, otpd.EventDelivered} {
			purged = append(purged, old(i, st))
		}
		oldPending := old(10, otpd.EventPending)
		atCutoff := NewEvent(v, otpd.EventMessageSent, cutoff)
		atCutoff.Delivery.State = otpd.EventDelivered
		b.addEvents(t, v, append(purged, oldPending, atCutoff)...)
		require.NoError(t, b.s.RecordDeliveryAttempt(b.ctx, &otpd.DeliveryAttempt{EventID: purged[0].ID, At: cutoff.Add(-time.Hour), URL: "https://x", StatusCode: 200},
			otpd.EventDelivery{State: otpd.EventDelivered, Attempts: 1}))

		var counts []int
		for {
			n, err := b.s.PurgeEvents(b.ctx, cutoff, 2)
			require.NoError(t, err)
			counts = append(counts, n)
			if n == 0 {
				break
			}
		}
		require.Equal(t, []int{2, 1, 0}, counts)
		require.ElementsMatch(t, []string{oldPending.ID, atCutoff.ID}, eventIDs(b.listEvents(t, otpd.EventFilter{ServiceID: svc.ID})))
		_, err := b.s.ListDeliveryAttempts(b.ctx, svc.ID, purged[0].ID)
		require.ErrorIs(t, err, otpd.ErrNotFound)
	})
}

func testEarlyReceipts(t *testing.T, newStore func(t *testing.T) Store) {
	b := setup(t, newStore)
	now := ms(b.now)
	r1 := otpd.Receipt{Channel: otpd.ChannelSMS, Ref: "r1:a", Status: otpd.MessageDelivered}
	r2 := otpd.Receipt{Channel: otpd.ChannelSMS, Ref: "r1:b", Status: otpd.MessageUndelivered, Error: "stat:UNDELIV err:001"}
	old := otpd.Receipt{Channel: otpd.ChannelSMS, Ref: "r1:old", Status: otpd.MessageDelivered}
	require.NoError(t, b.s.SaveEarlyReceipt(b.ctx, "sms:r1:a", otpd.Receipt{Channel: otpd.ChannelSMS, Ref: "r1:a", Status: otpd.MessageFailed}, now))
	require.NoError(t, b.s.SaveEarlyReceipt(b.ctx, "sms:r1:a", r1, now), "a second receipt replaces the first")
	require.NoError(t, b.s.SaveEarlyReceipt(b.ctx, "sms:r1:b", r2, now))
	require.NoError(t, b.s.SaveEarlyReceipt(b.ctx, "sms:r1:old", old, now.Add(-2*time.Hour)))

	got, err := b.s.TakeEarlyReceipts(b.ctx, []string{"sms:r1:a", "sms:r1:b", "sms:r1:none"})
	require.NoError(t, err)
	require.ElementsMatch(t, []otpd.Receipt{r1, r2}, got)
	got, err = b.s.TakeEarlyReceipts(b.ctx, []string{"sms:r1:a", "sms:r1:b"})
	require.NoError(t, err)
	require.Empty(t, got, "taken receipts are gone")

	n, err := b.s.PurgeEarlyReceipts(b.ctx, now.Add(-time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got, err = b.s.TakeEarlyReceipts(b.ctx, []string{"sms:r1:old"})
	require.NoError(t, err)
	require.Empty(t, got)
}
