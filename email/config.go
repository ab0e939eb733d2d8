package email

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The values of Config.TLS.
const (
	// TLSStartTLS connects in plain text and upgrades with STARTTLS before
	// anything else is said (RFC 3207); a server that does not offer it is
	// refused, never used in plain text. Submission on port 587.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (RFC 8314). Port 465.
	TLSImplicit = "implicit"
	// TLSNone sends in plain text. It is only accepted for a loopback
	// Host (localhost, 127.0.0.0/8, ::1): a relay on the same machine, or
	// a development mail catcher. Port 25.
	TLSNone = "none"
)

// The values of Config.Auth.
const (
	// AuthPlain is SASL PLAIN (RFC 4616).
	AuthPlain = "plain"
	// AuthLogin is the LOGIN mechanism many submission servers still
	// offer (Microsoft 365, older Exchange).
	AuthLogin = "login"
)

// Defaults for a Config's zero values.
const (
	// DefaultTimeout bounds each step of talking to the server: connecting
	// with the TLS handshake, EHLO and AUTH together, and then every
	// command, and the message content.
	DefaultTimeout = 15 * time.Second
	// DefaultMaxConns is how many connections a Sender keeps open at most.
	DefaultMaxConns = 4
	// MaxMaxConns bounds Config.MaxConns: submission servers limit
	// connections per client, often to about ten.
	MaxMaxConns = 100
)

// Default ports, by Config.TLS.
const (
	DefaultPortStartTLS = 587
	DefaultPortImplicit = 465
	DefaultPortNone     = 25
)

// Config is how a Sender reaches one SMTP submission server.
//
// A Config holds a password: its String, GoString and LogValue methods
// leave it out, and so does every error this package returns.
type Config struct {
	// Host is the server's name or IP address, without port. TLS
	// certificates are checked against it.
	Host string
	// Port is the server's port; 0 for the default of the TLS mode: 587
	// for starttls, 465 for implicit, 25 for none.
	Port int
	// Username and Password log in with SMTP AUTH. An empty Username
	// sends without logging in (a relay that trusts the network).
	Username string
	Password string
	// TLS is starttls (the default when empty), implicit or none; see
	// TLSStartTLS, TLSImplicit and TLSNone. None is for loopback only.
	TLS string
	// Auth is the SASL mechanism: plain, login, or empty to pick PLAIN
	// when the server offers it and LOGIN otherwise. Either sends the
	// password as it is, which is why it only goes over TLS (or to
	// loopback with TLS none).
	Auth string
	// From is the sender's bare address, such as otp@acme.example: the
	// envelope sender, the From header's address (the display name is the
	// service's brand) and the domain of every Message-ID.
	From string
	// HeloName is the name the Sender gives in EHLO; the machine's host
	// name when empty. Set it to a fully qualified name (or an address
	// literal such as [192.0.2.1]) for a server that refuses others.
	HeloName string
	// Timeout bounds each step of talking to the server; DefaultTimeout
	// when 0. A Send's context can end it sooner.
	Timeout time.Duration
	// RootCAs are the certificate authorities the server's certificate
	// must chain to; the system's when nil. Set it for a private CA.
	// Certificates are always verified, against Host.
	RootCAs *x509.CertPool
	// MaxConns is how many connections the Sender keeps open at most,
	// authenticated and reused from message to message: a Send waits for
	// one when all are busy; DefaultMaxConns when 0.
	MaxConns int
}

// withDefaults returns c with its zero values filled in.
func (c Config) withDefaults() Config {
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	if c.Port == 0 {
		switch c.TLS {
		case TLSImplicit:
			c.Port = DefaultPortImplicit
		case TLSNone:
			c.Port = DefaultPortNone
		default:
			c.Port = DefaultPortStartTLS
		}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	return c
}

// addr returns host:port, for dialing and for errors.
func (c Config) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// Validate reports the first problem with c, as New would. Its messages
// never contain the password.
func (c Config) Validate() error {
	if err := validHost(c.Host); err != nil {
		return err
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("email: Port %d is not a port number", c.Port)
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit:
	case TLSNone:
		if !isLoopback(c.Host) {
			return fmt.Errorf("email: TLS none sends the password and every code in plain text, so it is only for a server on this machine (localhost, 127.0.0.1, ::1), not %q: use starttls or implicit", c.Host)
		}
	default:
		return fmt.Errorf("email: TLS must be starttls, implicit or none, not %q", c.TLS)
	}
	switch c.Auth {
	case "", AuthPlain, AuthLogin:
	default:
		return fmt.Errorf("email: Auth must be plain, login or empty (pick what the server offers), not %q", c.Auth)
	}
	switch {
	case c.Username == "" && c.Password != "":
		return errors.New("email: a Password needs a Username")
	case c.Username == "" && c.Auth != "":
		return fmt.Errorf("email: Auth %s needs a Username and Password", c.Auth)
	case c.Username != "" && c.Password == "":
		return fmt.Errorf("email: Username %q needs a Password", c.Username)
	case strings.ContainsAny(c.Username, "\x00\r\n"):
		return errors.New("email: Username must not contain NUL, CR or LF")
	case strings.ContainsAny(c.Password, "\x00\r\n"):
		// PLAIN separates the fields with NUL; LOGIN sends lines.
		return errors.New("email: Password must not contain NUL, CR or LF")
	}
	if err := validFrom(c.From); err != nil {
		return err
	}
	if c.HeloName != "" && !validHelo(c.HeloName) {
		return fmt.Errorf("email: HeloName %q is not a host name or address literal", c.HeloName)
	}
	if c.Timeout < 0 {
		return errors.New("email: Timeout must not be negative")
	}
	if c.MaxConns < 0 || c.MaxConns > MaxMaxConns {
		return fmt.Errorf("email: MaxConns must be from 1 to %d (0 for %d)", MaxMaxConns, DefaultMaxConns)
	}
	return nil
}

func validHost(h string) error {
	switch {
	case h == "":
		return errors.New("email: Host is required")
	case net.ParseIP(h) != nil:
		return nil
	case len(h) > 253 || strings.HasPrefix(h, ".") || strings.Contains(h, ".."):
		return fmt.Errorf("email: Host %q is not a host name or IP address", h)
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return fmt.Errorf("email: Host %q is not a host name or IP address (give the port in Port)", h)
		}
	}
	return nil
}

// isLoopback reports whether host names this machine without a lookup
// that could be answered otherwise.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validFrom checks that s is a bare address with a domain.
func validFrom(s string) error {
	if s == "" {
		return errors.New("email: From is required (the sender address, such as otp@acme.example)")
	}
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(s) > 254 {
		return fmt.Errorf("email: From %q is not a bare e-mail address such as otp@acme.example (the display name is each service's brand)", s)
	}
	if at := strings.LastIndexByte(s, '@'); at < 0 || !strings.Contains(s[at+1:], ".") && !isLoopback(s[at+1:]) {
		return fmt.Errorf("email: From %q needs a domain with a dot", s)
	}
	return nil
}

// validHelo accepts a host name or an address literal such as [192.0.2.1].
func validHelo(s string) bool {
	if len(s) > 255 {
		return false
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		lit := strings.TrimPrefix(s[1:len(s)-1], "IPv6:")
		return net.ParseIP(lit) != nil
	}
	return validHost(s) == nil && net.ParseIP(s) == nil
}

// String returns c as a URL that ParseURL reads, with the password
// replaced by "xxxxx", for logs. Fields left at their zero value are left
// out; RootCAs cannot be written in a URL and never appear.
func (c Config) String() string {
	u := url.URL{Scheme: "smtp", Host: c.Host}
	if strings.Contains(c.Host, ":") {
		u.Host = "[" + c.Host + "]"
	}
	if c.Port != 0 {
		u.Host = net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	}
	q := url.Values{}
	switch c.TLS {
	case TLSImplicit:
		u.Scheme = "smtps"
	case "":
	default:
		q.Set("tls", c.TLS)
	}
	switch {
	case c.Username != "" && c.Password != "":
		u.User = url.UserPassword(c.Username, "xxxxx")
	case c.Username != "":
		u.User = url.User(c.Username)
	case c.Password != "":
		u.User = url.UserPassword("", "xxxxx")
	}
	if c.Auth != "" {
		q.Set("auth", c.Auth)
	}
	if c.From != "" {
		q.Set("from", c.From)
	}
	if c.HeloName != "" {
		q.Set("helo", c.HeloName)
	}
	if c.Timeout != 0 {
		q.Set("timeout", c.Timeout.String())
	}
	if c.MaxConns != 0 {
		q.Set("max_conns", strconv.Itoa(c.MaxConns))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// GoString is String, so that %#v does not show the password either.
func (c Config) GoString() string { return "email.Config(" + c.String() + ")" }

// LogValue is String, so that log/slog does not show the password (its
// JSON handler would otherwise write every field).
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
