package email_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/email"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want email.Config
	}{
		{
			"smtp://otp%40acme.example:p%40ss%3Aw0rd@smtp.example.com:587?tls=starttls&from=otp@acme.example&auth=plain",
			email.Config{Host: "smtp.example.com", Port: 587, Username: "otp@acme.example", Password: "p@ss:w0rd", TLS: email.TLSStartTLS, Auth: email.AuthPlain, From: "otp@acme.example"},
		},
		{
			"smtps://apikey:SG.secret@smtp.sendgrid.net?from=no-reply@acme.example&auth=login&helo=otp.acme.example&timeout=10s&max_conns=8",
			email.Config{Host: "smtp.sendgrid.net", Username: "apikey", Password: "SG.secret", TLS: email.TLSImplicit, Auth: email.AuthLogin, From: "no-reply@acme.example", HeloName: "otp.acme.example", Timeout: 10 * time.Second, MaxConns: 8},
		},
		{
			"smtps://u:p@mail.example.org:2465/?from=a@b.example&tls=implicit",
			email.Config{Host: "mail.example.org", Port: 2465, Username: "u", Password: "p", TLS: email.TLSImplicit, From: "a@b.example"},
		},
		{
			"smtp://127.0.0.1:1025?tls=none&from=otp@acme.example",
			email.Config{Host: "127.0.0.1", Port: 1025, TLS: email.TLSNone, From: "otp@acme.example"},
		},
		{
			"smtp://[::1]:25?tls=none&from=otp@localhost",
			email.Config{Host: "::1", Port: 25, TLS: email.TLSNone, From: "otp@localhost"},
		},
		{
			"smtp://relay.internal?from=otp@acme.example",
			email.Config{Host: "relay.internal", From: "otp@acme.example"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			got, err := email.ParseURL(tt.url)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.NoError(t, got.Validate())
			_, err = email.New(got)
			require.NoError(t, err)
			// String is a URL that reads back the same, password aside.
			s := got.String()
			if got.Password != "" {
				require.NotContains(t, s, ":"+url.UserPassword("", got.Password).String()[1:]+"@")
				require.Contains(t, s, ":xxxxx@")
			}
			again, err := email.ParseURL(s)
			require.NoError(t, err, s)
			if got.Password != "" {
				again.Password = got.Password
			}
			require.Equal(t, got, again)
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	t.Parallel()
	const secret = "Sup3rSecretPassw0rd"
	tests := []struct {
		url, want string
	}{
		{"http://u:" + secret + "@smtp.example.com?from=a@b.example", "scheme must be smtp or smtps"},
		{"smtp://u:" + secret + "@smtp.example.com:99999?from=a@b.example", "not a port number"},
		{"smtp://u:" + secret + "@smtp.example.com:0?from=a@b.example", "not a port number"},
		{"smtp://u:" + secret + "@smtp.example.com:?from=a@b.example", "empty port"},
		{"smtp://u:" + secret + "@smtp.example.com", "From is required"},
		{"smtp://u:" + secret + "@smtp.example.com?from=Acme%20%3Cotp@acme.example%3E", "not a bare e-mail address"},
		{"smtp://u:" + secret + "@smtp.example.com?from=otp", "not a bare e-mail address"},
		{"smtp://u:" + secret + "@smtp.example.com?from=a@b.example&tls=none", "only for a server on this machine"},
		{"smtp://u:" + secret + "@10.0.0.1?from=a@b.example&tls=none", "only for a server on this machine"},
		{"smtp://u:" + secret + "@smtp.example.com?from=a@b.example&tls=implicit", "use smtps://"},
		{"smtps://u:" + secret + "@smtp.example.com?from=a@b.example&tls=starttls", "smtps:// is implicit TLS"},
		{"smtp://u:" + secret + "@smtp.example.com?from=a@b.example&tls=ssl", "must be starttls or none"},
		{"smtp://u:" + secret + "@smtp.example.com?from=a@b.example&auth=cram-md5", "Auth must be plain, login or empty"},
		{"smtp://u@smtp.example.com?from=a@b.example", "needs a Password"},
		{"smtp://:" + secret + "@smtp.example.com?from=a@b.example", "a Password needs a Username"},
		{"smtp://smtp.example.com?from=a@b.example&auth=plain", "needs a Username"},
		{"smtp://u:" + secret + "@smtp.example.com?from=a@b.example&timeout=fast", "timeout="},
		{"smtp://u:" + secret + "@smtp.example.com?from=a@b.example&timeout=-1s", "timeout="},
		{"smtp://u:" + secret + "@smtp.example.com?from=a@b.example&max_conns=0", "max_conns="},
		{"smtp://u:" + secret + "@smtp.example.com?from=a@b.example&max_conns=1000", "max_conns="},
		{"smtp://u:" + secret + "@smtp.example.com?from=a@b.example&helo=not%20a%20name", "HeloName"},
		{"smtp://u:" + secret + "@smtp.example.com?from=a@b.example&colour=blue", `unknown parameter "colour"`},
		// Two faults: the first parameter in alphabetical order is named, every time.
		{"smtp://u:" + secret + "@smtp.example.com?zone=1&from=a@b.example&colour=blue&max_conns=0", `unknown parameter "colour"`},
		{"smtp://u:" + secret + "@smtp.example.com?from=a@b.example&from=c@d.example", "given 2 times"},
		{"smtp://u:" + secret + "@smtp.example.com/path?from=a@b.example", "unexpected path"},
		{"smtp://u:" + secret + "@smtp.example.com?from=a@b.example#frag", "fragment"},
		{"smtp://u:" + secret + "@smtp.example.com?from=a@b.example&x=%zz", "query is not valid"},
		{"smtp://u:Sup3r%00SecretPassw0rd@smtp.example.com?from=a@b.example", "NUL"},
		{"smtp:relay?from=a@b.example", "give the server as"},
		{"smtp://u:" + secret + "@smtp example.com?from=a@b.example", "not a URL"},
		{"", "scheme must be"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			_, err := email.ParseURL(tt.url)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.True(t, strings.HasPrefix(err.Error(), "email url: "), err.Error())
			require.NotContains(t, err.Error(), secret, "errors never show the password")
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := email.Config{Host: "smtp.example.com", Username: "u", Password: "p", From: "otp@acme.example"}
	require.NoError(t, good.Validate())
	tests := []struct {
		name string
		edit func(*email.Config)
		want string
	}{
		{"no host", func(c *email.Config) { c.Host = "" }, "Host is required"},
		{"host with port", func(c *email.Config) { c.Host = "smtp.example.com:587" }, "give the port in Port"},
		{"bad port", func(c *email.Config) { c.Port = 70000 }, "not a port number"},
		{"tls none remote", func(c *email.Config) { c.TLS = email.TLSNone }, "only for a server on this machine"},
		{"tls unknown", func(c *email.Config) { c.TLS = "tls" }, "TLS must be"},
		{"auth unknown", func(c *email.Config) { c.Auth = "XOAUTH2" }, "Auth must be"},
		{"password with newline", func(c *email.Config) { c.Password = "a\r\nQUIT" }, "Password must not contain"},
		{"from with name", func(c *email.Config) { c.From = "Acme <otp@acme.example>" }, "bare e-mail address"},
		{"negative timeout", func(c *email.Config) { c.Timeout = -time.Second }, "Timeout"},
		{"too many conns", func(c *email.Config) { c.MaxConns = email.MaxMaxConns + 1 }, "MaxConns"},
		{"helo ip unbracketed", func(c *email.Config) { c.HeloName = "192.0.2.1" }, "HeloName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := good
			tt.edit(&c)
			err := c.Validate()
			require.ErrorContains(t, err, tt.want)
			_, err = email.New(c)
			require.ErrorContains(t, err, tt.want)
		})
	}
	for _, ok := range []func(*email.Config){
		func(c *email.Config) { c.Host, c.TLS = "localhost", email.TLSNone },
		func(c *email.Config) { c.Host, c.TLS = "127.0.0.2", email.TLSNone },
		func(c *email.Config) { c.Host = "2001:db8::25" },
		func(c *email.Config) { c.HeloName = "[192.0.2.1]" },
		func(c *email.Config) { c.HeloName = "[IPv6:2001:db8::1]" },
		func(c *email.Config) { c.Username, c.Password = "", "" },
	} {
		c := good
		ok(&c)
		require.NoError(t, c.Validate(), "%v", c)
	}
}

// TestConfigRedacted: however a Config is printed or logged, the password
// stays out.
func TestConfigRedacted(t *testing.T) {
	t.Parallel()
	const secret = "Sup3rSecretPassw0rd"
	c := email.Config{Host: "smtp.example.com", Port: 587, Username: "otp", Password: secret, From: "otp@acme.example"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("email", "config", c, "ptr", &c)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("email", "config", c)
	for _, s := range []string{
		fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%v %+v", &c, &c), c.String(), logged.String(),
	} {
		require.NotContains(t, s, secret)
	}
	require.Equal(t, "smtp://otp:xxxxx@smtp.example.com:587?from=otp%40acme.example", c.String())
}
