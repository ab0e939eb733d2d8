package storetest

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

// NewBlock returns a block made by the guard for svc's prefix key, created
// at now and expiring 15 minutes later.
func NewBlock(svc *otpd.Service, key string, now time.Time) *otpd.Block {
	return &otpd.Block{
		ID:        otpd.NewID(otpd.PrefixBlock, now),
		ServiceID: svc.ID,
		Scope:     otpd.ScopePrefix,
		Key:       key,
		Level:     1,
		Reason:    "conversion 0% of 120 verifications",
		CreatedBy: otpd.BlockByGuard,
		Started:   120,
		Approved:  0,
		CreatedAt: now,
		ExpiresAt: now.Add(15 * time.Minute),
	}
}

// NewBlockEvent returns a pending fraud.block_created event for b.
func NewBlockEvent(b *otpd.Block, now time.Time) *otpd.Event {
	return &otpd.Event{
		ID:             otpd.NewID(otpd.PrefixEvent, now),
		ServiceID:      b.ServiceID,
		VerificationID: b.ID,
		Type:           otpd.EventFraudBlockCreated,
		CreatedAt:      now,
		Data:           []byte(`{"id":"` + b.ID + `"}`),
		Delivery:       otpd.EventDelivery{State: otpd.EventPending, NextAttemptAt: now, Deadline: now.Add(24 * time.Hour)},
	}
}

func normBlock(b *otpd.Block) *otpd.Block {
	if b == nil {
		return nil
	}
	c := *b
	c.CreatedAt, c.ExpiresAt, c.LiftedAt = ms(b.CreatedAt), ms(b.ExpiresAt), ms(b.LiftedAt)
	return &c
}

func requireBlocks(t *testing.T, want, got []*otpd.Block) {
	t.Helper()
	norm := func(bs []*otpd.Block) []*otpd.Block {
		out := make([]*otpd.Block, len(bs))
		for i, b := range bs {
			out[i] = normBlock(b)
		}
		return out
	}
	require.Equal(t, norm(want), norm(got))
}

// stats returns the sorted stats of buckets in [from, to).
func (b *testBundle) stats(t *testing.T, from, to time.Time, minStarted int64) []otpd.ConversionStat {
	t.Helper()
	got, err := b.s.ConversionStats(b.ctx, from, to, minStarted)
	require.NoError(t, err)
	slices.SortFunc(got, func(x, y otpd.ConversionStat) int {
		return strings.Compare(x.ServiceID+string(x.Scope)+x.Key, y.ServiceID+string(y.Scope)+y.Key)
	})
	return got
}

func testFraud(t *testing.T, newStore func(t *testing.T) Store) {
	minute := func(b *testBundle, i int) time.Time {
		return b.now.Truncate(time.Minute).Add(time.Duration(i) * time.Minute)
	}

	t.Run("ConversionStats", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc, other := b.service(t), b.service(t)
		// Two nodes' flushes add up; a deleted service's deltas are dropped.
		require.NoError(t, b.s.AddConversions(b.ctx, []otpd.ConversionDelta{
			{ServiceID: svc.ID, Scope: otpd.ScopePrefix, Key: "+4477009001", Bucket: minute(b, 0), Started: 30},
			{ServiceID: svc.ID, Scope: otpd.ScopePrefix, Key: "+4477009001", Bucket: minute(b, 1), Started: 20, Approved: 2},
			{ServiceID: svc.ID, Scope: otpd.ScopeCountry, Key: "GB", Bucket: minute(b, 0), Started: 30, Approved: 25},
			{ServiceID: other.ID, Scope: otpd.ScopePrefix, Key: "+4477009001", Bucket: minute(b, 0), Started: 100},
			{ServiceID: "svc_00000000000000000000000000", Scope: otpd.ScopePrefix, Key: "+1", Bucket: minute(b, 0), Started: 100},
		}))
		require.NoError(t, b.s.AddConversions(b.ctx, []otpd.ConversionDelta{
			{ServiceID: svc.ID, Scope: otpd.ScopePrefix, Key: "+4477009001", Bucket: minute(b, 0), Started: 10, Approved: 1},
			{ServiceID: svc.ID, Scope: otpd.ScopePrefix, Key: "+4477009001", Bucket: minute(b, 2), Started: 1000},
		}))
		require.NoError(t, b.s.AddConversions(b.ctx, nil))

		theirs := otpd.ConversionStat{ServiceID: other.ID, Scope: otpd.ScopePrefix, Key: "+4477009001", Started: 100}
		want := []otpd.ConversionStat{
			{ServiceID: svc.ID, Scope: otpd.ScopeCountry, Key: "GB", Started: 30, Approved: 25},
			{ServiceID: svc.ID, Scope: otpd.ScopePrefix, Key: "+4477009001", Started: 60, Approved: 3},
			theirs,
		}
		slices.SortFunc(want, func(x, y otpd.ConversionStat) int {
			return strings.Compare(x.ServiceID+string(x.Scope)+x.Key, y.ServiceID+string(y.Scope)+y.Key)
		})
		// Buckets 0 and 1: [from, to) leaves bucket 2 out.
		require.Equal(t, want, b.stats(t, minute(b, 0), minute(b, 2), 1))
		// minStarted filters on the sums.
		require.Equal(t, []otpd.ConversionStat{theirs}, b.stats(t, minute(b, 0), minute(b, 2), 61))
		require.Empty(t, b.stats(t, minute(b, 3), minute(b, 9), 1))

		require.NoError(t, b.s.DeleteService(b.ctx, other.ID))
		require.Len(t, b.stats(t, minute(b, 0), minute(b, 2), 1), 2, "a deleted service's counters are gone")
	})

	t.Run("StatsStartAfterTheLastBlock", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		key := "+8821612"
		var deltas []otpd.ConversionDelta
		for i := range 30 {
			deltas = append(deltas, otpd.ConversionDelta{ServiceID: svc.ID, Scope: otpd.ScopePrefix, Key: key, Bucket: minute(b, i), Started: 10})
		}
		require.NoError(t, b.s.AddConversions(b.ctx, deltas))
		all := func() int64 {
			st := b.stats(t, minute(b, 0), minute(b, 30), 1)
			if len(st) == 0 {
				return 0
			}
			return st[0].Started
		}
		require.EqualValues(t, 300, all())

		// An active block: its key has no stats.
		blk := NewBlock(svc, key, minute(b, 10))
		blk.ExpiresAt = minute(b, 40)
		require.Nil(t, mustCreateBlock(t, b, blk, nil))
		require.Zero(t, all())

		// Lifted at minute 20: only buckets from then on count.
		blk.LiftedAt, blk.LiftedBy = minute(b, 20), otpd.BlockByAdmin
		require.NoError(t, b.s.LiftBlock(b.ctx, blk, nil))
		require.EqualValues(t, 100, all())
	})

	t.Run("CreateBlock", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc, other := b.service(t), b.service(t)
		blk := NewBlock(svc, "+8821612", b.now)
		ev := NewBlockEvent(blk, b.now)
		require.Nil(t, mustCreateBlock(t, b, blk, ev))
		got, err := b.s.GetBlock(b.ctx, svc.ID, blk.ID)
		require.NoError(t, err)
		requireBlocks(t, []*otpd.Block{blk}, []*otpd.Block{got})
		// The event is written with it, under the block's id.
		requireEvents(t, []*otpd.Event{ev}, b.listEvents(t, otpd.EventFilter{ServiceID: svc.ID}))

		// A second block of the key while the first is active: the first.
		again := NewBlock(svc, "+8821612", b.now.Add(time.Minute))
		existing := mustCreateBlock(t, b, again, NewBlockEvent(again, b.now))
		requireBlocks(t, []*otpd.Block{blk}, []*otpd.Block{existing})
		require.Len(t, b.listEvents(t, otpd.EventFilter{ServiceID: svc.ID}), 1, "no event for a block not made")

		// Other keys, scopes and services are independent.
		country := NewBlock(svc, "GB", b.now)
		country.Scope = otpd.ScopeCountry
		require.Nil(t, mustCreateBlock(t, b, country, nil))
		require.Nil(t, mustCreateBlock(t, b, NewBlock(other, "+8821612", b.now), nil))
		// Once the first expired, the key can be blocked again.
		later := NewBlock(svc, "+8821612", blk.ExpiresAt)
		require.Nil(t, mustCreateBlock(t, b, later, nil))

		_, err = b.s.CreateBlock(b.ctx, NewBlock(&otpd.Service{ID: "svc_00000000000000000000000000"}, "+1", b.now), nil)
		require.ErrorIs(t, err, otpd.ErrNotFound)
		_, err = b.s.GetBlock(b.ctx, other.ID, blk.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound, "another service's block")
	})

	t.Run("CreateBlockConcurrently", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		const n = 8
		var wg sync.WaitGroup
		created := make([]bool, n)
		for i := range n {
			wg.Go(func() {
				blk := NewBlock(svc, "+8821612", b.now)
				existing, err := b.s.CreateBlock(b.ctx, blk, NewBlockEvent(blk, b.now))
				if err == nil && existing == nil {
					created[i] = true
				}
			})
		}
		wg.Wait()
		require.Equal(t, 1, count(created), "one of concurrent CreateBlocks makes the block")
		got, err := b.s.ListBlocks(b.ctx, otpd.BlockFilter{ServiceID: svc.ID})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Len(t, b.listEvents(t, otpd.EventFilter{ServiceID: svc.ID}), 1)
	})

	t.Run("ListBlocks", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc, other := b.service(t), b.service(t)
		old := NewBlock(svc, "+8821612", b.now.Add(-time.Hour)) // expired
		lifted := NewBlock(svc, "+8821613", b.now.Add(-time.Minute))
		active := NewBlock(svc, "+8821614", b.now)
		country := NewBlock(svc, "GB", b.now.Add(time.Millisecond))
		country.Scope = otpd.ScopeCountry
		theirs := NewBlock(other, "+8821614", b.now)
		for _, blk := range []*otpd.Block{old, lifted, active, country, theirs} {
			require.Nil(t, mustCreateBlock(t, b, blk, nil))
		}
		lifted.LiftedAt, lifted.LiftedBy = b.now.Add(-time.Second), otpd.BlockByAdmin
		require.NoError(t, b.s.LiftBlock(b.ctx, lifted, nil))

		list := func(f otpd.BlockFilter) []*otpd.Block {
			got, err := b.s.ListBlocks(b.ctx, f)
			require.NoError(t, err)
			return got
		}
		requireBlocks(t, []*otpd.Block{country, active, lifted, old}, list(otpd.BlockFilter{ServiceID: svc.ID}))
		requireBlocks(t, []*otpd.Block{country, active}, list(otpd.BlockFilter{ServiceID: svc.ID, ActiveAt: b.now}))
		requireBlocks(t, []*otpd.Block{active}, list(otpd.BlockFilter{ServiceID: svc.ID, ActiveAt: b.now, Scope: otpd.ScopePrefix, Key: "+8821614"}))
		requireBlocks(t, []*otpd.Block{country, active, lifted}, list(otpd.BlockFilter{ServiceID: svc.ID, Since: b.now.Add(-time.Minute)}))
		requireBlocks(t, []*otpd.Block{lifted}, list(otpd.BlockFilter{ServiceID: svc.ID, Before: active.ID, Limit: 1}))
		all := list(otpd.BlockFilter{ActiveAt: b.now})
		require.Len(t, all, 3, "every service's active blocks")
	})

	t.Run("LiftBlock", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc, other := b.service(t), b.service(t)
		blk := NewBlock(svc, "+8821612", b.now)
		require.Nil(t, mustCreateBlock(t, b, blk, nil))

		// Another service cannot lift it.
		theirs := *blk
		theirs.ServiceID, theirs.LiftedAt, theirs.LiftedBy = other.ID, b.now.Add(time.Minute), otpd.BlockByAdmin
		require.ErrorIs(t, b.s.LiftBlock(b.ctx, &theirs, nil), otpd.ErrNotFound)

		lift := *blk
		lift.LiftedAt, lift.LiftedBy = b.now.Add(time.Minute), otpd.BlockByAdmin
		ev := NewBlockEvent(blk, lift.LiftedAt)
		ev.Type = otpd.EventFraudBlockLifted
		require.NoError(t, b.s.LiftBlock(b.ctx, &lift, ev))
		got, err := b.s.GetBlock(b.ctx, svc.ID, blk.ID)
		require.NoError(t, err)
		requireBlocks(t, []*otpd.Block{&lift}, []*otpd.Block{got})
		requireEvents(t, []*otpd.Event{ev}, b.listEvents(t, otpd.EventFilter{ServiceID: svc.ID}))

		// Lifting again, or lifting an expired block, is not found and
		// writes nothing.
		again := lift
		again.LiftedAt = b.now.Add(2 * time.Minute)
		require.ErrorIs(t, b.s.LiftBlock(b.ctx, &again, NewBlockEvent(blk, b.now)), otpd.ErrNotFound)
		require.Len(t, b.listEvents(t, otpd.EventFilter{ServiceID: svc.ID}), 1)
		expired := NewBlock(svc, "+8821613", b.now)
		require.Nil(t, mustCreateBlock(t, b, expired, nil))
		expired.LiftedAt, expired.LiftedBy = expired.ExpiresAt, otpd.BlockByAdmin
		require.ErrorIs(t, b.s.LiftBlock(b.ctx, expired, nil), otpd.ErrNotFound)

		// Deleting the service deletes its blocks.
		require.NoError(t, b.s.DeleteService(b.ctx, svc.ID))
		_, err = b.s.GetBlock(b.ctx, svc.ID, blk.ID)
		require.ErrorIs(t, err, otpd.ErrNotFound)
	})

	t.Run("PurgeConversions", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		svc := b.service(t)
		var deltas []otpd.ConversionDelta
		for i := range 5 {
			deltas = append(deltas, otpd.ConversionDelta{ServiceID: svc.ID, Scope: otpd.ScopePrefix, Key: "+4477009001", Bucket: minute(b, i), Started: 1})
		}
		require.NoError(t, b.s.AddConversions(b.ctx, deltas))
		n, err := b.s.PurgeConversions(b.ctx, minute(b, 3), 2)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		n, err = b.s.PurgeConversions(b.ctx, minute(b, 3), 2)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		n, err = b.s.PurgeConversions(b.ctx, minute(b, 3), 2)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, []otpd.ConversionStat{{ServiceID: svc.ID, Scope: otpd.ScopePrefix, Key: "+4477009001", Started: 2}},
			b.stats(t, minute(b, 0), minute(b, 10), 1))
	})
}

// mustCreateBlock creates blk and returns the existing block, if any.
func mustCreateBlock(t *testing.T, b *testBundle, blk *otpd.Block, ev *otpd.Event) *otpd.Block {
	t.Helper()
	existing, err := b.s.CreateBlock(b.ctx, blk, ev)
	require.NoError(t, err)
	return existing
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
