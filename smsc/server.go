package smsc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Server is a simulated SMSC. Create it with New, run it with Serve or
// ListenAndServe, read what arrived with Messages, WaitFor and Handler.
// All methods are safe for concurrent use.
type Server struct {
	cfg Config

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[*conn]struct{}
	rr        uint64        // round-robin position among receiving binds
	bindsUp   chan struct{} // closed and replaced when a receiving bind appears
	faults    Faults
	faultSeq  uint64 // submits counted by the rate faults since SetFaults
	nextID    uint64 // the next message id, see doc.go
	connSeq   uint64 // ids for conns, to order binds deterministically
	store     store
	stats     Stats
}

// New returns a server for cfg. Zero fields take their defaults; settings
// Config.Validate refuses make Serve fail.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		conns:   map[*conn]struct{}{},
		bindsUp: make(chan struct{}),
		faults:  cfg.Faults.clone(),
		nextID:  uint64(cfg.Now().UnixMicro()),
	}
	s.store.init(cfg.Capacity)
	return s
}

// ListenAndServe listens on the TCP address addr and serves until ctx is
// done. To learn the address of ":0" before anyone connects, listen
// yourself and call Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smsc: listen %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts SMPP connections on ln until ctx is done, then sends unbind
// to every bound ESME, closes ln and the connections, stops pending
// receipts, and returns nil once all of it has finished. It returns an
// error if the configuration is invalid or ln fails for another reason.
// Serve may run on several listeners at once; it closes ln in every case.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.cfg.Validate(); err != nil {
		ln.Close()
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sv := &serving{ctx: sctx}
	s.mu.Lock()
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		for i, l := range s.listeners {
			if l == ln {
				s.listeners = append(s.listeners[:i], s.listeners[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
	}()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	s.cfg.Logger.Info("smsc listening", "addr", ln.Addr().String())

	var err error
	backoff := 5 * time.Millisecond
	for {
		nc, aerr := ln.Accept()
		if aerr == nil {
			backoff = 5 * time.Millisecond
			c := s.newConn(sv, nc)
			sv.wg.Add(1)
			go func() {
				defer sv.wg.Done()
				c.serve()
			}()
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if errors.Is(aerr, net.ErrClosed) {
			err = fmt.Errorf("smsc: accept on %s: %w", ln.Addr(), aerr)
			break
		}
		// Out of file descriptors and the like: wait and try again, as
		// net/http does, rather than give up the whole simulator.
		s.cfg.Logger.Warn("smsc accept failed", "err", aerr)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		backoff = min(2*backoff, time.Second)
	}
	ln.Close()
	// The connections and receipts of this listener end with it, also when
	// it failed on its own.
	cancel()
	sv.wg.Wait()
	return err
}

// serving is one Serve call: the context and the goroutines it owns.
type serving struct {
	ctx context.Context
	wg  sync.WaitGroup
}

// Addr returns the address of the first listener being served, or nil when
// the server is not serving.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listeners) == 0 {
		return nil
	}
	return s.listeners[0].Addr()
}

// SetFaults replaces the faults and restarts their counters. Connections
// already open see the new faults from their next submit.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.faults = f.clone()
	s.faultSeq = 0
	s.mu.Unlock()
	return nil
}

// Faults returns the faults in force.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.clone()
}

// Stats counts what the server has seen since it started or was Reset.
type Stats struct {
	Binds        int `json:"binds"`         // successful binds
	BindFailures int `json:"bind_failures"` // binds refused for their credentials
	ActiveBinds  int `json:"active_binds"`  // connections bound now
	Submits      int `json:"submits"`       // submit_sm and data_sm accepted, answered or not
	Rejected     int `json:"rejected"`      // submits refused with an error status
	Messages     int `json:"messages"`      // whole messages stored (after reassembly)
	Duplicates   int `json:"duplicates"`    // messages whose destination and text were already stored
	Undecodable  int `json:"undecodable"`   // messages whose text did not decode in their data_coding
	Receipts     int `json:"receipts"`      // receipts an ESME acknowledged
	// ReceiptsRefused and ReceiptsUnanswered count receipt deliver_sm an
	// ESME answered with an error status (ESME_RX_T_APPN...) or left
	// unanswered for ReceiptTimeout; ReceiptRetries the deliver_sm sent
	// again for a receipt after a failed one (refused, unanswered, or its
	// connection gone before the answer).
	ReceiptsRefused    int `json:"receipts_refused"`
	ReceiptsUnanswered int `json:"receipts_unanswered"`
	ReceiptRetries     int `json:"receipt_retries"`
	// ReceiptsScheduled counts receipts decided on; it is incremented
	// before the submit is answered, so a test can read it right after.
	ReceiptsScheduled int `json:"receipts_scheduled"`
	ReceiptsExpired   int `json:"receipts_expired"` // receipts given up: ReceiptAttempts failed, or ReceiptExpiry passed
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ActiveBinds = 0
	for c := range s.conns {
		if c.kind != unbound {
			st.ActiveBinds++
		}
	}
	return st
}

// Reset forgets the stored messages, incomplete concatenations and counters,
// and restarts the fault counters. Binds, faults and receipts on their way
// are kept.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store.reset()
	s.stats = Stats{}
	s.faultSeq = 0
}

// newID returns a fresh message id. Callers hold s.mu.
func (s *Server) newID() string {
	id := s.nextID
	s.nextID++
	return fmt.Sprintf("%x", id)
}
