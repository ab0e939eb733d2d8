package email

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/otpd/otpd"
)

// idleTimeout is how long an unused connection is kept. Servers wait at
// least five minutes for a command (RFC 5321 4.5.3.2.7), but a NAT or
// firewall between may forget a quiet connection silently, and a Send
// would then wait its whole Timeout to find out; half a minute keeps the
// connections of a steady flow of messages and little more.
const idleTimeout = 30 * time.Second

// readyWindow is how long Ready reports a failed attempt to connect.
const readyWindow = time.Minute

// quitTimeout bounds the QUIT that Close sends on each idle connection.
const quitTimeout = 2 * time.Second

// Sender sends e-mail through one SMTP submission server. It is the
// otpd.Channel for e-mail, and safe for concurrent use. It keeps up to
// Config.MaxConns connections open, logged in, and reuses them, so a busy
// Sender pays for TCP, TLS and AUTH once per connection rather than once
// per message.
type Sender struct {
	cfg      Config
	tls      *tls.Config
	idDomain string
	slots    chan struct{} // one per connection that may be open
	done     chan struct{} // closed by Close
	now      func() time.Time

	mu      sync.Mutex
	idle    []*conn // most recently used last
	closed  bool
	lastErr error // the last failure to connect, nil after a success
	lastAt  time.Time
}

var _ otpd.Channel = (*Sender)(nil)

// New returns a Sender for cfg, with defaults filled in. It does not
// connect: the first Send does.
func New(cfg Config) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Sender{
		cfg: cfg,
		tls: &tls.Config{
			ServerName: cfg.Host,
			RootCAs:    cfg.RootCAs,
			MinVersion: tls.VersionTLS12,
		},
		idDomain: idDomain(cfg.From),
		slots:    make(chan struct{}, cfg.MaxConns),
		done:     make(chan struct{}),
		now:      time.Now,
	}, nil
}

// Send sends out as one e-mail: From is the service's brand with
// Config.From, the parts are out's rendered text and HTML, and the
// Message-ID is derived from out.MessageID, the same on every attempt.
// The result's ProviderID is that Message-ID, angle brackets included.
// SMTP has no delivery receipts, so the message stays "sent".
//
// A 5xx reply to the recipient or to the message is a permanent
// *otpd.SendError with the server's code and text (the address masked);
// everything else is temporary (see the package documentation). When the
// server breaks the connection after the message was written, the message
// may have arrived and the retry sends it again, with the same Message-ID:
// at least once, like every channel.
func (s *Sender) Send(ctx context.Context, out *otpd.Outbound) (otpd.SendResult, error) {
	msg, env, id, err := s.message(out, s.now())
	if err != nil {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Err: err}
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return otpd.SendResult{}, fmt.Errorf("email: waiting for a free connection: %w", ctx.Err())
	case <-s.done:
		return otpd.SendResult{}, ErrClosed
	}
	defer func() { <-s.slots }()

	c, reused, err := s.get(ctx)
	if err != nil {
		return otpd.SendResult{}, err
	}
	st, keep, err := s.transact(ctx, c, env, msg)
	if err != nil && reused && st == stageMail && ctx.Err() == nil && stale(err) {
		// The server had closed the idle connection (its timeout, or
		// a limit of messages per connection) and said so, or just
		// went away. Nothing of this message was sent: try once on a
		// new connection.
		c.close(false, 0)
		if c, err = s.connect(ctx); err != nil {
			return otpd.SendResult{}, err
		}
		st, keep, err = s.transact(ctx, c, env, msg)
	}
	s.put(c, keep)
	if err != nil {
		te, isReply := replyError(err)
		err = sendError(ctx, st, err, out.To)
		if isReply && senderProblem(st, te.Code) {
			s.setLast(err) // the server refuses the sender: Ready says so
		}
		return otpd.SendResult{}, err
	}
	s.setLast(nil)
	return otpd.SendResult{ProviderID: id}, nil
}

// transact sends one message on c and reports how far it got and whether
// c can carry another message.
func (s *Sender) transact(ctx context.Context, c *conn, env envelope, msg *mail.Msg) (st stage, keep bool, err error) {
	c.raw.bind(ctx)
	defer func() {
		if !c.raw.unbind() {
			keep = false // a command may have been cut off halfway
		}
	}()
	var w io.WriteCloser
	steps := [...]func() error{
		stageMail:    func() error { return c.client.Mail(env.from) },
		stageRcpt:    func() error { return c.client.Rcpt(env.to) },
		stageData:    func() (err error) { w, err = c.client.Data(); return err },
		stageContent: func() error { _, err := msg.WriteTo(w); return err },
		stageDataEnd: func() error { return w.Close() },
	}
	for i, step := range steps {
		st = stage(i)
		if err := c.client.UpdateDeadline(s.cfg.Timeout); err != nil {
			return st, false, err
		}
		if err := step(); err != nil {
			return st, reusable(c, st, err), err
		}
	}
	return st, true, nil
}

// reusable reports whether c can carry another message after err at st.
// After a reply other than 421 (the server is closing) the session is in
// step: the reply that ends DATA resets it, and RSET does after the others.
func reusable(c *conn, st stage, err error) bool {
	te, ok := replyError(err)
	if !ok || te.Code == 421 {
		return false
	}
	return st == stageDataEnd || c.client.Reset() == nil
}

// stale reports whether err, at MAIL FROM on a reused connection, means
// the connection had gone rather than that the server refuses the sender.
func stale(err error) bool {
	te, ok := replyError(err)
	return !ok || te.Code == 421
}

// get returns an idle connection, or a new one when there is none that is
// fresh enough, and whether it was reused.
func (s *Sender) get(ctx context.Context) (*conn, bool, error) {
	now := s.now()
	var old []*conn
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, false, ErrClosed
	}
	for len(s.idle) > 0 {
		c := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if now.Sub(c.idle) < idleTimeout {
			s.mu.Unlock()
			closeAll(old)
			return c, true, nil
		}
		old = append(old, c)
	}
	s.mu.Unlock()
	closeAll(old)
	c, err := s.connect(ctx)
	return c, false, err
}

func closeAll(cs []*conn) {
	for _, c := range cs {
		c.close(false, 0)
	}
}

// connect dials a new connection and notes the outcome for Ready. A
// failure because ctx ended says nothing about the server.
func (s *Sender) connect(ctx context.Context) (*conn, error) {
	c, err := s.dial(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.setLast(err)
		}
		return nil, err
	}
	s.setLast(nil)
	return c, nil
}

// put keeps c for the next message, or closes it.
func (s *Sender) put(c *conn, keep bool) {
	if !keep {
		c.close(false, 0)
		return
	}
	s.mu.Lock()
	if !s.closed {
		c.idle = s.now()
		s.idle = append(s.idle, c)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	c.close(true, quitTimeout)
}

func (s *Sender) setLast(err error) {
	s.mu.Lock()
	s.lastErr, s.lastAt = err, s.now()
	s.mu.Unlock()
}

// Ready reports the last failure to connect, negotiate TLS or log in (or
// the server refusing the sender address) when the last attempt failed
// less than a minute ago; nil otherwise, and before the first Send. It
// never connects, so /readyz stays cheap however often it is asked.
func (s *Sender) Ready(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.lastErr != nil {
		if ago := s.now().Sub(s.lastAt); ago < readyWindow {
			return fmt.Errorf("%w (%s ago)", s.lastErr, ago.Round(time.Second))
		}
	}
	return nil
}

// Close closes the idle connections, politely with QUIT, and makes every
// later Send fail with ErrClosed. Sends under way finish, and their
// connections are closed after them.
func (s *Sender) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, c := range idle {
		c.close(true, quitTimeout)
	}
	return nil
}
