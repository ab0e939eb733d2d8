package smsc

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/otpd/otpd/smpp"
)

// receiptJob is one receipt on its way.
type receiptJob struct {
	receipt  smpp.Receipt
	systemID string
	origin   *conn        // the connection the submit came on
	from, to smpp.Address // the receipt goes from the destination to the source
	toOther  bool         // Faults.ReceiptsToOtherBind when submitted
}

// sendReceipt waits DLRDelay, then offers the receipt to the binds that may
// take it until one acknowledges it, ctx ends or ReceiptExpiry passes.
func (s *Server) sendReceipt(ctx context.Context, j receiptJob) {
	if d := s.cfg.DLRDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	expiry := time.NewTimer(s.cfg.ReceiptExpiry)
	defer expiry.Stop()
	log := s.cfg.Logger.With("id", j.receipt.MessageID, "system_id", j.systemID)
	r := j.receipt
	r.DoneDate = s.cfg.Now().UTC()
	d := r.DeliverSM()
	d.Source, d.Destination = j.from, j.to
	if _, err := smpp.Encode(d, 1, smpp.StatusOK); err != nil {
		log.Error("smsc cannot encode receipt", "err", err)
		return
	}
	tried := map[*conn]bool{}
	for {
		c, bindsUp := s.receiptTarget(j, tried)
		if c != nil {
			tried[c] = true
			err := c.deliver(ctx, d, s.cfg.ReceiptTimeout)
			if err == nil {
				s.mu.Lock()
				s.stats.Receipts++
				s.mu.Unlock()
				log.Debug("smsc receipt delivered", "conn", c.id, "stat", r.State.Stat())
				return
			}
			if ctx.Err() != nil {
				return
			}
			log.Info("smsc receipt not acknowledged, trying another bind", "conn", c.id, "err", err)
			continue
		}
		// Every bind has been tried, or there is none: wait for a new one,
		// or (when some were tried) a while before trying them again.
		if !s.awaitBind(ctx, expiry.C, bindsUp, tried) {
			s.mu.Lock()
			s.stats.ReceiptsExpired++
			s.mu.Unlock()
			log.Warn("smsc receipt expired: no bind took it", "after", s.cfg.ReceiptExpiry)
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// awaitBind waits for a new bind, or, when some binds were tried, for
// ReceiptTimeout before trying them again. It reports false when the
// receipt expired.
func (s *Server) awaitBind(ctx context.Context, expiry <-chan time.Time, bindsUp <-chan struct{}, tried map[*conn]bool) bool {
	var again <-chan time.Time
	if len(tried) > 0 {
		t := time.NewTimer(s.cfg.ReceiptTimeout)
		defer t.Stop()
		again = t.C
	}
	select {
	case <-ctx.Done():
	case <-expiry:
		return false
	case <-bindsUp:
	case <-again:
		clear(tried)
	}
	return true
}

// receiptTarget picks a bind for a receipt among those not yet tried, and
// returns the channel that is closed when a new bind could take it.
func (s *Server) receiptTarget(j receiptJob, tried map[*conn]bool) (*conn, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cands []*conn
	hasOrigin := false
	for c := range s.conns {
		if c.kind.canReceive() && c.systemID == j.systemID && !tried[c] {
			cands = append(cands, c)
			hasOrigin = hasOrigin || c == j.origin
		}
	}
	switch {
	case len(cands) == 0:
		return nil, s.bindsUp
	case hasOrigin && !j.toOther:
		return j.origin, s.bindsUp
	case hasOrigin && len(cands) > 1:
		cands = slices.DeleteFunc(cands, func(c *conn) bool { return c == j.origin })
	}
	// Round-robin in the order the connections came, so tests can tell
	// which bind gets a receipt.
	slices.SortFunc(cands, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })
	c := cands[s.rr%uint64(len(cands))]
	s.rr++
	return c, s.bindsUp
}
