package otpd

import (
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// Service is one business application: its brand, its verification policy,
// its channels and its keys. Services are the tenants of otpd: nothing of
// one service is visible to another's keys.
type Service struct {
	ID        string
	Name      string // the brand shown in messages
	Policy    Policy
	Channels  []ChannelName // default order for channel "auto"
	Countries []string      // allowed ISO 3166 alpha-2 regions; empty allows all
	Locale    string        // default locale (BCP 47)

	WebhookURL string // events are POSTed here, signed with WebhookSecret
	// WhatsAppTemplate and WhatsAppLanguage name the service's own
	// WhatsApp authentication template and its language (a Meta code such
	// as en_US); empty: the server's configured template, and the language
	// from the verification's locale.
	WhatsAppTemplate string
	WhatsAppLanguage string
	WebhookSecret    string // shown once, at creation
	AppHash          string // Android SMS Retriever hash appended to SMS
	WebOTPDomain     string // adds the "@domain #code" line to SMS
	// Limits are the service's rate limits; zero fields take the server's
	// defaults (see Limits.Or).
	Limits Limits
	// SafeList holds E.164 numbers or number prefixes ("+4477009") that the
	// fraud guard never blocks: the business's own test phones, or a range
	// it knows to be legitimate. Rate limits still apply.
	SafeList []string

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Alphabet is the set of characters a code is drawn from.
type Alphabet string

// Code alphabets.
const (
	// AlphabetDigits is 0-9.
	AlphabetDigits Alphabet = "digits"
	// AlphabetAlphanumeric is 2-9 and A-Z without I and O: 32 symbols, none
	// of which can be mistaken for another when read aloud or retyped.
	AlphabetAlphanumeric Alphabet = "alphanumeric"
)

// Symbols returns the alphabet's characters.
func (a Alphabet) Symbols() string {
	switch a {
	case AlphabetAlphanumeric:
		return "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	default:
		return "0123456789"
	}
}

// Policy says how a service's verifications behave.
type Policy struct {
	CodeLength       int           // 4..10
	Alphabet         Alphabet      // digits | alphanumeric
	TTL              time.Duration // 60 s .. 3 days
	MaxTTL           time.Duration // the longest per-request ttl override; defaults to TTL
	MaxCheckAttempts int           // 1..20
	MaxSends         int           // first send plus resends, 1..10
	ResendCooldown   time.Duration // 0 .. 1 h
}

// Policy bounds.
const (
	MinCodeLength     = 4
	MaxCodeLength     = 10
	MinTTL            = 60 * time.Second
	MaxTTL            = 72 * time.Hour
	MaxResendCooldown = time.Hour
)

// DefaultPolicy is the policy of a service that sets nothing.
func DefaultPolicy() Policy {
	return Policy{
		CodeLength:       6,
		Alphabet:         AlphabetDigits,
		TTL:              10 * time.Minute,
		MaxCheckAttempts: 5,
		MaxSends:         5,
		ResendCooldown:   30 * time.Second,
	}
}

// Validate checks every bound of the policy and fills MaxTTL when unset.
func (p *Policy) Validate() error {
	switch {
	case p.CodeLength < MinCodeLength || p.CodeLength > MaxCodeLength:
		return invalid("code_length", "must be between %d and %d", MinCodeLength, MaxCodeLength)
	case p.Alphabet != AlphabetDigits && p.Alphabet != AlphabetAlphanumeric:
		return invalid("code_alphabet", `must be "digits" or "alphanumeric"`)
	case p.TTL < MinTTL || p.TTL > MaxTTL || p.TTL%time.Second != 0:
		return invalid("ttl_seconds", "must be a whole number of seconds between %d and %d", int(MinTTL.Seconds()), int(MaxTTL.Seconds()))
	case p.MaxCheckAttempts < 1 || p.MaxCheckAttempts > 20:
		return invalid("max_check_attempts", "must be between 1 and 20")
	case p.MaxSends < 1 || p.MaxSends > 10:
		return invalid("max_sends", "must be between 1 and 10")
	case p.ResendCooldown < 0 || p.ResendCooldown > MaxResendCooldown || p.ResendCooldown%time.Second != 0:
		return invalid("resend_cooldown_seconds", "must be between 0 and %d", int(MaxResendCooldown.Seconds()))
	}
	if p.MaxTTL == 0 {
		p.MaxTTL = p.TTL
	}
	if p.MaxTTL < p.TTL || p.MaxTTL > MaxTTL || p.MaxTTL%time.Second != 0 {
		return invalid("max_ttl_seconds", "must be between ttl_seconds and %d", int(MaxTTL.Seconds()))
	}
	return nil
}

var (
	regionRe = regexp.MustCompile(`^[A-Z]{2}$`)
	// A safe-list entry is a country code and at least one more digit:
	// a whole country is what allowed_countries is for.
	safeListRe = regexp.MustCompile(`^\+[1-9][0-9]{2,14}$`)
	appHashRe  = regexp.MustCompile(`^[A-Za-z0-9+/]{11}$`)
	domainRe   = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^localhost$`)
)

// Validate checks the service's settings, normalizes them (upper-case
// regions, canonical locale) and fills defaults.
func (s *Service) Validate() error {
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" {
		return invalid("name", "is required")
	}
	if utf8.RuneCountInString(s.Name) > 64 {
		return invalid("name", "must be at most 64 characters")
	}
	if err := s.Policy.Validate(); err != nil {
		return err
	}
	if len(s.Channels) == 0 {
		s.Channels = []ChannelName{ChannelSMS}
	}
	seen := map[ChannelName]bool{}
	for _, c := range s.Channels {
		if !c.Valid() || c == ChannelAuto {
			return invalid("channels", "unknown channel %q", c)
		}
		if seen[c] {
			return invalid("channels", "channel %q is listed twice", c)
		}
		seen[c] = true
	}
	for i, p := range s.SafeList {
		p = strings.TrimSpace(p)
		if !safeListRe.MatchString(p) {
			return invalid("safe_list", "%q is not an E.164 number or number prefix such as +4477009", s.SafeList[i])
		}
		s.SafeList[i] = p
	}
	if len(s.SafeList) > 1000 {
		return invalid("safe_list", "holds at most 1000 entries")
	}
	for i, c := range s.Countries {
		c = strings.ToUpper(strings.TrimSpace(c))
		if !regionRe.MatchString(c) {
			return invalid("allowed_countries", "%q is not an ISO 3166 alpha-2 code", s.Countries[i])
		}
		s.Countries[i] = c
	}
	if s.Locale == "" {
		s.Locale = "en"
	}
	if s.WhatsAppTemplate != "" && !waTemplateRe.MatchString(s.WhatsAppTemplate) {
		return invalid("whatsapp_template", "must be a WhatsApp template name: lower-case letters, digits and '_', at most 512")
	}
	if s.WhatsAppLanguage != "" && !waLanguageRe.MatchString(s.WhatsAppLanguage) {
		return invalid("whatsapp_language", "must be a WhatsApp language code such as en or en_US")
	}
	if s.Locale != LocaleAuto {
		loc, err := CanonicalLocale(s.Locale)
		if err != nil {
			return invalid("default_locale", "%q is not a BCP 47 language tag", s.Locale)
		}
		s.Locale = loc
	}
	if s.WebhookURL != "" {
		u, err := url.Parse(s.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(s.WebhookURL) > 2048 {
			return invalid("webhook_url", "must be an absolute http or https URL")
		}
	}
	if s.AppHash != "" && !appHashRe.MatchString(s.AppHash) {
		return invalid("app_hash", "must be the 11-character Android SMS Retriever app hash")
	}
	if s.WebOTPDomain != "" {
		s.WebOTPDomain = strings.ToLower(s.WebOTPDomain)
		if !domainRe.MatchString(s.WebOTPDomain) || len(s.WebOTPDomain) > 253 {
			return invalid("webotp_domain", "must be a host name such as example.com")
		}
	}
	return nil
}

// AllowsRegion reports whether the service's geo permissions allow region.
func (s *Service) AllowsRegion(region string) bool {
	if len(s.Countries) == 0 {
		return true
	}
	for _, c := range s.Countries {
		if c == region {
			return true
		}
	}
	return false
}

var (
	waTemplateRe = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	waLanguageRe = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2}|_[A-Z][a-z]{3})?$`)
)

// LocaleAuto as a service's default locale picks each verification's
// locale from its phone number's country (Config.RegionLocale), English
// when that says nothing or the destination is not a phone number.
const LocaleAuto = "auto"

// CanonicalLocale parses a BCP 47 tag and returns its canonical form.
func CanonicalLocale(s string) (string, error) {
	if len(s) > 35 {
		return "", invalid("locale", "is too long")
	}
	tag, err := language.Parse(s)
	if err != nil {
		return "", err
	}
	return tag.String(), nil
}
