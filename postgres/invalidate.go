package postgres

import (
	"strings"
	"sync"

	"github.com/otpd/otpd"
)

// Cache invalidations across nodes.
//
// Engines keep the services and keys they use in memory (otpd.Engine's
// cache), so every node must hear at once when one is updated or deleted: a
// revoked key must stop working everywhere, not at the end of a TTL. The
// statements that change them (UpdateService, DeleteService, DeleteKey)
// notify on a second channel of the store's schema, "otpd_cache_" and the
// same hash as the messages channel, inside their own transaction: the
// notification is delivered if and only if the change commits, and only
// after it has, so a node that reads again on hearing it sees the change.
// These writes are rare, so holding the notification lock over their
// commit (see notify.go) costs nothing worth measuring. The payload is
// "<kind>:<id>": ids only, never a secret or a value.
//
// Listen listens on both channels with its one connection, and hands what
// it hears on this one to every subscriber (SubscribeInvalidations). Each
// time it starts listening, after a reconnection too, it tells them
// otpd.InvalidateAll: changes made while it was not listening were not
// heard. While Listen is not running nothing is heard, and the engines'
// TTL bounds how stale they get.
const (
	sqlCacheChannel = `'otpd_cache_' || left(md5(coalesce(current_schema(), '')), 12)`
	// These follow a CTE "changed" returning the ids a statement changed:
	// they notify once for each, and return a row for each, so that
	// RowsAffected counts the rows changed.
	sqlNotifyServiceChanged = `SELECT pg_notify(` + sqlCacheChannel + `, 'service:' || id) FROM changed`
	sqlNotifyKeyChanged     = `SELECT pg_notify(` + sqlCacheChannel + `, 'key:' || id) FROM changed`
)

// subscribers are the functions SubscribeInvalidations registered.
type subscribers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(otpd.Invalidation)
}

// SubscribeInvalidations calls fn for every service or key that any node,
// or any other process using the store, updates or
// deletes, and with otpd.InvalidateAll each time Listen starts listening.
// Only while Listen runs: it is what hears them. fn is called from
// Listen's receive loop and must not block.
func (s *Store) SubscribeInvalidations(fn func(otpd.Invalidation)) (cancel func()) {
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	if s.subs.fns == nil {
		s.subs.fns = map[int]func(otpd.Invalidation){}
	}
	id := s.subs.next
	s.subs.next++
	s.subs.fns[id] = fn
	return func() {
		s.subs.mu.Lock()
		defer s.subs.mu.Unlock()
		delete(s.subs.fns, id)
	}
}

// invalidate tells every subscriber of inv.
func (s *Store) invalidate(inv otpd.Invalidation) {
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	for _, fn := range s.subs.fns {
		fn(inv)
	}
}

// parseInvalidation reads a payload of the cache channel. One it does not
// know (from a newer node) drops everything: safe, if not cheap.
func parseInvalidation(payload string) otpd.Invalidation {
	kind, id, ok := strings.Cut(payload, ":")
	switch k := otpd.InvalidationKind(kind); {
	case ok && id != "" && (k == otpd.InvalidateKey || k == otpd.InvalidateService):
		return otpd.Invalidation{Kind: k, ID: id}
	default:
		return otpd.Invalidation{Kind: otpd.InvalidateAll}
	}
}
