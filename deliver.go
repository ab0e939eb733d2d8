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
	v, err := e.claimedVerification(ctx, cm)
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
	svc, err := e.service(ctx, v.ServiceID)
	if err != nil {
		return err
	}
	templates, err := e.serviceTemplates(ctx, svc.ID)
	if err != nil {
		return err
	}
	out, err := e.compose(svc, templates, v, m, now)
	if err != nil {
		return e.recordSend(ctx, cm, SendResult{}, &SendError{Permanent: true, Err: err})
	}
	sendCtx, cancel := context.WithTimeout(ctx, e.sendTO)
	res, sendErr := ch.Send(sendCtx, out)
	cancel()
	// The channel has answered: what is left is the outcome's write, which
	// waits for a group commit. The dispatcher's slot bounds sends in
	// flight, not writes, so it may go to the next message now.
	ReleaseSendSlot(ctx)
	return e.recordSend(ctx, cm, res, sendErr)
}

type sendSlotKey struct{}

// WithSendSlot returns a context for Deliver that carries release, which
// Deliver calls once the channel has answered, before it writes the
// outcome: a dispatcher whose workers bound the sends in flight frees the
// worker's slot then, instead of holding it for the write's commit. The
// write is queued at the same moment either way, so a crash loses no more
// than before: a message sent and not yet recorded is sent again.
// release is called at most once, on Deliver's goroutine.
func WithSendSlot(ctx context.Context, release func()) context.Context {
	return context.WithValue(ctx, sendSlotKey{}, release)
}

// ReleaseSendSlot calls the release WithSendSlot put in ctx, if any.
func ReleaseSendSlot(ctx context.Context) {
	if release, ok := ctx.Value(sendSlotKey{}).(func()); ok {
		release()
	}
}

// handedFresh is how old a handed-over copy of a verification may be for
// Deliver to send from it. A handed-over message is leased to this node, so
// nothing else sends it while the lease lasts; a copy older than this
// (a dispatcher that fell far behind) is read again, lest the lease ran out
// and another node sent the message meanwhile.
const handedFresh = 5 * time.Second

// claimedVerification returns the verification of a claimed message: the
// copy handed over with it while that is fresh, else what the store holds.
func (e *Engine) claimedVerification(ctx context.Context, cm ClaimedMessage) (*Verification, error) {
	if v := cm.Verification; v != nil && v.ID == cm.VerificationID && v.ServiceID == cm.ServiceID &&
		e.Now().Sub(v.UpdatedAt) < handedFresh {
		return v, nil
	}
	return e.store.GetVerification(ctx, cm.ServiceID, cm.VerificationID)
}

// compose derives the code and renders the message for its channel.
func (e *Engine) compose(svc *Service, templates []MessageTemplate, v *Verification, m *Message, now time.Time) (*Outbound, error) {
	code, err := e.Keyring().DeriveCode(v.KeyID, v.ID, v.Salt, v.Alphabet, v.CodeLength)
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
		Templates:   templates,
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
		To:             v.AddressFor(m.Channel),
		Brand:          svc.Name,
		Locale:         r.Locale,
		ExpiresAt:      v.ExpiresAt,
		Code:           code,
		Rendered:       r,
	}, nil
}

// recordSend writes the outcome of a send attempt.
//
// The outcome is written even when ctx has ended: a send cut short by a
// shutdown is recorded as a temporary failure, which reschedules the
// message and drops its lease, so another node sends it within seconds
// instead of after the lease runs out.
func (e *Engine) recordSend(ctx context.Context, cm ClaimedMessage, res SendResult, sendErr error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var done MessageStatus
	var queuedFor time.Duration
	var retried bool
	var ch ChannelName
	var refs []string
	var moved bool // the verification fell back to its next channel
	_, err := e.store.UpdateVerification(ctx, cm.ServiceID, cm.VerificationID, func(v *Verification) error {
		done, retried, refs, moved = "", false, nil, false
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
			raw := res.Refs
			if len(raw) == 0 && res.ProviderID != "" {
				raw = []string{res.ProviderID}
			}
			for _, ref := range raw {
				m.Refs = append(m.Refs, qualifiedRef(m.Channel, ref))
			}
			refs = m.Refs
			m.Status = MessageSent
			done = m.Status
			if err := e.emit(v, EventMessageSent, m.ID, now); err != nil {
				return err
			}
			if res.Delivered {
				m.Status, done = MessageDelivered, MessageDelivered
				return e.emit(v, EventMessageDelivered, m.ID, now)
			}
			e.armFallback(v, m, now)
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
		if err := e.emit(v, EventMessageFailed, m.ID, now); err != nil {
			return err
		}
		if moved = e.advance(v, m, now); moved {
			return nil
		}
		return e.failIfExhausted(v, now)
	})
	if errors.Is(err, errStale) || errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record send of %s: %w", cm.MessageID, err)
	}
	if done != "" {
		e.notifyEvents()
	}
	if moved {
		e.notify()
	}
	if len(refs) > 0 {
		e.sent.put(refs, cm)
		// A receipt may have beaten this write: apply what was kept for it.
		// The receipt side saves first and then looks the ref up, this side
		// writes the refs first and then takes saved receipts, so whichever
		// commits second sees the other's write and nothing is lost.
		if err := e.applyEarlyReceipts(ctx, refs); err != nil {
			return err
		}
	}
	if retried {
		e.obs.MessageRetried(ch)
	}
	if done != "" {
		var providerID string // a message no route took has no route
		if sendErr == nil {
			providerID = res.ProviderID
		}
		e.messageDone(ch, providerID, done, queuedFor)
	}
	if sendErr != nil {
		e.log.WarnContext(ctx, "send failed", "message_id", cm.MessageID, "verification_id", cm.VerificationID,
			"channel", ch, "retry", retried, "err", sendErr)
	}
	return nil
}

var errStale = errors.New("stale claim")

// recordTimeout bounds the write of a send's outcome.
const recordTimeout = 10 * time.Second

// failIfExhausted fails a pending verification none of whose messages can
// still reach the person.
func (e *Engine) failIfExhausted(v *Verification, now time.Time) error {
	if v.Status != StatusPending || !allFailed(v) {
		return nil
	}
	v.Status = StatusFailed
	return e.emit(v, EventVerificationFailed, "", now)
}

// EarlyReceiptTTL is how long a receipt whose message is not (yet) known is
// kept for the send's outcome to show up. Receipts come seconds after the
// submit; one older than this is for a message otpd never recorded.
const EarlyReceiptTTL = time.Hour

// applyEarlyReceipts applies receipts that arrived before refs were written.
func (e *Engine) applyEarlyReceipts(ctx context.Context, refs []string) error {
	early, err := e.store.TakeEarlyReceipts(ctx, refs)
	if err != nil {
		return fmt.Errorf("take early receipts: %w", err)
	}
	for _, r := range early {
		if err := e.RecordReceipt(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

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

// Sweep records the expiry of pending verifications past their time (each
// with its verification.expired event) and purges what is older than
// retention: closed verifications, events no longer pending, and receipts
// whose message never showed up (after EarlyReceiptTTL). It works in
// batches of at most batch rows, so that a large backlog never holds the
// store for long, and returns how many verifications it expired and purged.
func (e *Engine) Sweep(ctx context.Context, retention time.Duration, batch int) (expired, purged int, err error) {
	now := e.Now()
	for {
		n, due, err := e.expireDue(ctx, now, batch)
		expired += n
		if err != nil {
			return expired, purged, fmt.Errorf("expire verifications: %w", err)
		}
		if due < batch {
			break
		}
	}
	if _, err := drain(batch, func() (int, error) { return e.store.PurgeEarlyReceipts(ctx, now.Add(-EarlyReceiptTTL), batch) }); err != nil {
		return expired, purged, fmt.Errorf("purge early receipts: %w", err)
	}
	if retention > 0 {
		purged, err = drain(batch, func() (int, error) { return e.store.PurgeVerifications(ctx, now.Add(-retention), batch) })
		if err != nil {
			return expired, purged, fmt.Errorf("purge verifications: %w", err)
		}
		if _, err := drain(batch, func() (int, error) { return e.store.PurgeEvents(ctx, now.Add(-retention), batch) }); err != nil {
			return expired, purged, fmt.Errorf("purge events: %w", err)
		}
	}
	return expired, purged, nil
}

// drain calls purge until a batch comes back short, and returns the total.
func drain(batch int, purge func() (int, error)) (int, error) {
	total := 0
	for {
		n, err := purge()
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// RecordReceipt applies a channel's delivery report to the message it
// belongs to, on whichever node sent it: a delivered message becomes
// delivered; an undelivered or failed one records why, and when no message
// of the verification can still reach the person the verification fails.
// Reports for messages already final are ignored, so a repeated receipt is
// harmless. A report whose ref is not (yet) recorded is kept for
// EarlyReceiptTTL: a receipt can overtake the write of its send's outcome,
// and is applied when that write comes. Such a report returns an error
// wrapping ErrNotFound after it was kept, for the caller to log at debug
// level and acknowledge.
func (e *Engine) RecordReceipt(ctx context.Context, r Receipt) error {
	switch r.Status {
	case MessageDelivered, MessageUndelivered, MessageFailed:
	default:
		return fmt.Errorf("receipt: status %q is not final", r.Status)
	}
	ref := qualifiedRef(r.Channel, r.Ref)
	// This node sent it, most likely, and knows its message (recent.go).
	cm, ok := e.sent.take(ref)
	var err error
	if !ok {
		cm, err = e.store.FindMessageByRef(ctx, ref)
	}
	if errors.Is(err, ErrNotFound) {
		if err := e.store.SaveEarlyReceipt(ctx, ref, r, e.Now()); err != nil {
			return fmt.Errorf("keep early receipt: %w", err)
		}
		// Look again: the send's outcome may have been written between the
		// look-up and the save, and then its writer took nothing.
		if cm, err = e.store.FindMessageByRef(ctx, ref); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("receipt for %s ref (kept for %v): %w", r.Channel, EarlyReceiptTTL, err)
		}
		if err != nil {
			return fmt.Errorf("receipt for %s ref: %w", r.Channel, err)
		}
		return e.applyEarlyReceipts(ctx, []string{ref})
	}
	if err != nil {
		return fmt.Errorf("receipt for %s ref: %w", r.Channel, err)
	}
	var changed, moved bool
	var ch ChannelName
	var since time.Duration
	var providerID string
	_, err = e.store.UpdateVerification(ctx, cm.ServiceID, cm.VerificationID, func(v *Verification) error {
		changed, moved = false, false
		m := v.Message(cm.MessageID)
		if m == nil || m.Status.Final() {
			return nil
		}
		now := e.Now()
		m.Status, m.Error = r.Status, r.Error
		m.UpdatedAt, v.UpdatedAt = now, now
		m.FallbackAt = time.Time{}
		changed, ch, since, providerID = true, m.Channel, now.Sub(m.CreatedAt), m.ProviderID
		if err := e.emit(v, messageEvent(r.Status), m.ID, now); err != nil {
			return err
		}
		if r.Status != MessageDelivered {
			if moved = e.advance(v, m, now); moved {
				return nil
			}
			return e.failIfExhausted(v, now)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("receipt for %s: %w", cm.MessageID, err)
	}
	if changed {
		e.notifyEvents()
		e.messageDone(ch, providerID, r.Status, since)
	}
	if moved {
		e.notify()
	}
	return nil
}

// messageDone tells the observer of a message's outcome, and a
// RouteObserver also of the route that carried it when its channel has
// routes: the route is read from the provider id the channel gave, so it
// is known on every node, for receipts too, without being stored.
func (e *Engine) messageDone(ch ChannelName, providerID string, status MessageStatus, since time.Duration) {
	e.obs.MessageDone(ch, status, since)
	ro, ok := e.obs.(RouteObserver)
	if !ok || providerID == "" {
		return
	}
	rc, ok := e.channels[ch].(RoutedChannel)
	if !ok {
		return
	}
	if route := rc.RouteOf(providerID); route != "" {
		ro.MessageDoneOnRoute(ch, route, status, since)
	}
}

// qualifiedRef makes a channel's ref unique across channels.
func qualifiedRef(ch ChannelName, ref string) string { return string(ch) + ":" + ref }
