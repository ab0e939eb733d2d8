package smsc

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otpd/otpd/smpp"
)

// Defaults of the zero Config.
const (
	DefaultDLRDelay       = 100 * time.Millisecond
	DefaultReceiptTimeout = 10 * time.Second
	DefaultReceiptExpiry  = 10 * time.Minute
	DefaultCapacity       = 10000

	DefaultReceiptRetry    = time.Second
	DefaultMaxReceiptRetry = time.Minute
	DefaultReceiptAttempts = 10

	// SMSCSystemID is the system_id the server answers binds with.
	SMSCSystemID = "otpd-smsc"
)

// ErrInvalidConfig is wrapped by the errors of Config.Validate and
// Faults.Validate.
var ErrInvalidConfig = errors.New("smsc: invalid configuration")

// Config configures a Server. The zero value is a working server that
// accepts any credentials.
type Config struct {
	// SystemID and Password, when set, are what a bind must present.
	// Empty accepts any. SMPP 3.4 allows at most 15 and 8 characters.
	SystemID string
	Password string

	// DLRDelay is how long after a submit its delivery receipt is sent.
	// Zero means DefaultDLRDelay; a negative value sends receipts at once.
	DLRDelay time.Duration

	// ReceiptTimeout is how long a bind has to answer a receipt's
	// deliver_sm before the receipt is offered to another bind.
	// Zero means DefaultReceiptTimeout.
	ReceiptTimeout time.Duration

	// ReceiptRetry is how long a receipt waits to be offered again once
	// every bind that could take it has failed to acknowledge it: answered
	// it with an error (ESME_RX_T_APPN from an ESME whose handlers are
	// busy, say), left it unanswered for ReceiptTimeout, or gone away. The
	// wait doubles after each such round, up to MaxReceiptRetry, and is
	// jittered (half to all of it) so that receipts refused together do not
	// all come back together — a real SMSC backs off the same way rather
	// than hammer an ESME that said it is busy. Zero values mean
	// DefaultReceiptRetry and DefaultMaxReceiptRetry.
	ReceiptRetry    time.Duration
	MaxReceiptRetry time.Duration

	// ReceiptAttempts is how many deliver_sm a receipt is sent in, over
	// all binds and rounds, before it is given up. Zero means
	// DefaultReceiptAttempts.
	ReceiptAttempts int

	// ReceiptExpiry is how long a receipt no bind accepted is kept trying
	// before it is dropped, whatever attempts it has left. Zero means
	// DefaultReceiptExpiry.
	ReceiptExpiry time.Duration

	// Capacity is how many messages are kept; the oldest go first.
	// Zero means DefaultCapacity.
	Capacity int

	// Faults the server starts with; see Server.SetFaults.
	Faults Faults

	// OnMessage, if set, is called with every whole message once it is
	// stored, before the submit that completed it is answered: whoever
	// the ESME tells "sent" can already see it. `otpd serve --dev` uses it
	// to show SMS in the dev inbox. It runs on the connection's goroutine,
	// so it should be quick; it may call the Server.
	OnMessage func(Message)

	// Logger receives connection, bind and submit events, never message
	// texts. Nil discards them.
	Logger *slog.Logger

	// Now is the clock for message and receipt times and the start of the
	// message id counter. Nil means time.Now. Delays use real timers.
	Now func() time.Time
}

// Validate reports settings no ESME could work with. Zero values are
// valid: they select the defaults.
func (c Config) Validate() error {
	switch {
	case len(c.SystemID) > 15:
		return fmt.Errorf("%w: system_id %q is longer than the 15 characters SMPP 3.4 allows", ErrInvalidConfig, c.SystemID)
	case len(c.Password) > 8:
		return fmt.Errorf("%w: password is longer than the 8 characters SMPP 3.4 allows", ErrInvalidConfig)
	case c.ReceiptTimeout < 0:
		return fmt.Errorf("%w: negative receipt timeout %v", ErrInvalidConfig, c.ReceiptTimeout)
	case c.ReceiptExpiry < 0:
		return fmt.Errorf("%w: negative receipt expiry %v", ErrInvalidConfig, c.ReceiptExpiry)
	case c.ReceiptRetry < 0 || c.MaxReceiptRetry < 0:
		return fmt.Errorf("%w: negative receipt retry %v, max %v", ErrInvalidConfig, c.ReceiptRetry, c.MaxReceiptRetry)
	case c.ReceiptAttempts < 0:
		return fmt.Errorf("%w: negative receipt attempts %d", ErrInvalidConfig, c.ReceiptAttempts)
	case c.Capacity < 0:
		return fmt.Errorf("%w: negative capacity %d", ErrInvalidConfig, c.Capacity)
	}
	return c.Faults.Validate()
}

// withDefaults fills in the zero values.
func (c Config) withDefaults() Config {
	if c.DLRDelay == 0 {
		c.DLRDelay = DefaultDLRDelay
	} else if c.DLRDelay < 0 {
		c.DLRDelay = 0
	}
	if c.ReceiptTimeout <= 0 {
		c.ReceiptTimeout = DefaultReceiptTimeout
	}
	if c.ReceiptExpiry <= 0 {
		c.ReceiptExpiry = DefaultReceiptExpiry
	}
	if c.ReceiptRetry <= 0 {
		c.ReceiptRetry = DefaultReceiptRetry
	}
	if c.MaxReceiptRetry <= 0 {
		c.MaxReceiptRetry = DefaultMaxReceiptRetry
	}
	c.MaxReceiptRetry = max(c.MaxReceiptRetry, c.ReceiptRetry)
	if c.ReceiptAttempts <= 0 {
		c.ReceiptAttempts = DefaultReceiptAttempts
	}
	if c.Capacity <= 0 {
		c.Capacity = DefaultCapacity
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Faults make the server misbehave on purpose. The zero value is a
// well-behaved SMSC. Counter-based faults count the submits that reach
// them (bound, with a valid destination and content) from the moment the
// faults were set, across all connections.
type Faults struct {
	// Throttle answers the submits it picks with ESME_RTHROTTLED.
	Throttle Rate
	// QueueFull answers the submits it picks with ESME_RMSGQFUL. A submit
	// both pick is throttled.
	QueueFull Rate
	// FailPrefixes refuses submits to destinations starting with a prefix
	// (digits, an optional leading "+" is ignored) with the given status,
	// such as smpp.StatusInvDstAddr. The longest matching prefix wins.
	FailPrefixes map[string]smpp.CommandStatus
	// DropAfter closes a connection when it brings its DropAfter-th submit
	// (counted per connection), without answering it. The submit is still
	// accepted: the answer, not the message, is lost. Zero never drops.
	DropAfter int
	// WithholdResponses leaves every submit unanswered, accepted or not,
	// and keeps the connection open: an SMSC that hangs.
	WithholdResponses bool
	// UndeliverablePrefixes makes receipts for destinations starting with
	// a prefix report UNDELIV instead of DELIVRD.
	UndeliverablePrefixes []string
	// NoReceipts sends no receipts at all, whatever the submit asks.
	NoReceipts bool
	// ReceiptsToOtherBind sends receipts to a bind other than the
	// submitting connection whenever one of the same system_id can
	// receive, as a cluster sees when another node's bind gets them.
	ReceiptsToOtherBind bool
}

// Validate reports faults that cannot be applied.
func (f Faults) Validate() error {
	for name, r := range map[string]Rate{"throttle": f.Throttle, "queue-full": f.QueueFull} {
		if err := r.validate(); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalidConfig, name, err)
		}
	}
	for p, st := range f.FailPrefixes {
		if !validPrefix(p) {
			return fmt.Errorf("%w: fail prefix %q is not digits", ErrInvalidConfig, p)
		}
		if st == smpp.StatusOK {
			return fmt.Errorf("%w: fail prefix %q has status ESME_ROK", ErrInvalidConfig, p)
		}
	}
	for _, p := range f.UndeliverablePrefixes {
		if !validPrefix(p) {
			return fmt.Errorf("%w: undeliverable prefix %q is not digits", ErrInvalidConfig, p)
		}
	}
	if f.DropAfter < 0 {
		return fmt.Errorf("%w: negative drop-after %d", ErrInvalidConfig, f.DropAfter)
	}
	return nil
}

// clone returns a copy that shares no map or slice with f.
func (f Faults) clone() Faults {
	f.FailPrefixes = maps.Clone(f.FailPrefixes)
	f.UndeliverablePrefixes = slices.Clone(f.UndeliverablePrefixes)
	return f
}

// failStatus returns the status FailPrefixes gives digits, or StatusOK.
func (f Faults) failStatus(digits string) smpp.CommandStatus {
	best, status := -1, smpp.StatusOK
	for p, st := range f.FailPrefixes {
		p = strings.TrimPrefix(p, "+")
		if strings.HasPrefix(digits, p) && len(p) > best {
			best, status = len(p), st
		}
	}
	return status
}

// undeliverable reports whether digits match UndeliverablePrefixes.
func (f Faults) undeliverable(digits string) bool {
	for _, p := range f.UndeliverablePrefixes {
		if strings.HasPrefix(digits, strings.TrimPrefix(p, "+")) {
			return true
		}
	}
	return false
}

func validPrefix(p string) bool {
	p = strings.TrimPrefix(p, "+")
	return p != "" && allDigits(p)
}

// Rate picks a deterministic share of submits: N of every Of, spread
// evenly. The k-th submit counted (from 1) is picked when k·N/Of, rounded
// down, steps up from (k-1)·N/Of: Rate{1, 3} picks the 3rd, 6th, 9th...;
// Rate{3, 10} picks the 4th, 7th and 10th of every ten. The zero Rate
// picks none; N >= Of picks all.
type Rate struct {
	N, Of int
}

// Every returns the Rate that picks every n-th submit; n <= 0 picks none.
func Every(n int) Rate {
	if n <= 0 {
		return Rate{}
	}
	return Rate{N: 1, Of: n}
}

// ParseRate reads a Rate as a command-line flag gives it: "" or "0" (none),
// "1/3" (one of every three), "25%" or "0.25" (a quarter), "1" (all).
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Rate{}, nil
	}
	var r Rate
	if num, den, ok := strings.Cut(s, "/"); ok {
		n, err1 := strconv.Atoi(strings.TrimSpace(num))
		d, err2 := strconv.Atoi(strings.TrimSpace(den))
		if err1 != nil || err2 != nil || n < 0 || d <= 0 {
			return Rate{}, fmt.Errorf("smsc: rate %q: want N/M with 0 <= N and 0 < M", s)
		}
		r = Rate{N: n, Of: d}
	} else {
		percent := strings.HasSuffix(s, "%")
		q, ok := new(big.Rat).SetString(strings.TrimSuffix(s, "%"))
		if !ok || q.Sign() < 0 {
			return Rate{}, fmt.Errorf("smsc: rate %q: want a fraction (0.25), a percentage (25%%) or N/M", s)
		}
		if percent {
			q.Quo(q, big.NewRat(100, 1))
		}
		if !q.Num().IsInt64() || !q.Denom().IsInt64() || q.Denom().Int64() > 1<<30 {
			return Rate{}, fmt.Errorf("smsc: rate %q is too fine", s)
		}
		r = Rate{N: int(q.Num().Int64()), Of: int(q.Denom().Int64())}
	}
	if r.N > r.Of {
		return Rate{}, fmt.Errorf("smsc: rate %q is more than all submits", s)
	}
	if r.N == 0 {
		return Rate{}, nil
	}
	return r, r.validate()
}

// String writes r as ParseRate reads it: "1/3", or "0" for none.
func (r Rate) String() string {
	if r.N <= 0 || r.Of <= 0 {
		return "0"
	}
	return fmt.Sprintf("%d/%d", r.N, r.Of)
}

func (r Rate) validate() error {
	switch {
	case r.N < 0 || r.Of < 0:
		return fmt.Errorf("negative rate %d/%d", r.N, r.Of)
	case r.N > 0 && r.Of == 0:
		return fmt.Errorf("rate %d/0", r.N)
	}
	return nil
}

// picks reports whether r picks the k-th submit (k from 1).
func (r Rate) picks(k uint64) bool {
	switch {
	case r.N <= 0 || r.Of <= 0 || k == 0:
		return false
	case r.N >= r.Of:
		return true
	}
	n, of := uint64(r.N), uint64(r.Of)
	return k*n/of > (k-1)*n/of
}
