package email_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/otpd/otpd/email"
)

// FuzzParseURL: ParseURL never panics, never shows the password in an
// error, accepts only configs New accepts, and String writes an accepted
// config back as a URL that reads the same, password aside.
func FuzzParseURL(f *testing.F) {
	f.Add("smtp://user:pass@smtp.example.com:587?tls=starttls&from=otp@acme.com&auth=plain")
	f.Add("smtps://apikey:SG.x@smtp.sendgrid.net?from=a@b.example&auth=login&timeout=5s&max_conns=3")
	f.Add("smtp://127.0.0.1:1025?tls=none&from=otp@localhost&helo=%5B127.0.0.1%5D")
	f.Add("smtp://u:p%00w@[::1]?tls=none&from=a@b.c")
	f.Add("smtp://u:secret@h?from=a@b.example&from=c@d.example")
	f.Add("smtps://:p@h:0/x#y")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := email.ParseURL(s)
		if err != nil {
			if u, perr := url.Parse(s); perr == nil && u.User != nil {
				p, ok := u.User.Password()
				if ok && len(p) >= 4 && strings.Contains(err.Error(), p) {
					// The error may show p because p is also a word of
					// the message or of another part of the URL: then
					// it shows it with another password as well.
					_, oerr := email.ParseURL(withPassword(s, "Qx9Qx9Qx9"))
					if oerr == nil || !strings.Contains(oerr.Error(), p) {
						t.Fatalf("error shows the password: %v", err)
					}
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseURL accepted what Validate refuses: %v", err)
		}
		if _, err := email.New(c); err != nil {
			t.Fatalf("ParseURL accepted what New refuses: %v", err)
		}
		w := c.String()
		if c.Password != "" && len(c.Password) >= 4 && strings.Contains(w, c.Password) && !strings.Contains(c.Host+c.Username+c.From+c.HeloName+"xxxxx", c.Password) {
			t.Fatalf("String shows the password: %s", w)
		}
		again, err := email.ParseURL(w)
		if err != nil {
			t.Fatalf("String wrote %q, which ParseURL refuses: %v", w, err)
		}
		if c.Password != "" {
			again.Password = c.Password
		}
		if again != c {
			t.Fatalf("round trip through %q: %#v != %#v", w, again, c)
		}
	})
}

// withPassword replaces the password in URL s, as written.
func withPassword(s, pass string) string {
	i := strings.Index(s, "//")
	if i < 0 {
		return s
	}
	rest := s[i+2:]
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return s
	}
	colon := strings.IndexByte(rest[:at], ':')
	if colon < 0 {
		return s
	}
	start := i + 2 + colon + 1
	return s[:start] + pass + s[i+2+at:]
}
