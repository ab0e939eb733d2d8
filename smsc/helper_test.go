package smsc_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/smsc"
)

// waitTimeout bounds every wait in these tests; nothing should take near it.
const waitTimeout = 5 * time.Second

// testBundle is a running server.
type testBundle struct {
	srv  *smsc.Server
	addr string
}

// setup starts a server on a loopback port for the test. Receipts go out
// after 1 ms unless cfg says otherwise.
func setup(t *testing.T, cfg smsc.Config) *testBundle {
	t.Helper()
	if cfg.DLRDelay == 0 {
		cfg.DLRDelay = time.Millisecond
	}
	srv := smsc.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			require.NoError(t, err)
		case <-time.After(waitTimeout):
			t.Error("Serve did not return after cancel")
		}
	})
	return &testBundle{srv: srv, addr: ln.Addr().String()}
}

// pdu is one PDU the client read, and when.
type pdu struct {
	h  smpp.Header
	p  smpp.PDU
	at time.Time
}

// client is a minimal ESME built from the codec alone: it writes what the
// test tells it to and sorts what arrives into deliver_sm and everything
// else. With autoAck (the default) it answers every deliver_sm itself.
type client struct {
	t        *testing.T
	conn     net.Conn
	wmu      sync.Mutex
	seq      atomic.Uint32
	autoAck  atomic.Bool
	resps    chan pdu // everything but deliver_sm
	delivers chan pdu
	closed   chan struct{} // closed when the server closes the connection
	readErr  error         // set before closed is closed
}

func (b *testBundle) dial(t *testing.T) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", b.addr, waitTimeout)
	require.NoError(t, err)
	c := &client{t: t, conn: conn, resps: make(chan pdu, 256), delivers: make(chan pdu, 256), closed: make(chan struct{})}
	c.autoAck.Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.read()
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return c
}

func (c *client) read() {
	defer close(c.closed)
	r := bufio.NewReader(c.conn)
	for {
		h, p, err := smpp.ReadPDU(r, 0)
		at := time.Now()
		if err != nil {
			var de *smpp.DecodeError
			if errors.As(err, &de) {
				c.readErr = err // the server sent something the codec refuses
			} else if !errors.Is(err, io.EOF) {
				c.readErr = err
			}
			return
		}
		if d, ok := p.(*smpp.DeliverSM); ok {
			if c.autoAck.Load() {
				c.writePDU(&smpp.DeliverSMResp{}, h.Sequence, smpp.StatusOK)
			}
			c.delivers <- pdu{h, d, at}
			continue
		}
		c.resps <- pdu{h, p, at}
	}
}

func (c *client) writePDU(p smpp.PDU, seq uint32, status smpp.CommandStatus) {
	b, err := smpp.Encode(p, seq, status)
	if err != nil {
		panic(err) // a test bug
	}
	c.writeRaw(b)
}

func (c *client) writeRaw(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	_, _ = c.conn.Write(b) // a failed write shows as a missing response
}

// send writes a request and returns its sequence number.
func (c *client) send(p smpp.PDU) uint32 {
	seq := c.seq.Add(1)
	c.writePDU(p, seq, smpp.StatusOK)
	return seq
}

// recv returns the next PDU other than deliver_sm.
func (c *client) recv() pdu {
	c.t.Helper()
	select {
	case r := <-c.resps:
		return r
	case <-time.After(waitTimeout):
		c.t.Fatal("no PDU from the server")
		return pdu{}
	}
}

// call sends a request and returns its response, checking the sequence
// number.
func (c *client) call(p smpp.PDU) pdu {
	c.t.Helper()
	seq := c.send(p)
	r := c.recv()
	require.Equal(c.t, seq, r.h.Sequence, "response %s to seq %d", r.h, seq)
	return r
}

// deliver returns the next deliver_sm.
func (c *client) deliver() (smpp.Header, *smpp.DeliverSM) {
	c.t.Helper()
	select {
	case d := <-c.delivers:
		return d.h, d.p.(*smpp.DeliverSM)
	case <-time.After(waitTimeout):
		c.t.Fatal("no deliver_sm from the server")
		return smpp.Header{}, nil
	}
}

// deliverAt returns the next deliver_sm and when it arrived.
func (c *client) deliverAt() (smpp.Header, *smpp.DeliverSM, time.Time) {
	c.t.Helper()
	select {
	case d := <-c.delivers:
		return d.h, d.p.(*smpp.DeliverSM), d.at
	case <-time.After(waitTimeout):
		c.t.Fatal("no deliver_sm from the server")
		return smpp.Header{}, nil, time.Time{}
	}
}

// receipt returns the next deliver_sm, parsed as a receipt.
func (c *client) receipt() smpp.Receipt {
	c.t.Helper()
	_, d := c.deliver()
	r, err := smpp.ParseReceipt(d)
	require.NoError(c.t, err)
	return r
}

// requireClosed waits for the server to close the connection.
func (c *client) requireClosed() {
	c.t.Helper()
	select {
	case <-c.closed:
		require.NoError(c.t, c.readErr)
	case <-time.After(waitTimeout):
		c.t.Fatal("the server kept the connection open")
	}
}

// requireDropped waits for the server to drop the connection, which may
// reach the client as a reset when its own PDUs (a deliver_sm_resp) were
// still unread.
func (c *client) requireDropped() {
	c.t.Helper()
	select {
	case <-c.closed:
		if c.readErr != nil {
			require.ErrorIs(c.t, c.readErr, syscall.ECONNRESET)
		}
	case <-time.After(waitTimeout):
		c.t.Fatal("the server kept the connection open")
	}
}

// sync proves the server has handled everything sent before it: PDUs on
// one connection are answered in order.
func (c *client) sync() {
	c.t.Helper()
	r := c.call(&smpp.EnquireLink{})
	require.Equal(c.t, smpp.CmdEnquireLinkResp, r.h.CommandID)
}

// noDeliver checks that no deliver_sm has arrived.
func (c *client) noDeliver() {
	c.t.Helper()
	select {
	case d := <-c.delivers:
		c.t.Fatalf("unexpected deliver_sm %s", d.h)
	default:
	}
}

type bindAs int

const (
	asTransceiver bindAs = iota
	asTransmitter
	asReceiver
)

// bind binds c and returns the response's status.
func (c *client) bind(as bindAs, systemID, password string) smpp.CommandStatus {
	c.t.Helper()
	var p smpp.PDU
	switch as {
	case asTransmitter:
		p = &smpp.BindTransmitter{SystemID: systemID, Password: password, InterfaceVersion: smpp.InterfaceVersion34}
	case asReceiver:
		p = &smpp.BindReceiver{SystemID: systemID, Password: password, InterfaceVersion: smpp.InterfaceVersion34}
	default:
		p = &smpp.BindTransceiver{SystemID: systemID, Password: password, InterfaceVersion: smpp.InterfaceVersion34}
	}
	r := c.call(p)
	require.Equal(c.t, p.CommandID().Response(), r.h.CommandID)
	return r.h.Status
}

// bound dials and binds.
func (b *testBundle) bound(t *testing.T, as bindAs, systemID string) *client {
	t.Helper()
	c := b.dial(t)
	require.Equal(t, smpp.StatusOK, c.bind(as, systemID, "pw"))
	return c
}

// submit sends a submit_sm and returns the response's status and id.
func (c *client) submit(sm *smpp.SubmitSM) (smpp.CommandStatus, string) {
	c.t.Helper()
	r := c.call(sm)
	require.Equal(c.t, smpp.CmdSubmitSMResp, r.h.CommandID, "got %s", r.h)
	resp := r.p.(*smpp.SubmitSMResp)
	return r.h.Status, resp.MessageID
}

const (
	testTo     = "447700900123"
	testSender = "Acme"
)

// sms returns a submit_sm of text to the international number to, GSM-7,
// asking for a receipt.
func sms(to, text string) *smpp.SubmitSM {
	return &smpp.SubmitSM{
		Source:             smpp.Address{TON: smpp.TONAlphanumeric, Addr: testSender},
		Destination:        smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: to},
		RegisteredDelivery: smpp.ReceiptOnFinal,
		ShortMessage:       []byte(text), // ASCII letters and digits are their own GSM-7 septets
	}
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}
