package email

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// conn is one open, authenticated SMTP connection.
type conn struct {
	client *smtp.Client
	raw    *ctxConn
	idle   time.Time // when it was last put back
}

// dial connects, says EHLO, negotiates TLS and logs in. go-mail does the
// protocol; the dial function here gives the Sender the raw connection, so
// it can close it when a later step fails (go-mail leaves it open) and tie
// its deadlines to ctx.
func (s *Sender) dial(ctx context.Context) (*conn, error) {
	var raw *ctxConn
	dialFn := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		raw = &ctxConn{Conn: nc}
		// Bound to the Send's context, not dctx: go-mail cancels dctx as
		// soon as it returns, and the connection lives on.
		raw.bind(ctx)
		if s.cfg.TLS != TLSImplicit {
			return raw, nil
		}
		tc := tls.Client(raw, s.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.unbind()
			_ = raw.Close()
			raw = nil
			return nil, err
		}
		return tc, nil
	}
	opts := []mail.Option{
		mail.WithPort(s.cfg.Port),
		mail.WithTimeout(s.cfg.Timeout),
		mail.WithDialContextFunc(dialFn),
		mail.WithTLSConfig(s.tls),
	}
	switch s.cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSImplicit:
		// The dial function has done the handshake; this only tells
		// go-mail not to try STARTTLS inside it.
		opts = append(opts, mail.WithSSL())
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if s.cfg.HeloName != "" {
		opts = append(opts, mail.WithHELO(s.cfg.HeloName))
	}
	var auth *saslAuth
	if s.cfg.Username != "" {
		// A new one per connection: LOGIN keeps state between steps.
		auth = &saslAuth{mech: s.cfg.Auth, user: s.cfg.Username, pass: s.cfg.Password, host: s.cfg.Host, plainText: s.cfg.TLS == TLSNone}
		opts = append(opts, mail.WithSMTPAuthCustom(auth))
	}
	mc, err := mail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("email: %w", err) // options New has validated
	}
	client, err := mc.DialToSMTPClientWithContext(ctx)
	if err != nil {
		if raw != nil {
			raw.unbind()
			_ = raw.Close()
		}
		return nil, s.dialError(ctx, err, auth != nil && auth.started)
	}
	if !raw.unbind() {
		_ = raw.Close()
		return nil, fmt.Errorf("email: connect to %s: %w", s.cfg.addr(), ctx.Err())
	}
	return &conn{client: client, raw: raw}, nil
}

// close ends the connection: with QUIT when polite is set (bounded by
// timeout), otherwise by closing the socket.
func (c *conn) close(polite bool, timeout time.Duration) {
	if polite && c.client.UpdateDeadline(timeout) == nil {
		_ = c.client.Quit()
	}
	_ = c.client.Close()
}

// saslAuth logs in with PLAIN or LOGIN, whichever Config.Auth names or,
// when it names none, the server offers. It notes that login began, so a
// failure can be told apart from one in TLS or EHLO.
type saslAuth struct {
	mech, user, pass, host string
	plainText              bool // TLS none, to loopback only
	started                bool
	inner                  smtp.Auth
}

func (a *saslAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	a.started = true
	offers := func(m string) bool {
		return slices.ContainsFunc(server.Auth, func(s string) bool { return strings.EqualFold(s, m) })
	}
	mech := a.mech
	if mech == "" {
		switch {
		case offers("PLAIN"):
			mech = AuthPlain
		case offers("LOGIN"):
			mech = AuthLogin
		case len(server.Auth) == 0:
			return "", nil, fmt.Errorf("the server offers no AUTH (does it need TLS, or no login at all?)")
		default:
			return "", nil, fmt.Errorf("the server offers AUTH %s; otpd speaks PLAIN and LOGIN", strings.Join(server.Auth, " "))
		}
	} else if !offers(mech) {
		return "", nil, fmt.Errorf("the server does not offer AUTH %s (it offers %q)", strings.ToUpper(mech), strings.Join(server.Auth, " "))
	}
	if mech == AuthPlain {
		a.inner = smtp.PlainAuth("", a.user, a.pass, a.host, a.plainText)
	} else {
		a.inner = smtp.LoginAuth(a.user, a.pass, a.host, a.plainText)
	}
	return a.inner.Start(server)
}

func (a *saslAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.inner.Next(fromServer, more)
}

// longAgo is a deadline in the past: I/O fails at once.
var longAgo = time.Unix(1, 0)

// ctxConn is a net.Conn that fails every read and write once the context
// of the Send using it ends, however far its deadline is. go-mail sets
// deadlines from Timeout alone and does not watch contexts after dialing;
// with this a cancelled Send returns at once instead of after Timeout. The
// connection is then dropped: a command may have been cut off halfway.
type ctxConn struct {
	net.Conn
	mu   sync.Mutex
	dead bool // the bound context ended
	stop func() bool
}

// bind ties the connection to ctx until unbind.
func (c *ctxConn) bind(ctx context.Context) {
	c.mu.Lock()
	c.dead = false
	c.mu.Unlock()
	c.stop = context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.dead = true
		_ = c.Conn.SetDeadline(longAgo)
	})
}

// unbind ends the tie to the bound context and reports whether the
// context was still going: if it was not, I/O may have been cut off and
// the connection must be dropped.
func (c *ctxConn) unbind() bool { return c.stop() }

// The deadline setters keep a dead connection's deadline in the past.
// They hold c.mu while setting, so go-mail cannot undo the AfterFunc's.

func (c *ctxConn) clamp(t time.Time) time.Time {
	if c.dead {
		return longAgo
	}
	return t
}

func (c *ctxConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.SetDeadline(c.clamp(t))
}

func (c *ctxConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.SetReadDeadline(c.clamp(t))
}

func (c *ctxConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.SetWriteDeadline(c.clamp(t))
}
