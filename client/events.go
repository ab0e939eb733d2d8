package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Event types: what happened to a verification. EventMessageFailed covers
// both failed and undelivered messages.
const (
	EventVerificationCreated            = "verification.created"
	EventMessageSent                    = "message.sent"
	EventMessageDelivered               = "message.delivered"
	EventMessageFailed                  = "message.failed"
	EventVerificationApproved           = "verification.approved"
	EventVerificationExpired            = "verification.expired"
	EventVerificationMaxAttemptsReached = "verification.max_attempts_reached"
	EventVerificationCanceled           = "verification.canceled"
	EventVerificationFailed             = "verification.failed"
)

// Delivery statuses of an event's webhook delivery.
const (
	// DeliveryPending: being delivered, or waiting for an earlier event of
	// the same verification (a verification's events arrive in order).
	DeliveryPending = "pending"
	// DeliveryDelivered: a receiver answered 2xx.
	DeliveryDelivered = "delivered"
	// DeliveryFailed: retried until GiveUpAt without success.
	DeliveryFailed = "failed"
	// DeliveryDisabled: the service had no webhook_url when the event
	// happened, so it was never sent; RedeliverEvent sends it once one is set.
	DeliveryDisabled = "disabled"
)

// Event is something that happened to a verification, with the state of
// its webhook delivery.
type Event struct {
	ID             string    `json:"id"`
	Type           string    `json:"type"` // one of the Event constants
	CreatedAt      time.Time `json:"created_at"`
	VerificationID string    `json:"verification_id"`
	// MessageID names the message a message.* event is about; nil for the
	// others.
	MessageID *string `json:"message_id"`
	// Data is the verification as it was when the event happened, the same
	// object its webhook carries. Empty for fraud.* events.
	Data Verification `json:"data"`
	// Block is the block a fraud.* event is about, as it was then; nil
	// for the others.
	Block    *Block        `json:"-"`
	Delivery EventDelivery `json:"delivery"`
	// Attempts are the delivery attempts, oldest first. Only GetEvent
	// fills them; they are nil in lists and in RedeliverEvent's result.
	Attempts []DeliveryAttempt `json:"attempts,omitempty"`
}

// EventDelivery is the state of an event's webhook delivery. The
// schedule — NextAttemptAt and GiveUpAt — is set only while it is pending.
type EventDelivery struct {
	Status         string     `json:"status"`   // one of the Delivery constants
	Attempts       int        `json:"attempts"` // how many times delivery was tried
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	LastStatusCode *int       `json:"last_status_code"` // nil when the last attempt got no HTTP answer
	LastError      *string    `json:"last_error"`
	DeliveredAt    *time.Time `json:"delivered_at"`
	GiveUpAt       *time.Time `json:"give_up_at"` // when retrying stops
}

// DeliveryAttempt is one try to deliver an event.
type DeliveryAttempt struct {
	At         time.Time `json:"at"`
	URL        string    `json:"url"`
	StatusCode *int      `json:"status_code"` // nil when no HTTP answer came
	Error      *string   `json:"error"`       // nil when it succeeded
	DurationMS int       `json:"duration_ms"`
}

// EventList is a page of events, newest first.
type EventList struct {
	Data []Event `json:"data"`
	// NextCursor is the Cursor of the next page; empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// EventListParams filter and page ListEvents. Zero values are left out.
type EventListParams struct {
	Type           string    // one of the Event constants
	Since          time.Time // only events created at or after it
	VerificationID string    // only this verification's events
	Limit          int       // 1..500; the server's default is 50
	Cursor         string    // the NextCursor of the previous page
}

// Event calls take a key of the service or the admin token.

// ListEvents returns a page of a service's events, newest first. Events
// are recorded whether or not the service has a webhook_url.
func (c *Client) ListEvents(ctx context.Context, sid string, p EventListParams) (*EventList, error) {
	q := url.Values{}
	if p.Type != "" {
		q.Set("type", p.Type)
	}
	if !p.Since.IsZero() {
		q.Set("since", p.Since.UTC().Format(time.RFC3339Nano))
	}
	if p.VerificationID != "" {
		q.Set("verification_id", p.VerificationID)
	}
	var out EventList
	err := c.do(ctx, request{
		method: http.MethodGet, path: servicePath(sid) + "/events",
		query: pageValues(q, p.Limit, p.Cursor),
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetEvent returns an event with its delivery attempts.
func (c *Client) GetEvent(ctx context.Context, sid, eid string) (*Event, error) {
	var out Event
	if err := c.do(ctx, request{method: http.MethodGet, path: eventPath(sid, eid)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RedeliverEvent queues an event for delivery to the service's current
// webhook_url at once, with a new retry window, whatever became of it
// before; the receiver gets the same event id again. It returns the event,
// its delivery pending. A service without a webhook_url is an [*Error]
// with Code webhook_unavailable.
//
// Like ResendVerification it sends a generated Idempotency-Key (or the
// one from [ContextWithIdempotencyKey]), so a retry after a lost answer
// does not queue it twice.
func (c *Client) RedeliverEvent(ctx context.Context, sid, eid string) (*Event, error) {
	var out Event
	err := c.do(ctx, request{
		method: http.MethodPost, path: eventPath(sid, eid) + "/redeliver",
		idempotencyKey: idempotencyKey(ctx, "", true),
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func eventPath(sid, eid string) string {
	return servicePath(sid) + "/events/" + url.PathEscape(eid)
}
