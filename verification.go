package otpd

import (
	"math/big"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ChannelName names a delivery channel.
type ChannelName string

// Channels. ChannelAuto is not a channel but a request for the service's
// default order.
const (
	ChannelSMS      ChannelName = "sms"
	ChannelWhatsApp ChannelName = "whatsapp"
	ChannelRCS      ChannelName = "rcs"
	ChannelPush     ChannelName = "push"
	ChannelEmail    ChannelName = "email"
	ChannelAuto     ChannelName = "auto"
)

// Valid reports whether c is one of the known channel names.
func (c ChannelName) Valid() bool {
	switch c {
	case ChannelSMS, ChannelWhatsApp, ChannelRCS, ChannelPush, ChannelEmail, ChannelAuto:
		return true
	}
	return false
}

// VerificationStatus is where a verification is in its life.
type VerificationStatus string

// Verification statuses. Only StatusPending can be checked, resent or
// canceled; every other status is final.
const (
	StatusPending            VerificationStatus = "pending"
	StatusApproved           VerificationStatus = "approved"
	StatusCanceled           VerificationStatus = "canceled"
	StatusExpired            VerificationStatus = "expired"
	StatusMaxAttemptsReached VerificationStatus = "max_attempts_reached"
	StatusFailed             VerificationStatus = "failed"
)

// Valid reports whether s is a known status.
func (s VerificationStatus) Valid() bool {
	switch s {
	case StatusPending, StatusApproved, StatusCanceled, StatusExpired, StatusMaxAttemptsReached, StatusFailed:
		return true
	}
	return false
}

// MessageStatus is where one message of a verification is.
type MessageStatus string

// Message statuses: queued → sent (handed to the channel) → delivered
// (receipt) or failed / undelivered.
const (
	MessageQueued      MessageStatus = "queued"
	MessageSent        MessageStatus = "sent"
	MessageDelivered   MessageStatus = "delivered"
	MessageFailed      MessageStatus = "failed"
	MessageUndelivered MessageStatus = "undelivered"
)

// Final reports whether the message can no longer change through sending.
// A sent message may still become delivered or undelivered by a receipt.
func (s MessageStatus) Final() bool {
	return s == MessageDelivered || s == MessageFailed || s == MessageUndelivered
}

// Transaction is what a transaction-signing code is bound to (PSD2 dynamic
// linking). The code's hash covers its canonical form, so a check carrying
// any other amount, currency or payee fails.
type Transaction struct {
	Amount   string // decimal, e.g. "125.00"
	Currency string // ISO 4217, e.g. "EUR"
	Payee    string
}

var (
	amountRe   = regexp.MustCompile(`^[0-9]{1,15}(\.[0-9]{1,6})?$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
)

// Normalize validates t and brings it to the form that is stored and shown:
// upper-case currency, payee trimmed and in Unicode NFC.
func (t *Transaction) Normalize() error {
	t.Amount = strings.TrimSpace(t.Amount)
	if !amountRe.MatchString(t.Amount) {
		return invalid("transaction.amount", "must be a decimal number such as 125.00")
	}
	t.Currency = strings.ToUpper(strings.TrimSpace(t.Currency))
	if !currencyRe.MatchString(t.Currency) {
		return invalid("transaction.currency", "must be an ISO 4217 code such as EUR")
	}
	t.Payee = norm.NFC.String(strings.TrimSpace(t.Payee))
	if t.Payee == "" || utf8.RuneCountInString(t.Payee) > 140 || !utf8.ValidString(t.Payee) {
		return invalid("transaction.payee", "is required and must be at most 140 characters")
	}
	return nil
}

// canonical is the byte string a code is bound to. Amounts compare as
// numbers ("125.0" and "125.00" are the same amount); the other fields
// compare exactly after normalization. A nil transaction binds to "".
func (t *Transaction) canonical() string {
	if t == nil {
		return ""
	}
	amount := t.Amount
	if r, ok := new(big.Rat).SetString(t.Amount); ok {
		amount = r.RatString()
	}
	// Lengths make the encoding unambiguous whatever the payee contains.
	var b strings.Builder
	for _, f := range []string{amount, t.Currency, t.Payee} {
		b.WriteString(itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
	}
	return b.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return string(buf[i:])
}

// Verification is one attempt to prove that a person controls a
// destination. It carries a snapshot of its service's policy, so changing the
// service later does not change verifications in flight.
type Verification struct {
	ID          string
	ServiceID   string
	To          string // E.164 number, e-mail address or device id
	ToKey       string // keyed blind index of To, for look-ups by destination
	Channel     ChannelName
	Status      VerificationStatus
	Locale      string
	Purpose     string
	Reference   string
	ClientIP    string
	Transaction *Transaction
	// Fallback are the channels tried in turn after the first message's
	// channel, when a channel fails, cannot reach the person, or no
	// delivery receipt comes within its fallback timeout.
	Fallback []ChannelName
	// FallbackTo holds the destinations of fallback channels that cannot
	// reach To — an e-mail address for "email" after "push" to a device,
	// say — as one workflow step each may name its own recipient.
	FallbackTo map[ChannelName]string

	CodeLength     int
	Alphabet       Alphabet
	KeyID          string // the keyring key the code is derived and hashed with
	Salt           []byte // random, enters the code derivation
	CodeHash       []byte // HMAC of the code bound to this verification and transaction
	MaxAttempts    int
	Attempts       int // failed checks so far; never reset
	MaxSends       int
	Sends          int
	ResendCooldown time.Duration

	CreatedAt  time.Time
	UpdatedAt  time.Time
	ExpiresAt  time.Time
	LastSentAt time.Time

	Messages []*Message // oldest first

	// Events are the events of the change being written: the engine
	// appends them while it changes the verification, and the store writes
	// them in the same transaction as the change (CreateVerification,
	// UpdateVerification). Stores do not load them back.
	Events []*Event
}

// Message is one send of a verification's code on one channel. Queued
// messages are the delivery queue: a message is recorded in the same
// transaction as the verification or resend that caused it, so nothing
// accepted is lost if the process dies.
type Message struct {
	ID             string
	VerificationID string
	Channel        ChannelName
	Status         MessageStatus
	Error          string // why it failed, when it did
	ProviderID     string // the channel's id for it
	// Refs are the ids the channel's status reports (delivery receipts)
	// carry for this message, qualified by channel ("sms:route:id"): one
	// per part of a long SMS. They are written with the send's outcome and
	// looked up with Store.FindMessageByRef; stores do not load them back.
	Refs          []string
	Attempts      int // delivery attempts so far
	NextAttemptAt time.Time
	// FallbackAt is when the verification moves on to its next channel if
	// this message has not been delivered by then; zero when no fallback
	// is pending on it (none left, no timeout for its channel, or it was
	// delivered or failed).
	FallbackAt time.Time
	// LeaseUntil, on a new message, says this node has already claimed it
	// (the engine handed it straight to its dispatcher, see Handoff): the
	// store inserts it leased until then, so no node claims it before.
	// Stores write it with the insert only and do not load it back.
	LeaseUntil time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// StatusAt is the verification's status as seen at now: a pending
// verification past its expiry is expired even before the sweeper records it.
func (v *Verification) StatusAt(now time.Time) VerificationStatus {
	if v.Status == StatusPending && !now.Before(v.ExpiresAt) {
		return StatusExpired
	}
	return v.Status
}

// AttemptsRemaining is how many more checks may fail before the
// verification closes.
func (v *Verification) AttemptsRemaining() int { return max(0, v.MaxAttempts-v.Attempts) }

// SendsRemaining is how many more sends (resends) are allowed.
func (v *Verification) SendsRemaining() int { return max(0, v.MaxSends-v.Sends) }

// Message returns the message with the given id, or nil.
func (v *Verification) Message(id string) *Message {
	for _, m := range v.Messages {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// Clone returns a deep copy, so a store can compare before and after.
func (v *Verification) Clone() *Verification {
	c := *v
	if v.Transaction != nil {
		t := *v.Transaction
		c.Transaction = &t
	}
	c.Salt = append([]byte(nil), v.Salt...)
	c.CodeHash = append([]byte(nil), v.CodeHash...)
	c.Messages = make([]*Message, len(v.Messages))
	for i, m := range v.Messages {
		mc := *m
		mc.Refs = append([]string(nil), m.Refs...)
		c.Messages[i] = &mc
	}
	c.Events = append([]*Event(nil), v.Events...)
	c.Fallback = append([]ChannelName(nil), v.Fallback...)
	return &c
}

// AddressFor returns where a message on channel c goes: To when c can reach
// it, else the fallback destination named for c.
func (v *Verification) AddressFor(c ChannelName) string {
	if a, ok := v.FallbackTo[c]; ok {
		if d, err := ParseDestination(v.To); err != nil || !d.Kind.Reaches(c) {
			return a
		}
	}
	return v.To
}
