package smpp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"time"
)

// BindMode is how a session binds: as a transceiver (the default), a
// transmitter or a receiver.
type BindMode uint8

// Bind modes. otpd binds as a transceiver so that delivery receipts come
// back on the connection its messages went out on.
const (
	BindModeTransceiver BindMode = iota
	BindModeTransmitter
	BindModeReceiver
)

// String returns "transceiver", "transmitter" or "receiver".
func (m BindMode) String() string {
	switch m {
	case BindModeTransceiver:
		return "transceiver"
	case BindModeTransmitter:
		return "transmitter"
	case BindModeReceiver:
		return "receiver"
	}
	return fmt.Sprintf("BindMode(%d)", uint8(m))
}

// Defaults applied by [Dial] and [NewTransmitter] to zero Config fields.
const (
	DefaultWindow              = 10
	DefaultResponseTimeout     = 10 * time.Second
	DefaultEnquireLinkInterval = 30 * time.Second
	DefaultThrottleBackoff     = 200 * time.Millisecond
	DefaultMaxThrottleBackoff  = 5 * time.Second
	DefaultRebindBackoff       = 500 * time.Millisecond
	DefaultMaxRebindBackoff    = 30 * time.Second
	DefaultDeliverWorkers      = 64
	DefaultDeliverQueue        = 256
)

// Config describes a bind to an SMSC. [Dial] uses everything but the
// Transmitter section; [NewTransmitter] uses all of it and dials each bind
// with the same settings. Zero values mean the defaults above.
type Config struct {
	// Addr is the SMSC's host:port.
	Addr string
	// TLS, when set, wraps the connection in TLS with this configuration.
	// An empty ServerName is taken from Addr.
	TLS *tls.Config

	// SystemID (at most 15 characters), Password (at most 8), SystemType
	// (at most 12, usually empty) and AddressRange identify the ESME.
	SystemID     string
	Password     string
	SystemType   string
	AddressRange Address
	// Mode selects bind_transceiver (default), bind_transmitter or
	// bind_receiver.
	Mode BindMode

	// Window is how many submit_sm may await their response at once on one
	// bind (default 10). SMSCs enforce their own window and answer excess
	// requests with ESME_RTHROTTLED or by dropping the bind.
	Window int
	// TPS caps submit_sm per second on one bind; 0 means unlimited. The
	// limiter's burst is 1, so submissions are spaced evenly: SMSCs that
	// count per second rarely forgive a burst at the start of one. A
	// Transmitter with several binds sends up to Binds × TPS.
	TPS float64
	// ResponseTimeout bounds the wait for any response — bind_resp,
	// submit_sm_resp, enquire_link_resp, unbind_resp — and for a write
	// (default 10 s).
	ResponseTimeout time.Duration
	// EnquireLinkInterval is how often an enquire_link checks the link
	// (default 30 s); one unanswered within ResponseTimeout ends the session.
	// A negative value turns the keepalive off.
	EnquireLinkInterval time.Duration
	// ThrottleBackoff is the pause in sending after an ESME_RTHROTTLED or
	// ESME_RMSGQFUL; it doubles with each consecutive one up to
	// MaxThrottleBackoff and resets after an accepted submit_sm (defaults
	// 200 ms and 5 s).
	ThrottleBackoff    time.Duration
	MaxThrottleBackoff time.Duration

	// OnDeliver receives every deliver_sm — delivery receipts (see
	// [ParseReceipt]) and mobile-originated messages — and every data_sm,
	// converted to a DeliverSM whose content is in the message_payload TLV.
	// The deliver_sm_resp is sent when it returns: ESME_ROK for nil, the
	// status of a [*StatusError], ESME_RX_T_APPN (the SMSC retries later) for
	// any other error. Persist what matters before returning nil: an
	// ESME_ROK tells the SMSC it may forget the receipt.
	//
	// OnDeliver runs apart from the reader, on up to DeliverWorkers
	// goroutines per session at once, so it may call Submit, must be safe
	// for concurrent use, and may see deliver_sm out of arrival order (set
	// DeliverWorkers to 1 for one at a time). ctx is cancelled when the
	// session ends, and OnDeliver must then return promptly — an unanswered
	// deliver_sm is redelivered by the SMSC. It must not call the session's
	// Close. Nil acknowledges everything at once.
	OnDeliver func(ctx context.Context, d *DeliverSM) error
	// DeliverWorkers is how many OnDeliver calls may run at once on one
	// session (default 64). Receipts are recorded with a durable write each;
	// running several lets a store batch them (SQLite's group commit), where
	// one at a time caps a bind at one fsync per receipt. Each call waits
	// for its batch's commit, tens of milliseconds on a busy store, so the
	// workers cap a bind at about DeliverWorkers / commit latency receipts
	// a second: 8 workers let receipts of 600 SMS a second fall seconds
	// behind (docs/BENCHMARKS.md). A waiting worker costs no CPU.
	DeliverWorkers int
	// DeliverQueue is how many deliver_sm may wait for a free worker
	// (default 256); negative means none. The reader never waits for
	// OnDeliver: a deliver_sm that finds every worker busy and the queue
	// full is answered at once with ESME_RX_T_APPN, which tells the SMSC to
	// deliver it again later, so the submit_sm_resp and enquire_link behind
	// it are read without delay. So is one that arrives while Close waits
	// for the handlers in flight.
	DeliverQueue int

	// Transmitter section.

	// Binds is how many sessions a Transmitter keeps bound (default 1).
	Binds int
	// RebindBackoff is the first wait before rebinding after a drop or a
	// failed bind; it doubles with each failure, with jitter, up to
	// MaxRebindBackoff (defaults 500 ms and 30 s).
	RebindBackoff    time.Duration
	MaxRebindBackoff time.Duration
}

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("Addr is empty"))
	}
	if c.Mode > BindModeReceiver {
		errs = append(errs, fmt.Errorf("unknown Mode %d", c.Mode))
	}
	if len(c.SystemID)+1 > maxSystemID {
		errs = append(errs, fmt.Errorf("SystemID is %d characters, at most %d allowed", len(c.SystemID), maxSystemID-1))
	}
	if len(c.Password)+1 > maxPassword {
		errs = append(errs, fmt.Errorf("Password is %d characters, at most %d allowed", len(c.Password), maxPassword-1))
	}
	if len(c.SystemType)+1 > maxSystemType {
		errs = append(errs, fmt.Errorf("SystemType is %d characters, at most %d allowed", len(c.SystemType), maxSystemType-1))
	}
	if c.TPS < 0 || math.IsNaN(c.TPS) || math.IsInf(c.TPS, 0) {
		errs = append(errs, fmt.Errorf("TPS %v must be a finite number ≥ 0", c.TPS))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"Window", c.Window}, {"Binds", c.Binds}, {"DeliverWorkers", c.DeliverWorkers}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d is negative", f.name, f.v))
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"ResponseTimeout", c.ResponseTimeout},
		{"ThrottleBackoff", c.ThrottleBackoff}, {"MaxThrottleBackoff", c.MaxThrottleBackoff},
		{"RebindBackoff", c.RebindBackoff}, {"MaxRebindBackoff", c.MaxRebindBackoff},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", f.name, f.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("smpp: invalid config: %w", err)
	}

	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Binds == 0 {
		c.Binds = 1
	}
	if c.DeliverWorkers == 0 {
		c.DeliverWorkers = DefaultDeliverWorkers
	}
	if c.DeliverQueue == 0 {
		// A negative queue stays negative, so that withDefaults may run
		// again (NewTransmitter, then Dial) without turning "none" into
		// the default; see deliverQueue.
		c.DeliverQueue = DefaultDeliverQueue
	}
	def(&c.ResponseTimeout, DefaultResponseTimeout)
	def(&c.EnquireLinkInterval, DefaultEnquireLinkInterval)
	def(&c.ThrottleBackoff, DefaultThrottleBackoff)
	def(&c.MaxThrottleBackoff, DefaultMaxThrottleBackoff)
	def(&c.RebindBackoff, DefaultRebindBackoff)
	def(&c.MaxRebindBackoff, DefaultMaxRebindBackoff)
	c.MaxThrottleBackoff = max(c.MaxThrottleBackoff, c.ThrottleBackoff)
	c.MaxRebindBackoff = max(c.MaxRebindBackoff, c.RebindBackoff)
	return c, nil
}

// deliverQueue is the capacity of the queue in front of the OnDeliver
// workers.
func (c *Config) deliverQueue() int { return max(c.DeliverQueue, 0) }

// bindPDU returns the bind request for c's mode.
func (c *Config) bindPDU() PDU {
	b := BindTransmitter{
		SystemID:         c.SystemID,
		Password:         c.Password,
		SystemType:       c.SystemType,
		InterfaceVersion: InterfaceVersion34,
		AddressRange:     c.AddressRange,
	}
	switch c.Mode {
	case BindModeTransmitter:
		return &b
	case BindModeReceiver:
		r := BindReceiver(b)
		return &r
	}
	t := BindTransceiver(b)
	return &t
}
