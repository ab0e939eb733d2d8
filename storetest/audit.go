package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

// NewAuditEntry returns an audit entry of action on serviceID at at.
func NewAuditEntry(serviceID, action string, at time.Time) *otpd.AuditEntry {
	return &otpd.AuditEntry{
		ID:        otpd.NewID(otpd.PrefixAudit, at),
		At:        at,
		Actor:     otpd.ActorAdmin,
		Action:    action,
		ServiceID: serviceID,
		Target:    serviceID,
		// JSON's own types, as they come back: strings, float64, lists.
		Details: map[string]any{"fields": []any{"name", "ttl_seconds"}, "count": float64(2)},
	}
}

func normAudit(e *otpd.AuditEntry) *otpd.AuditEntry {
	c := *e
	c.At = ms(e.At)
	return &c
}

func auditIDs(es []*otpd.AuditEntry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func testAudit(t *testing.T, newStore func(t *testing.T) Store) {
	b := setup(t, newStore)
	svc, other := b.service(t), b.service(t)

	// Appended in this order; the listing is newest first.
	var all []*otpd.AuditEntry
	for i, e := range []*otpd.AuditEntry{
		NewAuditEntry(svc.ID, otpd.AuditServiceCreate, b.now),
		NewAuditEntry(other.ID, otpd.AuditServiceCreate, b.now.Add(time.Millisecond)),
		NewAuditEntry(svc.ID, otpd.AuditServiceUpdate, b.now.Add(2*time.Millisecond)),
		NewAuditEntry("", "fraud.block", b.now.Add(3*time.Millisecond)),
		NewAuditEntry(svc.ID, otpd.AuditKeyCreate, b.now.Add(4*time.Millisecond)),
	} {
		if i == 3 {
			e.Actor, e.Target, e.Details = otpd.ActorSystem, "+4477009", nil
		}
		require.NoError(t, b.s.AppendAudit(b.ctx, e))
		all = append([]*otpd.AuditEntry{e}, all...)
	}
	require.Error(t, b.s.AppendAudit(b.ctx, all[0]), "an id is appended once")

	got, err := b.s.ListAudit(b.ctx, otpd.AuditFilter{})
	require.NoError(t, err)
	require.Len(t, got, len(all))
	for i := range all {
		require.Equal(t, normAudit(all[i]), normAudit(got[i]), "entry %d", i)
	}

	for _, tc := range []struct {
		name string
		f    otpd.AuditFilter
		want []*otpd.AuditEntry
	}{
		{"service", otpd.AuditFilter{ServiceID: svc.ID}, []*otpd.AuditEntry{all[0], all[2], all[4]}},
		{"action", otpd.AuditFilter{Action: otpd.AuditServiceCreate}, []*otpd.AuditEntry{all[3], all[4]}},
		{"service and action", otpd.AuditFilter{ServiceID: other.ID, Action: otpd.AuditServiceCreate}, []*otpd.AuditEntry{all[3]}},
		{"since", otpd.AuditFilter{Since: b.now.Add(3 * time.Millisecond)}, all[:2]},
		{"limit", otpd.AuditFilter{Limit: 2}, all[:2]},
		{"cursor", otpd.AuditFilter{Before: all[1].ID, Limit: 2}, all[2:4]},
		{"cursor and service", otpd.AuditFilter{ServiceID: svc.ID, Before: all[0].ID}, []*otpd.AuditEntry{all[2], all[4]}},
		{"past the last", otpd.AuditFilter{Before: all[4].ID}, nil},
		{"no match", otpd.AuditFilter{Action: "template.update"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := b.s.ListAudit(b.ctx, tc.f)
			require.NoError(t, err)
			require.Equal(t, auditIDs(tc.want), auditIDs(got))
		})
	}

	// Entries outlive the service they name.
	require.NoError(t, b.s.DeleteService(b.ctx, svc.ID))
	got, err = b.s.ListAudit(b.ctx, otpd.AuditFilter{ServiceID: svc.ID})
	require.NoError(t, err)
	require.Len(t, got, 3)
}

// AuditAppendOnly checks that the database under s refuses, on its own,
// to change or remove audit entries: exec runs a raw SQL statement the
// way any client of the database could, and each of stmts (an UPDATE, a
// DELETE, ...) must fail with the store's "append-only" error.
func AuditAppendOnly(t *testing.T, s Store, exec func(stmt string) error, stmts ...string) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, s.AppendAudit(ctx, NewAuditEntry("", "fraud.block", time.Now())))
	for _, stmt := range stmts {
		require.ErrorContains(t, exec(stmt), "the audit log is append-only", stmt)
	}
	got, err := s.ListAudit(ctx, otpd.AuditFilter{})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, otpd.ActorAdmin, got[0].Actor, "unchanged")
}
