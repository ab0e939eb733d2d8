// Package smstest_test is the SMS integration suite: the real engine, store,
// dispatcher, router, SMPP route and transmitter, talking SMPP 3.4 over
// loopback to the in-process SMSC simulator (package smsc), whose faults
// make the carrier misbehave on purpose. Nothing here is a fake: a test
// starts verifications through otpd.Engine and watches the SMSC receive
// them and the receipts come back.
package smstest_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/delivery"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/sms"
	"github.com/otpd/otpd/smsc"
	"github.com/otpd/otpd/sqlite"
)

// waitTimeout bounds every wait. Nothing should come near it; it is
// generous because the suite runs with -race on a loaded 2-core machine.
const waitTimeout = 15 * time.Second

// pollInterval is how often a wait looks again.
const pollInterval = 5 * time.Millisecond

// Credentials every test SMSC and route share unless a test says otherwise.
const (
	systemID = "otpd"
	password = "secret"
)

// smscBundle is a simulated SMSC serving on a loopback port.
type smscBundle struct {
	srv  *smsc.Server
	addr string
	stop func() // stops serving and waits for Serve to return; idempotent
}

// receiptDelay is how long the test SMSCs wait before sending a receipt.
// It is not shorter because of a bug outside this package: a receipt that
// arrives before the engine has recorded the send's outcome (the refs it
// quotes) is taken for a duplicate's, acknowledged and dropped, and the
// message stays "sent" for good. TestReceiptBeforeSendRecorded shows it.
const receiptDelay = 500 * time.Millisecond

// startSMSC starts an SMSC on a free loopback port for the test's lifetime.
// Receipts go out after receiptDelay unless cfg says otherwise.
func startSMSC(tb testing.TB, cfg smsc.Config) *smscBundle {
	tb.Helper()
	return startSMSCAt(tb, cfg, "127.0.0.1:0")
}

// startSMSCAt starts an SMSC listening on addr: "127.0.0.1:0" for a free
// port, or the address of an SMSC that was stopped, to stand in for it.
func startSMSCAt(tb testing.TB, cfg smsc.Config, addr string) *smscBundle {
	tb.Helper()
	if cfg.DLRDelay == 0 {
		cfg.DLRDelay = receiptDelay
	}
	srv := smsc.New(cfg)
	ln, err := net.Listen("tcp", addr)
	require.NoError(tb, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-errc:
				require.NoError(tb, err)
			case <-time.After(waitTimeout):
				tb.Error("smsc: Serve did not return after cancel")
			}
		})
	}
	tb.Cleanup(stop)
	return &smscBundle{srv: srv, addr: ln.Addr().String(), stop: stop}
}

// waitFor waits for the SMSC to hold a message to the destination.
func (b *smscBundle) waitFor(tb testing.TB, to string) smsc.Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	m, err := b.srv.WaitFor(ctx, smsc.To(to))
	require.NoError(tb, err, "the SMSC never received a message to %s", to)
	return m
}

// unusedAddr returns a loopback address nothing listens on: an SMSC that is
// down. (Another process could take the port meanwhile; on loopback in a
// test run that does not happen in practice.)
func unusedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	addr := ln.Addr().String()
	require.NoError(tb, ln.Close())
	return addr
}

// esmeConfig is a transmitter's configuration for an SMSC at addr, with
// backoffs short enough for tests. OnDeliver is set by newStack.
func esmeConfig(addr string) smpp.Config {
	return smpp.Config{
		Addr:               addr,
		SystemID:           systemID,
		Password:           password,
		Window:             10,
		ResponseTimeout:    2 * time.Second,
		ThrottleBackoff:    2 * time.Millisecond,
		MaxThrottleBackoff: 20 * time.Millisecond,
		RebindBackoff:      10 * time.Millisecond,
		MaxRebindBackoff:   100 * time.Millisecond,
	}
}

// routeSpec is one SMPP route of a stack.
type routeSpec struct {
	name     string
	prefixes []string
	priority int
	esme     smpp.Config
	opts     sms.SMPPOptions
}

// stackOptions configure newStack. Zero values take test defaults.
type stackOptions struct {
	routes      []routeSpec
	renderer    otpd.Renderer // message.New() when nil
	sendTimeout time.Duration // one channel call; 5 s when zero
	workers     int           // dispatcher workers; 32 when zero
	// beforeReceipt, when set, runs in OnDeliver before the receipt is
	// recorded, as a slow store would; an error refuses the deliver_sm.
	beforeReceipt func(ctx context.Context) error
}

// stack is otpd wired as `otpd serve` wires it, minus HTTP: a SQLite store,
// the engine, the dispatcher running Engine.Deliver, and the SMS router over
// SMPP routes whose receipts flow back into Engine.RecordReceipt.
type stack struct {
	engine  *otpd.Engine
	store   *sqlite.Store
	keyring *otpd.Keyring
	svc     *otpd.Service
	router  *sms.Router
	tx      map[string]*smpp.Transmitter // by route name
	routes  map[string]*sms.SMPPRoute    // by route name
	recs    receiptCounts
}

// receiptCounts counts what the receipt handler did.
type receiptCounts struct {
	recorded     atomic.Int64 // final receipts applied to a message
	unknown      atomic.Int64 // receipts quoting an id no message has (a duplicate's)
	intermediate atomic.Int64 // non-final states, ignored
	other        atomic.Int64 // mobile-originated or unreadable, acknowledged and dropped
}

func (c *receiptCounts) String() string {
	return fmt.Sprintf("%d recorded, %d for unknown ids, %d intermediate, %d other",
		c.recorded.Load(), c.unknown.Load(), c.intermediate.Load(), c.other.Load())
}

// newStack builds and runs a stack for the test. Cleanup stops it in the
// order serve does: the dispatcher, then the binds (receipts arriving while
// they unbind are still recorded), then the store; SMSCs started before
// newStack stop after all of it.
func newStack(tb testing.TB, o stackOptions) *stack {
	tb.Helper()
	ctx := context.Background()
	st := &stack{tx: map[string]*smpp.Transmitter{}, routes: map[string]*sms.SMPPRoute{}}

	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "otpd.db"))
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, store.Close()) })
	st.store = store

	engineReady := make(chan struct{})
	var routes []*sms.Route
	for _, spec := range o.routes {
		cfg := spec.esme
		name := spec.name
		cfg.OnDeliver = func(ctx context.Context, d *smpp.DeliverSM) error {
			select {
			case <-engineReady:
			case <-ctx.Done():
				return ctx.Err()
			}
			if o.beforeReceipt != nil {
				if err := o.beforeReceipt(ctx); err != nil {
					return err
				}
			}
			return handleReceipt(ctx, st.engine, name, d, &st.recs)
		}
		tx, err := smpp.NewTransmitter(cfg)
		require.NoError(tb, err)
		tb.Cleanup(func() {
			cctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			require.NoError(tb, tx.Close(cctx))
		})
		rt, err := sms.NewSMPPRoute(tx, spec.opts)
		require.NoError(tb, err)
		st.tx[name], st.routes[name] = tx, rt
		routes = append(routes, &sms.Route{Name: name, Prefixes: spec.prefixes, Priority: spec.priority, Channel: rt})
	}
	st.router, err = sms.NewRouter(routes)
	require.NoError(tb, err)

	renderer := o.renderer
	if renderer == nil {
		renderer = message.New()
	}
	sendTimeout := o.sendTimeout
	if sendTimeout == 0 {
		sendTimeout = 5 * time.Second
	}
	workers := o.workers
	if workers == 0 {
		workers = 32
	}
	disp := delivery.New(store, delivery.Options{Workers: workers, PollInterval: 50 * time.Millisecond, ShutdownGrace: waitTimeout})
	st.keyring = otpd.NewKeyring(time.Now())
	st.engine, err = otpd.NewEngine(otpd.Config{
		Store:       store,
		Keyring:     st.keyring,
		Channels:    map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: st.router},
		Renderer:    renderer,
		Notify:      disp.Notify,
		Handoff:     disp, // as otpd serve wires it
		SendTimeout: sendTimeout,
	})
	require.NoError(tb, err)
	close(engineReady)

	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = disp.Run(runCtx, st.engine.Deliver)
	}()
	tb.Cleanup(func() {
		stopRun()
		<-done
	})

	st.svc, err = st.engine.CreateService(ctx, &otpd.Service{Name: "Acme", Policy: otpd.DefaultPolicy()})
	require.NoError(tb, err)
	return st
}

// handleReceipt is cmd/otpd's handleReceipt (serve.go), with counters in
// place of logs: it acknowledges what it cannot use — messages from
// handsets, unreadable receipts, receipts for ids never recorded (a
// duplicate's) — and returns an error only when the store failed, so the
// SMSC tries again later.
func handleReceipt(ctx context.Context, engine *otpd.Engine, route string, d *smpp.DeliverSM, c *receiptCounts) error {
	r, err := smpp.ParseReceipt(d)
	if err != nil {
		c.other.Add(1)
		return nil
	}
	status, final := receiptStatus(r.State)
	if !final {
		c.intermediate.Add(1)
		return nil
	}
	reason := ""
	if status != otpd.MessageDelivered {
		reason = strings.TrimSpace("stat:" + r.Stat + " err:" + r.Err)
	}
	err = engine.RecordReceipt(ctx, otpd.Receipt{Channel: otpd.ChannelSMS, Ref: route + ":" + r.MessageID, Status: status, Error: reason})
	if errors.Is(err, otpd.ErrNotFound) {
		c.unknown.Add(1)
		return nil
	}
	if err == nil {
		c.recorded.Add(1)
	}
	return err
}

// receiptStatus is cmd/otpd's mapping of an SMSC's message state.
func receiptStatus(s smpp.MessageState) (status otpd.MessageStatus, final bool) {
	switch s {
	case smpp.StateDelivered:
		return otpd.MessageDelivered, true
	case smpp.StateExpired, smpp.StateDeleted, smpp.StateUndeliverable:
		return otpd.MessageUndelivered, true
	case smpp.StateRejected:
		return otpd.MessageFailed, true
	}
	return "", false
}

// waitBound waits for every route's transmitter to have a bind up. A test
// that counts delivery attempts needs it: the router skips a route that is
// not bound yet, which costs the message an attempt.
func (st *stack) waitBound(tb testing.TB) {
	tb.Helper()
	for name, tx := range st.tx {
		eventually(tb, "route "+name+" to bind", func() bool { return tx.Bound() > 0 })
	}
}

// phone returns the i-th test number of a block: UK numbers reserved for
// drama, +44 7700 9xxxxx, so block and i make each test's destinations
// its own.
func phone(block, i int) string {
	return fmt.Sprintf("+4477009%d%04d", block%10, i%10000)
}

// start starts a verification by SMS to the destination.
func (st *stack) start(tb testing.TB, to string) *otpd.Verification {
	tb.Helper()
	v, err := st.engine.Start(context.Background(), st.svc.ID, otpd.StartRequest{To: to, Channel: otpd.ChannelSMS})
	require.NoError(tb, err)
	return v
}

// startMany starts one verification to each destination, from a few
// goroutines at once, as concurrent API requests would.
func (st *stack) startMany(tb testing.TB, tos []string) []*otpd.Verification {
	tb.Helper()
	vs := make([]*otpd.Verification, len(tos))
	errs := make([]error, len(tos))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(tos) {
					return
				}
				vs[i], errs[i] = st.engine.Start(context.Background(), st.svc.ID, otpd.StartRequest{To: tos[i], Channel: otpd.ChannelSMS})
			}
		})
	}
	wg.Wait()
	require.NoError(tb, errors.Join(errs...))
	return vs
}

// code re-derives a verification's code, as the engine does at send time.
func (st *stack) code(tb testing.TB, v *otpd.Verification) string {
	tb.Helper()
	code, err := st.keyring.DeriveCode(v.KeyID, v.ID, v.Salt, v.Alphabet, v.CodeLength)
	require.NoError(tb, err)
	return code
}

// waitMessage polls the verification until its (only) message satisfies
// ok, and returns the verification as last read.
func (st *stack) waitMessage(tb testing.TB, v *otpd.Verification, what string, ok func(*otpd.Message) bool) *otpd.Verification {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got, err := st.engine.GetVerification(context.Background(), st.svc.ID, v.ID)
		require.NoError(tb, err)
		require.Len(tb, got.Messages, 1)
		m := got.Messages[0]
		if ok(m) {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("message of %s to %s: waited %v for it to be %s; it is %s after %d attempts (error %q); receipts: %s",
				v.ID, otpd.MaskDestination(v.To), waitTimeout, what, m.Status, m.Attempts, m.Error, &st.recs)
		}
		time.Sleep(pollInterval)
	}
}

// waitStatus waits for the verification's message to reach status.
func (st *stack) waitStatus(tb testing.TB, v *otpd.Verification, status otpd.MessageStatus) *otpd.Verification {
	tb.Helper()
	return st.waitMessage(tb, v, string(status), func(m *otpd.Message) bool { return m.Status == status })
}

// waitAll waits for every verification of the service to have its message
// in status, reading them all in one query per poll, and returns them.
func (st *stack) waitAll(tb testing.TB, n int, status otpd.MessageStatus) []*otpd.Verification {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		vs, err := st.engine.ListVerifications(context.Background(), st.svc.ID, otpd.ListRequest{})
		require.NoError(tb, err)
		counts := map[otpd.MessageStatus]int{}
		for _, v := range vs {
			require.Len(tb, v.Messages, 1)
			counts[v.Messages[0].Status]++
		}
		if len(vs) == n && counts[status] == n {
			return vs
		}
		if time.Now().After(deadline) {
			tb.Fatalf("waited %v for %d messages to be %s: %d verifications, messages by status %v; receipts: %s",
				waitTimeout, n, status, len(vs), counts, &st.recs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventually polls cond until it holds, failing the test with what after
// waitTimeout.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("waited %v for %s", waitTimeout, what)
		}
		time.Sleep(pollInterval)
	}
}

// tap is a TCP relay between ESMEs and an SMSC that reads the SMPP framing
// of what passes, to count PDUs by command, and can turn a connection into a
// black hole: the bytes the SMSC sends stop reaching the ESME, as when a
// link dies without either end closing it. Only the enquire_link test uses
// it: the SMSC answers enquire_link without counting it.
type tap struct {
	ln       net.Listener
	upstream string

	mu     sync.Mutex
	counts map[smpp.CommandID]int
	conns  []*tapConn
	wg     sync.WaitGroup
}

type tapConn struct {
	esme, smsc net.Conn
	hole       atomic.Bool // drop what the SMSC sends
}

// startTap relays a loopback port to upstream for the test's lifetime.
func startTap(tb testing.TB, upstream string) *tap {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	p := &tap{ln: ln, upstream: upstream, counts: map[smpp.CommandID]int{}}
	p.wg.Go(p.accept)
	tb.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.esme.Close()
			c.smsc.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *tap) addr() string { return p.ln.Addr().String() }

func (p *tap) accept() {
	for {
		esme, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			esme.Close()
			continue
		}
		c := &tapConn{esme: esme, smsc: up}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		p.wg.Go(func() { p.pump(c, esme, up, nil) })
		p.wg.Go(func() { p.pump(c, up, esme, &c.hole) })
	}
}

// pump copies src to dst, counting the PDUs that pass, until either end
// closes; while hole is set it reads and drops instead.
func (p *tap) pump(c *tapConn, src, dst net.Conn, hole *atomic.Bool) {
	defer c.esme.Close()
	defer c.smsc.Close()
	buf := make([]byte, 32<<10)
	var pending []byte
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if hole != nil && hole.Load() {
				continue
			}
			pending = p.count(append(pending, buf[:n]...))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// count counts the whole PDUs at the start of b and returns the rest.
func (p *tap) count(b []byte) []byte {
	for len(b) >= smpp.HeaderLen {
		l := int(binary.BigEndian.Uint32(b[0:4]))
		if l < smpp.HeaderLen || len(b) < l {
			break
		}
		h, _, _ := smpp.Decode(b[:l])
		p.mu.Lock()
		p.counts[h.CommandID]++
		p.mu.Unlock()
		b = b[l:]
	}
	return append([]byte(nil), b...)
}

// seen returns how many PDUs of the command have passed, both ways.
func (p *tap) seen(id smpp.CommandID) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[id]
}

// blackhole makes every connection open now stop delivering what the SMSC
// sends. Connections made later work normally.
func (p *tap) blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.hole.Store(true)
	}
}
