package message

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/gsm"
)

var _ otpd.TemplateChecker = (*Catalog)(nil)

// Limits of a service's own templates ([Catalog.CheckTemplate]). Each holds
// for the message the template makes in the worst case: the longest code
// (10 characters), the service's name stretched to the longest brand (64
// characters, in the script of the name), the longest payee (140 characters)
// and amount, the longest expiry wording, and, for SMS, the service's app
// hash and WebOTP line.
const (
	// MaxSMSSegments is how many SMS a message may take, and
	// MaxTransactionSMSSegments how many a transaction's may, whose payee
	// alone can be 140 characters: the worst cases of otpd's built-in
	// texts in the UCS-2 languages (Portuguese, Turkish, Russian, Arabic,
	// Hindi, Japanese), so that no override may cost more than they do.
	MaxSMSSegments            = 4
	MaxTransactionSMSSegments = 6
	// MaxWhatsAppText is the longest WhatsApp text, in characters: the
	// limit of a WhatsApp template's body. (otpd's WhatsApp messages are
	// authentication templates, which carry the code alone; the text is
	// kept valid for providers that send it.)
	MaxWhatsAppText = 1024
	// MaxRCSText is the longest RCS text, in characters: RBM's limit of a
	// text message.
	MaxRCSText = 3072
	// MaxPushText is the longest push text, in bytes as JSON encodes it:
	// APNs and FCM take 4,096-byte payloads, which the title, the code and
	// the JSON around them share with the text.
	MaxPushText = 2048
	// MaxEmailSubject is the longest e-mail subject, in characters: longer
	// ones are cut off by mail clients and folded over lines.
	MaxEmailSubject = 200
	// MaxEmailText is the longest e-mail body, in characters.
	MaxEmailText = 10000

	// maxTemplateBytes bounds what is parsed and rendered at all.
	maxTemplateBytes = 4 * MaxEmailText
)

// Worst-case values for CheckTemplate, at the bounds the domain enforces.
const (
	worstCode   = "ABCDEFGHJK" // otpd.MaxCodeLength characters of the alphanumeric alphabet
	worstBrand  = 64           // runes: otpd.Service.Validate's bound on a name
	worstAmount = "999999999999999.999999"
	// worstCurrency is no currency: shown as its ISO code, the longest form.
	worstCurrency = "ZZZ"
)

// worstPayee is the longest payee (otpd.Transaction.Normalize allows 140
// characters) in the GSM 7-bit alphabet: a payee's script is the caller's,
// per verification, and is not the template's to answer for.
var worstPayee = strings.Repeat("W", 140)

// worstTTLs give the longest expiry wording in each unit.
var worstTTLs = []time.Duration{119 * time.Minute, 47 * time.Hour, otpd.MaxTTL}

// CanonicalTemplateKey implements [otpd.TemplateChecker]: the channel must
// be one with templates (not auto), the purpose one of [Purposes] ("" is
// PurposeLogin), and the locale a well-formed BCP 47 tag whose canonical
// form is one of the catalog's locales (case does not matter: "pt-br" is
// "pt-BR"). A tag the catalog only matches ("pt", "de-AT") is refused
// rather than guessed, so each template has one name.
func (c *Catalog) CanonicalTemplateKey(k otpd.TemplateKey) (otpd.TemplateKey, error) {
	if _, ok := KindOf(k.Channel); !ok {
		return k, invalidParam("channel", `must be one of "sms", "whatsapp", "rcs", "push" or "email"`)
	}
	if k.Purpose == "" {
		k.Purpose = PurposeLogin
	}
	known := false
	for _, p := range Purposes() {
		known = known || p == k.Purpose
	}
	if !known {
		return k, invalidParam("purpose", "must be one of %s", strings.Join(Purposes(), ", "))
	}
	tag, err := language.Parse(k.Locale)
	if err != nil || len(k.Locale) > 35 {
		return k, invalidParam("locale", "%q is not a BCP 47 language tag", k.Locale)
	}
	name := tag.String()
	if c.byName[name] == nil {
		return k, invalidParam("locale", "%q is not one of the built-in locales (%s); a request in another locale uses the built-in it matches", k.Locale, strings.Join(c.Locales(), ", "))
	}
	k.Locale = name
	return k, nil
}

// CheckTemplate implements [otpd.TemplateChecker]. A template must pass
// [ValidateTemplate] for its key (valid UTF-8, no control characters, only
// known placeholders, {code} exactly once in the text and never in an
// e-mail subject, {amount} and {payee} in transaction texts only), and the
// message it makes for svc in the worst case must fit its channel: at most
// MaxSMSSegments SMS (MaxTransactionSMSSegments for a transaction; GSM
// 7-bit or UCS-2, as the SMS encoder will choose),
// MaxWhatsAppText or MaxRCSText characters, MaxPushText bytes of JSON, or
// an e-mail subject of MaxEmailSubject characters and body of MaxEmailText.
// An e-mail's HTML part is made from its text, with every value and the
// text itself escaped; a template cannot supply HTML.
func (c *Catalog) CheckTemplate(svc *otpd.Service, t *otpd.MessageTemplate) error {
	kind, ok := KindOf(t.Channel)
	if !ok {
		return invalidParam("channel", "has no templates")
	}
	if len(t.Text) > maxTemplateBytes {
		return invalidParam("text", "is longer than %d bytes", maxTemplateBytes)
	}
	if len(t.Subject) > maxTemplateBytes {
		return invalidParam("subject", "is longer than %d bytes", maxTemplateBytes)
	}
	if param, err := validateTemplate(Key{kind, t.Purpose, t.Locale}, Template{Subject: t.Subject, Text: t.Text}); err != nil {
		return invalidParam(param, "is invalid: %s", strings.TrimPrefix(err.Error(), "message: "+ErrInvalidTemplate.Error()+": "))
	}
	for _, ttl := range worstTTLs {
		r, err := c.Render(worstCase(svc, t, ttl))
		if err != nil {
			return fmt.Errorf("message: render the worst case of a template: %w", err)
		}
		if err := fits(t.Channel, t.Purpose, r); err != nil {
			return err
		}
	}
	return nil
}

// worstCase is the request that makes the longest message from t for svc.
func worstCase(svc *otpd.Service, t *otpd.MessageTemplate, ttl time.Duration) otpd.RenderRequest {
	req := otpd.RenderRequest{
		Channel:   t.Channel,
		Locale:    t.Locale,
		Purpose:   t.Purpose,
		Brand:     stretch(svc.Name, worstBrand),
		Code:      worstCode,
		TTL:       ttl,
		Templates: []otpd.MessageTemplate{*t},
	}
	if t.Purpose == PurposeTransaction {
		req.Transaction = &otpd.Transaction{Amount: worstAmount, Currency: worstCurrency, Payee: worstPayee}
	}
	if t.Channel == otpd.ChannelSMS {
		req.WebOTPDomain, req.AppHash = svc.WebOTPDomain, svc.AppHash
	}
	return req
}

// stretch repeats name, space-separated, to exactly n runes (a name in
// Greek stays Greek, which decides an SMS's coding), or "Acme" when name is
// blank.
func stretch(name string, n int) string {
	name = clean(name)
	if name == "" {
		name = "Acme"
	}
	var b []rune
	for len(b) < n {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, []rune(name)...)
	}
	b = b[:n]
	if b[n-1] == ' ' { // the renderer would trim it
		b[n-1] = b[0]
	}
	return string(b)
}

// fits checks a rendered worst case against the channel's limits.
func fits(ch otpd.ChannelName, purpose string, r otpd.Rendered) error {
	runes := utf8.RuneCountInString(r.Text)
	switch ch {
	case otpd.ChannelSMS:
		limit := MaxSMSSegments
		if purpose == PurposeTransaction {
			limit = MaxTransactionSMSSegments
		}
		coding, segments, _ := gsm.Count(r.Text)
		if segments > limit {
			return invalidParam("text", "makes a message of %d %v SMS in the worst case (a 10-character code, a 64-character brand, the longest payee and amount, the longest expiry, the service's app hash and WebOTP line); at most %d are allowed",
				segments, coding, limit)
		}
	case otpd.ChannelWhatsApp:
		if runes > MaxWhatsAppText {
			return invalidParam("text", "makes a WhatsApp text of %d characters in the worst case; at most %d are allowed", runes, MaxWhatsAppText)
		}
	case otpd.ChannelRCS:
		if runes > MaxRCSText {
			return invalidParam("text", "makes an RCS text of %d characters in the worst case; at most %d are allowed", runes, MaxRCSText)
		}
	case otpd.ChannelPush:
		b, _ := json.Marshal(r.Text)
		if len(b) > MaxPushText {
			return invalidParam("text", "makes a push text of %d bytes of JSON in the worst case; at most %d are allowed", len(b), MaxPushText)
		}
	case otpd.ChannelEmail:
		if n := utf8.RuneCountInString(r.Subject); n > MaxEmailSubject {
			return invalidParam("subject", "makes a subject of %d characters in the worst case; at most %d are allowed", n, MaxEmailSubject)
		}
		if runes > MaxEmailText {
			return invalidParam("text", "makes an e-mail body of %d characters in the worst case; at most %d are allowed", runes, MaxEmailText)
		}
	}
	return nil
}

// serviceTemplate returns the service template req carries for the channel,
// purpose and locale, if any.
func serviceTemplate(req otpd.RenderRequest, purpose, locale string) (Template, bool) {
	for _, t := range req.Templates {
		if t.Channel == req.Channel && t.Purpose == purpose && t.Locale == locale {
			return Template{Subject: t.Subject, Text: t.Text}, true
		}
	}
	return Template{}, false
}

func invalidParam(param, format string, args ...any) error {
	return &otpd.Error{Kind: otpd.ErrInvalid, Param: param, Detail: fmt.Sprintf(format, args...)}
}
