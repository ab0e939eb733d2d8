package smpp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Errors a Session returns, for callers to branch on with errors.Is. They
// say whether a request may have reached the SMSC, which decides whether
// sending it again risks a duplicate.
var (
	// ErrClosed: the session (or Transmitter) is closed or closing, or the
	// connection was gone before the request was written. The request was
	// not sent.
	ErrClosed = errors.New("smpp: session closed")
	// ErrResponseTimeout: the request was sent and no response came within
	// Config.ResponseTimeout. The SMSC may or may not have acted on it.
	ErrResponseTimeout = errors.New("smpp: no response within the timeout")
	// ErrConnectionLost: the request was sent and the connection ended
	// before its response arrived. The SMSC may or may not have acted on it.
	ErrConnectionLost = errors.New("smpp: connection lost before the response")
	// ErrUnbound: the SMSC ended the session with an unbind, or reported it
	// unbound (ESME_RINVBNDSTS).
	ErrUnbound = errors.New("smpp: unbound by the SMSC")
)

// StatusError is a response whose command_status is not ESME_ROK: a refused
// bind or submit_sm, or a generic_nack.
type StatusError struct {
	Command CommandID // the request refused: bind_transceiver, submit_sm, ...
	Status  CommandStatus
}

// Error reads "smpp: submit_sm refused: ESME_RINVDSTADR (invalid destination address)".
func (e *StatusError) Error() string {
	if d := e.Status.Description(); d != "" {
		return fmt.Sprintf("smpp: %s refused: %s (%s)", e.Command, e.Status, d)
	}
	return fmt.Sprintf("smpp: %s refused: %s", e.Command, e.Status)
}

// Temporary reports whether the same request may succeed later; see
// [CommandStatus.Temporary].
func (e *StatusError) Temporary() bool { return e.Status.Temporary() }

// SubmitResult is what the SMSC said about an accepted submit_sm.
type SubmitResult struct {
	// MessageID is the SMSC's id for the message, which its delivery
	// receipts quote (compare with [SameMessageID]).
	MessageID string
}

// Session is one bound SMPP connection to an SMSC, the ESME side. Its
// methods are safe for concurrent use.
//
// A reader goroutine matches responses to requests by sequence number, so
// up to Config.Window submit_sm are in flight at once; it answers
// enquire_link, unbind and malformed PDUs itself and hands deliver_sm to
// Config.DeliverWorkers goroutines running Config.OnDeliver. The reader
// never waits for them: a deliver_sm they have no room for is answered at
// once with ESME_RX_T_APPN, for the SMSC to retry, because a reader stopped
// behind slow receipts would hold up every submit_sm_resp after them. A
// keepalive goroutine sends enquire_link. When the
// connection ends for any reason the session is dead for good: Done is
// closed, Err says why, and a new session must be dialled ([Transmitter]
// does that).
type Session struct {
	cfg     Config
	conn    net.Conn
	smscID  string
	limiter *rate.Limiter

	window  chan struct{}  // one token per submit_sm awaiting its response
	probe   chan struct{}  // asks the keepalive for an enquire_link now
	inbound chan inbound   // deliver_sm waiting for an OnDeliver worker
	done    chan struct{}  // closed when every goroutine has returned
	busy    *atomic.Uint64 // deliver_sm refused for want of a worker; a Transmitter's shared counter

	ctx         context.Context // cancelled when the session dies
	cancel      context.CancelFunc
	quit        context.Context // cancelled when Close starts or the session dies: no new submits
	stopSubmits context.CancelFunc
	wg          sync.WaitGroup

	seq atomic.Uint32
	wmu sync.Mutex // serialises writes

	mu       sync.Mutex
	pending  map[uint32]*call // nil once the session is dead
	err      error
	closing  bool
	pausedTo time.Time // no submit_sm before this, after throttling
	throttle int       // consecutive throttling responses

	// Deliveries in hand. Counting them, rather than asking the channel
	// whether it has room, takes a deliver_sm whenever a worker or a queue
	// slot is free, even if the worker is not yet back waiting on the
	// channel, and lets Close wait for them. dmu is held while the reader
	// queues a deliver_sm, so that a count of zero once dclosed is set
	// stays zero.
	dmu      sync.Mutex
	dclosed  bool          // Close has begun waiting: refuse new deliver_sm
	dpending int           // deliver_sm queued or in OnDeliver, at most DeliverWorkers + queue
	didle    chan struct{} // closed once dclosed is set and dpending is 0
}

// call is a request awaiting its response.
type call struct {
	cmd      CommandID
	ch       chan result // buffered: finish never blocks
	timer    *time.Timer
	windowed bool // holds a window token, released by finish
}

type result struct {
	h   Header
	p   PDU
	err error
}

// inbound is a deliver_sm (or data_sm) for OnDeliver, with what answers it.
type inbound struct {
	seq  uint32
	d    *DeliverSM
	resp PDU
}

// Dial connects to cfg.Addr (over TLS if cfg.TLS is set), binds and returns
// the bound session. A refused bind returns an error wrapping a
// [*StatusError] with the SMSC's status (ESME_RINVPASWD, ...). ctx bounds
// the connection and the bind, as does cfg.ResponseTimeout; it does not
// outlive Dial.
func Dial(ctx context.Context, cfg Config) (*Session, error) {
	return dial(ctx, cfg, nil)
}

// dial is Dial counting refused deliver_sm in busy, when not nil: a
// Transmitter keeps the count across the sessions it dials.
func dial(ctx context.Context, cfg Config, busy *atomic.Uint64) (*Session, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	nd := &net.Dialer{Timeout: cfg.ResponseTimeout}
	var conn net.Conn
	if cfg.TLS != nil {
		conn, err = (&tls.Dialer{NetDialer: nd, Config: cfg.TLS}).DialContext(ctx, "tcp", cfg.Addr)
	} else {
		conn, err = nd.DialContext(ctx, "tcp", cfg.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("smpp: dial %s: %w", cfg.Addr, err)
	}
	br := bufio.NewReader(conn)
	smscID, err := bind(ctx, conn, br, &cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("smpp: bind %s as %s %q: %w", cfg.Addr, cfg.Mode, cfg.SystemID, err)
	}

	limit := rate.Inf
	if cfg.TPS > 0 {
		limit = rate.Limit(cfg.TPS)
	}
	s := &Session{
		cfg:     cfg,
		conn:    conn,
		smscID:  smscID,
		limiter: rate.NewLimiter(limit, 1),
		window:  make(chan struct{}, cfg.Window),
		probe:   make(chan struct{}, 1),
		inbound: make(chan inbound, cfg.DeliverWorkers+cfg.deliverQueue()),
		done:    make(chan struct{}),
		busy:    busy,
		pending: make(map[uint32]*call),
		didle:   make(chan struct{}),
	}
	if s.busy == nil {
		s.busy = new(atomic.Uint64)
	}
	s.seq.Store(1) // the bind's
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.quit, s.stopSubmits = context.WithCancel(s.ctx)
	s.wg.Add(2)
	go s.readLoop(br)
	go s.keepalive()
	if cfg.OnDeliver != nil {
		s.wg.Add(cfg.DeliverWorkers)
		for range cfg.DeliverWorkers {
			go s.deliverWorker()
		}
	}
	go func() {
		s.wg.Wait()
		close(s.done)
	}()
	return s, nil
}

// bind sends the bind request as sequence number 1 and waits for its
// response, before any other goroutine uses the connection.
func bind(ctx context.Context, conn net.Conn, br *bufio.Reader, cfg *Config) (smscID string, err error) {
	deadline := time.Now().Add(cfg.ResponseTimeout)
	ctxDeadline := false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, ctxDeadline = d, true
	}
	conn.SetDeadline(deadline)
	defer conn.SetDeadline(time.Time{})
	// Cancelling ctx unblocks the reads below by moving the deadline.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(err error) (string, error) {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			if ctxDeadline { // the read may beat ctx's own timer by a hair
				return "", context.DeadlineExceeded
			}
			return "", fmt.Errorf("%w: %w", ErrResponseTimeout, err)
		}
		return "", err
	}

	req := cfg.bindPDU()
	b, err := Encode(req, 1, StatusOK)
	if err != nil {
		return "", err
	}
	if _, err := conn.Write(b); err != nil {
		return fail(err)
	}
	for {
		h, p, err := ReadPDU(br, 0)
		if err != nil {
			return fail(err)
		}
		switch {
		case h.CommandID == CmdEnquireLink:
			// Some SMSCs probe before answering the bind.
			if b, err := Encode(&EnquireLinkResp{}, h.Sequence, StatusOK); err == nil {
				conn.Write(b)
			}
			continue
		case h.Sequence != 1 || !h.CommandID.IsResponse():
			continue // nothing else is meaningful before the bind is answered
		case h.CommandID == CmdGenericNack:
			return "", &StatusError{Command: req.CommandID(), Status: nackStatus(h.Status)}
		case h.CommandID != req.CommandID().Response():
			return "", fmt.Errorf("%w: %s answers %s", ErrInvalidField, h.CommandID, req.CommandID())
		case h.Status != StatusOK:
			return "", &StatusError{Command: req.CommandID(), Status: h.Status}
		}
		switch r := p.(type) {
		case *BindTransceiverResp:
			return r.SystemID, nil
		case *BindTransmitterResp:
			return r.SystemID, nil
		case *BindReceiverResp:
			return r.SystemID, nil
		}
		return "", nil
	}
}

// nackStatus is the status a generic_nack reports, never ESME_ROK.
func nackStatus(s CommandStatus) CommandStatus {
	if s == StatusOK {
		return StatusInvCmdID
	}
	return s
}

// SMSCSystemID returns the system_id the SMSC gave in its bind response.
func (s *Session) SMSCSystemID() string { return s.smscID }

// Mode returns how the session is bound.
func (s *Session) Mode() BindMode { return s.cfg.Mode }

// Outstanding returns how many submit_sm await their response.
func (s *Session) Outstanding() int { return len(s.window) }

// Done returns a channel closed when the session has ended and all its
// goroutines have returned.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended — ErrClosed after Close, an error
// wrapping ErrUnbound, ErrResponseTimeout (the keepalive went unanswered),
// a read error — or nil while it is alive.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// alive reports whether the session can take a submit_sm now.
func (s *Session) alive() bool { return s.quit.Err() == nil }

// paused reports whether throttling holds back submissions.
func (s *Session) paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Before(s.pausedTo)
}

// Submit sends sm and waits for its submit_sm_resp. It waits first for a
// free slot in the window, for the end of any throttling pause and for the
// TPS limiter, all bounded by ctx.
//
// A refusal is a [*StatusError]. After ESME_RTHROTTLED or ESME_RMSGQFUL the
// session pauses all submissions for a growing backoff before returning it,
// so the caller may submit again at once (the Transmitter does). Errors that
// wrap ErrClosed mean sm was not sent; ErrResponseTimeout, ErrConnectionLost
// or a ctx error after sending mean the SMSC may have accepted it. A
// response whose status is ESME_ROK but whose body cannot be read is an
// error wrapping a [*DecodeError]: the message was accepted, but its id is
// unknown.
func (s *Session) Submit(ctx context.Context, sm *SubmitSM) (SubmitResult, error) {
	if sm == nil {
		return SubmitResult{}, fmt.Errorf("smpp: submit_sm: %w: nil SubmitSM", ErrInvalidField)
	}
	if s.cfg.Mode == BindModeReceiver {
		return SubmitResult{}, errors.New("smpp: submit_sm: a receiver bind cannot submit")
	}
	if !s.alive() {
		return SubmitResult{}, s.closedErr()
	}
	if err := ctx.Err(); err != nil {
		return SubmitResult{}, fmt.Errorf("smpp: submit_sm: %w", err)
	}
	select {
	case s.window <- struct{}{}:
	case <-ctx.Done():
		return SubmitResult{}, fmt.Errorf("smpp: submit_sm: waiting for the window: %w", ctx.Err())
	case <-s.quit.Done():
		return SubmitResult{}, s.closedErr()
	}
	if err := s.waitToSend(ctx); err != nil {
		<-s.window
		return SubmitResult{}, err
	}
	// select may have picked the window over ctx, or over Close starting.
	if err := ctx.Err(); err != nil {
		<-s.window
		return SubmitResult{}, fmt.Errorf("smpp: submit_sm: %w", err)
	}
	if !s.alive() {
		<-s.window
		return SubmitResult{}, s.closedErr()
	}
	h, p, err := s.roundTrip(ctx, sm, true)
	if err != nil {
		return SubmitResult{}, err
	}
	switch {
	case h.CommandID == CmdGenericNack:
		return SubmitResult{}, &StatusError{Command: CmdSubmitSM, Status: nackStatus(h.Status)}
	case h.Status == StatusThrottled || h.Status == StatusMsgQueueFull:
		s.pause()
		return SubmitResult{}, &StatusError{Command: CmdSubmitSM, Status: h.Status}
	case h.Status == StatusInvBindStatus:
		// The SMSC no longer considers us bound: only a new bind helps.
		err := &StatusError{Command: CmdSubmitSM, Status: h.Status}
		s.fail(fmt.Errorf("%w: %w", ErrUnbound, err))
		return SubmitResult{}, err
	case h.Status != StatusOK:
		return SubmitResult{}, &StatusError{Command: CmdSubmitSM, Status: h.Status}
	}
	s.resume()
	r, ok := p.(*SubmitSMResp)
	if !ok {
		return SubmitResult{}, fmt.Errorf("smpp: submit_sm seq %d: %w: answered by %s", h.Sequence, ErrInvalidField, h.CommandID)
	}
	return SubmitResult{MessageID: r.MessageID}, nil
}

// waitToSend waits out a throttling pause and then the TPS limiter.
func (s *Session) waitToSend(ctx context.Context) error {
	for {
		s.mu.Lock()
		wait := time.Until(s.pausedTo)
		s.mu.Unlock()
		if wait <= 0 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("smpp: submit_sm: throttled: %w", ctx.Err())
		case <-s.quit.Done():
			t.Stop()
			return s.closedErr()
		}
	}
	if s.limiter.Limit() == rate.Inf {
		return nil
	}
	// Abandon the limiter when the session closes, not only when ctx does.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.quit, cancel)()
	if err := s.limiter.Wait(lctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("smpp: submit_sm: waiting for the TPS limit: %w", ctx.Err())
		}
		return s.closedErr()
	}
	return nil
}

// pause holds back submissions after a throttling response, for a backoff
// that doubles with each consecutive one.
func (s *Session) pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if now.Before(s.pausedTo) {
		// Already pausing: this answers a request sent before the pause
		// began, and a full window of them must not count as many.
		return
	}
	d := s.cfg.ThrottleBackoff << min(s.throttle, 20)
	if d <= 0 || d > s.cfg.MaxThrottleBackoff {
		d = s.cfg.MaxThrottleBackoff
	}
	s.throttle++
	s.pausedTo = now.Add(d)
}

// resume resets the throttling backoff after an accepted submission.
func (s *Session) resume() {
	s.mu.Lock()
	s.throttle = 0
	s.mu.Unlock()
}

// closedErr is the error for a request that was not sent because the
// session is closing or dead.
func (s *Session) closedErr() error {
	if err := s.Err(); err != nil && !errors.Is(err, ErrClosed) {
		// The cause is text only: its chain may hold ErrResponseTimeout
		// (from the keepalive), which would misreport this request as sent.
		return fmt.Errorf("%w (%v)", ErrClosed, err)
	}
	return ErrClosed
}

// roundTrip sends p and waits for its response (or generic_nack). A
// windowed request holds a window token, which is released when the
// response arrives, the response timeout fires or the session dies — not
// when ctx gives up, since the SMSC still counts the request as
// outstanding.
func (s *Session) roundTrip(ctx context.Context, p PDU, windowed bool) (Header, PDU, error) {
	release := func() {
		if windowed {
			<-s.window
		}
	}
	seq := s.nextSeq()
	b, err := Encode(p, seq, StatusOK)
	if err != nil {
		release()
		return Header{}, nil, err
	}
	c := &call{cmd: p.CommandID(), ch: make(chan result, 1), windowed: windowed}
	s.mu.Lock()
	if s.pending == nil {
		s.mu.Unlock()
		release()
		return Header{}, nil, s.closedErr()
	}
	s.pending[seq] = c
	c.timer = time.AfterFunc(s.cfg.ResponseTimeout, func() {
		if s.finish(seq, result{err: ErrResponseTimeout}) {
			select {
			case s.probe <- struct{}{}: // is the link itself dead?
			default:
			}
		}
	})
	s.mu.Unlock()

	if err := s.write(b); err != nil {
		s.finish(seq, result{})
		return Header{}, nil, fmt.Errorf("smpp: %s seq %d: %w: %w", p.CommandID(), seq, ErrClosed, err)
	}
	select {
	case r := <-c.ch:
		if r.err != nil {
			return r.h, nil, fmt.Errorf("smpp: %s seq %d: %w", p.CommandID(), seq, r.err)
		}
		return r.h, r.p, nil
	case <-ctx.Done():
		return Header{}, nil, fmt.Errorf("smpp: %s seq %d: sent, gave up waiting for the response: %w", p.CommandID(), seq, ctx.Err())
	}
}

// nextSeq returns the next sequence number, from 1 to 0x7FFFFFFF and round
// again. A number still pending after 2³¹ requests would need a response
// timeout of weeks, so no check for reuse is made.
func (s *Session) nextSeq() uint32 {
	for {
		n := s.seq.Add(1) & 0x7FFFFFFF
		if n != 0 {
			return n
		}
	}
}

// finish completes the call with sequence number seq, if it is still
// pending, and reports whether it was.
func (s *Session) finish(seq uint32, r result) bool {
	s.mu.Lock()
	c := s.pending[seq]
	delete(s.pending, seq)
	s.mu.Unlock()
	if c == nil {
		return false
	}
	c.timer.Stop()
	if c.windowed { // first, so the slot is free when the caller wakes
		<-s.window
	}
	c.ch <- r
	return true
}

// write sends one encoded PDU; a failure ends the session.
func (s *Session) write(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.ctx.Err() != nil {
		return s.closedErr()
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.cfg.ResponseTimeout))
	if _, err := s.conn.Write(b); err != nil {
		err = fmt.Errorf("smpp: write: %w", err)
		s.fail(err)
		return err
	}
	return nil
}

// reply sends a response (or generic_nack) to the peer's request seq.
func (s *Session) reply(seq uint32, p PDU, status CommandStatus) {
	b, err := Encode(p, seq, status)
	if err != nil {
		return // responses we build always encode
	}
	s.write(b) // a failure has ended the session; nothing more to do
}

// fail ends the session with err, once: it closes the connection, which
// stops the reader, cancels the session's context, which stops the other
// goroutines, and completes every pending request with ErrConnectionLost.
func (s *Session) fail(err error) {
	s.mu.Lock()
	if s.pending == nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	calls := s.pending
	s.pending = nil
	s.mu.Unlock()

	s.cancel()
	s.conn.Close()
	lost := ErrConnectionLost
	if !errors.Is(err, ErrClosed) {
		lost = fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	for _, c := range calls {
		c.timer.Stop()
		if c.windowed {
			<-s.window
		}
		c.ch <- result{err: lost}
	}
}

// readLoop reads and dispatches PDUs until the connection ends.
func (s *Session) readLoop(br *bufio.Reader) {
	defer s.wg.Done()
	for {
		h, p, err := ReadPDU(br, 0)
		if err != nil {
			if de, ok := errors.AsType[*DecodeError](err); ok {
				if s.malformed(h, de) {
					continue
				}
				return
			}
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				err = ErrClosed // the SMSC hung up after (or instead of) unbind_resp
			} else {
				err = fmt.Errorf("smpp: read: %w", err)
			}
			s.fail(err)
			return
		}
		if h.CommandID.IsResponse() {
			s.finish(h.Sequence, result{h: h, p: p})
			continue
		}
		switch p := p.(type) {
		case *EnquireLink:
			s.reply(h.Sequence, &EnquireLinkResp{}, StatusOK)
		case *DeliverSM:
			s.deliver(inbound{seq: h.Sequence, d: p, resp: &DeliverSMResp{}})
		case *DataSM:
			s.deliver(inbound{seq: h.Sequence, d: p.deliverSM(), resp: &DataSMResp{}})
		case *Unbind:
			s.reply(h.Sequence, &UnbindResp{}, StatusOK)
			s.fail(ErrUnbound)
			return
		default:
			// A request an SMSC does not send to an ESME (bind, submit_sm).
			s.reply(h.Sequence, &GenericNack{}, StatusInvCmdID)
		}
	}
}

// malformed answers a PDU the codec refused, following its rules, and
// reports whether the stream can still be read.
func (s *Session) malformed(h Header, de *DecodeError) bool {
	switch {
	case errors.Is(de, ErrCommandLength):
		s.reply(h.Sequence, &GenericNack{}, de.Status)
		s.fail(fmt.Errorf("smpp: framing lost: %w", de))
		return false
	case h.CommandID.IsResponse():
		// Responses are never nacked; the waiting caller learns of it.
		s.finish(h.Sequence, result{h: h, err: de})
	case h.CommandID == CmdAlertNotification || h.CommandID == CmdOutbind:
		// Requests without a response; otpd has no use for them.
	default:
		s.reply(h.Sequence, &GenericNack{}, de.Status)
	}
	return true
}

// deliver hands a deliver_sm to the OnDeliver workers, or answers it
// itself, without ever waiting: ESME_ROK when there is no OnDeliver,
// ESME_RX_T_APPN when every worker is busy and the queue is full, or Close
// is waiting for the handlers. The SMSC delivers a refused deliver_sm again
// later, which costs a receipt some delay; waiting here would cost every
// submit_sm_resp behind it the same delay.
func (s *Session) deliver(in inbound) {
	if s.cfg.OnDeliver == nil {
		s.reply(in.seq, in.resp, StatusOK)
		return
	}
	s.dmu.Lock()
	closing := s.dclosed
	queued := !closing && s.dpending < cap(s.inbound)
	if queued {
		s.dpending++
		s.inbound <- in // never blocks: the channel holds at most dpending
	}
	s.dmu.Unlock()
	if queued {
		return
	}
	if !closing {
		s.busy.Add(1)
	}
	s.reply(in.seq, in.resp, StatusTempAppErr)
}

// deliverWorker runs OnDeliver for queued deliver_sm until the session
// ends.
func (s *Session) deliverWorker() {
	defer s.wg.Done()
	for {
		select {
		case in := <-s.inbound:
			s.handleDeliver(in)
			s.dmu.Lock()
			s.dpending--
			if s.dclosed && s.dpending == 0 {
				close(s.didle)
			}
			s.dmu.Unlock()
		case <-s.ctx.Done():
			return
		}
	}
}

// handleDeliver passes one deliver_sm to OnDeliver and answers it with
// what OnDeliver returned: ESME_ROK only once it has returned nil, so a
// receipt is acknowledged only after it was recorded.
func (s *Session) handleDeliver(in inbound) {
	if s.ctx.Err() != nil {
		return // unanswered: the SMSC delivers it again
	}
	status := StatusOK
	if err := s.cfg.OnDeliver(s.ctx, in.d); err != nil {
		status = StatusTempAppErr
		if se, ok := errors.AsType[*StatusError](err); ok && se.Status != StatusOK {
			status = se.Status
		}
	}
	if s.ctx.Err() != nil {
		return // the connection is gone; the SMSC delivers it again
	}
	s.reply(in.seq, in.resp, status)
}

// stopDeliveries makes the reader refuse deliver_sm from now on and waits,
// bounded by ctx, until those already queued or in OnDeliver have been
// answered, so that a graceful Close loses no work a handler had begun.
func (s *Session) stopDeliveries(ctx context.Context) error {
	s.dmu.Lock()
	if !s.dclosed {
		s.dclosed = true
		if s.dpending == 0 {
			close(s.didle)
		}
	}
	n := s.dpending
	s.dmu.Unlock()
	select {
	case <-s.didle:
		return nil
	case <-s.ctx.Done():
		return nil // the session died; its handlers have been told to stop
	case <-ctx.Done():
		return fmt.Errorf("smpp: close: waiting for %d deliver_sm handlers: %w", n, ctx.Err())
	}
}

// keepalive sends enquire_link every EnquireLinkInterval, and at once when
// a request timed out; an unanswered one ends the session.
func (s *Session) keepalive() {
	defer s.wg.Done()
	var tick <-chan time.Time
	if s.cfg.EnquireLinkInterval > 0 {
		t := time.NewTicker(s.cfg.EnquireLinkInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
		case <-s.probe:
		case <-s.ctx.Done():
			return
		}
		_, _, err := s.roundTrip(s.ctx, &EnquireLink{}, false)
		if errors.Is(err, ErrResponseTimeout) {
			s.fail(fmt.Errorf("smpp: keepalive: %w", err))
			return
		}
	}
}

// Close ends the session gracefully: it stops taking submissions, waits for
// the responses to those in flight, stops taking deliver_sm (answering them
// ESME_RX_T_APPN, for the SMSC to deliver elsewhere or later) and waits for
// the OnDeliver calls queued or running to return and be answered, sends
// unbind and waits for unbind_resp, then closes the connection — each step
// bounded by ctx, after which the connection is closed anyway and the
// context of OnDeliver calls still running is cancelled; their deliver_sm
// stay unanswered and the SMSC delivers them again. Closing a session that
// has already ended returns nil and leaves Err as it was; otherwise Err
// returns ErrClosed.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	first := !s.closing
	s.closing = true
	s.mu.Unlock()
	if !first {
		return s.wait(ctx)
	}
	s.stopSubmits()

	var err error
drain: // every window token held means nothing is in flight
	for range cap(s.window) {
		select {
		case s.window <- struct{}{}:
		case <-s.ctx.Done():
			break drain
		case <-ctx.Done():
			err = fmt.Errorf("smpp: close: waiting for %d responses: %w", len(s.window), ctx.Err())
			break drain
		}
	}
	if err == nil && s.ctx.Err() == nil {
		err = s.stopDeliveries(ctx)
	}
	if err == nil && s.ctx.Err() == nil {
		if _, _, uerr := s.roundTrip(ctx, &Unbind{}, false); uerr != nil && s.ctx.Err() == nil {
			err = fmt.Errorf("smpp: close: %w", uerr)
		}
	}
	s.fail(ErrClosed)
	if werr := s.wait(ctx); err == nil {
		err = werr
	}
	return err
}

// wait waits for the session's goroutines to return.
func (s *Session) wait(ctx context.Context) error {
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("smpp: close: %w", ctx.Err())
	}
}

// deliverSM converts a data_sm to the deliver_sm OnDeliver takes; its
// content stays in the message_payload TLV, where ParseReceipt looks.
func (p *DataSM) deliverSM() *DeliverSM {
	return &DeliverSM{
		ServiceType:        p.ServiceType,
		Source:             p.Source,
		Destination:        p.Destination,
		ESMClass:           p.ESMClass,
		RegisteredDelivery: p.RegisteredDelivery,
		DataCoding:         p.DataCoding,
		TLVs:               p.TLVs,
	}
}
