package fraud_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/fraud"
)

// auditLog keeps what a guard hands to Config.Audit.
type auditLog struct {
	mu      sync.Mutex
	entries []otpd.AuditEntry
}

func (l *auditLog) record(_ context.Context, e otpd.AuditEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	return nil
}

// TestBlocksAreAudited: blocks an admin makes and lifts, and blocks the
// guard makes on its own, reach the audit log, naming the range and never
// a number.
func TestBlocksAreAudited(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s otpd.Store) {
		b := setup(t, s)
		log := &auditLog{}
		g, err := fraud.New(fraud.Config{Store: s, MinVolume: 50, MinConversion: 0.2, Maturity: maturity,
			Window: time.Hour, Bucket: time.Minute, Now: b.clock.Now, Audit: log.record})
		require.NoError(t, err)

		blk, created, err := g.Block(b.ctx, b.svc.ID, otpd.ScopeCountry, "lv", time.Hour, "")
		require.NoError(t, err)
		require.True(t, created)
		_, err = g.Lift(b.ctx, b.svc.ID, blk.ID, otpd.BlockByAdmin)
		require.NoError(t, err)
		b.traffic(t, g, 300, pumped, never)
		made := b.settle(t, g, time.Minute+maturity)
		require.NotEmpty(t, made)

		log.mu.Lock()
		defer log.mu.Unlock()
		require.GreaterOrEqual(t, len(log.entries), 3)
		require.Equal(t, otpd.AuditEntry{Action: fraud.AuditBlock, ServiceID: b.svc.ID, Target: blk.ID, Details: map[string]any{
			"scope": "country", "key": "LV", "level": 0, "created_by": otpd.BlockByAdmin, "expires_at": blk.ExpiresAt.UTC().Format(time.RFC3339),
		}}, log.entries[0])
		require.Equal(t, otpd.AuditEntry{Action: fraud.AuditLift, ServiceID: b.svc.ID, Target: blk.ID,
			Details: map[string]any{"scope": "country", "key": "LV"}}, log.entries[1])
		byGuard := log.entries[2]
		require.Equal(t, fraud.AuditBlock, byGuard.Action)
		require.Equal(t, otpd.BlockByGuard, byGuard.Details["created_by"])
		for _, e := range log.entries {
			require.True(t, otpd.ValidAuditAction(e.Action), e.Action)
			require.NotContains(t, e.Details["key"], pumped(1), "a range, never a number")
		}
	})
}
