package message

import (
	"errors"
	"fmt"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/otpd/otpd"
)

// ErrInvalidTemplate is the kind of error [Validate] and [ValidateTemplate]
// return; errors.Is(err, ErrInvalidTemplate) tells a caller the template, not
// the server, is at fault.
var ErrInvalidTemplate = errors.New("invalid template")

// Kind groups the channels that share wording.
type Kind string

// Kinds of channel.
const (
	// KindText is one short text: SMS, WhatsApp, RCS, push.
	KindText Kind = "text"
	// KindEmail is a subject and a body, sent as plain text and HTML.
	KindEmail Kind = "email"
)

// KindOf reports which kind of template a channel uses. It is false for
// [otpd.ChannelAuto] and unknown channels.
func KindOf(ch otpd.ChannelName) (Kind, bool) {
	switch ch {
	case otpd.ChannelSMS, otpd.ChannelWhatsApp, otpd.ChannelRCS, otpd.ChannelPush:
		return KindText, true
	case otpd.ChannelEmail:
		return KindEmail, true
	}
	return "", false
}

// Purposes with their own wording. Any other purpose, and "", uses
// PurposeLogin's; a request with a transaction uses PurposeTransaction's.
const (
	PurposeLogin         = "login"
	PurposeTransaction   = "transaction"
	PurposePasswordReset = "password_reset"
	PurposeDelivery      = "delivery"
)

// Purposes lists the purposes that have their own wording.
func Purposes() []string {
	return []string{PurposeLogin, PurposeTransaction, PurposePasswordReset, PurposeDelivery}
}

// Key identifies a template.
type Key struct {
	Kind    Kind
	Purpose string // one of Purposes; "" means PurposeLogin
	Locale  string // a locale of the catalog as Catalog.Locales names it: "en", "pt-BR", "zh-Hant"
}

// Template is the wording of one message. Text and Subject may use the
// placeholders {brand}, {code}, {expiry}, {amount} and {payee}; everything
// else is literal text.
type Template struct {
	// Subject is the e-mail subject: one line, without {code} (subjects
	// outlive the code in mailbox lists, notifications and server logs).
	// Empty for KindText.
	Subject string
	// Text is the whole message for KindText. For KindEmail it is the body:
	// paragraphs separated by a blank line; a paragraph that is just "{code}"
	// is shown large in the HTML part.
	Text string
}

// Placeholder names.
const (
	phBrand  = "brand"
	phCode   = "code"
	phExpiry = "expiry"
	phAmount = "amount"
	phPayee  = "payee"
)

var knownPlaceholders = map[string]bool{
	phBrand: true, phCode: true, phExpiry: true, phAmount: true, phPayee: true,
}

// segment is a run of literal text (name == "") or one known placeholder.
type segment struct {
	text string
	name string
}

// parse splits text into literal runs and known placeholders. Anything in
// braces that is not a known placeholder stays literal, so rendering never
// fails on it; problem describes the first such brace for validation.
func parse(text string) (segs []segment, problem string) {
	note := func(p string) {
		if problem == "" {
			problem = p
		}
	}
	for text != "" {
		i := strings.IndexAny(text, "{}")
		if i < 0 {
			segs = append(segs, segment{text: text})
			break
		}
		if text[i] == '}' {
			note("unmatched }")
			segs = append(segs, segment{text: text[:i+1]})
			text = text[i+1:]
			continue
		}
		if j := strings.IndexAny(text[i+1:], "{}"); j >= 0 && text[i+1+j] == '}' {
			name := text[i+1 : i+1+j]
			if knownPlaceholders[name] {
				if i > 0 {
					segs = append(segs, segment{text: text[:i]})
				}
				segs = append(segs, segment{name: name})
				text = text[i+2+j:]
				continue
			}
			note(fmt.Sprintf("unknown placeholder {%s}", name))
			segs = append(segs, segment{text: text[:i+2+j]})
			text = text[i+2+j:]
			continue
		}
		note("unmatched {")
		segs = append(segs, segment{text: text[:i+1]})
		text = text[i+1:]
	}
	return segs, problem
}

// values are what placeholders stand for, already cleaned.
type values map[string]string

// expand replaces the known placeholders in text with their values. Values
// are written out and never scanned again.
func expand(text string, v values) string {
	segs, _ := parse(text)
	var b strings.Builder
	for _, s := range segs {
		if s.name == "" {
			b.WriteString(s.text)
		} else {
			b.WriteString(v[s.name])
		}
	}
	return b.String()
}

// expandHTML is expand for HTML: literal text and values are escaped, line
// breaks become <br>, and an inline {code} is set in bold monospace. The
// caller's values (brand, payee) and the amount are each isolated in a
// <bdi>, so a Latin name in an Arabic sentence, or a Hebrew one in an
// English sentence, cannot pull the words or numbers around it out of
// order. Plain text has no such markup; see the package documentation.
func expandHTML(text string, v values) string {
	segs, _ := parse(text)
	var b strings.Builder
	for _, s := range segs {
		switch s.name {
		case "":
			b.WriteString(strings.ReplaceAll(html.EscapeString(s.text), "\n", "<br>\n"))
		case phCode:
			b.WriteString(`<strong style="font-family:Menlo,Consolas,'Courier New',monospace;letter-spacing:2px;">`)
			b.WriteString(html.EscapeString(v[s.name]))
			b.WriteString(`</strong>`)
		case phBrand, phPayee, phAmount:
			b.WriteString("<bdi>")
			b.WriteString(html.EscapeString(v[s.name]))
			b.WriteString("</bdi>")
		default:
			b.WriteString(html.EscapeString(v[s.name]))
		}
	}
	return b.String()
}

// placeholders counts the known placeholders in text.
func placeholders(text string) map[string]int {
	segs, _ := parse(text)
	n := map[string]int{}
	for _, s := range segs {
		if s.name != "" {
			n[s.name]++
		}
	}
	return n
}

func invalidTemplate(format string, args ...any) error {
	return fmt.Errorf("message: %w: %s", ErrInvalidTemplate, fmt.Sprintf(format, args...))
}

// Validate checks a message text for channel: valid UTF-8, not blank, no
// control characters other than line breaks, every brace part of a known
// placeholder, and {code} exactly once (twice would confuse the autofill of
// phones and browsers, which take the first code-like token).
func Validate(channel otpd.ChannelName, text string) error {
	kind, ok := KindOf(channel)
	if !ok {
		return invalidTemplate("no templates for channel %q", channel)
	}
	return validateBody(kind, text)
}

func validateBody(kind Kind, text string) error {
	if err := validateChars(text, true); err != nil {
		return err
	}
	if strings.TrimSpace(text) == "" {
		return invalidTemplate("text is empty")
	}
	if _, problem := parse(text); problem != "" {
		return invalidTemplate("%s", problem)
	}
	if n := placeholders(text)[phCode]; n != 1 {
		return invalidTemplate("text must contain {code} exactly once, has it %d times", n)
	}
	return nil
}

// validateChars rejects what no template needs and some could abuse:
// invalid UTF-8, control characters and bidirectional controls.
func validateChars(text string, newlines bool) error {
	if !utf8.ValidString(text) {
		return invalidTemplate("text is not valid UTF-8")
	}
	for _, r := range text {
		if r == '\n' && newlines {
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' {
			return invalidTemplate("text contains the control character %U", r)
		}
	}
	return nil
}

// ValidateTemplate checks a whole template for k: its Text as [Validate]
// does; a transaction template must show {amount} and {payee}, other
// purposes must not use them (they would be empty); an e-mail needs a
// one-line Subject without {code}, a text template has no Subject.
func ValidateTemplate(k Key, t Template) error {
	_, err := validateTemplate(k, t)
	return err
}

// validateTemplate is ValidateTemplate that also names the part at fault:
// "text", "subject", "purpose" or "kind".
func validateTemplate(k Key, t Template) (param string, err error) {
	if k.Kind != KindText && k.Kind != KindEmail {
		return "kind", invalidTemplate("unknown kind %q", k.Kind)
	}
	purpose := k.Purpose
	if purpose == "" {
		purpose = PurposeLogin
	}
	known := false
	for _, p := range Purposes() {
		known = known || p == purpose
	}
	if !known {
		return "purpose", invalidTemplate("unknown purpose %q", k.Purpose)
	}
	if err := validateBody(k.Kind, t.Text); err != nil {
		return "text", err
	}
	inText := placeholders(t.Text)
	switch k.Kind {
	case KindText:
		if t.Subject != "" {
			return "subject", invalidTemplate("a text template has no subject")
		}
	case KindEmail:
		if err := validateChars(t.Subject, false); err != nil {
			return "subject", fmt.Errorf("%w (in the subject)", err)
		}
		if strings.TrimSpace(t.Subject) == "" {
			return "subject", invalidTemplate("subject is empty")
		}
		if _, problem := parse(t.Subject); problem != "" {
			return "subject", invalidTemplate("subject: %s", problem)
		}
		inSubject := placeholders(t.Subject)
		if inSubject[phCode] > 0 {
			return "subject", invalidTemplate("subject must not contain {code}")
		}
		if purpose != PurposeTransaction && (inSubject[phAmount] > 0 || inSubject[phPayee] > 0) {
			return "subject", invalidTemplate("only a transaction template may use {amount} and {payee}")
		}
	}
	if purpose == PurposeTransaction {
		if inText[phAmount] == 0 || inText[phPayee] == 0 {
			return "text", invalidTemplate("a transaction template's text must show {amount} and {payee}")
		}
	} else if inText[phAmount] > 0 || inText[phPayee] > 0 {
		return "text", invalidTemplate("only a transaction template may use {amount} and {payee}")
	}
	return "", nil
}
