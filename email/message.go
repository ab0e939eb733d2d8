package email

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	netmail "net/mail"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/otpd/otpd"
)

// headerOtpdMessageID carries otpd's message id, for support staff reading
// a received message's headers and for matching bounces.
const headerOtpdMessageID mail.Header = "X-Otpd-Message-Id"

// envelope is a message's SMTP envelope, in the form MAIL and RCPT take.
type envelope struct{ from, to string }

// message builds the MIME message for out: multipart/alternative with the
// plain text first and the HTML second (clients show the last part they
// can), UTF-8, quoted-printable, headers encoded as RFC 2047 needs.
func (s *Sender) message(out *otpd.Outbound, now time.Time) (*mail.Msg, envelope, string, error) {
	to, err := netmail.ParseAddress(out.To)
	if err != nil || to.Name != "" || to.Address != out.To {
		return nil, envelope{}, "", errors.New("email: destination is not a bare e-mail address")
	}
	if out.Text == "" && out.HTML == "" {
		return nil, envelope{}, "", errors.New("email: the message has no text")
	}
	m := mail.NewMsg(mail.WithNoDefaultUserAgent())
	// net/mail quotes or encodes the brand as a display name needs, so
	// a brand with quotes, commas or non-ASCII letters stays one name.
	m.FromMailAddress(&netmail.Address{Name: strings.TrimSpace(out.Brand), Address: s.cfg.From})
	m.ToMailAddress(&netmail.Address{Address: out.To})
	m.Subject(out.Subject)
	id := s.messageID(out.MessageID)
	m.SetGenHeader(mail.HeaderMessageID, id) // ASCII only, so never encoded
	m.SetDateWithValue(now)
	if out.MessageID != "" {
		m.SetGenHeader(headerOtpdMessageID, strings.ToValidUTF8(out.MessageID, "?"))
	}
	if lang := out.Rendered.Locale; lang != "" && isToken(lang) {
		m.SetGenHeader(mail.HeaderContentLang, lang)
	}
	// Automatic mail (RFC 3834): vacation responders and Exchange's
	// out-of-office do not answer it, and nobody reads the answers.
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(mail.HeaderXAutoResponseSuppress, "All")
	switch {
	case out.HTML == "":
		m.SetBodyString(mail.TypeTextPlain, out.Text)
	case out.Text == "":
		m.SetBodyString(mail.TypeTextHTML, out.HTML)
	default:
		m.SetBodyString(mail.TypeTextPlain, out.Text)
		m.AddAlternativeString(mail.TypeTextHTML, out.HTML)
	}
	env := envelope{
		from: (&netmail.Address{Address: s.cfg.From}).String(),
		to:   to.String(),
	}
	return m, env, id, nil
}

// messageID returns the Message-ID for otpd message id mid: the same for
// every attempt to send it, so a copy sent again after a crash or a lost
// reply is the same message to mail clients and filters, and unique
// because message ids are. An id that is not made of the characters a
// Message-ID allows is replaced by a hash of it; an empty one by random
// bits.
func (s *Sender) messageID(mid string) string {
	left := mid
	if left == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		left = "otpd." + hex.EncodeToString(b[:])
	} else if !isDotAtom(left) || len(left) > 64 {
		sum := sha256.Sum256([]byte(mid))
		left = "otpd." + hex.EncodeToString(sum[:16])
	}
	return "<" + left + "@" + s.idDomain + ">"
}

// idDomain returns the right side of Message-IDs: From's domain, or
// otpd.invalid when that is not plain ASCII (RFC 5322 has no room for
// other letters there).
func idDomain(from string) string {
	d := strings.ToLower(from[strings.LastIndexByte(from, '@')+1:])
	if !isDotAtom(d) {
		return "otpd.invalid"
	}
	return d
}

// isDotAtom reports whether s is RFC 5322 dot-atom-text.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0) {
			return false
		}
	}
	return true
}

// isToken reports whether s is a language tag's characters.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return len(s) <= 35
}
