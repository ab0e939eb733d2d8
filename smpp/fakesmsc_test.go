package smpp_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
)

// waitTimeout bounds every wait in these tests; nothing should come close.
const waitTimeout = 10 * time.Second

// fakeScript is how a test wants the fake SMSC to behave. The zero value
// accepts binds with password "secret" and every submit_sm.
type fakeScript struct {
	tls *tls.Config
	// refuseBinds refuses the first n binds with ESME_RBINDFAIL.
	refuseBinds int
	// silentBind never answers a bind.
	silentBind bool
	// ignoreEnquireLink leaves enquire_link unanswered.
	ignoreEnquireLink bool
	// submit handles each submit_sm on the connection's reader goroutine;
	// nil accepts it. It may answer later, from elsewhere, or never.
	submit func(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM)
}

// fakeMsg is a PDU the ESME sent that a test may want to see.
type fakeMsg struct {
	c *fakeConn
	h smpp.Header
	p smpp.PDU
}

// fakeSMSC is an SMSC on 127.0.0.1 built on the codec, scripted per test.
// It records binds, accepted messages and the ESME's responses.
type fakeSMSC struct {
	tb     testing.TB
	script fakeScript
	ln     net.Listener
	addr   string
	wg     sync.WaitGroup

	bound     chan *fakeConn // each connection once bound
	responses chan fakeMsg   // responses and unbinds from the ESME

	bindAttempts atomic.Int32
	enquireLinks atomic.Int32
	submits      atomic.Int32

	mu       sync.Mutex
	conns    map[*fakeConn]bool
	binds    []smpp.CommandID
	unbinds  int
	nextID   int
	accepted map[string]int    // short message text → times accepted
	ids      map[string]string // message id → text
}

func startSMSC(tb testing.TB, script fakeScript) *fakeSMSC {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	if script.tls != nil {
		ln = tls.NewListener(ln, script.tls)
	}
	f := &fakeSMSC{
		tb:        tb,
		script:    script,
		ln:        ln,
		addr:      ln.Addr().String(),
		bound:     make(chan *fakeConn, 64),
		responses: make(chan fakeMsg, 1024),
		conns:     make(map[*fakeConn]bool),
		accepted:  make(map[string]int),
		ids:       make(map[string]string),
	}
	f.wg.Add(1)
	go f.acceptLoop()
	tb.Cleanup(f.stop)
	return f
}

func (f *fakeSMSC) acceptLoop() {
	defer f.wg.Done()
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		c := &fakeConn{f: f, conn: conn}
		f.mu.Lock()
		f.conns[c] = true
		f.mu.Unlock()
		f.wg.Add(1)
		go c.serve()
	}
}

// stop closes the listener and every connection and waits for their
// goroutines.
func (f *fakeSMSC) stop() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.conn.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// note passes m to a test that may be watching; it never blocks the
// connection.
func (f *fakeSMSC) note(m fakeMsg) {
	select {
	case f.responses <- m:
	default:
	}
}

// accept answers sm as accepted with a fresh message id and records it.
func (f *fakeSMSC) accept(c *fakeConn, h smpp.Header, sm *smpp.SubmitSM) string {
	id := f.record(sm)
	c.send(&smpp.SubmitSMResp{MessageID: id}, h.Sequence, smpp.StatusOK)
	return id
}

// record counts sm as accepted without answering, as an SMSC that took a
// message but whose response was lost, and returns its id.
func (f *fakeSMSC) record(sm *smpp.SubmitSM) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := fmt.Sprintf("%X", 0x1000+f.nextID)
	f.accepted[string(sm.ShortMessage)]++
	f.ids[id] = string(sm.ShortMessage)
	return id
}

// acceptedCopies returns how many times each text was accepted.
func (f *fakeSMSC) acceptedCopies() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]int, len(f.accepted))
	for k, v := range f.accepted {
		m[k] = v
	}
	return m
}

// textOf returns the text of the message the SMSC gave id.
func (f *fakeSMSC) textOf(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ids[id]
}

func (f *fakeSMSC) bindLog() (binds []smpp.CommandID, unbinds int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]smpp.CommandID(nil), f.binds...), f.unbinds
}

// nextBound returns the next connection to be bound.
func (f *fakeSMSC) nextBound(tb testing.TB) *fakeConn {
	tb.Helper()
	return recv(tb, f.bound)
}

// expect returns the next response the ESME sent, which must be a cmd.
func (f *fakeSMSC) expect(tb testing.TB, cmd smpp.CommandID) fakeMsg {
	tb.Helper()
	m := recv(tb, f.responses)
	require.Equal(tb, cmd, m.h.CommandID, "ESME sent %s", m.h)
	return m
}

// fakeConn is one ESME connection to the fake SMSC.
type fakeConn struct {
	f       *fakeSMSC
	conn    net.Conn
	wmu     sync.Mutex
	seq     atomic.Uint32
	dropped atomic.Bool
}

func (c *fakeConn) serve() {
	defer c.f.wg.Done()
	defer func() {
		c.conn.Close()
		c.f.mu.Lock()
		delete(c.f.conns, c)
		c.f.mu.Unlock()
	}()
	br := bufio.NewReader(c.conn)
	for !c.dropped.Load() { // PDUs still buffered after a drop are gone with it
		h, p, err := smpp.ReadPDU(br, 0)
		if err != nil {
			if de, ok := errors.AsType[*smpp.DecodeError](err); ok && !errors.Is(err, smpp.ErrCommandLength) {
				c.send(&smpp.GenericNack{}, h.Sequence, de.Status)
				continue
			}
			return
		}
		switch p := p.(type) {
		case *smpp.BindTransceiver, *smpp.BindTransmitter, *smpp.BindReceiver:
			c.bind(h, p)
		case *smpp.SubmitSM:
			c.f.submits.Add(1)
			if c.f.script.submit != nil {
				c.f.script.submit(c, h, p)
			} else {
				c.f.accept(c, h, p)
			}
		case *smpp.EnquireLink:
			c.f.enquireLinks.Add(1)
			if !c.f.script.ignoreEnquireLink {
				c.send(&smpp.EnquireLinkResp{}, h.Sequence, smpp.StatusOK)
			}
		case *smpp.Unbind:
			c.f.mu.Lock()
			c.f.unbinds++
			c.f.mu.Unlock()
			c.send(&smpp.UnbindResp{}, h.Sequence, smpp.StatusOK)
			c.f.note(fakeMsg{c, h, p})
			return
		default:
			c.f.note(fakeMsg{c, h, p})
		}
	}
}

func (c *fakeConn) bind(h smpp.Header, p smpp.PDU) {
	n := int(c.f.bindAttempts.Add(1))
	if c.f.script.silentBind {
		return
	}
	var password string
	switch b := p.(type) {
	case *smpp.BindTransceiver:
		password = b.Password
	case *smpp.BindTransmitter:
		password = b.Password
	case *smpp.BindReceiver:
		password = b.Password
	}
	status := smpp.StatusOK
	switch {
	case password != "secret":
		status = smpp.StatusInvPassword
	case n <= c.f.script.refuseBinds:
		status = smpp.StatusBindFail
	}
	resp := map[smpp.CommandID]smpp.PDU{
		smpp.CmdBindTransceiver: &smpp.BindTransceiverResp{SystemID: "fakesmsc"},
		smpp.CmdBindTransmitter: &smpp.BindTransmitterResp{SystemID: "fakesmsc"},
		smpp.CmdBindReceiver:    &smpp.BindReceiverResp{SystemID: "fakesmsc"},
	}[h.CommandID]
	if status == smpp.StatusOK {
		c.f.mu.Lock()
		c.f.binds = append(c.f.binds, h.CommandID)
		c.f.mu.Unlock()
	}
	c.send(resp, h.Sequence, status)
	if status == smpp.StatusOK {
		select {
		case c.f.bound <- c:
		default: // no test is watching this many binds
		}
	}
}

// send writes p; a failure means the ESME has gone, which tests notice
// elsewhere.
func (c *fakeConn) send(p smpp.PDU, seq uint32, status smpp.CommandStatus) {
	b, err := smpp.Encode(p, seq, status)
	if err != nil {
		panic(err) // a bug in the test
	}
	c.raw(b)
}

// request sends p as a request of the SMSC's own and returns its sequence
// number.
func (c *fakeConn) request(p smpp.PDU) uint32 {
	seq := c.seq.Add(1)
	c.send(p, seq, smpp.StatusOK)
	return seq
}

// raw writes octets as they are, such as a malformed PDU.
func (c *fakeConn) raw(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	c.conn.Write(b)
}

// drop closes the connection without an unbind.
func (c *fakeConn) drop() {
	c.dropped.Store(true)
	c.conn.Close()
}

// recv receives from ch within waitTimeout.
func recv[T any](tb testing.TB, ch <-chan T) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		tb.Fatalf("nothing received within %v", waitTimeout)
		panic("unreachable")
	}
}

// eventually polls cond until it holds, failing the test after waitTimeout.
func eventually(tb testing.TB, cond func() bool, msg string, args ...any) {
	tb.Helper()
	require.Eventually(tb, cond, waitTimeout, time.Millisecond, append([]any{msg}, args...)...)
}

// testConfig is a Config for f with timeouts short enough for tests.
func testConfig(f *fakeSMSC) smpp.Config {
	return smpp.Config{
		Addr:             f.addr,
		SystemID:         "otpd",
		Password:         "secret",
		ResponseTimeout:  waitTimeout,
		ThrottleBackoff:  time.Millisecond,
		RebindBackoff:    time.Millisecond,
		MaxRebindBackoff: 20 * time.Millisecond,
	}
}

// dial binds a session to cfg and closes it when the test ends.
func dial(tb testing.TB, cfg smpp.Config) *smpp.Session {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	s, err := smpp.Dial(ctx, cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

// testCtx returns a context that ends with the test or after waitTimeout.
func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// sms returns a submit_sm of text to a UK mobile.
func sms(text string) *smpp.SubmitSM {
	return &smpp.SubmitSM{
		Source:             smpp.Address{TON: smpp.TONAlphanumeric, Addr: "otpd"},
		Destination:        smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "447700900123"},
		RegisteredDelivery: smpp.ReceiptOnFinal,
		ShortMessage:       []byte(text),
	}
}
