package otpd

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Services and keys are read on every request (authentication, start,
// check, resend, each delivery), and change a few times a year. The engine
// keeps the ones in use in memory, bounded and briefly:
//
//   - a change made through this engine (UpdateService, DeleteService,
//     RevokeKey, CreateKey) drops the entry here at once, after the store
//     has committed it, so the next request on this node reads it again;
//   - a change made elsewhere reaches this node through the store, when it
//     can say so (InvalidationSource: the PostgreSQL store's LISTEN/NOTIFY,
//     within milliseconds);
//   - every entry is read again after the cache TTL (Config.CacheTTL), which
//     bounds how stale a node can be when it was not told: a notification
//     lost while the listener reconnected, or another process writing the
//     SQLite file of a running server (SQLite announces nothing; the CLI
//     itself goes through the server's API, so its changes apply at once).
//
// Misses (not found) are not kept, so a new key or service works at once on
// every node.

// DefaultCacheTTL is how long the engine uses a service or key it read from
// the store before it reads it again, unless told of a change sooner.
const DefaultCacheTTL = 2 * time.Second

// cacheEntries bounds each of the engine's caches (services, keys): enough
// for the services and keys busy at once, with nothing kept in proportion
// to history. The least recently used entry makes room.
const cacheEntries = 4096

// Invalidation tells a node that a service or a key changed in the store,
// or, with Kind InvalidateAll, that anything may have (notifications were
// missed). It carries ids only.
type Invalidation struct {
	Kind InvalidationKind
	ID   string
}

// InvalidationKind says what an Invalidation is about.
type InvalidationKind string

// Invalidation kinds. A service's invalidation covers its keys too: deleting
// a service deletes them.
const (
	InvalidateService InvalidationKind = "service"
	InvalidateKey     InvalidationKind = "key"
	InvalidateAll     InvalidationKind = "all"
)

// InvalidationSource is implemented by a store that can tell a node when
// services or keys change through another node or process (package
// postgres does, over LISTEN/NOTIFY). The engine subscribes when it is made,
// so that its cache drops what changed without waiting for the TTL.
type InvalidationSource interface {
	// SubscribeInvalidations calls fn for each service or key changed in
	// the store from now on, by any writer (this node included), and with
	// InvalidateAll whenever changes may have been missed. fn must be fast
	// and must not block; it may be called from several goroutines. The
	// returned function ends the subscription.
	SubscribeInvalidations(fn func(Invalidation)) (cancel func())
}

// lru is a bounded map of entries that expire ttl after they were read.
// A value put in it is shared by every reader and must not be changed.
type lru[V any] struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration // <= 0: keeps nothing
	now     func() time.Time
	gen     uint64    // counts removals: a read that began before one is not kept
	order   list.List // of *lruEntry[V], most recently used first
	entries map[string]*list.Element
}

type lruEntry[V any] struct {
	key string
	val V
	at  time.Time
}

// newLRU returns a cache of at most max entries living ttl each. It uses
// the wall clock, not the engine's: tests move the engine's clock by hours,
// or hold it still, and neither should decide what a node re-reads.
func newLRU[V any](max int, ttl time.Duration) *lru[V] {
	return &lru[V]{max: max, ttl: ttl, now: time.Now, entries: map[string]*list.Element{}}
}

// get returns the live entry for key, and the generation to give put when
// the caller reads the value from the store instead.
func (c *lru[V]) get(key string) (v V, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return v, c.gen, false
	}
	en := el.Value.(*lruEntry[V])
	if age := c.now().Sub(en.at); age >= c.ttl || age < 0 {
		c.drop(el)
		return v, c.gen, false
	}
	c.order.MoveToFront(el)
	return en.val, c.gen, true
}

// put keeps val under key, read at at, unless something was removed since
// get returned gen: the value read may predate that change, and keeping it
// would bring the change's old state back for a TTL.
func (c *lru[V]) put(key string, val V, at time.Time, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if el, ok := c.entries[key]; ok {
		el.Value = &lruEntry[V]{key: key, val: val, at: at}
		c.order.MoveToFront(el)
		return
	}
	c.entries[key] = c.order.PushFront(&lruEntry[V]{key: key, val: val, at: at})
	for c.order.Len() > c.max {
		c.drop(c.order.Back())
	}
}

// load returns key's value from the cache, or from fetch, keeping it.
func (c *lru[V]) load(ctx context.Context, key string, fetch func(context.Context, string) (V, error)) (V, error) {
	v, gen, ok := c.get(key)
	if ok {
		return v, nil
	}
	at := c.now() // before the read: the entry is no younger than what it holds
	v, err := fetch(ctx, key)
	if err != nil {
		return v, err
	}
	c.put(key, v, at, gen)
	return v, nil
}

// replace swaps the value of key's entry, when there is one, for fn's,
// keeping its age.
func (c *lru[V]) replace(key string, fn func(V) V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		en := el.Value.(*lruEntry[V])
		el.Value = &lruEntry[V]{key: key, val: fn(en.val), at: en.at}
	}
}

// remove drops the entries for which match reports true (every entry when
// match is nil), and makes reads already under way not keep what they read.
func (c *lru[V]) remove(match func(key string, v V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for el := c.order.Front(); el != nil; {
		next := el.Next()
		if en := el.Value.(*lruEntry[V]); match == nil || match(en.key, en.val) {
			c.drop(el)
		}
		el = next
	}
}

// removeKey drops key's entry, like remove.
func (c *lru[V]) removeKey(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if el, ok := c.entries[key]; ok {
		c.drop(el)
	}
}

// len returns how many entries the cache holds, live or not yet dropped.
func (c *lru[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func (c *lru[V]) drop(el *list.Element) {
	delete(c.entries, el.Value.(*lruEntry[V]).key)
	c.order.Remove(el)
}

// service returns the service with the given id, from this node's cache
// when it holds it. The service is shared: callers must not change it.
func (e *Engine) service(ctx context.Context, id string) (*Service, error) {
	return e.services.load(ctx, id, e.store.GetService)
}

// CachedService returns the service with the given id as this node's cache
// holds it: read from the store within the cache TTL, and read again
// since any change this node made or heard of. For the hot path (what
// reads a service for every request or message); GetService, for the
// admin API, reads the store. The service is shared: callers must not
// change it.
func (e *Engine) CachedService(ctx context.Context, id string) (*Service, error) {
	return e.service(ctx, id)
}

// key returns the key with the given id, from this node's cache when it
// holds it. The key is shared: callers must not change it.
func (e *Engine) key(ctx context.Context, id string) (*Key, error) {
	return e.keys.load(ctx, id, e.store.GetKey)
}

// Invalidate drops what inv names from this node's caches, so the next
// request reads it from the store. The engine calls it itself for changes
// made through it, and subscribes it to a store that is an
// InvalidationSource; call it for changes the engine cannot know of.
func (e *Engine) Invalidate(inv Invalidation) {
	switch inv.Kind {
	case InvalidateKey:
		e.keys.removeKey(inv.ID)
	case InvalidateService:
		e.services.removeKey(inv.ID)
		// Deleting a service deletes its keys.
		e.keys.remove(func(_ string, k *Key) bool { return k.ServiceID == inv.ID })
	default:
		e.services.remove(nil)
		e.keys.remove(nil)
	}
}
