package otpd

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultFallbackTimeouts are how long a sent message may go without a
// delivery receipt before its verification moves on to the next channel,
// per channel. Channels that never report delivery (e-mail; push, whose
// providers only accept) have none: they fall back only when they fail.
var DefaultFallbackTimeouts = map[ChannelName]time.Duration{
	ChannelSMS:      60 * time.Second,
	ChannelWhatsApp: 30 * time.Second,
	ChannelRCS:      30 * time.Second,
}

// route is the order in which v's channels are tried: the first message's
// channel, then v.Fallback.
func route(v *Verification) []ChannelName {
	if len(v.Messages) == 0 {
		return v.Fallback
	}
	return append([]ChannelName{v.Messages[0].Channel}, v.Fallback...)
}

// nextChannel is the channel after m's in v's route, or "" when there is
// none (m's channel is the last, or not on the route: a resend elsewhere).
func nextChannel(v *Verification, m *Message) ChannelName {
	r := route(v)
	for i, c := range r {
		if c == m.Channel && i+1 < len(r) {
			return r[i+1]
		}
	}
	return ""
}

// fallbackTimeout is how long a sent message on ch waits for its receipt.
func (e *Engine) fallbackTimeout(ch ChannelName) time.Duration {
	return e.fallbackTO[ch]
}

// advance moves a pending verification from m to the next channel of its
// route by queueing a message there, unless m is not its newest message
// (a resend or an earlier fallback already moved it on). It reports
// whether it queued one.
func (e *Engine) advance(v *Verification, m *Message, now time.Time) bool {
	m.FallbackAt = time.Time{}
	next := nextChannel(v, m)
	if next == "" || v.Status != StatusPending || !now.Before(v.ExpiresAt) || v.Messages[len(v.Messages)-1] != m {
		return false
	}
	v.Channel = next
	v.UpdatedAt = now
	v.Messages = append(v.Messages, newMessage(v, next, now))
	return true
}

// armFallback starts m's fallback timer, if its verification has a next
// channel and m's channel reports delivery.
func (e *Engine) armFallback(v *Verification, m *Message, now time.Time) {
	if d := e.fallbackTimeout(m.Channel); d > 0 && nextChannel(v, m) != "" {
		m.FallbackAt = now.Add(d)
	}
}

// Fallback handles a message whose fallback timer has run out (claimed by
// a delivery.Pool over Store.ClaimFallbacks): if it has still not been
// delivered and its verification is pending, the verification moves on to
// its next channel. Otherwise it only clears the timer.
func (e *Engine) Fallback(ctx context.Context, cm ClaimedMessage) error {
	var moved bool
	_, err := e.store.UpdateVerification(ctx, cm.ServiceID, cm.VerificationID, func(v *Verification) error {
		moved = false
		m := v.Message(cm.MessageID)
		if m == nil || m.FallbackAt.IsZero() {
			return errStale
		}
		now := e.Now()
		switch {
		case m.Status != MessageSent:
			m.FallbackAt = time.Time{} // delivered or failed meanwhile: nothing left to time
			return nil
		case now.Before(m.FallbackAt):
			return errStale // not due on this node's clock yet: the lease brings it back
		}
		moved = e.advance(v, m, now)
		return nil
	})
	if errors.Is(err, errStale) || errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fallback of %s: %w", cm.MessageID, err)
	}
	if moved {
		e.log.InfoContext(ctx, "no delivery receipt in time: falling back to the next channel", "message_id", cm.MessageID, "verification_id", cm.VerificationID)
		e.notify()
	}
	return nil
}
