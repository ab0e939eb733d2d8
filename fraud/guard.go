package fraud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/otpd/otpd"
)

var _ otpd.FraudGuard = (*Guard)(nil)

// Defaults of Config.
const (
	DefaultMinVolume        = 50
	DefaultMinConversion    = 0.2
	DefaultMaturity         = 10 * time.Minute
	DefaultWindow           = time.Hour
	DefaultBucket           = time.Minute
	DefaultEscalationWindow = 7 * 24 * time.Hour
	DefaultFlushInterval    = time.Second
	DefaultSweepInterval    = 5 * time.Second
	DefaultRefreshInterval  = 2 * time.Second
)

// DefaultDurations are how long blocks last, by escalation level.
var DefaultDurations = []time.Duration{15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}

// maxPending bounds the counters waiting for a flush, so that a store
// that is down cannot make a node's memory grow without end: counts past
// it are dropped (and the drop logged), which can only make the guard
// more lenient.
const maxPending = 1 << 17

// Config is what a Guard needs. Store is required; zero fields take the
// defaults above.
type Config struct {
	Store otpd.Store
	// MinVolume is how many matured starts a key needs in the window
	// before its conversion is judged.
	MinVolume int64
	// MinConversion is the approved share below which a key is blocked.
	MinConversion float64
	// Maturity is how long after a bucket ends it is judged: the time a
	// person has to enter a code.
	Maturity time.Duration
	// Window is how far back from now buckets are summed.
	Window time.Duration
	// Bucket is the span of creation time one counter covers.
	Bucket time.Duration
	// Durations are the block durations by escalation level.
	Durations []time.Duration
	// EscalationWindow is how far back earlier blocks of a key raise the
	// level of a new one.
	EscalationWindow time.Duration
	// FlushInterval, SweepInterval and RefreshInterval pace Run: adding
	// counts to the store, judging, and reloading the active blocks.
	FlushInterval, SweepInterval, RefreshInterval time.Duration

	// EventData encodes a block as the API shows it, for the data of
	// fraud events (httpapi.BlockEventData). Nil: no events.
	EventData func(b *otpd.Block, at time.Time) ([]byte, error)
	// NotifyEvents wakes the webhook dispatcher after events are written.
	NotifyEvents func()
	// WebhookRetryWindow is how long a fraud event's delivery is retried;
	// otpd.DefaultWebhookRetryWindow when zero.
	WebhookRetryWindow time.Duration
	// Observer is told of blocks, for metrics. Optional.
	Observer Observer
	// Audit records blocks made and lifted in the audit log of admin
	// actions (otpd.Engine.Audit does), under the actor of the context:
	// the admin through the API, the system for the guard's own blocks.
	// Optional. Its errors are logged: the block stands either way.
	Audit func(ctx context.Context, e otpd.AuditEntry) error
	// Now is the clock; time.Now when nil. Tests move it.
	Now    func() time.Time
	Logger *slog.Logger
}

// Observer is told what the guard does, for metrics. Implementations must
// be fast and must not block.
type Observer interface {
	// BlockCreated counts a block this node made (by the guard or an
	// admin).
	BlockCreated(scope otpd.BlockScope)
	// ActiveBlocks reports how many blocks are active across the store.
	ActiveBlocks(n int)
}

// counterKey names one counter bucket.
type counterKey struct {
	service string
	scope   otpd.BlockScope
	key     string
	bucket  int64 // Unix milliseconds of the bucket's start
}

type counts struct{ started, approved int64 }

// Guard is the conversion-rate guard; see the package documentation. It
// is safe for concurrent use. Run it (one goroutine, owned by the caller)
// to flush counts, judge and refresh blocks.
type Guard struct {
	cfg Config

	mu      sync.Mutex
	pending map[counterKey]*counts
	dropped int64

	bmu    sync.RWMutex
	active map[string][]*otpd.Block // by service
	// changes are this node's blocks made or lifted, numbered, that a
	// refresh whose store read may have begun before they committed
	// must apply again.
	changes []change
	gen     int64

	// run is Run's state, for Close.
	run struct {
		sync.Mutex
		started bool
		cancel  context.CancelFunc
		done    chan struct{}
	}
}

// New returns a guard for cfg.
func New(cfg Config) (*Guard, error) {
	if cfg.Store == nil {
		return nil, errors.New("fraud: Config.Store is required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NotifyEvents == nil {
		cfg.NotifyEvents = func() {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Guard{
		cfg:     cfg,
		pending: map[counterKey]*counts{},
		active:  map[string][]*otpd.Block{},
	}, nil
}

// Check reports whether the settings of cfg (all but Store, which it does
// not need) are valid, with zero fields taking their defaults: a
// configuration can be checked before a store is opened.
func (c Config) Check() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns c with zero fields set to their defaults, checked.
func (c Config) withDefaults() (Config, error) {
	cfg := c
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if cfg.MinVolume == 0 {
		cfg.MinVolume = DefaultMinVolume
	}
	if cfg.MinConversion == 0 {
		cfg.MinConversion = DefaultMinConversion
	}
	def(&cfg.Maturity, DefaultMaturity)
	def(&cfg.Window, DefaultWindow)
	def(&cfg.Bucket, DefaultBucket)
	def(&cfg.EscalationWindow, DefaultEscalationWindow)
	def(&cfg.FlushInterval, DefaultFlushInterval)
	def(&cfg.SweepInterval, DefaultSweepInterval)
	def(&cfg.RefreshInterval, DefaultRefreshInterval)
	def(&cfg.WebhookRetryWindow, otpd.DefaultWebhookRetryWindow)
	if len(cfg.Durations) == 0 {
		cfg.Durations = DefaultDurations
	}
	return cfg, cfg.validate()
}

func (c *Config) validate() error {
	switch {
	case c.MinVolume < 1:
		return errors.New("fraud: min_volume must be at least 1")
	case c.MinConversion <= 0 || c.MinConversion > 1:
		return errors.New("fraud: min_conversion must be above 0 and at most 1")
	case c.Bucket < time.Second || c.Bucket%time.Second != 0:
		return errors.New("fraud: bucket must be whole seconds, at least 1s")
	case c.Maturity < 0:
		return errors.New("fraud: maturity must not be negative")
	case c.Window < c.Maturity+c.Bucket:
		return errors.New("fraud: window must be at least maturity plus one bucket")
	case c.EscalationWindow < 0:
		return errors.New("fraud: escalation window must not be negative")
	case c.FlushInterval < 0 || c.SweepInterval < 0 || c.RefreshInterval < 0:
		return errors.New("fraud: intervals must be positive")
	case c.WebhookRetryWindow < 0:
		return errors.New("fraud: webhook retry window must not be negative")
	}
	for _, d := range c.Durations {
		if d < time.Second {
			return fmt.Errorf("fraud: block duration %v is shorter than a second", d)
		}
	}
	return nil
}

func (g *Guard) now() time.Time { return g.cfg.Now().UTC() }

// ---- Counting (request path) ----

// Started counts a verification started for dest at at. It never blocks
// on the store.
func (g *Guard) Started(serviceID string, dest otpd.Destination, at time.Time) {
	g.count(serviceID, dest, at, counts{started: 1})
}

// Approved counts an approval, in the bucket of the verification's
// creation.
func (g *Guard) Approved(serviceID string, dest otpd.Destination, createdAt time.Time) {
	g.count(serviceID, dest, createdAt, counts{approved: 1})
}

func (g *Guard) count(serviceID string, dest otpd.Destination, at time.Time, c counts) {
	prefix := dest.Prefix()
	if prefix == "" {
		return // not a phone number: nothing to pump
	}
	bucket := at.Truncate(g.cfg.Bucket).UnixMilli()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range []counterKey{
		{serviceID, otpd.ScopePrefix, prefix, bucket},
		{serviceID, otpd.ScopeCountry, dest.Region, bucket},
	} {
		p := g.pending[k]
		if p == nil {
			if len(g.pending) >= maxPending {
				g.dropped++
				continue
			}
			p = &counts{}
			g.pending[k] = p
		}
		p.started += c.started
		p.approved += c.approved
	}
}

// Flush adds the counts made since the last flush to the store, in one
// batch. On failure they are kept for the next one.
func (g *Guard) Flush(ctx context.Context) error {
	g.mu.Lock()
	batch, dropped := g.pending, g.dropped
	g.pending, g.dropped = map[counterKey]*counts{}, 0
	g.mu.Unlock()
	if dropped > 0 {
		g.cfg.Logger.WarnContext(ctx, "fraud guard dropped counts: too many waiting for the store", "dropped", dropped)
	}
	if len(batch) == 0 {
		return nil
	}
	deltas := make([]otpd.ConversionDelta, 0, len(batch))
	for k, c := range batch {
		deltas = append(deltas, otpd.ConversionDelta{
			ServiceID: k.service, Scope: k.scope, Key: k.key, Bucket: time.UnixMilli(k.bucket).UTC(),
			Started: c.started, Approved: c.approved,
		})
	}
	if err := g.cfg.Store.AddConversions(ctx, deltas); err != nil {
		g.mu.Lock()
		for k, c := range batch {
			if p := g.pending[k]; p != nil {
				p.started += c.started
				p.approved += c.approved
			} else if len(g.pending) < maxPending {
				g.pending[k] = c
			}
		}
		g.mu.Unlock()
		return fmt.Errorf("fraud: flush counts: %w", err)
	}
	return nil
}

// ---- Judging ----

// Sweep judges the matured buckets and blocks every key whose conversion
// is too low, then purges buckets too old to be judged again. It returns
// the blocks it made.
func (g *Guard) Sweep(ctx context.Context) ([]*otpd.Block, error) {
	now := g.now()
	to := now.Add(-g.cfg.Maturity).Truncate(g.cfg.Bucket) // buckets that ended Maturity ago
	from := now.Add(-g.cfg.Window)
	stats, err := g.cfg.Store.ConversionStats(ctx, from, to, g.cfg.MinVolume)
	if err != nil {
		return nil, fmt.Errorf("fraud: sweep: %w", err)
	}
	var made []*otpd.Block
	var errs []error
	for _, st := range stats {
		if float64(st.Approved) >= g.cfg.MinConversion*float64(st.Started) {
			continue
		}
		b := &otpd.Block{
			ServiceID: st.ServiceID,
			Scope:     st.Scope,
			Key:       st.Key,
			CreatedBy: otpd.BlockByGuard,
			Started:   st.Started,
			Approved:  st.Approved,
			Reason: fmt.Sprintf("%d of %d verifications approved (%.0f%%), below the %.0f%% threshold",
				st.Approved, st.Started, 100*float64(st.Approved)/float64(st.Started), 100*g.cfg.MinConversion),
		}
		created, err := g.create(ctx, b, 0, now)
		if errors.Is(err, otpd.ErrNotFound) {
			continue // the service was deleted meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if created {
			made = append(made, b)
		}
	}
	// Buckets that no sweep will sum again.
	purgeBefore := from.Add(-g.cfg.Bucket)
	for range 10 {
		n, err := g.cfg.Store.PurgeConversions(ctx, purgeBefore, 1000)
		if err != nil {
			errs = append(errs, fmt.Errorf("fraud: purge counters: %w", err))
			break
		}
		if n < 1000 {
			break
		}
	}
	return made, errors.Join(errs...)
}

// create fills in b's id, level and expiry and stores it with its event,
// unless its key already has an active block (then b becomes that block
// and created is false). A duration of 0 takes the escalation ladder's.
func (g *Guard) create(ctx context.Context, b *otpd.Block, d time.Duration, now time.Time) (created bool, err error) {
	earlier, err := g.cfg.Store.ListBlocks(ctx, otpd.BlockFilter{
		ServiceID: b.ServiceID, Scope: b.Scope, Key: b.Key, Since: now.Add(-g.cfg.EscalationWindow),
	})
	if err != nil {
		return false, fmt.Errorf("fraud: create block: %w", err)
	}
	b.ID = otpd.NewID(otpd.PrefixBlock, now)
	b.Level = len(earlier)
	if d == 0 {
		d = g.cfg.Durations[min(b.Level, len(g.cfg.Durations)-1)]
	}
	b.CreatedAt, b.ExpiresAt = now, now.Add(d)
	ev, err := g.event(b, otpd.EventFraudBlockCreated, now)
	if err != nil {
		return false, err
	}
	existing, err := g.cfg.Store.CreateBlock(ctx, b, ev)
	if err != nil {
		return false, fmt.Errorf("fraud: create block: %w", err)
	}
	if existing != nil {
		*b = *existing
		g.remember(existing, now)
		return false, nil
	}
	g.remember(b, now)
	if ev != nil {
		g.cfg.NotifyEvents()
	}
	if g.cfg.Observer != nil {
		g.cfg.Observer.BlockCreated(b.Scope)
	}
	g.cfg.Logger.WarnContext(ctx, "fraud block created", "block_id", b.ID, "service_id", b.ServiceID,
		"scope", b.Scope, "key", b.Key, "level", b.Level, "until", b.ExpiresAt, "reason", b.Reason)
	g.audit(ctx, AuditBlock, b, map[string]any{"scope": string(b.Scope), "key": b.Key, "level": b.Level,
		"created_by": b.CreatedBy, "expires_at": b.ExpiresAt.UTC().Format(time.RFC3339)})
	return true, nil
}

// Audited actions of the guard.
const (
	AuditBlock = "fraud.block"
	AuditLift  = "fraud.lift"
)

// audit records a block's change in the audit log, when there is one.
// Details name the range or country, never a number.
func (g *Guard) audit(ctx context.Context, action string, b *otpd.Block, details map[string]any) {
	if g.cfg.Audit == nil {
		return
	}
	err := g.cfg.Audit(ctx, otpd.AuditEntry{Action: action, ServiceID: b.ServiceID, Target: b.ID, Details: details})
	if err != nil {
		g.cfg.Logger.ErrorContext(ctx, "the audit log missed a fraud block change", "action", action, "block_id", b.ID, "err", err)
	}
}

// event returns the event of a block's change, or nil without EventData.
func (g *Guard) event(b *otpd.Block, t otpd.EventType, now time.Time) (*otpd.Event, error) {
	if g.cfg.EventData == nil {
		return nil, nil
	}
	data, err := g.cfg.EventData(b, now)
	if err != nil {
		return nil, fmt.Errorf("fraud: encode %s event: %w", t, err)
	}
	return &otpd.Event{
		ID:             otpd.NewID(otpd.PrefixEvent, now),
		ServiceID:      b.ServiceID,
		VerificationID: b.ID, // a block's events are ordered among themselves only
		Type:           t,
		CreatedAt:      now,
		Data:           data,
		Delivery: otpd.EventDelivery{
			State:         otpd.EventPending,
			NextAttemptAt: now,
			Deadline:      now.Add(g.cfg.WebhookRetryWindow),
		},
	}, nil
}

// ---- Screening (request path) ----

// Screen refuses dest when one of the service's active blocks covers it
// and the service's safe list does not. It reads memory only.
func (g *Guard) Screen(_ context.Context, svc *otpd.Service, dest otpd.Destination, now time.Time) error {
	if dest.Kind != otpd.DestinationPhone {
		return nil
	}
	g.bmu.RLock()
	blocks := g.active[svc.ID]
	g.bmu.RUnlock()
	for _, b := range blocks {
		if !b.ActiveAt(now) || !b.Matches(dest) {
			continue
		}
		if safe(svc, dest) {
			return nil
		}
		return &otpd.Error{Kind: otpd.ErrDestinationBlocked, Param: "to", Detail: blockedDetail(b)}
	}
	return nil
}

// safe reports whether the service's safe list has dest's number or a
// prefix of it.
func safe(svc *otpd.Service, dest otpd.Destination) bool {
	for _, s := range svc.SafeList {
		if s != "" && strings.HasPrefix(dest.Address, s) {
			return true
		}
	}
	return false
}

// blockedDetail explains a refusal naming the range, never the number.
func blockedDetail(b *otpd.Block) string {
	what := "numbers starting " + b.Key + "…"
	if b.Scope == otpd.ScopeCountry {
		what = "numbers in " + b.Key
	}
	why := "after unusual traffic (few verifications were completed)"
	if b.CreatedBy == otpd.BlockByAdmin {
		why = "by the operator"
	}
	return fmt.Sprintf("%s are blocked for this service until %s %s (block %s)",
		what, b.ExpiresAt.UTC().Format(time.RFC3339), why, b.ID)
}

// ---- Active blocks in memory ----

// change is a block this node made or lifted.
type change struct {
	gen    int64
	block  *otpd.Block
	lifted bool
}

// remember puts a block into memory at once, after it was stored.
func (g *Guard) remember(b *otpd.Block, now time.Time) {
	g.bmu.Lock()
	defer g.bmu.Unlock()
	g.gen++
	g.changes = append(g.changes, change{gen: g.gen, block: b})
	g.active[b.ServiceID] = withBlock(g.active[b.ServiceID], b, now)
}

// forget takes a block this node lifted out of memory at once.
func (g *Guard) forget(b *otpd.Block) {
	g.bmu.Lock()
	defer g.bmu.Unlock()
	g.gen++
	g.changes = append(g.changes, change{gen: g.gen, block: b, lifted: true})
	g.active[b.ServiceID] = withoutBlock(g.active[b.ServiceID], b.ID)
}

// withBlock returns list with b added (replacing a block of its id) and
// the blocks that ended by now dropped; it does not change list.
func withBlock(list []*otpd.Block, b *otpd.Block, now time.Time) []*otpd.Block {
	out := make([]*otpd.Block, 0, len(list)+1)
	for _, x := range list {
		if x.ID != b.ID && x.ActiveAt(now) {
			out = append(out, x)
		}
	}
	return append(out, b)
}

func withoutBlock(list []*otpd.Block, id string) []*otpd.Block {
	out := make([]*otpd.Block, 0, len(list))
	for _, x := range list {
		if x.ID != id {
			out = append(out, x)
		}
	}
	return out
}

// Refresh reloads the active blocks of every service from the store:
// blocks other nodes made or lifted take effect here.
func (g *Guard) Refresh(ctx context.Context) error {
	now := g.now()
	g.bmu.RLock()
	gen := g.gen // changes up to here committed before the read below
	g.bmu.RUnlock()
	blocks, err := g.cfg.Store.ListBlocks(ctx, otpd.BlockFilter{ActiveAt: now})
	if err != nil {
		return fmt.Errorf("fraud: refresh blocks: %w", err)
	}
	active := map[string][]*otpd.Block{}
	for _, b := range blocks {
		active[b.ServiceID] = append(active[b.ServiceID], b)
	}
	g.bmu.Lock()
	defer g.bmu.Unlock()
	// Changes made while the store was read may be missing from what it
	// returned: apply them again, and keep them for the next refresh.
	kept := g.changes[:0]
	for _, c := range g.changes {
		if c.gen <= gen {
			continue
		}
		kept = append(kept, c)
		sid := c.block.ServiceID
		if c.lifted {
			active[sid] = withoutBlock(active[sid], c.block.ID)
		} else {
			active[sid] = withBlock(active[sid], c.block, now)
		}
	}
	g.changes = kept
	g.active = active
	if g.cfg.Observer != nil {
		g.cfg.Observer.ActiveBlocks(len(blocks))
	}
	return nil
}

// ---- Admin ----

// ListBlocks returns a service's blocks, newest first: the active ones,
// or all of them with all set, after the cursor (a block id), at most
// limit.
func (g *Guard) ListBlocks(ctx context.Context, serviceID string, all bool, before string, limit int) ([]*otpd.Block, error) {
	if _, err := g.cfg.Store.GetService(ctx, serviceID); err != nil {
		return nil, err
	}
	f := otpd.BlockFilter{ServiceID: serviceID, Before: before, Limit: limit}
	if !all {
		f.ActiveAt = g.now()
	}
	return g.cfg.Store.ListBlocks(ctx, f)
}

// GetBlock returns a block of the service.
func (g *Guard) GetBlock(ctx context.Context, serviceID, id string) (*otpd.Block, error) {
	return g.cfg.Store.GetBlock(ctx, serviceID, id)
}

var (
	prefixRe = regexp.MustCompile(`^\+[1-9][0-9]{0,14}$`)
	regionRe = regexp.MustCompile(`^[A-Z]{2}$`)
)

// MaxBlockDuration bounds a block an admin makes.
const MaxBlockDuration = 90 * 24 * time.Hour

// Block makes a block for an admin: scope and key as in otpd.Block, for
// d (whole seconds, from a minute to MaxBlockDuration). When the key has
// an active block already it is returned instead, with created false.
func (g *Guard) Block(ctx context.Context, serviceID string, scope otpd.BlockScope, key string, d time.Duration, reason string) (b *otpd.Block, created bool, err error) {
	switch scope {
	case otpd.ScopePrefix:
		if !prefixRe.MatchString(key) {
			return nil, false, invalid("key", "a prefix scope needs an E.164 number prefix such as +88216")
		}
	case otpd.ScopeCountry:
		key = strings.ToUpper(key)
		if !regionRe.MatchString(key) {
			return nil, false, invalid("key", "a country scope needs an ISO 3166 alpha-2 code such as GB")
		}
	default:
		return nil, false, invalid("scope", `must be "prefix" or "country"`)
	}
	if d < time.Minute || d > MaxBlockDuration || d%time.Second != 0 {
		return nil, false, invalid("duration_seconds", "must be whole seconds from 60 to %d", int64(MaxBlockDuration/time.Second))
	}
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > 500 {
		return nil, false, invalid("reason", "must be at most 500 characters")
	}
	if reason == "" {
		reason = "blocked by the operator"
	}
	if _, err := g.cfg.Store.GetService(ctx, serviceID); err != nil {
		return nil, false, err
	}
	b = &otpd.Block{ServiceID: serviceID, Scope: scope, Key: key, Reason: reason, CreatedBy: otpd.BlockByAdmin}
	created, err = g.create(ctx, b, d, g.now())
	if err != nil {
		return nil, false, err
	}
	return b, created, nil
}

// Lift ends an active block of the service now, recording who lifted it.
// A block that is not active (it expired or was lifted) is ErrNotFound.
func (g *Guard) Lift(ctx context.Context, serviceID, id, by string) (*otpd.Block, error) {
	b, err := g.cfg.Store.GetBlock(ctx, serviceID, id)
	if err != nil {
		return nil, err
	}
	now := g.now()
	notActive := &otpd.Error{Kind: otpd.ErrNotFound, Detail: "no active block " + id + " (it expired or was lifted)"}
	if !b.ActiveAt(now) {
		return nil, notActive
	}
	b.LiftedAt, b.LiftedBy = now, by
	ev, err := g.event(b, otpd.EventFraudBlockLifted, now)
	if err != nil {
		return nil, err
	}
	if err := g.cfg.Store.LiftBlock(ctx, b, ev); errors.Is(err, otpd.ErrNotFound) {
		return nil, notActive // lifted or expired meanwhile
	} else if err != nil {
		return nil, fmt.Errorf("fraud: lift block: %w", err)
	}
	g.forget(b)
	if ev != nil {
		g.cfg.NotifyEvents()
	}
	g.cfg.Logger.InfoContext(ctx, "fraud block lifted", "block_id", b.ID, "service_id", b.ServiceID, "by", by)
	g.audit(ctx, AuditLift, b, map[string]any{"scope": string(b.Scope), "key": b.Key})
	return b, nil
}

func invalid(param, format string, args ...any) error {
	return &otpd.Error{Kind: otpd.ErrInvalid, Param: param, Detail: fmt.Sprintf(format, args...)}
}

// ---- Running ----

// Run flushes counts, judges and refreshes blocks, each at its interval,
// until ctx ends; then it flushes once more (with a few seconds of its
// own) so that a node stopping loses no counts. Errors are logged: the
// guard keeps going on the next tick.
//
// Run may be called once; Close stops it.
func (g *Guard) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	g.run.Lock()
	if g.run.started {
		g.run.Unlock()
		return errors.New("fraud: Run called twice")
	}
	g.run.started, g.run.cancel, g.run.done = true, cancel, done
	g.run.Unlock()

	if err := g.Refresh(ctx); err != nil && ctx.Err() == nil {
		g.cfg.Logger.WarnContext(ctx, "fraud guard", "err", err)
	}
	flush := time.NewTicker(g.cfg.FlushInterval)
	sweep := time.NewTicker(g.cfg.SweepInterval)
	refresh := time.NewTicker(g.cfg.RefreshInterval)
	defer flush.Stop()
	defer sweep.Stop()
	defer refresh.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return g.Flush(fctx)
		case <-flush.C:
			err = g.Flush(ctx)
		case <-sweep.C:
			_, err = g.Sweep(ctx)
		case <-refresh.C:
			err = g.Refresh(ctx)
		}
		if err != nil && ctx.Err() == nil {
			g.cfg.Logger.WarnContext(ctx, "fraud guard", "err", err)
		}
	}
}

// Close stops Run, if it runs, and waits until it has flushed what it
// counted and returned.
func (g *Guard) Close() error {
	g.run.Lock()
	cancel, done := g.run.cancel, g.run.done
	g.run.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	return nil
}
