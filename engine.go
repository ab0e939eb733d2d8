package otpd

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Engine is the verification service: it applies each service's policy,
// drives the status machine and keeps codes secret. It is safe for
// concurrent use; all of its state lives in the Store, so any number of
// engines (nodes) can share one store.
type Engine struct {
	store Store
	// keyring is swapped whole by SetKeyring while requests run; every
	// use loads it once (Keyring) and never changes what it loaded.
	keyring  atomic.Pointer[Keyring]
	ringMu   sync.Mutex // serialises SetKeyring
	channels map[ChannelName]Channel
	renderer Renderer
	now      func() time.Time
	admin    [32]byte // SHA-256 of the admin token
	hasAdmin bool
	notify   func()
	handoff  Handoff
	// regionLocale picks the locale for a phone number's region (LocaleAuto).
	regionLocale func(string) string
	// fallbackTO is how long a sent message waits for its receipt before
	// its verification falls back, per channel.
	fallbackTO map[ChannelName]time.Duration
	// notifyEvents wakes the webhook dispatcher after events are written.
	notifyEvents  func()
	eventData     func(*Verification, time.Time) ([]byte, error)
	webhookWindow time.Duration
	backlog       WriteBacklogger // nil: the store does not queue writes
	maxBacklog    int             // <= 0: no limit
	sendTO        time.Duration
	templates     templateCache
	obs           Observer
	log           *slog.Logger
	limiter       RateLimiter
	limits        Limits // the server's defaults, complete
	guard         FraudGuard
	// services and keys are this node's caches of the store's (cache.go).
	services *lru[*Service]
	keys     *lru[*Key]
	// pending are the destination keys of verifications this engine
	// started, for checks; sent the refs of messages it sent, for their
	// receipts (recent.go).
	pending pendingKeys
	sent    sentRefs
}

// Config is what an Engine needs.
type Config struct {
	Store    Store
	Keyring  *Keyring
	Channels map[ChannelName]Channel // the channels this node can send on
	Renderer Renderer
	// AdminToken may manage services and keys and call everything.
	// Empty disables admin access, unless AdminTokenHash is set.
	AdminToken string
	// AdminTokenHash is the SHA-256 of the admin token, for a server that
	// keeps only the hash (a generated token is shown once and stored
	// hashed); used when AdminToken is empty. Must be 32 bytes or empty.
	AdminTokenHash []byte
	// Notify is called after a message is queued, to wake the delivery
	// dispatcher without a polling delay. Optional.
	Notify func()
	// FallbackTimeouts are how long a sent message may go undelivered
	// before its verification moves on to its next channel, per channel;
	// DefaultFallbackTimeouts for channels it does not name. Zero: never
	// by time, only on failure.
	FallbackTimeouts map[ChannelName]time.Duration
	// RegionLocale maps an ISO 3166 region to the locale to use there, or
	// "" (message.LocaleForRegion does), for services whose default locale
	// is LocaleAuto. Optional: without it they get English.
	RegionLocale func(region string) string
	// Handoff, when set, takes messages the engine queues straight to this
	// node's dispatcher (see Handoff); Notify then wakes it only for
	// messages it could not take. Optional.
	Handoff Handoff
	// NotifyEvents is called after events are written, to wake the webhook
	// dispatcher. Optional.
	NotifyEvents func()
	// EventData encodes the verification as the API shows it at the given
	// time, for the data of events (httpapi.EventData does). When nil the
	// engine records no events: no webhooks, an empty events list.
	EventData func(v *Verification, at time.Time) ([]byte, error)
	// WebhookRetryWindow is how long an event's delivery is retried;
	// DefaultWebhookRetryWindow when zero.
	WebhookRetryWindow time.Duration
	// Observer receives counts for metrics. Optional.
	Observer Observer
	// SendTimeout bounds one call to a channel; DefaultSendTimeout when
	// zero. It must stay below the dispatcher's lease, or a slow send may
	// be claimed and sent again by another worker.
	SendTimeout time.Duration
	// Limiter counts starts, resends and wrong codes against rate limits;
	// nil: no rate limits (tests of other things). A limiter that stores
	// its counts where every node sees them makes the limits cluster-wide.
	Limiter RateLimiter
	// Limits are the server's default rate limits: a service's own limits
	// override them one by one. Unset fields take DefaultLimits'.
	Limits Limits
	// Guard screens starts for fraud such as SMS pumping; nil: no guard.
	Guard FraudGuard
	// MaxWriteBacklog is how many writes may wait for a store that queues
	// them in the process (a WriteBacklogger: package sqlite) before Admit
	// refuses new work; DefaultMaxWriteBacklog when zero, no limit when
	// negative.
	MaxWriteBacklog int
	// CacheTTL is how long the engine uses a service or an API key read
	// from the store before reading it again: DefaultCacheTTL when zero,
	// no caching when negative. Changes made through this engine apply at
	// once whatever it is, and so do changes another node makes when the
	// store tells of them (InvalidationSource); the TTL bounds how long a
	// change the engine was not told of goes unseen (see cache.go).
	CacheTTL time.Duration
	// Now is the clock; time.Now when nil. Tests move it.
	Now    func() time.Time
	Logger *slog.Logger
}

// Observer is told what the engine does, for metrics. Implementations must
// be fast and must not block.
type Observer interface {
	VerificationStarted(ch ChannelName)
	VerificationChecked(outcome CheckOutcome)
	MessageDone(ch ChannelName, status MessageStatus, sinceQueued time.Duration)
	MessageRetried(ch ChannelName)
}

// RouteObserver is an Observer that also wants each message outcome by
// the route that carried the message, for channels that send over several
// (RoutedChannel: SMS). The engine calls MessageDoneOnRoute after
// MessageDone for an outcome whose message a route took; not for a
// message no route took (a send that failed on every route).
type RouteObserver interface {
	Observer
	MessageDoneOnRoute(ch ChannelName, route string, status MessageStatus, sinceQueued time.Duration)
}

// CheckOutcome classifies a check for metrics.
type CheckOutcome string

// Check outcomes.
const (
	CheckApproved    CheckOutcome = "approved"
	CheckWrongCode   CheckOutcome = "wrong_code"
	CheckMaxAttempts CheckOutcome = "max_attempts_reached"
	CheckClosed      CheckOutcome = "closed"
)

type nopObserver struct{}

func (nopObserver) VerificationStarted(ChannelName)                       {}
func (nopObserver) VerificationChecked(CheckOutcome)                      {}
func (nopObserver) MessageDone(ChannelName, MessageStatus, time.Duration) {}
func (nopObserver) MessageRetried(ChannelName)                            {}

// NewEngine returns an engine for cfg.
func NewEngine(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Keyring == nil || cfg.Renderer == nil {
		return nil, errors.New("otpd: engine needs a store, a keyring and a renderer")
	}
	e := &Engine{
		store:         cfg.Store,
		channels:      cfg.Channels,
		renderer:      cfg.Renderer,
		now:           cfg.Now,
		notify:        cfg.Notify,
		handoff:       cfg.Handoff,
		regionLocale:  cfg.RegionLocale,
		notifyEvents:  cfg.NotifyEvents,
		eventData:     cfg.EventData,
		webhookWindow: cfg.WebhookRetryWindow,
		sendTO:        cfg.SendTimeout,
		obs:           cfg.Observer,
		log:           cfg.Logger,
		limiter:       cfg.Limiter,
		limits:        cfg.Limits.Or(DefaultLimits()),
		guard:         cfg.Guard,
		pending:       newPendingKeys(),
		sent:          newSentRefs(),
	}
	e.keyring.Store(cfg.Keyring)
	ttl := cfg.CacheTTL
	if ttl == 0 {
		ttl = DefaultCacheTTL
	}
	e.services, e.keys = newLRU[*Service](cacheEntries, ttl), newLRU[*Key](cacheEntries, ttl)
	if src, ok := cfg.Store.(InvalidationSource); ok && ttl > 0 {
		// For the store's lifetime: an engine lives as long as its store.
		src.SubscribeInvalidations(e.Invalidate)
	}
	if e.channels == nil {
		e.channels = map[ChannelName]Channel{}
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.notify == nil {
		e.notify = func() {}
	}
	e.fallbackTO = map[ChannelName]time.Duration{}
	for c, d := range DefaultFallbackTimeouts {
		e.fallbackTO[c] = d
	}
	for c, d := range cfg.FallbackTimeouts {
		e.fallbackTO[c] = d
	}
	if e.notifyEvents == nil {
		e.notifyEvents = func() {}
	}
	if e.webhookWindow <= 0 {
		e.webhookWindow = DefaultWebhookRetryWindow
	}
	e.backlog, _ = cfg.Store.(WriteBacklogger)
	switch e.maxBacklog = cfg.MaxWriteBacklog; {
	case e.maxBacklog == 0:
		e.maxBacklog = DefaultMaxWriteBacklog
	case e.maxBacklog < 0:
		e.maxBacklog = 0
	}
	if e.sendTO <= 0 {
		e.sendTO = DefaultSendTimeout
	}
	if e.obs == nil {
		e.obs = nopObserver{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.AdminToken != "":
		e.admin = HashAdminToken(cfg.AdminToken)
		e.hasAdmin = true
	case len(cfg.AdminTokenHash) == len(e.admin):
		copy(e.admin[:], cfg.AdminTokenHash)
		e.hasAdmin = true
	case len(cfg.AdminTokenHash) != 0:
		return nil, errors.New("otpd: the admin token hash must be a SHA-256 (32 bytes)")
	}
	return e, nil
}

// Now returns the engine's current time, in UTC.
func (e *Engine) Now() time.Time { return e.now().UTC() }

// Channels returns the channels this engine can send on.
func (e *Engine) Channels() map[ChannelName]Channel { return e.channels }

// Store returns the engine's store.
func (e *Engine) Store() Store { return e.store }

// ---- Authentication ----

// Principal is who a request acts for.
type Principal struct {
	Admin     bool
	ServiceID string // for a service key: the only service it may touch
	KeyID     string
}

// CanAccess reports whether p may touch the service's verifications.
func (p Principal) CanAccess(serviceID string) bool {
	return p.Admin || (p.ServiceID != "" && p.ServiceID == serviceID)
}

const keyTokenPrefix = "otpd_sk_"

// Authenticate resolves a bearer token: the admin token or a service key.
// Every comparison is constant-time on a hash of the token.
func (e *Engine) Authenticate(ctx context.Context, token string) (Principal, error) {
	unauthorized := &Error{Kind: ErrUnauthorized, Detail: "missing or invalid bearer token"}
	if token == "" || len(token) > 512 {
		return Principal{}, unauthorized
	}
	sum := sha256.Sum256([]byte(token))
	if e.hasAdmin && subtle.ConstantTimeCompare(sum[:], e.admin[:]) == 1 {
		return Principal{Admin: true}, nil
	}
	keyID, ok := keyIDFromToken(token)
	if !ok {
		return Principal{}, unauthorized
	}
	k, err := e.key(ctx, keyID)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, unauthorized
	}
	if err != nil {
		return Principal{}, err
	}
	if subtle.ConstantTimeCompare(sum[:], k.SecretHash) != 1 {
		return Principal{}, unauthorized
	}
	if now := e.Now(); now.Sub(k.LastUsedAt) > time.Minute {
		// Last-used time is for operators; a minute's precision keeps
		// authentication from writing on every request.
		if err := e.store.TouchKey(ctx, k.ID, now); err != nil {
			e.log.WarnContext(ctx, "recording key use", "key_id", k.ID, "err", err)
		}
		// So that the next requests in the TTL do not touch it again. A
		// copy: the cached key is shared by requests running now.
		e.keys.replace(k.ID, func(old *Key) *Key {
			touched := *old
			touched.LastUsedAt = now
			return &touched
		})
	}
	return Principal{ServiceID: k.ServiceID, KeyID: k.ID}, nil
}

func keyIDFromToken(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, keyTokenPrefix)
	if !ok || len(rest) < 27 || rest[26] != '_' {
		return "", false
	}
	id := PrefixKey + rest[:26]
	return id, HasPrefix(id, PrefixKey)
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("otpd: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewAdminToken returns a fresh admin token with 256 bits of entropy.
func NewAdminToken() string { return "otpd_admin_" + randomToken(32) }

// HashAdminToken returns the hash of an admin token that Config.AdminTokenHash
// takes. Like service key secrets (see CreateKey), a generated admin token is
// 256 random bits, so a plain SHA-256 is as good as a slow password hash:
// there is nothing to guess faster than the token itself.
func HashAdminToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// ---- Services and keys ----

// CreateService validates s, fills its defaults, gives it an id and a
// webhook secret, and stores it.
func (e *Engine) CreateService(ctx context.Context, s *Service) (*Service, error) {
	if err := e.validateService(s); err != nil {
		return nil, err
	}
	now := e.Now()
	s.ID = NewID(PrefixService, now)
	s.WebhookSecret = "whsec_" + randomToken(32)
	s.CreatedAt, s.UpdatedAt = now, now
	if err := e.store.CreateService(ctx, s); err != nil {
		return nil, fmt.Errorf("create service: %w", err)
	}
	e.audit(ctx, AuditServiceCreate, s.ID, s.ID, map[string]any{"name": s.Name})
	return s, nil
}

// validateService validates s and lets every channel that constrains
// services (ServiceChecker) check it, in channel name order so the error
// reported is always the same.
func (e *Engine) validateService(s *Service) error {
	if err := s.Validate(); err != nil {
		return err
	}
	names := make([]ChannelName, 0, len(e.channels))
	for name := range e.channels {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if sc, ok := e.channels[name].(ServiceChecker); ok {
			if err := sc.CheckService(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// GetService returns a service.
func (e *Engine) GetService(ctx context.Context, id string) (*Service, error) {
	return e.store.GetService(ctx, id)
}

// ListServices returns up to limit services after the cursor, oldest first.
func (e *Engine) ListServices(ctx context.Context, after string, limit int) ([]*Service, error) {
	return e.store.ListServices(ctx, after, limit)
}

// UpdateService applies fn to the service, validates the result and stores it.
func (e *Engine) UpdateService(ctx context.Context, id string, fn func(*Service) error) (*Service, error) {
	s, err := e.store.GetService(ctx, id)
	if err != nil {
		return nil, err
	}
	before := *s
	before.Channels, before.Countries, before.SafeList = slices.Clone(s.Channels), slices.Clone(s.Countries), slices.Clone(s.SafeList)
	if err := fn(s); err != nil {
		return nil, err
	}
	if err := e.validateService(s); err != nil {
		return nil, err
	}
	s.UpdatedAt = e.Now()
	err = e.store.UpdateService(ctx, s)
	// Also when the update failed: it may have been committed all the same.
	e.Invalidate(Invalidation{Kind: InvalidateService, ID: id})
	if err != nil {
		return nil, fmt.Errorf("update service: %w", err)
	}
	fields := serviceChanges(&before, s)
	if fields == nil {
		fields = []string{}
	}
	e.audit(ctx, AuditServiceUpdate, s.ID, s.ID, map[string]any{"fields": fields})
	return s, nil
}

// DeleteService removes a service with its keys and verifications.
func (e *Engine) DeleteService(ctx context.Context, id string) error {
	err := e.store.DeleteService(ctx, id)
	// Also when the delete failed: it may have been committed all the same.
	e.Invalidate(Invalidation{Kind: InvalidateService, ID: id})
	if err != nil {
		return err
	}
	e.audit(ctx, AuditServiceDelete, id, id, nil)
	return nil
}

// CreateKey makes a service key and returns it with its secret, which is
// not stored and cannot be shown again.
func (e *Engine) CreateKey(ctx context.Context, serviceID, name string) (*Key, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 64 {
		return nil, "", invalid("name", "is required and must be at most 64 characters")
	}
	if _, err := e.service(ctx, serviceID); err != nil {
		return nil, "", err
	}
	now := e.Now()
	k := &Key{ID: NewID(PrefixKey, now), ServiceID: serviceID, Name: name, CreatedAt: now}
	// 256 random bits after the prefix and key id. Only a SHA-256 of the
	// whole secret is stored: a fast, unsalted hash is enough for a secret
	// this random (no dictionary or brute force reaches it; a salt or a
	// slow hash such as bcrypt or argon2 defends guessable passwords and
	// would only cost every request time), and it lets Authenticate look
	// the key up by id and compare hashes in constant time.
	secret := keyTokenPrefix + strings.TrimPrefix(k.ID, PrefixKey) + "_" + randomToken(32)
	sum := sha256.Sum256([]byte(secret))
	k.SecretHash = sum[:]
	if err := e.store.CreateKey(ctx, k); err != nil {
		return nil, "", fmt.Errorf("create key: %w", err)
	}
	// Misses are not cached, so nothing should hold the new id; dropping
	// it keeps that true whatever a read under way brings back.
	e.Invalidate(Invalidation{Kind: InvalidateKey, ID: k.ID})
	e.audit(ctx, AuditKeyCreate, serviceID, k.ID, map[string]any{"name": k.Name})
	return k, secret, nil
}

// ListKeys returns a service's keys (without secrets).
func (e *Engine) ListKeys(ctx context.Context, serviceID string) ([]*Key, error) {
	if _, err := e.service(ctx, serviceID); err != nil {
		return nil, err
	}
	return e.store.ListKeys(ctx, serviceID)
}

// RevokeKey deletes a key; requests with it fail from then on.
func (e *Engine) RevokeKey(ctx context.Context, serviceID, keyID string) error {
	err := e.store.DeleteKey(ctx, serviceID, keyID)
	// Also when the delete failed: it may have been committed all the same.
	e.Invalidate(Invalidation{Kind: InvalidateKey, ID: keyID})
	if err != nil {
		return err
	}
	e.audit(ctx, AuditKeyRevoke, serviceID, keyID, nil)
	return nil
}

// CheckKeyring makes sure this node's keyring agrees with the keys other
// nodes sharing the store have used: it records the fingerprints of keys
// the store has not seen, and fails when a key id the store has seen has
// another secret here. Nodes with different keys under one id would
// silently refuse each other's codes, so a node must not start that way.
func (e *Engine) CheckKeyring(ctx context.Context) error {
	return e.checkKeyring(ctx, e.Keyring())
}

func (e *Engine) checkKeyring(ctx context.Context, k *Keyring) error {
	mine := k.Fingerprints()
	recorded, err := e.store.RegisterKeyFingerprints(ctx, mine)
	if err != nil {
		return fmt.Errorf("check keyring: %w", err)
	}
	var differ []string
	for id, fp := range mine {
		if recorded[id] != fp {
			differ = append(differ, id)
		}
	}
	if len(differ) > 0 {
		slices.Sort(differ)
		return fmt.Errorf("%w: key %s of this keyring is not the key of that id that other nodes of this store use; every node must use the same keyring file (--keyring)",
			ErrKeyringMismatch, strings.Join(differ, ", "))
	}
	return nil
}

// Keyring returns the keyring in use. It must not be changed: replace it
// with SetKeyring.
func (e *Engine) Keyring() *Keyring { return e.keyring.Load() }

// SetKeyring replaces the keyring while the engine runs, for rotation
// without downtime: verifications already started keep being checked with
// the key they name, new ones use k's current key. It refuses (with an
// error wrapping ErrKeyringMismatch, keeping the old keyring) a keyring
// that lacks a key of the one in use or holds another secret under one of
// its ids, and one that disagrees with the fingerprints other nodes of the
// store recorded (CheckKeyring); k's new keys are recorded there. k must
// not be changed afterwards.
func (e *Engine) SetKeyring(ctx context.Context, k *Keyring) error {
	if k == nil {
		return errors.New("otpd: set keyring: nil keyring")
	}
	e.ringMu.Lock()
	defer e.ringMu.Unlock()
	if err := k.CanReplace(e.Keyring()); err != nil {
		return err
	}
	if err := e.checkKeyring(ctx, k); err != nil {
		return err
	}
	e.keyring.Store(k)
	return nil
}

// ErrKeyringMismatch is returned by CheckKeyring.
var ErrKeyringMismatch = errors.New("keyring mismatch")
