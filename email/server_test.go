package email_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/email"
	"github.com/otpd/otpd/internal/testca"
)

// This file is the test's mail server: emersion/go-smtp on 127.0.0.1,
// with STARTTLS or implicit TLS under a CA made for the test, AUTH PLAIN
// and LOGIN, hooks to refuse or break things, and a record of what
// arrived.

// testCA is a certificate authority and a server certificate it issued
// for 127.0.0.1.
type testCA struct {
	pool   *x509.CertPool // trusts the CA
	server tls.Certificate
}

// pki is the CA the servers use; otherCA is one the client may be told to
// trust instead, whose certificates the servers do not have.
var (
	pki     = sync.OnceValue(func() testCA { return newCA("otpd test CA") })
	otherCA = sync.OnceValue(func() testCA { return newCA("some other CA") })
)

func newCA(name string) testCA {
	ca := testca.New(name)
	return testCA{pool: ca.Pool(), server: ca.Issue("127.0.0.1").TLS}
}

// received is one message the server accepted.
type received struct {
	From string
	To   []string
	Data []byte
	TLS  bool   // it came over TLS
	User string // who logged in, if anyone
	Mech string // how
}

// serverOpts say how a test server behaves.
type serverOpts struct {
	TLS   string            // email.TLSStartTLS, email.TLSImplicit or email.TLSNone
	Users map[string]string // logins the server requires; nil for none
	Mechs []string          // AUTH mechanisms offered; PLAIN and LOGIN when nil
	// CA is the authority of the server's certificate; pki() when zero.
	CA *testCA
}

// server is a running test SMTP server.
type server struct {
	t    *testing.T
	Port int
	opts serverOpts

	accepted atomic.Int64 // TCP connections
	closed   atomic.Int64 // TCP connections closed
	authTry  atomic.Int64 // AUTH attempts

	mu    sync.Mutex
	msgs  []received
	conns []*smtp.Conn
	// Hooks, each called with its command's running count (1 for the
	// first MAIL, RCPT or DATA the server sees); nil accepts.
	mail                func(n int, from string) error
	rcpt                func(n int, to string) error
	data                func(n int, c *smtp.Conn, r io.Reader) error
	nMail, nRcpt, nData int
}

func startServer(t *testing.T, opts serverOpts) *server {
	t.Helper()
	if opts.TLS == "" {
		opts.TLS = email.TLSStartTLS
	}
	if opts.Mechs == nil {
		opts.Mechs = []string{sasl.Plain, sasl.Login}
	}
	ca := pki()
	if opts.CA != nil {
		ca = *opts.CA
	}
	s := &server{t: t, opts: opts}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		return &session{s: s, c: c}, nil
	}))
	srv.Domain = "mx.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	tlsConf := &tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12}
	switch opts.TLS {
	case email.TLSStartTLS:
		srv.TLSConfig = tlsConf
	case email.TLSImplicit:
		srv.TLSConfig = tlsConf
	case email.TLSNone:
		srv.AllowInsecureAuth = true
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.Port = l.Addr().(*net.TCPAddr).Port
	var ln net.Listener = countingListener{l, &s.accepted, &s.closed}
	if opts.TLS == email.TLSImplicit {
		ln = tls.NewListener(ln, tlsConf)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = ln.Close() // Close misses it if Serve has not registered it yet
		<-served
	})
	return s
}

// config returns a Config for s that trusts its CA and logs in as its
// first user.
func (s *server) config() email.Config {
	cfg := email.Config{
		Host:     "127.0.0.1",
		Port:     s.Port,
		TLS:      s.opts.TLS,
		From:     "otp@acme.example",
		HeloName: "otpd.test",
		Timeout:  5 * time.Second,
		RootCAs:  pki().pool,
	}
	for u, p := range s.opts.Users {
		cfg.Username, cfg.Password = u, p
	}
	return cfg
}

// Messages returns what the server has accepted.
func (s *server) Messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

// DropAll closes every connection from the server's side.
func (s *server) DropAll() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// countingListener counts the connections it accepts and their closing.
type countingListener struct {
	net.Listener
	accepted, closed *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.accepted.Add(1)
	return &countedConn{Conn: c, closed: l.closed}, nil
}

type countedConn struct {
	net.Conn
	once   sync.Once
	closed *atomic.Int64
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.closed.Add(1) })
	return c.Conn.Close()
}

// session is one SMTP session on the test server.
type session struct {
	s          *server
	c          *smtp.Conn
	user, mech string
	from       string
	to         []string
}

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Users == nil {
		return nil
	}
	return ss.s.opts.Mechs
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	ss.s.authTry.Add(1)
	check := func(user, pass string) error {
		if want, ok := ss.s.opts.Users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		ss.user, ss.mech = user, mech
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return smtp.ErrAuthFailed
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Users != nil && ss.user == "" {
		return errAuthRequired
	}
	ss.s.mu.Lock()
	ss.s.nMail++
	n, hook := ss.s.nMail, ss.s.mail
	ss.s.mu.Unlock()
	if hook != nil {
		if err := hook(n, from); err != nil {
			return err
		}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	ss.s.nRcpt++
	n, hook := ss.s.nRcpt, ss.s.rcpt
	ss.s.mu.Unlock()
	if hook != nil {
		if err := hook(n, to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	ss.s.mu.Lock()
	ss.s.nData++
	n, hook := ss.s.nData, ss.s.data
	ss.s.mu.Unlock()
	if hook != nil {
		if err := hook(n, ss.c, r); err != nil {
			return err
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.c.TLSConnectionState()
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, received{From: ss.from, To: ss.to, Data: b, TLS: isTLS, User: ss.user, Mech: ss.mech})
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl lacks.
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if resp != nil { // initial response: the user name
			l.user, l.step = string(resp), 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, false, errors.New("unexpected response")
}
