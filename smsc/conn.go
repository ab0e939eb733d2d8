package smsc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/otpd/otpd/smpp"
)

const (
	// writeTimeout bounds one PDU write, so a peer that stops reading
	// cannot stall a receipt or the reader goroutine for ever.
	writeTimeout = 10 * time.Second
	// lingerTimeout is how long a connection closed after bind_resp or
	// unbind_resp keeps reading what the peer still sends: closing a
	// socket with unread data makes the kernel send a reset, and the peer
	// could lose the response that explains the close.
	lingerTimeout = time.Second
)

// bindKind is what a connection is bound as.
type bindKind uint8

const (
	unbound bindKind = iota
	transmitter
	receiver
	transceiver
)

func (k bindKind) canSubmit() bool  { return k == transmitter || k == transceiver }
func (k bindKind) canReceive() bool { return k == receiver || k == transceiver }

func (k bindKind) String() string {
	return [...]string{"unbound", "transmitter", "receiver", "transceiver"}[k]
}

// conn is one ESME connection. Its serve goroutine reads PDUs and answers
// them in order; receipt goroutines write deliver_sm to it concurrently and
// wait for the answer the serve goroutine hands them.
type conn struct {
	srv *Server
	sv  *serving
	nc  net.Conn
	id  uint64
	log *slog.Logger

	// kind and systemID are written by the serve goroutine with srv.mu
	// held and read by others with srv.mu held.
	kind     bindKind
	systemID string

	submits int // submits received; serve goroutine only

	wmu sync.Mutex // one PDU on the wire at a time

	mu      sync.Mutex
	outSeq  uint32                      // last sequence number we sent
	pending map[uint32]chan smpp.Header // deliver_sm awaiting an answer

	done      chan struct{}
	closeOnce sync.Once
}

func (s *Server) newConn(sv *serving, nc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connSeq++
	c := &conn{
		srv:     s,
		sv:      sv,
		nc:      nc,
		id:      s.connSeq,
		pending: map[uint32]chan smpp.Header{},
		done:    make(chan struct{}),
	}
	c.log = s.cfg.Logger.With("conn", c.id, "remote", nc.RemoteAddr().String())
	s.conns[c] = struct{}{}
	return c
}

// serve reads and answers PDUs until the peer goes, the connection fails or
// the server shuts down.
func (c *conn) serve() {
	defer c.close()
	stop := context.AfterFunc(c.sv.ctx, c.shutdown)
	defer stop()
	c.log.Debug("smsc connection opened")
	r := bufio.NewReader(c.nc)
	for {
		h, p, err := smpp.ReadPDU(r, 0)
		if err != nil {
			var de *smpp.DecodeError
			if !errors.As(err, &de) {
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
					c.log.Debug("smsc connection read failed", "err", err)
				}
				return
			}
			if !c.malformed(h, de) {
				return
			}
			continue
		}
		if !c.handle(h, p) {
			return
		}
	}
}

// handle answers one PDU and reports whether to keep reading.
func (c *conn) handle(h smpp.Header, p smpp.PDU) bool {
	switch p := p.(type) {
	case *smpp.BindTransmitter:
		return c.bind(h, transmitter, p.SystemID, p.Password, p.InterfaceVersion)
	case *smpp.BindReceiver:
		return c.bind(h, receiver, p.SystemID, p.Password, p.InterfaceVersion)
	case *smpp.BindTransceiver:
		return c.bind(h, transceiver, p.SystemID, p.Password, p.InterfaceVersion)
	case *smpp.EnquireLink:
		return c.respond(h, &smpp.EnquireLinkResp{}, smpp.StatusOK)
	case *smpp.Unbind:
		c.setBind(unbound, c.systemID)
		c.log.Info("smsc unbound", "system_id", c.systemID)
		if c.respond(h, &smpp.UnbindResp{}, smpp.StatusOK) {
			c.linger()
		}
		return false
	case *smpp.SubmitSM:
		return c.submit(h, inbound{
			src: p.Source, dst: p.Destination, esm: p.ESMClass, rd: p.RegisteredDelivery,
			dc: p.DataCoding, sm: p.ShortMessage, tlvs: p.TLVs,
		}, &smpp.SubmitSMResp{})
	case *smpp.DataSM:
		return c.submit(h, inbound{
			src: p.Source, dst: p.Destination, esm: p.ESMClass, rd: p.RegisteredDelivery,
			dc: p.DataCoding, tlvs: p.TLVs, dataSM: true,
		}, &smpp.DataSMResp{})
	case *smpp.DeliverSMResp, *smpp.GenericNack, *smpp.EnquireLinkResp:
		c.resolve(h)
		return true
	case *smpp.UnbindResp:
		return false // the answer to our unbind at shutdown
	}
	if h.CommandID.IsResponse() {
		c.log.Debug("smsc ignoring unexpected response", "pdu", h.String())
		return true
	}
	// A request an SMSC does not take from an ESME (deliver_sm, outbind,
	// a bind_*_resp sent as a request...).
	return c.respond(h, &smpp.GenericNack{}, smpp.StatusInvCmdID)
}

// malformed answers a PDU the codec refused, as package smpp's rules say:
// generic_nack with the status the error names; close only when the stream
// can no longer be framed. A response is never answered: its header is
// intact, so it still settles the deliver_sm it answers.
func (c *conn) malformed(h smpp.Header, de *smpp.DecodeError) bool {
	c.log.Info("smsc malformed PDU", "err", de)
	if errors.Is(de, smpp.ErrCommandLength) {
		c.respond(h, &smpp.GenericNack{}, de.Status)
		return false
	}
	if h.CommandID.IsResponse() {
		c.resolve(h)
		return true
	}
	return c.respond(h, &smpp.GenericNack{}, de.Status)
}

func (c *conn) bind(h smpp.Header, kind bindKind, systemID, password string, version uint8) bool {
	cfg := c.srv.cfg
	resp := func(id string) smpp.PDU {
		var tlvs smpp.TLVs
		if id != "" && version >= smpp.InterfaceVersion34 {
			tlvs.SetUint8(smpp.TagSCInterfaceVersion, smpp.InterfaceVersion34)
		}
		switch kind {
		case transmitter:
			return &smpp.BindTransmitterResp{SystemID: id, TLVs: tlvs}
		case receiver:
			return &smpp.BindReceiverResp{SystemID: id, TLVs: tlvs}
		default:
			return &smpp.BindTransceiverResp{SystemID: id, TLVs: tlvs}
		}
	}
	if c.kind != unbound {
		return c.respond(h, resp(""), smpp.StatusAlreadyBound)
	}
	status := smpp.StatusOK
	switch {
	case cfg.SystemID != "" && systemID != cfg.SystemID:
		status = smpp.StatusInvSysID
	case cfg.Password != "" && password != cfg.Password:
		status = smpp.StatusInvPassword
	}
	if status != smpp.StatusOK {
		c.srv.mu.Lock()
		c.srv.stats.BindFailures++
		c.srv.mu.Unlock()
		c.log.Warn("smsc bind refused", "system_id", systemID, "as", kind.String(), "status", status.String())
		if c.respond(h, resp(""), status) {
			c.linger()
		}
		return false
	}
	// Become a receipt target only as the bind_resp is written: wmu keeps
	// a receipt from overtaking it.
	ok := c.writeThen(resp(SMSCSystemID), h.Sequence, smpp.StatusOK, func() { c.setBind(kind, systemID) })
	if ok {
		c.log.Info("smsc bound", "system_id", systemID, "as", kind.String())
	}
	return ok
}

// setBind records what the connection is bound as, and wakes receipts
// waiting for a bind that can take them.
func (c *conn) setBind(kind bindKind, systemID string) {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind != unbound && c.kind == unbound {
		s.stats.Binds++
	}
	c.kind, c.systemID = kind, systemID
	if kind.canReceive() {
		close(s.bindsUp)
		s.bindsUp = make(chan struct{})
	}
}

// submit handles submit_sm and data_sm; resp is the empty response to fill.
func (c *conn) submit(h smpp.Header, in inbound, resp smpp.PDU) bool {
	setID := func(id string) {
		switch r := resp.(type) {
		case *smpp.SubmitSMResp:
			r.MessageID = id
		case *smpp.DataSMResp:
			r.MessageID = id
		}
	}
	if !c.kind.canSubmit() {
		return c.respond(h, resp, smpp.StatusInvBindStatus)
	}
	c.submits++
	in.systemID = c.systemID
	out := c.srv.accept(c, in)
	setID(out.id)
	switch {
	case out.drop:
		c.log.Info("smsc dropping the connection without answering (fault drop-after)", "submits", c.submits)
		c.nc.Close()
		return false
	case out.withhold:
		return true
	}
	return c.respond(h, resp, out.status)
}

// respond writes the answer to the request h and reports whether the
// connection is still usable.
func (c *conn) respond(h smpp.Header, p smpp.PDU, status smpp.CommandStatus) bool {
	return c.writeThen(p, h.Sequence, status, nil)
}

// writeThen writes one PDU, running before (if set) once nothing else can
// be written ahead of it. A failed write closes the connection.
func (c *conn) writeThen(p smpp.PDU, seq uint32, status smpp.CommandStatus, before func()) bool {
	b, err := smpp.Encode(p, seq, status)
	if err != nil {
		c.log.Error("smsc cannot encode", "pdu", p.CommandID().String(), "err", err)
		return true
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if before != nil {
		before()
	}
	timeout := writeTimeout
	if c.sv.ctx.Err() != nil {
		timeout = lingerTimeout // shutting down: do not wait long for a peer that does not read
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.nc.Write(b); err != nil {
		c.log.Debug("smsc write failed", "pdu", p.CommandID().String(), "err", err)
		c.nc.Close()
		return false
	}
	return true
}

// deliver sends d and waits up to timeout for its answer.
func (c *conn) deliver(ctx context.Context, d *smpp.DeliverSM, timeout time.Duration) error {
	ch := make(chan smpp.Header, 1)
	c.mu.Lock()
	c.outSeq = c.outSeq%0x7FFFFFFF + 1
	seq := c.outSeq
	c.pending[seq] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, seq)
		c.mu.Unlock()
	}()
	if !c.writeThen(d, seq, smpp.StatusOK, nil) {
		return errNotSent
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case h := <-ch:
		if h.Status != smpp.StatusOK {
			return fmt.Errorf("%w: %s answered with %s", errReceiptRefused, h.CommandID, h.Status)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("%w: no deliver_sm_resp within %v", errReceiptUnanswered, timeout)
	case <-c.done:
		return errConnClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Why a receipt's deliver_sm failed, for the counters in Stats and for
// counting attempts: one never written does not count.
var (
	errNotSent           = errors.New("smsc: connection closed before the deliver_sm was sent")
	errConnClosed        = errors.New("smsc: connection closed")
	errReceiptRefused    = errors.New("smsc: receipt refused")
	errReceiptUnanswered = errors.New("smsc: receipt unanswered")
)

// resolve hands the answer h to the deliver_sm waiting for it, if any.
func (c *conn) resolve(h smpp.Header) {
	c.mu.Lock()
	ch := c.pending[h.Sequence]
	delete(c.pending, h.Sequence)
	c.mu.Unlock()
	if ch != nil {
		ch <- h
	}
}

// linger half-closes the connection and reads what the peer still sends
// until it closes too, briefly; see lingerTimeout.
func (c *conn) linger() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, c.nc)
}

// shutdown runs when the server stops: a bound ESME is told with unbind,
// then the connection is closed.
func (c *conn) shutdown() {
	c.srv.mu.Lock()
	bound := c.kind != unbound
	c.srv.mu.Unlock()
	if bound {
		c.mu.Lock()
		c.outSeq = c.outSeq%0x7FFFFFFF + 1
		seq := c.outSeq
		c.mu.Unlock()
		c.writeThen(&smpp.Unbind{}, seq, smpp.StatusOK, nil)
	}
	c.close()
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.nc.Close()
		close(c.done)
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
		c.log.Debug("smsc connection closed")
	})
}
