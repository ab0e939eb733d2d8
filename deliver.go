package otpd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Delivery tuning. A message is tried until it is sent, until it fails for
// good, or until its verification can no longer use it.
const (
	// MaxDeliveryAttempts bounds the tries of one message on one channel.
	MaxDeliveryAttempts = 8
	// DefaultSendTimeout bounds one call to a channel unless
	// Config.SendTimeout says otherwise.
	DefaultSendTimeout = 30 * time.Second
)

// Deliver sends one claimed message: it derives the code, renders the text,
// hands it to the channel and records the outcome. A temporary failure
// reschedules the message with exponential backoff and jitter; a permanent
// one fails it, and when every message of the verification has failed the
// verification fails too. Deliver is called by the dispatcher in package
// delivery, on whichever node claimed the message.
//
// Delivery is at least once: if the process dies after the channel accepted
// the message but before the outcome is recorded, the lease runs out and the
// message is sent again.
func (e *Engine) Deliver(ctx context.Context, cm ClaimedMessage) error {
	v, err := e.store.GetVerification(ctx, cm.ServiceID, cm.VerificationID)
	if errors.Is(err, ErrNotFound) {
		return nil // purged or its service deleted: nothing to send
	}
	if err != nil {
		return err
	}
	m := v.Message(cm.MessageID)
	if m == nil || m.Status != MessageQueued {
		return nil // already handled by another claim
	}
	now := e.Now()
	if st := v.StatusAt(now); st != StatusPending {
		// A code the user can no longer use is not worth sending.
		return e.recordSend(ctx, cm, SendResult{}, &SendError{Permanent: true, Err: fmt.Errorf("not sent: the verification is %s", st)})
	}
	ch := e.channels[m.Channel]
	if ch == nil {
		return e.recordSend(ctx, cm, SendResult{}, &SendError{Permanent: true, Err: fmt.Errorf("channel %q is not configured on this node", m.Channel)})
	}
	svc, err := e.store.GetService(ctx, v.ServiceID)
	if err != nil {
		return err
	}
	out, err := e.compose(svc, v, m, now)
	if err != nil {
		return e.recordSend(ctx, cm, SendResult{}, &SendError{Permanent: true, Err: err})
	}
	sendCtx, cancel := context.WithTimeout(ctx, e.sendTO)
	res, sendErr := ch.Send(sendCtx, out)
	cancel()
	return e.recordSend(ctx, cm, res, sendErr)
}

// compose derives the code and renders the message for its channel.
func (e *Engine) compose(svc *Service, v *Verification, m *Message, now time.Time) (*Outbound, error) {
	code, err := e.keyring.DeriveCode(v.KeyID, v.ID, v.Salt, v.Alphabet, v.CodeLength)
	if err != nil {
		return nil, err
	}
	req := RenderRequest{
		Channel:     m.Channel,
		Locale:      v.Locale,
		Purpose:     v.Purpose,
		Brand:       svc.Name,
		Code:        code,
		TTL:         v.ExpiresAt.Sub(now),
		Transaction: v.Transaction,
	}
	if m.Channel == ChannelSMS {
		req.WebOTPDomain, req.AppHash = svc.WebOTPDomain, svc.AppHash
	}
	r, err := e.renderer.Render(req)
	if err != nil {
		return nil, fmt.Errorf("render message: %w", err)
	}
	return &Outbound{
		MessageID:      m.ID,
		VerificationID: v.ID,
		ServiceID:      v.ServiceID,
		Channel:        m.Channel,
		To:             v.To,
		Brand:          svc.Name,
		Locale:         r.Locale,
		ExpiresAt:      v.ExpiresAt,
		Code:           code,
		Rendered:       r,
	}, nil
}

// recordSend writes the outcome of a send attempt.
func (e *Engine) recordSend(ctx context.Context, cm ClaimedMessage, res SendResult, sendErr error) error {
	var done MessageStatus
	var queuedFor time.Duration
	var retried bool
	var ch ChannelName
	_, err := e.store.UpdateVerification(ctx, cm.ServiceID, cm.VerificationID, func(v *Verification) error {
		done, retried = "", false
		m := v.Message(cm.MessageID)
		if m == nil || m.Status != MessageQueued {
			return errStale
		}
		now := e.Now()
		ch = m.Channel
		m.Attempts++
		m.UpdatedAt, v.UpdatedAt = now, now
		queuedFor = now.Sub(m.CreatedAt)
		switch {
		case sendErr == nil:
			m.ProviderID, m.Error = res.ProviderID, ""
			refs := res.Refs
			if len(refs) == 0 && res.ProviderID != "" {
				refs = []string{res.ProviderID}
			}
			for _, ref := range refs {
				m.Refs = append(m.Refs, qualifiedRef(m.Channel, ref))
			}
			m.Status = MessageSent
			if res.Delivered {
				m.Status = MessageDelivered
			}
			done = m.Status
			return nil
		case !IsPermanent(sendErr) && m.Attempts < MaxDeliveryAttempts:
			next := now.Add(backoff(m.Attempts))
			if next.Before(v.ExpiresAt) {
				m.Error = sendErr.Error()
				m.NextAttemptAt = next
				retried = true
				return nil
			}
		}
		m.Status, m.Error = MessageFailed, sendErr.Error()
		done = MessageFailed
		if v.Status == StatusPending && allFailed(v) {
			v.Status = StatusFailed
		}
		return nil
	})
	if errors.Is(err, errStale) || errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record send of %s: %w", cm.MessageID, err)
	}
	if retried {
		e.obs.MessageRetried(ch)
	}
	if done != "" {
		e.obs.MessageDone(ch, done, queuedFor)
	}
	if sendErr != nil {
		e.log.WarnContext(ctx, "send failed", "message_id", cm.MessageID, "verification_id", cm.VerificationID,
			"channel", ch, "retry", retried, "err", sendErr)
	}
	return nil
}

var errStale = errors.New("stale claim")

// allFailed reports whether no message of v can still reach the person.
func allFailed(v *Verification) bool {
	for _, m := range v.Messages {
		if m.Status != MessageFailed && m.Status != MessageUndelivered {
			return false
		}
	}
	return true
}

// backoff is the wait before try n+1: exponential from one second, capped at
// five minutes, with full jitter in its upper half so that retries of many
// messages after an outage do not arrive together.
func backoff(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 9)
	d = min(d, 5*time.Minute)
	return d/2 + rand.N(d/2+1)
}

// Sweep records the expiry of pending verifications past their time and
// purges closed verifications older than retention, in batches of at most
// batch rows each, so that a large backlog never holds the store for long.
// It returns how many it expired and purged.
func (e *Engine) Sweep(ctx context.Context, retention time.Duration, batch int) (expired, purged int, err error) {
	now := e.Now()
	for {
		n, err := e.store.ExpireVerifications(ctx, now, batch)
		expired += n
		if err != nil {
			return expired, purged, fmt.Errorf("expire verifications: %w", err)
		}
		if n < batch {
			break
		}
	}
	if retention > 0 {
		for {
			n, err := e.store.PurgeVerifications(ctx, now.Add(-retention), batch)
			purged += n
			if err != nil {
				return expired, purged, fmt.Errorf("purge verifications: %w", err)
			}
			if n < batch {
				break
			}
		}
	}
	return expired, purged, nil
}

// RecordReceipt applies a channel's delivery report to the message it
// belongs to, on whichever node sent it: a delivered message becomes
// delivered; an undelivered or failed one records why, and when no message
// of the verification can still reach the person the verification fails.
// Reports for messages already final are ignored, so a repeated receipt is
// harmless. A report for an unknown ref returns an error wrapping
// ErrNotFound, for the caller to log and drop.
func (e *Engine) RecordReceipt(ctx context.Context, r Receipt) error {
	switch r.Status {
	case MessageDelivered, MessageUndelivered, MessageFailed:
	default:
		return fmt.Errorf("receipt: status %q is not final", r.Status)
	}
	cm, err := e.store.FindMessageByRef(ctx, qualifiedRef(r.Channel, r.Ref))
	if err != nil {
		return fmt.Errorf("receipt for %s ref: %w", r.Channel, err)
	}
	var changed bool
	var ch ChannelName
	var since time.Duration
	_, err = e.store.UpdateVerification(ctx, cm.ServiceID, cm.VerificationID, func(v *Verification) error {
		changed = false
		m := v.Message(cm.MessageID)
		if m == nil || m.Status.Final() {
			return nil
		}
		now := e.Now()
		m.Status, m.Error = r.Status, r.Error
		m.UpdatedAt, v.UpdatedAt = now, now
		if r.Status != MessageDelivered && v.Status == StatusPending && allFailed(v) {
			v.Status = StatusFailed
		}
		changed, ch, since = true, m.Channel, now.Sub(m.CreatedAt)
		return nil
	})
	if err != nil {
		return fmt.Errorf("receipt for %s: %w", cm.MessageID, err)
	}
	if changed {
		e.obs.MessageDone(ch, r.Status, since)
	}
	return nil
}

// qualifiedRef makes a channel's ref unique across channels.
func qualifiedRef(ch ChannelName, ref string) string { return string(ch) + ":" + ref }
