package client

import (
	"encoding/json"
	"time"
)

// Delivery channels. ChannelAuto is not a channel but a request for the
// service's default order; it is valid only in [StartParams].
const (
	ChannelSMS      = "sms"
	ChannelWhatsApp = "whatsapp"
	ChannelRCS      = "rcs"
	ChannelPush     = "push"
	ChannelEmail    = "email"
	ChannelAuto     = "auto"
)

// Verification statuses. Only StatusPending can be checked, resent or
// canceled; every other status is final.
const (
	StatusPending            = "pending"
	StatusApproved           = "approved"
	StatusCanceled           = "canceled"
	StatusExpired            = "expired"
	StatusMaxAttemptsReached = "max_attempts_reached"
	StatusFailed             = "failed" // every channel failed
)

// Message statuses: queued → sent (handed to the channel) → delivered
// (receipt) or failed / undelivered.
const (
	MessageQueued      = "queued"
	MessageSent        = "sent"
	MessageDelivered   = "delivered"
	MessageFailed      = "failed"
	MessageUndelivered = "undelivered"
)

// Names of a service's rate limits (Service.RateLimits).
const (
	LimitDestination  = "destination"   // starts and resends per destination
	LimitClientIP     = "client_ip"     // starts per end-user IP
	LimitService      = "service"       // all starts of the service
	LimitPrefix       = "prefix"        // per number range: the number without its last 4 digits
	LimitCountry      = "country"       // per destination country
	LimitFailedChecks = "failed_checks" // wrong codes per destination, across verifications
)

// Code alphabets of a service.
const (
	AlphabetDigits       = "digits"       // 0-9
	AlphabetAlphanumeric = "alphanumeric" // 2-9 and A-Z without I and O
)

// Service is one business application with its own brand, policy,
// channels and keys.
type Service struct {
	ID                    string   `json:"id"`
	Name                  string   `json:"name"`
	CodeLength            int      `json:"code_length"`
	CodeAlphabet          string   `json:"code_alphabet"`
	TTLSeconds            int      `json:"ttl_seconds"`
	MaxTTLSeconds         int      `json:"max_ttl_seconds"` // the longest per-request TTL override
	MaxCheckAttempts      int      `json:"max_check_attempts"`
	MaxSends              int      `json:"max_sends"`
	ResendCooldownSeconds int      `json:"resend_cooldown_seconds"`
	Channels              []string `json:"channels"`
	AllowedCountries      []string `json:"allowed_countries"` // empty allows all
	DefaultLocale         string   `json:"default_locale"`
	WebhookURL            *string  `json:"webhook_url"`
	AppHash               *string  `json:"app_hash"`
	WebOTPDomain          *string  `json:"webotp_domain"`
	WhatsAppTemplate      *string  `json:"whatsapp_template"` // the service's own template, or nil
	WhatsAppLanguage      *string  `json:"whatsapp_language"` // e.g. en_US, or nil: from the locale
	// RateLimits are the service's own rate limits by name (see the
	// Limit* constants), such as "5/10m" or "off"; names it leaves out
	// take the server's defaults.
	RateLimits map[string]string `json:"rate_limits"`
	// SafeList holds E.164 numbers or prefixes the fraud guard never blocks.
	SafeList  []string  `json:"safe_list"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// WebhookSecret signs webhook events. The server shows it once, in the
	// result of CreateService; it is empty everywhere else.
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// CreateServiceParams are the settings of a new service. Only Name is
// required; zero values are left out of the request, so the server's
// defaults apply.
type CreateServiceParams struct {
	Name             string `json:"name"`
	CodeLength       int    `json:"code_length,omitempty"`   // 4..10, default 6
	CodeAlphabet     string `json:"code_alphabet,omitempty"` // AlphabetDigits (default) or AlphabetAlphanumeric
	TTLSeconds       int    `json:"ttl_seconds,omitempty"`   // 60..259200, default 600
	MaxTTLSeconds    int    `json:"max_ttl_seconds,omitempty"`
	MaxCheckAttempts int    `json:"max_check_attempts,omitempty"` // 1..20, default 5
	MaxSends         int    `json:"max_sends,omitempty"`          // 1..10, default 5
	// ResendCooldownSeconds is a pointer because 0 (no cooldown) is a
	// setting of its own, unlike the unset default of 30.
	ResendCooldownSeconds *int     `json:"resend_cooldown_seconds,omitempty"`
	Channels              []string `json:"channels,omitempty"`          // default ["sms"]
	AllowedCountries      []string `json:"allowed_countries,omitempty"` // ISO 3166 alpha-2; default all
	DefaultLocale         string   `json:"default_locale,omitempty"`    // default "en"
	WebhookURL            string   `json:"webhook_url,omitempty"`
	AppHash               string   `json:"app_hash,omitempty"`
	WebOTPDomain          string   `json:"webotp_domain,omitempty"`
	WhatsAppTemplate      string   `json:"whatsapp_template,omitempty"`
	WhatsAppLanguage      string   `json:"whatsapp_language,omitempty"`
	// RateLimits override the server's default rate limits by name, e.g.
	// {LimitDestination: "3/15m", LimitCountry: "off"}.
	RateLimits map[string]string `json:"rate_limits,omitempty"`
	SafeList   []string          `json:"safe_list,omitempty"`
	// IdempotencyKey replaces the key the client generates for this call.
	IdempotencyKey string `json:"-"`
}

// UpdateServiceParams are the changes PATCH makes to a service: nil fields
// (and nil slices) are left out and keep their value. A non-nil empty
// slice clears the list (AllowedCountries: []string{} allows all
// countries). A pointer to "" clears WebhookURL, AppHash, WebOTPDomain,
// WhatsAppTemplate or WhatsAppLanguage, sent as JSON null.
type UpdateServiceParams struct {
	Name                  *string  `json:"name,omitempty"`
	CodeLength            *int     `json:"code_length,omitempty"`
	CodeAlphabet          *string  `json:"code_alphabet,omitempty"`
	TTLSeconds            *int     `json:"ttl_seconds,omitempty"`
	MaxTTLSeconds         *int     `json:"max_ttl_seconds,omitempty"`
	MaxCheckAttempts      *int     `json:"max_check_attempts,omitempty"`
	MaxSends              *int     `json:"max_sends,omitempty"`
	ResendCooldownSeconds *int     `json:"resend_cooldown_seconds,omitempty"`
	Channels              []string `json:"channels,omitzero"`
	AllowedCountries      []string `json:"allowed_countries,omitzero"`
	DefaultLocale         *string  `json:"default_locale,omitempty"`
	WebhookURL            *string  `json:"webhook_url,omitempty"`
	AppHash               *string  `json:"app_hash,omitempty"`
	WebOTPDomain          *string  `json:"webotp_domain,omitempty"`
	WhatsAppTemplate      *string  `json:"whatsapp_template,omitempty"`
	WhatsAppLanguage      *string  `json:"whatsapp_language,omitempty"`
	// RateLimits sets the named limits and keeps the others; a name mapped
	// to nil goes back to the server's default.
	RateLimits map[string]*string `json:"rate_limits,omitempty"`
	SafeList   []string           `json:"safe_list,omitzero"`
}

// MarshalJSON encodes the changes, turning a pointer to "" into null for
// the nullable fields.
func (p UpdateServiceParams) MarshalJSON() ([]byte, error) {
	type fields UpdateServiceParams // without this method
	return json.Marshal(struct {
		fields
		// Shallower than the embedded fields of the same name, so these win.
		WebhookURL       any `json:"webhook_url,omitempty"`
		AppHash          any `json:"app_hash,omitempty"`
		WebOTPDomain     any `json:"webotp_domain,omitempty"`
		WhatsAppTemplate any `json:"whatsapp_template,omitempty"`
		WhatsAppLanguage any `json:"whatsapp_language,omitempty"`
	}{fields(p), nullable(p.WebhookURL), nullable(p.AppHash), nullable(p.WebOTPDomain),
		nullable(p.WhatsAppTemplate), nullable(p.WhatsAppLanguage)})
}

// nullable maps nil to nothing (omitted), "" to null, and s to s.
func nullable(s *string) any {
	switch {
	case s == nil:
		return nil
	case *s == "":
		return json.RawMessage("null")
	}
	return *s
}

// ServiceList is a page of services, oldest first.
type ServiceList struct {
	Data []Service `json:"data"`
	// NextCursor is the Cursor of the next page; empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// ListOptions select a page of a list. Zero values are left out: the
// server's default limit is 50, its maximum 500.
type ListOptions struct {
	Limit  int
	Cursor string // the NextCursor of the previous page
}

// Key is a service key: a bearer token that may call only the verification
// endpoints of its service.
type Key struct {
	ID         string     `json:"id"`
	ServiceID  string     `json:"service_id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"` // nil if never used
	// Secret is the bearer token. The server shows it once, in the result
	// of CreateKey, and keeps only a hash; it is empty everywhere else.
	Secret string `json:"secret,omitempty"`
}

// KeyList is a page of a service's keys, oldest first.
type KeyList struct {
	Data []Key `json:"data"`
	// NextCursor is the Cursor of the next page; empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// Transaction is what a transaction-signing code is bound to (PSD2
// dynamic linking): a check is valid only with the same transaction.
type Transaction struct {
	Amount   string `json:"amount"`   // decimal, e.g. "125.00"
	Currency string `json:"currency"` // ISO 4217, e.g. "EUR"
	Payee    string `json:"payee"`
}

// StartParams ask for a new verification. Only To is required; zero
// values are left out of the request.
type StartParams struct {
	// To is an E.164 phone number, an e-mail address for ChannelEmail, or a
	// registered push device id for ChannelPush.
	To string `json:"to"`
	// Channel is one of the Channel constants; empty means ChannelAuto.
	Channel string `json:"channel,omitempty"`
	// Fallback lists channels tried in turn when one fails or times out.
	Fallback []string `json:"fallback,omitempty"`
	// FallbackTo names the recipient of a fallback channel that cannot
	// reach To, by channel: {"email": "ana@example.com"} after push.
	FallbackTo  map[string]string `json:"fallback_to,omitempty"`
	Locale      string            `json:"locale,omitempty"`  // BCP 47; default the service's
	Purpose     string            `json:"purpose,omitempty"` // a label: login, transaction, password_reset, ...
	Transaction *Transaction      `json:"transaction,omitempty"`
	TTLSeconds  int               `json:"ttl_seconds,omitempty"` // up to the service's MaxTTLSeconds
	ClientIP    string            `json:"client_ip,omitempty"`   // the end user's IP, for rate limits and fraud rules
	Reference   string            `json:"reference,omitempty"`   // echoed back
	// IdempotencyKey replaces the key the client generates for this call.
	IdempotencyKey string `json:"-"`
}

// Verification is one attempt to prove that a person controls a
// destination. It never contains the code.
type Verification struct {
	ID        string `json:"id"`
	ServiceID string `json:"service_id"`
	To        string `json:"to"`
	Channel   string `json:"channel"` // the channel in use, never ChannelAuto
	// Fallback are the channels tried in turn after the first message's.
	Fallback []string `json:"fallback"`
	// FallbackTo are the recipients of fallback channels that cannot reach To.
	FallbackTo        map[string]string `json:"fallback_to"`
	Status            string            `json:"status"` // one of the Status constants
	Locale            string            `json:"locale"`
	Purpose           *string           `json:"purpose"`
	Reference         *string           `json:"reference"`
	Transaction       *Transaction      `json:"transaction"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
	ExpiresAt         time.Time         `json:"expires_at"`
	AttemptsRemaining int               `json:"attempts_remaining"`
	SendsRemaining    int               `json:"sends_remaining"`
	Messages          []Message         `json:"messages"` // oldest first
}

// Message is one send of a verification's code.
type Message struct {
	ID        string    `json:"id"`
	Channel   string    `json:"channel"`
	Status    string    `json:"status"` // one of the Message constants
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Error     *string   `json:"error"` // why it failed, when it did
}

// VerificationList is a page of verifications, newest first.
type VerificationList struct {
	Data []Verification `json:"data"`
	// NextCursor is the Cursor of the next page; empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// ListVerificationsOptions filter and page ListVerifications. Zero values
// are left out.
type ListVerificationsOptions struct {
	Status string // one of the Status constants
	To     string // a destination
	Limit  int
	Cursor string
}

// CheckParams are a check of a code against one verification.
type CheckParams struct {
	Code string `json:"code"`
	// Transaction must equal the verification's, when it has one.
	Transaction *Transaction `json:"transaction,omitempty"`
	// IdempotencyKey, when set, is sent with the check, and makes the
	// check safe to retry after a lost answer: the server replays the
	// first outcome instead of using another attempt. Checks send no key
	// unless asked, because the API promises replay only for requests
	// that create something.
	IdempotencyKey string `json:"-"`
}

// CheckByDestinationParams are a check of a code against the newest
// pending verification for a destination.
type CheckByDestinationParams struct {
	To          string       `json:"to"`
	Code        string       `json:"code"`
	Transaction *Transaction `json:"transaction,omitempty"`
	// IdempotencyKey is as in [CheckParams].
	IdempotencyKey string `json:"-"`
}

// CheckResult is the outcome of a check. A wrong code is Valid false,
// not an error.
type CheckResult struct {
	Valid             bool         `json:"valid"`
	Status            string       `json:"status"` // the verification's status after the check
	AttemptsRemaining int          `json:"attempts_remaining"`
	Verification      Verification `json:"verification"`
}

// DevMessage is a message in the dev inbox of a server started with --dev.
type DevMessage struct {
	To             string    `json:"to"`
	Channel        string    `json:"channel"`
	Text           string    `json:"text"` // the rendered message, code included
	Subject        string    `json:"subject,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	VerificationID string    `json:"verification_id,omitempty"`
	MessageID      string    `json:"message_id,omitempty"`
}
