package otpd

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// EventType names what happened to a verification, as webhooks and the
// events API show it.
type EventType string

// Event types.
const (
	EventVerificationCreated     EventType = "verification.created"
	EventMessageSent             EventType = "message.sent"
	EventMessageDelivered        EventType = "message.delivered"
	EventMessageFailed           EventType = "message.failed" // failed or undelivered
	EventVerificationApproved    EventType = "verification.approved"
	EventVerificationExpired     EventType = "verification.expired"
	EventVerificationMaxAttempts EventType = "verification.max_attempts_reached"
	EventVerificationCanceled    EventType = "verification.canceled"
	EventVerificationFailed      EventType = "verification.failed"
)

// EventTypes lists every event type: a verification's, in the order of its
// life, then the fraud guard's.
var EventTypes = []EventType{
	EventVerificationCreated, EventMessageSent, EventMessageDelivered, EventMessageFailed,
	EventVerificationApproved, EventVerificationExpired, EventVerificationMaxAttempts,
	EventVerificationCanceled, EventVerificationFailed,
	EventFraudBlockCreated, EventFraudBlockLifted,
}

// Valid reports whether t is a known event type.
func (t EventType) Valid() bool {
	for _, k := range EventTypes {
		if t == k {
			return true
		}
	}
	return false
}

// DefaultWebhookRetryWindow is how long an event's delivery is retried
// before it is given up: three days, so a receiver that is down over a long
// weekend still gets everything (API.md promises at least 24 hours).
const DefaultWebhookRetryWindow = 72 * time.Hour

// Event records a change of a verification. It is written in the same
// transaction as the change, so an event exists exactly when its change
// does, and a webhook delivery is a durable job like a message.
type Event struct {
	ID             string // evt_…
	ServiceID      string
	VerificationID string
	MessageID      string // the message a message.* event is about
	Type           EventType
	CreatedAt      time.Time
	// Data is the verification as the API showed it when the event
	// happened (JSON, encoded by Config.EventData), so a receiver sees the
	// state the event is about even if it changed since.
	Data []byte
	// Delivery is the state of the event's webhook delivery.
	Delivery EventDelivery
}

// EventDeliveryState is where an event's webhook delivery is.
type EventDeliveryState string

// Delivery states. An event written while its service has no webhook_url is
// EventDisabled and never sent (it can be redelivered once a URL is set).
const (
	EventPending   EventDeliveryState = "pending"
	EventDelivered EventDeliveryState = "delivered"
	EventGivenUp   EventDeliveryState = "failed"
	EventDisabled  EventDeliveryState = "disabled"
)

// EventDelivery is the state of an event's webhook delivery.
type EventDelivery struct {
	State          EventDeliveryState
	Attempts       int
	NextAttemptAt  time.Time // when pending: not before this
	Deadline       time.Time // when pending: given up after this
	LastAttemptAt  time.Time
	LastStatusCode int // of the last attempt; 0 when it got no HTTP answer
	LastError      string
	DeliveredAt    time.Time
}

// DeliveryAttempt is one try to deliver an event to its webhook.
type DeliveryAttempt struct {
	EventID    string
	At         time.Time
	URL        string
	StatusCode int // 0 when no HTTP answer came
	Error      string
	Duration   time.Duration
}

// EventFilter selects events for Store.ListEvents.
type EventFilter struct {
	ServiceID      string
	Type           EventType // when set, only this type
	VerificationID string    // when set, only this verification's events
	Since          time.Time // when set, only events created at or after it
	Before         string    // cursor: only events older than this event id
	Limit          int       // at most this many; <= 0: all
}

// VerificationRef names a verification across services.
type VerificationRef struct {
	ServiceID string
	ID        string
}

// emit records an event for v in the write that fn's caller is making: the
// store writes v.Events in the same transaction as the change. Without
// Config.EventData the engine records no events.
func (e *Engine) emit(v *Verification, t EventType, messageID string, now time.Time) error {
	if e.eventData == nil {
		return nil
	}
	data, err := e.eventData(v, now)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", t, err)
	}
	v.Events = append(v.Events, &Event{
		ID:             NewID(PrefixEvent, now),
		ServiceID:      v.ServiceID,
		VerificationID: v.ID,
		MessageID:      messageID,
		Type:           t,
		CreatedAt:      now,
		Data:           data,
		Delivery: EventDelivery{
			State:         EventPending,
			NextAttemptAt: now,
			Deadline:      now.Add(e.webhookWindow),
		},
	})
	return nil
}

// messageEvent is the event of a message's move to status s, or "".
func messageEvent(s MessageStatus) EventType {
	switch s {
	case MessageSent:
		return EventMessageSent
	case MessageDelivered:
		return EventMessageDelivered
	case MessageFailed, MessageUndelivered:
		return EventMessageFailed
	}
	return ""
}

// ListEvents returns the service's events, newest first.
func (e *Engine) ListEvents(ctx context.Context, f EventFilter) ([]*Event, error) {
	if _, err := e.service(ctx, f.ServiceID); err != nil {
		return nil, err
	}
	if f.Type != "" && !f.Type.Valid() {
		return nil, invalid("type", "unknown event type %q", f.Type)
	}
	return e.store.ListEvents(ctx, f)
}

// GetEvent returns an event of the service and its delivery attempts,
// oldest first.
func (e *Engine) GetEvent(ctx context.Context, serviceID, id string) (*Event, []*DeliveryAttempt, error) {
	ev, err := e.store.GetEvent(ctx, serviceID, id)
	if err != nil {
		return nil, nil, err
	}
	attempts, err := e.store.ListDeliveryAttempts(ctx, serviceID, id)
	if err != nil {
		return nil, nil, err
	}
	return ev, attempts, nil
}

// RedeliverEvent queues an event for delivery again, at once, with a new
// retry window, whatever became of it before. It fails with
// ErrWebhookUnavailable when the service has no webhook_url.
func (e *Engine) RedeliverEvent(ctx context.Context, serviceID, id string) (*Event, error) {
	svc, err := e.service(ctx, serviceID)
	if err != nil {
		return nil, err
	}
	if svc.WebhookURL == "" {
		return nil, &Error{Kind: ErrWebhookUnavailable, Detail: "the service has no webhook_url; set one before redelivering events"}
	}
	now := e.Now()
	ev, err := e.store.RedeliverEvent(ctx, serviceID, id, now, now.Add(e.webhookWindow))
	if err != nil {
		return nil, err
	}
	e.notifyEvents()
	return ev, nil
}

// expireDue records the expiry of up to batch pending verifications past
// their time, one transaction each so each gets its verification.expired
// event, and returns how many it expired.
func (e *Engine) expireDue(ctx context.Context, now time.Time, batch int) (n, due int, err error) {
	refs, err := e.store.DueForExpiry(ctx, now, batch)
	if err != nil {
		return 0, 0, err
	}
	for _, r := range refs {
		var expired bool
		_, err := e.store.UpdateVerification(ctx, r.ServiceID, r.ID, func(v *Verification) error {
			expired = false
			if v.Status != StatusPending || now.Before(v.ExpiresAt) {
				return nil
			}
			v.Status, v.UpdatedAt = StatusExpired, now
			expired = true
			return e.emit(v, EventVerificationExpired, "", now)
		})
		if errors.Is(err, ErrNotFound) {
			continue // deleted with its service meanwhile
		}
		if err != nil {
			return n, len(refs), err
		}
		if expired {
			n++
		}
	}
	if n > 0 {
		e.notifyEvents()
	}
	return n, len(refs), nil
}
