package email_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/email"
)

const (
	testUser = "otpd@acme.example"
	testPass = "correct horse battery staple"
	testCode = "491038"
)

// testBundle is a test server and a Sender to it.
type testBundle struct {
	srv    *server
	sender *email.Sender
	cfg    email.Config
}

func setup(t *testing.T, opts serverOpts, edit ...func(*email.Config)) *testBundle {
	t.Helper()
	srv := startServer(t, opts)
	cfg := srv.config()
	for _, e := range edit {
		e(&cfg)
	}
	sender, err := email.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sender.Close() })
	return &testBundle{srv: srv, sender: sender, cfg: cfg}
}

var withAuth = map[string]string{testUser: testPass}

// texts are e-mails as package message renders them (kept here so these
// tests do not move with its wording): subject, then text paragraphs; the
// one that is just the code is shown large in the HTML, the last muted.
var texts = map[string]struct {
	subject string
	paras   []string
}{
	"en": {"Your {brand} verification code", []string{
		"Your {brand} verification code is:", "{code}",
		"It expires in 10 minutes. Don't share it with anyone.",
		"Didn't request this? You can ignore this e-mail.",
	}},
	"de": {"Ihr Bestätigungscode für {brand}", []string{
		"Ihr Bestätigungscode für {brand} lautet:", "{code}",
		"Er ist 10 Minuten gültig. Geben Sie ihn an niemanden weiter – auch nicht an Mitarbeitende von {brand}, die Sie danach fragen.",
		"Sie haben diesen Code nicht angefordert? Dann können Sie diese E-Mail ignorieren.",
	}},
	"fr": {"Votre code de vérification {brand}", []string{
		"Votre code de vérification {brand} est\u00a0:", "{code}",
		"Il expire dans 10 minutes. Ne le communiquez à personne.",
		"Vous n'êtes pas à l'origine de cette demande\u00a0? Vous pouvez ignorer cet e-mail.",
	}},
}

var htmlLayout = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="margin:0;padding:0;background-color:#f4f4f5;">
<div style="max-width:480px;margin:0 auto;padding:32px 24px;background-color:#ffffff;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#18181b;">
<p style="margin:0 0 24px;font-size:20px;font-weight:600;">{{.Brand}}</p>
{{- range $i, $p := .Paras}}
{{if eq $p $.Code}}<p style="margin:24px 0;font-family:Menlo,Consolas,'Courier New',monospace;font-size:32px;font-weight:700;letter-spacing:6px;">{{$p}}</p>
{{- else}}<p style="margin:0 0 16px;">{{$p}}</p>{{end}}
{{- end}}
</div>
</body>
</html>
`))

// rendered returns the e-mail for locale as package message would render it.
func rendered(t *testing.T, locale, brand string) otpd.Rendered {
	t.Helper()
	tx, ok := texts[locale]
	require.True(t, ok, locale)
	expand := strings.NewReplacer("{brand}", brand, "{code}", testCode).Replace
	paras := make([]string, len(tx.paras))
	for i, p := range tx.paras {
		paras[i] = expand(p)
	}
	var html strings.Builder
	require.NoError(t, htmlLayout.Execute(&html, map[string]any{
		"Lang": locale, "Subject": expand(tx.subject), "Brand": brand, "Code": testCode, "Paras": paras,
	}))
	return otpd.Rendered{Subject: expand(tx.subject), Text: strings.Join(paras, "\n\n"), HTML: html.String(), Locale: locale}
}

// outbound is a message as the delivery queue hands it to a channel.
func outbound(t *testing.T, to, locale, brand string) *otpd.Outbound {
	t.Helper()
	now := time.Now()
	return &otpd.Outbound{
		MessageID:      otpd.NewID(otpd.PrefixMessage, now),
		VerificationID: otpd.NewID(otpd.PrefixVerification, now),
		ServiceID:      otpd.NewID(otpd.PrefixService, now),
		Channel:        otpd.ChannelEmail,
		To:             to,
		Brand:          brand,
		Locale:         locale,
		ExpiresAt:      now.Add(10 * time.Minute),
		Code:           testCode,
		Rendered:       rendered(t, locale, brand),
	}
}

// parsed is a received message taken apart as a mail client would.
type parsed struct {
	Header       mail.Header
	TextType     string
	Text         string
	HTMLType     string
	HTML         string
	PartsInOrder []string
}

func parseMIME(t *testing.T, data []byte) parsed {
	t.Helper()
	require.NotContains(t, strings.ReplaceAll(string(data), "\r\n", ""), "\n", "bare LF in the message")
	m, err := mail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	p := parsed{Header: m.Header}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mt)
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // undoes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(part)
		require.NoError(t, err)
		ct := part.Header.Get("Content-Type")
		pt, _, err := mime.ParseMediaType(ct)
		require.NoError(t, err)
		p.PartsInOrder = append(p.PartsInOrder, pt)
		text := strings.ReplaceAll(string(body), "\r\n", "\n")
		switch pt {
		case "text/plain":
			p.TextType, p.Text = ct, text
		case "text/html":
			p.HTMLType, p.HTML = ct, text
		default:
			t.Fatalf("unexpected part %q", ct)
		}
	}
	return p
}

var messageIDForm = regexp.MustCompile(`^<msg_[0-9a-z]{26}@acme\.example>$`)

// TestSendMIME delivers a real rendered message over each TLS mode and
// login mechanism and reads it back as a mail client would.
func TestSendMIME(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   serverOpts
		auth   string
		locale string
		brand  string
		// what the rendered text must say, in the locale
		expiry, didntAsk string
	}{
		{"starttls plain", serverOpts{TLS: email.TLSStartTLS, Users: withAuth}, email.AuthPlain, "de", "Acme Bank", "10 Minuten", "nicht angefordert"},
		{"implicit login", serverOpts{TLS: email.TLSImplicit, Users: withAuth}, email.AuthLogin, "en", `Café "Zürich", Ltd.`, "10 minutes", "Didn't request this?"},
		{"none loopback auto", serverOpts{TLS: email.TLSNone, Users: withAuth}, "", "fr", "Acme", "10 minutes", "Vous n"},
		{"none loopback no login", serverOpts{TLS: email.TLSNone}, "", "en", "Acme", "10 minutes", "Didn't request this?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.opts, func(c *email.Config) { c.Auth = tt.auth })
			out := outbound(t, "ana@example.com", tt.locale, tt.brand)
			before := time.Now()
			res, err := b.sender.Send(context.Background(), out)
			require.NoError(t, err)
			require.False(t, res.Delivered, "SMTP has no delivery receipt")

			msgs := b.srv.Messages()
			require.Len(t, msgs, 1)
			got := msgs[0]
			require.Equal(t, "otp@acme.example", got.From, "envelope sender")
			require.Equal(t, []string{"ana@example.com"}, got.To, "envelope recipient")
			require.Equal(t, tt.opts.TLS != email.TLSNone, got.TLS)
			if tt.opts.Users != nil {
				require.Equal(t, testUser, got.User)
				if tt.auth != "" {
					require.Equal(t, strings.ToUpper(tt.auth), got.Mech)
				}
			}

			p := parseMIME(t, got.Data)
			h := p.Header
			from, err := h.AddressList("From")
			require.NoError(t, err)
			require.Equal(t, []*mail.Address{{Name: tt.brand, Address: "otp@acme.example"}}, from, "From is the brand with the configured address")
			to, err := h.AddressList("To")
			require.NoError(t, err)
			require.Equal(t, []*mail.Address{{Address: "ana@example.com"}}, to)

			subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
			require.NoError(t, err)
			require.Equal(t, out.Subject, subject)
			require.Contains(t, subject, tt.brand)
			if tt.locale == "de" {
				require.True(t, strings.HasPrefix(h.Get("Subject"), "=?UTF-8?"), "non-ASCII subject is RFC 2047 encoded: %q", h.Get("Subject"))
			}

			require.Regexp(t, messageIDForm, h.Get("Message-Id"))
			require.Equal(t, "<"+out.MessageID+"@acme.example>", h.Get("Message-Id"))
			require.Equal(t, h.Get("Message-Id"), res.ProviderID)
			require.Equal(t, out.MessageID, h.Get("X-Otpd-Message-Id"))
			date, err := h.Date()
			require.NoError(t, err, "Date %q", h.Get("Date"))
			require.WithinRange(t, date, before.Add(-time.Second).Truncate(time.Second), time.Now().Add(time.Second))
			require.Equal(t, "1.0", h.Get("Mime-Version"))
			require.Equal(t, tt.locale, h.Get("Content-Language"))
			require.Equal(t, "auto-generated", h.Get("Auto-Submitted"))
			require.Empty(t, h.Get("User-Agent")+h.Get("X-Mailer"), "no library advertisement")

			require.Equal(t, []string{"text/plain", "text/html"}, p.PartsInOrder, "plain text first, HTML preferred")
			for _, ct := range []string{p.TextType, p.HTMLType} {
				_, params, err := mime.ParseMediaType(ct)
				require.NoError(t, err)
				require.True(t, strings.EqualFold(params["charset"], "utf-8"), ct)
			}
			require.Equal(t, out.Text, strings.TrimSuffix(p.Text, "\n"))
			require.Equal(t, out.HTML, p.HTML)
			for _, part := range []string{p.Text, p.HTML} {
				require.Contains(t, part, testCode)
				require.Contains(t, part, tt.expiry)
			}
			require.Contains(t, p.Text, tt.brand)
			require.Contains(t, p.Text, tt.didntAsk)
			require.Regexp(t, `font-size:32px[^>]*>`+testCode+`</p>`, p.HTML, "the code is large in the HTML")
		})
	}
}

// TestResendKeepsMessageID: a message sent again (after a crash, or a
// reply lost with the connection) is the same message to mail clients.
func TestResendKeepsMessageID(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{})
	out := outbound(t, "ana@example.com", "en", "Acme")
	r1, err := b.sender.Send(context.Background(), out)
	require.NoError(t, err)
	r2, err := b.sender.Send(context.Background(), out)
	require.NoError(t, err)
	require.Equal(t, r1.ProviderID, r2.ProviderID)
	other, err := b.sender.Send(context.Background(), outbound(t, "ana@example.com", "en", "Acme"))
	require.NoError(t, err)
	require.NotEqual(t, r1.ProviderID, other.ProviderID)
	msgs := b.srv.Messages()
	require.Len(t, msgs, 3)
	ids := make([]string, 3)
	for i, m := range msgs {
		ids[i] = parseMIME(t, m.Data).Header.Get("Message-Id")
	}
	require.Equal(t, []string{r1.ProviderID, r1.ProviderID, other.ProviderID}, ids)
}

// TestAuth logs in with each mechanism, and is refused with a wrong
// password or a mechanism the server lacks.
func TestAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		offer    []string // AUTH mechanisms the server offers
		auth     string   // Config.Auth
		password string
		wantMech string // "" when login must fail
		wantCode string // the refusal's reply code
	}{
		{"plain", []string{sasl.Plain, sasl.Login}, email.AuthPlain, testPass, sasl.Plain, ""},
		{"login", []string{sasl.Plain, sasl.Login}, email.AuthLogin, testPass, sasl.Login, ""},
		{"auto prefers plain", []string{sasl.Login, sasl.Plain}, "", testPass, sasl.Plain, ""},
		{"auto falls back to login", []string{sasl.Login}, "", testPass, sasl.Login, ""},
		{"wrong password", []string{sasl.Plain, sasl.Login}, email.AuthPlain, "wrong-password-123", "", "535"},
		{"wrong password login", []string{sasl.Login}, email.AuthLogin, "wrong-password-123", "", "535"},
		{"mechanism not offered", []string{sasl.Login}, email.AuthPlain, testPass, "", ""},
		{"no mechanism in common", []string{"XOAUTH2"}, "", testPass, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, serverOpts{Users: withAuth, Mechs: tt.offer}, func(c *email.Config) {
				c.Auth, c.Password = tt.auth, tt.password
			})
			ctx := context.Background()
			_, err := b.sender.Send(ctx, outbound(t, "ana@example.com", "en", "Acme"))
			if tt.wantMech != "" {
				require.NoError(t, err)
				require.Equal(t, tt.wantMech, b.srv.Messages()[0].Mech)
				require.NoError(t, b.sender.Ready(ctx))
				return
			}
			require.ErrorIs(t, err, email.ErrAuth)
			require.False(t, otpd.IsPermanent(err), "an operator's misconfiguration is temporary: %v", err)
			require.Contains(t, err.Error(), testUser, "names the user")
			require.Contains(t, err.Error(), "check Username, Password and Auth")
			require.NotContains(t, err.Error(), tt.password)
			if tt.wantCode != "" {
				var se *otpd.SendError
				require.ErrorAs(t, err, &se)
				require.Equal(t, tt.wantCode, se.Code)
			}
			require.Empty(t, b.srv.Messages())

			ready := b.sender.Ready(ctx)
			require.ErrorIs(t, ready, email.ErrAuth, "Ready reports the refused login")
			require.NotContains(t, ready.Error(), tt.password)
		})
	}
}

// TestTLSRefused: the client never talks to a server whose certificate it
// cannot verify, nor in plain text to one that lacks STARTTLS, and never
// sends the password there.
func TestTLSRefused(t *testing.T) {
	t.Parallel()
	other := otherCA()
	tests := []struct {
		name      string
		serverTLS string
		clientTLS string
		serverCA  *testCA
		wantCert  bool // a certificate verification error
		wantText  string
	}{
		{"starttls unknown CA", email.TLSStartTLS, email.TLSStartTLS, &other, true, "not trusted"},
		{"implicit unknown CA", email.TLSImplicit, email.TLSImplicit, &other, true, "not trusted"},
		{"no STARTTLS offered", email.TLSNone, email.TLSStartTLS, nil, false, "STARTTLS"},
		{"implicit to a plain server", email.TLSNone, email.TLSImplicit, nil, false, "connect to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, serverOpts{TLS: tt.serverTLS, Users: withAuth, CA: tt.serverCA}, func(c *email.Config) {
				c.TLS = tt.clientTLS
				c.Timeout = 2 * time.Second
			})
			_, err := b.sender.Send(context.Background(), outbound(t, "ana@example.com", "en", "Acme"))
			require.Error(t, err)
			require.False(t, otpd.IsPermanent(err))
			require.NotErrorIs(t, err, email.ErrAuth)
			require.Contains(t, err.Error(), tt.wantText)
			if tt.wantCert {
				var cve *tls.CertificateVerificationError
				require.ErrorAs(t, err, &cve)
			}
			require.Zero(t, b.srv.authTry.Load(), "no AUTH without verified TLS")
			require.Empty(t, b.srv.Messages())
			require.Error(t, b.sender.Ready(context.Background()))
		})
	}
}

// TestRefusals: 5xx replies about the recipient or the message are
// permanent, 4xx replies and refusals of the sender temporary; the
// connection stays usable after any of them.
func TestRefusals(t *testing.T) {
	t.Parallel()
	smtpErr := func(code int, enh smtp.EnhancedCode, msg string) error {
		return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
	}
	tests := []struct {
		name          string
		mail          func(n int, from string) error
		rcpt          func(n int, to string) error
		data          func(n int, c *smtp.Conn, r io.Reader) error
		wantPermanent bool
		wantCode      string
		wantText      string
		wantNotReady  bool
	}{
		{
			name: "550 user unknown on RCPT",
			rcpt: func(n int, to string) error {
				return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "<"+to+">: Recipient address rejected: user unknown")
			},
			wantPermanent: true, wantCode: "550", wantText: "RCPT TO: 550 5.1.1 <a***@example.com>: Recipient address rejected: user unknown",
		},
		{
			name:     "451 on RCPT",
			rcpt:     func(int, string) error { return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "try again later") },
			wantCode: "451", wantText: "451 4.3.0 try again later",
		},
		{
			name:     "452 on RCPT",
			rcpt:     func(int, string) error { return smtpErr(452, smtp.EnhancedCode{4, 2, 2}, "mailbox full") },
			wantCode: "452", wantText: "mailbox full",
		},
		{
			name: "554 after DATA",
			data: func(_ int, _ *smtp.Conn, r io.Reader) error {
				_, _ = io.Copy(io.Discard, r)
				return smtpErr(554, smtp.EnhancedCode{5, 7, 1}, "message rejected as spam")
			},
			wantPermanent: true, wantCode: "554", wantText: "end of DATA: 554 5.7.1 message rejected as spam",
		},
		{
			name: "451 after DATA",
			data: func(_ int, _ *smtp.Conn, r io.Reader) error {
				_, _ = io.Copy(io.Discard, r)
				return smtpErr(451, smtp.EnhancedCode{4, 7, 1}, "greylisted")
			},
			wantCode: "451", wantText: "greylisted",
		},
		{
			name:     "530 authentication required on RCPT",
			rcpt:     func(int, string) error { return errAuthRequired },
			wantCode: "530", wantText: "RCPT TO: 530 5.7.0 Authentication required", wantNotReady: true,
		},
		{
			name: "553 sender refused on MAIL FROM",
			mail: func(int, string) error {
				return smtpErr(553, smtp.EnhancedCode{5, 7, 1}, "sender address not owned by user")
			},
			wantCode: "553", wantText: "MAIL FROM: 553", wantNotReady: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, serverOpts{Users: withAuth})
			once := func(n int) bool { return n == 1 }
			b.srv.mu.Lock()
			if tt.mail != nil {
				b.srv.mail = func(n int, from string) error {
					if once(n) {
						return tt.mail(n, from)
					}
					return nil
				}
			}
			if tt.rcpt != nil {
				b.srv.rcpt = func(n int, to string) error {
					if once(n) {
						return tt.rcpt(n, to)
					}
					return nil
				}
			}
			if tt.data != nil {
				b.srv.data = func(n int, c *smtp.Conn, r io.Reader) error {
					if once(n) {
						return tt.data(n, c, r)
					}
					return nil
				}
			}
			b.srv.mu.Unlock()

			ctx := context.Background()
			_, err := b.sender.Send(ctx, outbound(t, "ana@example.com", "en", "Acme"))
			var se *otpd.SendError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.wantPermanent, se.Permanent, "%v", err)
			require.Equal(t, tt.wantCode, se.Code)
			require.Contains(t, err.Error(), tt.wantText)
			require.NotContains(t, err.Error(), "ana@example.com", "the address is masked")
			if tt.wantNotReady {
				require.Error(t, b.sender.Ready(ctx))
			} else {
				require.NoError(t, b.sender.Ready(ctx), "a refusal of one message says nothing about the server")
			}

			_, err = b.sender.Send(ctx, outbound(t, "ana@example.com", "en", "Acme"))
			require.NoError(t, err)
			require.Len(t, b.srv.Messages(), 1)
			require.EqualValues(t, 1, b.srv.accepted.Load(), "the connection outlives the refusal")
			require.NoError(t, b.sender.Ready(ctx))
		})
	}
}

// TestLoginMissing: a server that wants a login from a Config without
// one refuses every message, temporarily, and Ready says why.
func TestLoginMissing(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{Users: withAuth}, func(c *email.Config) { c.Username, c.Password = "", "" })
	ctx := context.Background()
	_, err := b.sender.Send(ctx, outbound(t, "ana@example.com", "en", "Acme"))
	var se *otpd.SendError
	require.ErrorAs(t, err, &se)
	require.False(t, se.Permanent)
	require.Equal(t, "530", se.Code)
	require.ErrorContains(t, b.sender.Ready(ctx), "Authentication required")
}

// TestDropMidData: the server breaks the connection while the message is
// coming in: the send fails temporarily, and the next one reconnects.
func TestDropMidData(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{Users: withAuth})
	b.srv.mu.Lock()
	b.srv.data = func(n int, c *smtp.Conn, r io.Reader) error {
		if n == 1 {
			_, _ = io.ReadFull(r, make([]byte, 64))
			_ = c.Conn().Close()
			return errors.New("dropped")
		}
		return nil
	}
	b.srv.mu.Unlock()
	ctx := context.Background()
	out := outbound(t, "ana@example.com", "en", "Acme")
	_, err := b.sender.Send(ctx, out)
	require.Error(t, err)
	require.False(t, otpd.IsPermanent(err))
	require.Contains(t, err.Error(), "may have accepted")
	require.Empty(t, b.srv.Messages())

	res, err := b.sender.Send(ctx, out)
	require.NoError(t, err)
	require.Equal(t, "<"+out.MessageID+"@acme.example>", res.ProviderID)
	require.Len(t, b.srv.Messages(), 1)
	require.EqualValues(t, 2, b.srv.accepted.Load(), "reconnected")
	require.NoError(t, b.sender.Ready(ctx))
}

// TestServerClosedIdleConnection: a connection the server closed while it
// sat idle is replaced without failing the send that finds it so.
func TestServerClosedIdleConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{Users: withAuth})
	ctx := context.Background()
	_, err := b.sender.Send(ctx, outbound(t, "ana@example.com", "en", "Acme"))
	require.NoError(t, err)
	b.srv.DropAll()
	eventually(t, func() bool { return b.srv.closed.Load() == 1 })
	_, err = b.sender.Send(ctx, outbound(t, "ana@example.com", "en", "Acme"))
	require.NoError(t, err)
	require.Len(t, b.srv.Messages(), 2)
	require.EqualValues(t, 2, b.srv.accepted.Load())
}

// TestIdleConnectionExpires: a connection unused for longer than the idle
// limit is closed rather than trusted.
func TestIdleConnectionExpires(t *testing.T) {
	t.Parallel()
	clock := newClock()
	b := setup(t, serverOpts{})
	email.SetNow(b.sender, clock.Now)
	ctx := context.Background()
	for range 2 {
		_, err := b.sender.Send(ctx, outbound(t, "ana@example.com", "en", "Acme"))
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, b.srv.accepted.Load())
	clock.Add(time.Minute)
	_, err := b.sender.Send(ctx, outbound(t, "ana@example.com", "en", "Acme"))
	require.NoError(t, err)
	require.EqualValues(t, 2, b.srv.accepted.Load())
	eventually(t, func() bool { return b.srv.closed.Load() == 1 })
}

// TestConnectionReuse: many messages, at once and one after another, over
// at most MaxConns connections.
func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		maxConns   int
		messages   int
		concurrent int
	}{
		{"sequential over one", 1, 10, 1},
		{"sequential default", 0, 10, 1},
		{"concurrent over two", 2, 40, 8},
		{"concurrent over four", 4, 40, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, serverOpts{Users: withAuth}, func(c *email.Config) { c.MaxConns = tt.maxConns })
			ctx := context.Background()
			work := make(chan int)
			errs := make(chan error, tt.messages)
			var wg sync.WaitGroup
			for range tt.concurrent {
				wg.Go(func() {
					for i := range work {
						_, err := b.sender.Send(ctx, outbound(t, fmt.Sprintf("user%d@example.com", i), "en", "Acme"))
						errs <- err
					}
				})
			}
			for i := range tt.messages {
				work <- i
			}
			close(work)
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			require.Len(t, b.srv.Messages(), tt.messages)
			limit := tt.maxConns
			if limit == 0 {
				limit = email.DefaultMaxConns
			}
			if tt.concurrent == 1 {
				limit = 1
			}
			require.LessOrEqual(t, b.srv.accepted.Load(), int64(limit), "connections")
			require.Zero(t, b.srv.closed.Load(), "none closed while in use")
			seen := map[string]bool{}
			for _, m := range b.srv.Messages() {
				require.Len(t, m.To, 1)
				require.False(t, seen[m.To[0]], "one message per recipient, no mix-up")
				seen[m.To[0]] = true
			}
		})
	}
}

// TestContextCancel: a Send's context cuts it short at any step, here
// while the server sits on the message.
func TestContextCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{Users: withAuth})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the server closes
	b.srv.mu.Lock()
	b.srv.data = func(n int, _ *smtp.Conn, r io.Reader) error {
		if n == 1 {
			<-release
		}
		return nil
	}
	b.srv.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.sender.Send(ctx, outbound(t, "ana@example.com", "en", "Acme"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, otpd.IsPermanent(err))
	require.Less(t, time.Since(start), b.cfg.Timeout, "the context, not Timeout, ended it")
	require.NoError(t, b.sender.Ready(context.Background()), "a caller's deadline says nothing about the server")

	// The cut connection is not reused.
	_, err = b.sender.Send(context.Background(), outbound(t, "ana@example.com", "en", "Acme"))
	require.NoError(t, err)
	require.EqualValues(t, 2, b.srv.accepted.Load())

	// A Send waiting for a busy connection gives up with its context.
	one := setup(t, serverOpts{}, func(c *email.Config) { c.MaxConns = 1 })
	hold := make(chan struct{})
	holding := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	one.srv.mu.Lock()
	one.srv.data = func(n int, _ *smtp.Conn, r io.Reader) error {
		if n == 1 {
			close(holding)
			<-hold
		}
		return nil
	}
	one.srv.mu.Unlock()
	go func() { _, _ = one.sender.Send(context.Background(), outbound(t, "ana@example.com", "en", "Acme")) }()
	<-holding
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err = one.sender.Send(ctx2, outbound(t, "ana@example.com", "en", "Acme"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "waiting for a free connection")
}

// TestReady: cheap, reports a failed connection for a minute, and never
// connects itself.
func TestReady(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close()) // nothing listens there now

	clock := newClock()
	s, err := email.New(email.Config{Host: "127.0.0.1", Port: port, TLS: email.TLSNone, From: "otp@acme.example", Username: "u", Password: "hunter2-secret"})
	require.NoError(t, err)
	email.SetNow(s, clock.Now)
	ctx := context.Background()
	require.NoError(t, s.Ready(ctx), "nothing tried yet")

	_, err = s.Send(ctx, outbound(t, "ana@example.com", "en", "Acme"))
	require.Error(t, err)
	require.False(t, otpd.IsPermanent(err))
	require.Contains(t, err.Error(), fmt.Sprintf("connect to 127.0.0.1:%d", port))
	require.NotContains(t, err.Error(), "hunter2-secret")

	ready := s.Ready(ctx)
	require.Error(t, ready)
	require.Contains(t, ready.Error(), "connect to")
	clock.Add(59 * time.Second)
	require.Error(t, s.Ready(ctx))
	clock.Add(2 * time.Second)
	require.NoError(t, s.Ready(ctx), "a failure more than a minute old is not reported")

	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Ready(ctx), email.ErrClosed)
	_, err = s.Send(ctx, outbound(t, "ana@example.com", "en", "Acme"))
	require.ErrorIs(t, err, email.ErrClosed)
}

// TestClose says goodbye on idle connections.
func TestClose(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{Users: withAuth}, func(c *email.Config) { c.MaxConns = 3 })
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			_, err := b.sender.Send(ctx, outbound(t, "ana@example.com", "en", "Acme"))
			require.NoError(t, err)
		})
	}
	wg.Wait()
	n := b.srv.accepted.Load()
	require.NoError(t, b.sender.Close())
	eventually(t, func() bool { return b.srv.closed.Load() == n })
	require.NoError(t, b.sender.Close(), "twice is fine")
	_, err := b.sender.Send(ctx, outbound(t, "ana@example.com", "en", "Acme"))
	require.ErrorIs(t, err, email.ErrClosed)
}

// TestSendRefusesBadInput: what no server could take is permanent, and
// never reaches the network.
func TestSendRefusesBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{})
	for _, to := range []string{"", "not an address", "Ana <ana@example.com>", "ana@example.com\r\nBcc: x@y.z"} {
		out := outbound(t, "ana@example.com", "en", "Acme")
		out.To = to
		_, err := b.sender.Send(context.Background(), out)
		require.True(t, otpd.IsPermanent(err), "%q: %v", to, err)
	}
	empty := outbound(t, "ana@example.com", "en", "Acme")
	empty.Text, empty.HTML = "", ""
	_, err := b.sender.Send(context.Background(), empty)
	require.True(t, otpd.IsPermanent(err))
	require.Zero(t, b.srv.accepted.Load())
}

// TestHeaderInjection: a brand or subject with line breaks stays inside
// its header.
func TestHeaderInjection(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{})
	out := outbound(t, "ana@example.com", "en", "Acme\r\nBcc: evil@example.net")
	out.Subject = "Code\r\nBcc: evil@example.net"
	out.MessageID = "msg_x>\r\nBcc: evil@example.net"
	res, err := b.sender.Send(context.Background(), out)
	require.NoError(t, err)
	msgs := b.srv.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, []string{"ana@example.com"}, msgs[0].To)
	h := parseMIME(t, msgs[0].Data).Header
	require.Empty(t, h.Get("Bcc"))
	require.Regexp(t, `^<otpd\.[0-9a-f]{32}@acme\.example>$`, h.Get("Message-Id"), "an id unfit for a Message-ID is hashed")
	require.Equal(t, h.Get("Message-Id"), res.ProviderID)
}

// eventually polls cond until it holds, for up to five seconds.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
