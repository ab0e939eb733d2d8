package smsc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
// take it until one acknowledges it, ctx ends, ReceiptAttempts deliver_sm
// have failed or ReceiptExpiry passes. A failed deliver_sm moves the
// receipt on to the next bind at once; when every bind has failed it, it
// waits a backoff (see Config.ReceiptRetry) or for a new bind, then offers
// it to all of them again.
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
	giveUp := func(why string) {
		s.mu.Lock()
		s.stats.ReceiptsExpired++
		s.mu.Unlock()
		log.Warn("smsc receipt given up: no bind took it", "why", why)
	}
	tried := map[*conn]bool{}
	attempts, rounds := 0, 0
	var retryAt time.Time // when the binds tried get the receipt again
	for {
		c, bindsUp := s.receiptTarget(j, tried)
		if c != nil {
			tried[c] = true
			err := c.deliver(ctx, d, s.cfg.ReceiptTimeout)
			if errors.Is(err, errNotSent) {
				continue // a bind going away: no attempt was made
			}
			attempts++
			if attempts > 1 {
				s.mu.Lock()
				s.stats.ReceiptRetries++
				s.mu.Unlock()
			}
			if err == nil {
				s.mu.Lock()
				s.stats.Receipts++
				s.mu.Unlock()
				log.Debug("smsc receipt delivered", "conn", c.id, "stat", r.State.Stat(), "attempts", attempts)
				return
			}
			if ctx.Err() != nil {
				return
			}
			s.mu.Lock()
			switch {
			case errors.Is(err, errReceiptRefused):
				s.stats.ReceiptsRefused++
			case errors.Is(err, errReceiptUnanswered):
				s.stats.ReceiptsUnanswered++
			}
			s.mu.Unlock()
			if attempts >= s.cfg.ReceiptAttempts {
				giveUp(fmt.Sprintf("%d attempts failed", attempts))
				return
			}
			log.Info("smsc receipt not acknowledged, trying another bind or later", "conn", c.id, "err", err, "attempts", attempts)
			continue
		}
		// Every bind has been tried, or there is none: wait for a new one,
		// or (when some were tried) for the backoff before trying them
		// again. The backoff is fixed when the round ends, so binds coming
		// and going meanwhile do not keep putting it off.
		if len(tried) > 0 && retryAt.IsZero() {
			retryAt = time.Now().Add(s.retryBackoff(rounds))
		}
		switch awaitRetry(ctx, expiry.C, bindsUp, retryAt) {
		case waitStopped:
			return
		case waitExpired:
			giveUp(fmt.Sprintf("expired after %v", s.cfg.ReceiptExpiry))
			return
		case waitRetry:
			clear(tried)
			rounds++
			retryAt = time.Time{}
		case waitNewBind:
		}
	}
}

// waitResult is what ended a receipt's wait.
type waitResult uint8

const (
	waitStopped waitResult = iota // the server is shutting down
	waitExpired                   // ReceiptExpiry passed
	waitNewBind                   // a bind that may take it appeared
	waitRetry                     // the backoff is over: try the binds again
)

// awaitRetry waits for a new bind, for retryAt (none when zero), for the
// receipt to expire or for ctx.
func awaitRetry(ctx context.Context, expiry <-chan time.Time, bindsUp <-chan struct{}, retryAt time.Time) waitResult {
	var again <-chan time.Time
	if !retryAt.IsZero() {
		t := time.NewTimer(time.Until(retryAt))
		defer t.Stop()
		again = t.C
	}
	select {
	case <-ctx.Done():
		return waitStopped
	case <-expiry:
		return waitExpired
	case <-bindsUp:
		return waitNewBind
	case <-again:
		return waitRetry
	}
}

// retryBackoff is the wait after the given number of rounds of failed
// deliver_sm: ReceiptRetry doubled each round up to MaxReceiptRetry, then
// half to all of it.
func (s *Server) retryBackoff(rounds int) time.Duration {
	d := s.cfg.ReceiptRetry << min(rounds, 20)
	if d <= 0 || d > s.cfg.MaxReceiptRetry {
		d = s.cfg.MaxReceiptRetry
	}
	return d/2 + rand.N(d/2+1)
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
