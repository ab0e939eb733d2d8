package otpd

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Channel delivers rendered messages to destinations. Implementations live
// in packages named after what they talk to (devinbox, smpp, email, ...).
type Channel interface {
	// Send hands one message to the provider and returns the provider's id
	// for it. It must be safe for concurrent use. A *SendError with
	// Permanent set means retrying cannot help; any other error is retried
	// with backoff.
	Send(ctx context.Context, msg *Outbound) (SendResult, error)
	// Ready reports whether the channel can send now; /readyz shows it.
	Ready(ctx context.Context) error
}

// Outbound is one message ready to send. It holds the plain code, because
// some channels (WhatsApp templates, push data messages) need it apart from
// the text: it lives in memory only, for the duration of the send, and must
// never be logged.
type Outbound struct {
	MessageID      string
	VerificationID string
	ServiceID      string
	Channel        ChannelName
	To             string
	Brand          string
	Locale         string
	ExpiresAt      time.Time
	Code           string
	Rendered
}

// SendResult is what a channel reports about an accepted message.
type SendResult struct {
	ProviderID string
	// Refs are the ids the channel's receipts will carry for this message
	// when they are not just ProviderID (one per part of a long SMS).
	Refs []string
	// Delivered is set by channels that know at once that the message
	// reached its destination (the dev inbox); others report receipts later.
	Delivered bool
}

// RoutedChannel is a Channel that sends over several routes and can tell
// which one carried a message from the provider id it returned for it
// (sms.Router qualifies ids as "route:id"). RouteOf returns "" for an id
// it did not give; route names come from configuration, so they are few.
type RoutedChannel interface {
	Channel
	RouteOf(providerID string) string
}

// SendError is a failure to send that carries a provider's reason.
type SendError struct {
	Permanent bool   // retrying cannot help (invalid destination, rejected content)
	Code      string // the provider's error code, e.g. an SMPP command_status
	Err       error
}

func (e *SendError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%v (code %s)", e.Err, e.Code)
	}
	return e.Err.Error()
}

func (e *SendError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a permanent send failure.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent
}

// Receipt is a channel's report of what became of a sent message.
type Receipt struct {
	Channel ChannelName
	Ref     string        // the id the channel gave the message (a SendResult ref)
	Status  MessageStatus // MessageDelivered, MessageUndelivered or MessageFailed
	Error   string        // the provider's reason, for undelivered and failed
}

// RenderRequest is everything a message template may show.
type RenderRequest struct {
	Channel      ChannelName
	Locale       string // BCP 47; the renderer picks its best match
	Purpose      string // login, transaction, password_reset, delivery, ... or ""
	Brand        string // the service's name
	Code         string
	TTL          time.Duration // how long the code stays valid, from the send
	Transaction  *Transaction
	WebOTPDomain string // SMS only: adds "@domain #code" as the last line
	AppHash      string // SMS only: Android SMS Retriever app hash
	// Templates are the service's own templates (Store.ListTemplates): a
	// TemplateChecker renderer uses the one for the channel and the
	// purpose and locale it picks instead of its built-in wording.
	Templates []MessageTemplate
}

// Rendered is a message's text in the forms channels need.
type Rendered struct {
	Text    string // SMS, WhatsApp fallback text, RCS, push body, e-mail plain text
	Subject string // e-mail
	HTML    string // e-mail
	Locale  string // the locale actually used
}

// Renderer turns a render request into message text. Package message
// implements it with built-in, per-locale templates.
type Renderer interface {
	Render(req RenderRequest) (Rendered, error)
}

// ServiceChecker is implemented by a Channel with settings that constrain
// the services that may use it (the WhatsApp template's time-to-live
// against a service's code lifetime). The engine calls it when a service
// is created or changed.
type ServiceChecker interface {
	// CheckService returns an *Error of kind ErrInvalid naming the
	// service member at fault when svc cannot use the channel as it is
	// configured, or nil when it can or does not use the channel.
	CheckService(svc *Service) error
}

// Handoff lets the engine give a message it has just queued straight to
// this node's dispatcher, instead of waking the dispatcher to claim it from
// the store: the message is inserted already leased to this node, in the
// same transaction as its verification, and handed over in memory once
// that commits. That takes the claim's round trip (a write) off every
// start and resend. Package delivery's Dispatcher implements it.
type Handoff interface {
	// Reserve reserves room for one message and returns the lease to
	// insert it with; ok is false when there is no room (the message is
	// then queued unleased and claimed the usual way).
	Reserve() (lease time.Duration, ok bool)
	// Give hands over a message a reservation was made for.
	Give(ClaimedMessage)
	// Cancel returns a reservation that was not used.
	Cancel()
}
