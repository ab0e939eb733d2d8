package httpapi

import (
	"bytes"
	"encoding/json"
	"maps"
	"time"

	"github.com/otpd/otpd"
)

// timeFormat is RFC 3339 in UTC with milliseconds, always three digits, so
// every time in the API has one shape.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := formatTime(t)
	return &s
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// fromSeconds converts a request's seconds to a duration, clamping values
// that would overflow to ones that validation rejects.
func fromSeconds(n int64) time.Duration {
	const limit = 1 << 32
	return time.Duration(max(-limit, min(n, limit))) * time.Second
}

// ---- Services ----

type serviceJSON struct {
	ID                    string             `json:"id"`
	Name                  string             `json:"name"`
	CodeLength            int                `json:"code_length"`
	CodeAlphabet          otpd.Alphabet      `json:"code_alphabet"`
	TTLSeconds            int64              `json:"ttl_seconds"`
	MaxTTLSeconds         int64              `json:"max_ttl_seconds"`
	MaxCheckAttempts      int                `json:"max_check_attempts"`
	MaxSends              int                `json:"max_sends"`
	ResendCooldownSeconds int64              `json:"resend_cooldown_seconds"`
	Channels              []otpd.ChannelName `json:"channels"`
	AllowedCountries      []string           `json:"allowed_countries"`
	DefaultLocale         string             `json:"default_locale"`
	WebhookURL            *string            `json:"webhook_url"`
	AppHash               *string            `json:"app_hash"`
	WebOTPDomain          *string            `json:"webotp_domain"`
	WhatsAppTemplate      *string            `json:"whatsapp_template"`
	WhatsAppLanguage      *string            `json:"whatsapp_language"`
	// RateLimits holds the service's own limits by name ("5/10m" or
	// "off"); the names it leaves out take the server's defaults.
	RateLimits map[string]otpd.RateLimit `json:"rate_limits"`
	SafeList   []string                  `json:"safe_list"`
	CreatedAt  string                    `json:"created_at"`
	UpdatedAt  string                    `json:"updated_at"`
	// WebhookSecret is shown once, in the response that creates the service.
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

func toServiceJSON(s *otpd.Service) serviceJSON {
	out := serviceJSON{
		ID:                    s.ID,
		Name:                  s.Name,
		CodeLength:            s.Policy.CodeLength,
		CodeAlphabet:          s.Policy.Alphabet,
		TTLSeconds:            seconds(s.Policy.TTL),
		MaxTTLSeconds:         seconds(s.Policy.MaxTTL),
		MaxCheckAttempts:      s.Policy.MaxCheckAttempts,
		MaxSends:              s.Policy.MaxSends,
		ResendCooldownSeconds: seconds(s.Policy.ResendCooldown),
		Channels:              append([]otpd.ChannelName{}, s.Channels...),
		AllowedCountries:      append([]string{}, s.Countries...),
		DefaultLocale:         s.Locale,
		WebhookURL:            optString(s.WebhookURL),
		AppHash:               optString(s.AppHash),
		WebOTPDomain:          optString(s.WebOTPDomain),
		WhatsAppTemplate:      optString(s.WhatsAppTemplate),
		WhatsAppLanguage:      optString(s.WhatsAppLanguage),
		RateLimits:            s.Limits.Named(),
		SafeList:              append([]string{}, s.SafeList...),
		CreatedAt:             formatTime(s.CreatedAt),
		UpdatedAt:             formatTime(s.UpdatedAt),
	}
	if out.MaxTTLSeconds == 0 {
		out.MaxTTLSeconds = out.TTLSeconds
	}
	return out
}

// field is a request member that tells absent from null from a value, for
// partial updates. Decoding a value goes through encoding/json again, so T
// must be a scalar or a slice of scalars: a nested object would lose
// DisallowUnknownFields.
type field[T any] struct {
	set, null bool
	v         T
}

func (f *field[T]) UnmarshalJSON(b []byte) error {
	f.set = true
	if bytes.Equal(b, []byte("null")) {
		f.null = true
		return nil
	}
	return json.Unmarshal(b, &f.v)
}

// serviceRequest is the body of POST and PATCH /v1/services[/{sid}].
type serviceRequest struct {
	Name                  field[string]             `json:"name"`
	CodeLength            field[int]                `json:"code_length"`
	CodeAlphabet          field[otpd.Alphabet]      `json:"code_alphabet"`
	TTLSeconds            field[int64]              `json:"ttl_seconds"`
	MaxTTLSeconds         field[int64]              `json:"max_ttl_seconds"`
	MaxCheckAttempts      field[int]                `json:"max_check_attempts"`
	MaxSends              field[int]                `json:"max_sends"`
	ResendCooldownSeconds field[int64]              `json:"resend_cooldown_seconds"`
	Channels              field[[]otpd.ChannelName] `json:"channels"`
	AllowedCountries      field[[]string]           `json:"allowed_countries"`
	DefaultLocale         field[string]             `json:"default_locale"`
	WebhookURL            field[string]             `json:"webhook_url"`
	AppHash               field[string]             `json:"app_hash"`
	WebOTPDomain          field[string]             `json:"webotp_domain"`
	WhatsAppTemplate      field[string]             `json:"whatsapp_template"`
	WhatsAppLanguage      field[string]             `json:"whatsapp_language"`
	// RateLimits sets limits by name; a name set to null goes back to the
	// server's default, and names left out keep their value.
	RateLimits field[map[string]*string] `json:"rate_limits"`
	SafeList   field[[]string]           `json:"safe_list"`
}

// apply sets the members present in the request on s. Only webhook_url,
// app_hash, webotp_domain, whatsapp_template and whatsapp_language may be
// null (to clear them).
func (q *serviceRequest) apply(s *otpd.Service) error {
	var err error
	set := func(param string, present, null bool, assign func()) {
		if err != nil || !present {
			return
		}
		if null {
			err = invalidParam(param, "must not be null")
			return
		}
		assign()
	}
	set("name", q.Name.set, q.Name.null, func() { s.Name = q.Name.v })
	set("code_length", q.CodeLength.set, q.CodeLength.null, func() { s.Policy.CodeLength = q.CodeLength.v })
	set("code_alphabet", q.CodeAlphabet.set, q.CodeAlphabet.null, func() { s.Policy.Alphabet = q.CodeAlphabet.v })
	set("ttl_seconds", q.TTLSeconds.set, q.TTLSeconds.null, func() {
		old := s.Policy
		s.Policy.TTL = fromSeconds(q.TTLSeconds.v)
		// max_ttl_seconds defaults to ttl_seconds; keep following it when
		// it did, and lift it when the new TTL outgrows it, unless the
		// request sets it too.
		if !q.MaxTTLSeconds.set && (old.MaxTTL == old.TTL || s.Policy.TTL > old.MaxTTL) {
			s.Policy.MaxTTL = 0
		}
	})
	set("max_ttl_seconds", q.MaxTTLSeconds.set, q.MaxTTLSeconds.null, func() { s.Policy.MaxTTL = fromSeconds(q.MaxTTLSeconds.v) })
	set("max_check_attempts", q.MaxCheckAttempts.set, q.MaxCheckAttempts.null, func() { s.Policy.MaxCheckAttempts = q.MaxCheckAttempts.v })
	set("max_sends", q.MaxSends.set, q.MaxSends.null, func() { s.Policy.MaxSends = q.MaxSends.v })
	set("resend_cooldown_seconds", q.ResendCooldownSeconds.set, q.ResendCooldownSeconds.null, func() {
		s.Policy.ResendCooldown = fromSeconds(q.ResendCooldownSeconds.v)
	})
	set("channels", q.Channels.set, q.Channels.null, func() { s.Channels = q.Channels.v })
	set("allowed_countries", q.AllowedCountries.set, q.AllowedCountries.null, func() { s.Countries = q.AllowedCountries.v })
	set("default_locale", q.DefaultLocale.set, q.DefaultLocale.null, func() { s.Locale = q.DefaultLocale.v })
	set("safe_list", q.SafeList.set, q.SafeList.null, func() { s.SafeList = q.SafeList.v })
	set("rate_limits", q.RateLimits.set, q.RateLimits.null, func() {
		for name, v := range q.RateLimits.v {
			var l otpd.RateLimit // null: unset, the server's default
			if v != nil {
				if *v == "" {
					err = invalidParam("rate_limits", "limit %q: give a limit such as \"5/10m\", \"off\", or null for the server's default", name)
					return
				}
				if l, err = otpd.ParseRateLimit(*v); err != nil {
					err = invalidParam("rate_limits", "%v", err)
					return
				}
			}
			if err = s.Limits.Set(name, l); err != nil {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	if q.MaxTTLSeconds.set && q.MaxTTLSeconds.v == 0 {
		// 0 is how the domain spells "default"; the API has no such value.
		return invalidParam("max_ttl_seconds", "must be between ttl_seconds and %d", seconds(otpd.MaxTTL))
	}
	for _, f := range []struct {
		f   field[string]
		dst *string
	}{{q.WebhookURL, &s.WebhookURL}, {q.AppHash, &s.AppHash}, {q.WebOTPDomain, &s.WebOTPDomain},
		{q.WhatsAppTemplate, &s.WhatsAppTemplate}, {q.WhatsAppLanguage, &s.WhatsAppLanguage}} {
		if f.f.set {
			*f.dst = f.f.v // null clears: v is ""
		}
	}
	return nil
}

// ---- Keys ----

type keyJSON struct {
	ID         string  `json:"id"`
	ServiceID  string  `json:"service_id"`
	Name       string  `json:"name"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
	// Secret is shown once, in the response that creates the key.
	Secret string `json:"secret,omitempty"`
}

func toKeyJSON(k *otpd.Key) keyJSON {
	return keyJSON{ID: k.ID, ServiceID: k.ServiceID, Name: k.Name,
		CreatedAt: formatTime(k.CreatedAt), LastUsedAt: optTime(k.LastUsedAt)}
}

// ---- Verifications ----

type transactionJSON struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	Payee    string `json:"payee"`
}

func (t *transactionJSON) domain() *otpd.Transaction {
	if t == nil {
		return nil
	}
	return &otpd.Transaction{Amount: t.Amount, Currency: t.Currency, Payee: t.Payee}
}

type messageJSON struct {
	ID        string             `json:"id"`
	Channel   otpd.ChannelName   `json:"channel"`
	Status    otpd.MessageStatus `json:"status"`
	CreatedAt string             `json:"created_at"`
	UpdatedAt string             `json:"updated_at"`
	Error     *string            `json:"error"`
}

// verificationJSON is a verification as the API shows it: never its code,
// code hash, salt, key id or the end user's IP.
type verificationJSON struct {
	ID                string                      `json:"id"`
	ServiceID         string                      `json:"service_id"`
	To                string                      `json:"to"`
	Channel           otpd.ChannelName            `json:"channel"`
	Fallback          []otpd.ChannelName          `json:"fallback"`
	FallbackTo        map[otpd.ChannelName]string `json:"fallback_to"`
	Status            otpd.VerificationStatus     `json:"status"`
	Locale            string                      `json:"locale"`
	Purpose           *string                     `json:"purpose"`
	Reference         *string                     `json:"reference"`
	Transaction       *transactionJSON            `json:"transaction"`
	CreatedAt         string                      `json:"created_at"`
	UpdatedAt         string                      `json:"updated_at"`
	ExpiresAt         string                      `json:"expires_at"`
	AttemptsRemaining int                         `json:"attempts_remaining"`
	SendsRemaining    int                         `json:"sends_remaining"`
	Messages          []messageJSON               `json:"messages"`
}

// toVerificationJSON shows v with its status as of now.
func toVerificationJSON(v *otpd.Verification, now time.Time) verificationJSON {
	out := verificationJSON{
		ID:                v.ID,
		ServiceID:         v.ServiceID,
		To:                v.To,
		Channel:           v.Channel,
		Fallback:          append([]otpd.ChannelName{}, v.Fallback...),
		FallbackTo:        map[otpd.ChannelName]string{},
		Status:            v.StatusAt(now),
		Locale:            v.Locale,
		Purpose:           optString(v.Purpose),
		Reference:         optString(v.Reference),
		CreatedAt:         formatTime(v.CreatedAt),
		UpdatedAt:         formatTime(v.UpdatedAt),
		ExpiresAt:         formatTime(v.ExpiresAt),
		AttemptsRemaining: v.AttemptsRemaining(),
		SendsRemaining:    v.SendsRemaining(),
		Messages:          make([]messageJSON, 0, len(v.Messages)),
	}
	if t := v.Transaction; t != nil {
		out.Transaction = &transactionJSON{Amount: t.Amount, Currency: t.Currency, Payee: t.Payee}
	}
	maps.Copy(out.FallbackTo, v.FallbackTo)
	for _, m := range v.Messages {
		out.Messages = append(out.Messages, messageJSON{
			ID: m.ID, Channel: m.Channel, Status: m.Status,
			CreatedAt: formatTime(m.CreatedAt), UpdatedAt: formatTime(m.UpdatedAt),
			Error: optString(m.Error),
		})
	}
	return out
}

type checkJSON struct {
	Valid             bool                    `json:"valid"`
	Status            otpd.VerificationStatus `json:"status"`
	AttemptsRemaining int                     `json:"attempts_remaining"`
	Verification      verificationJSON        `json:"verification"`
}
