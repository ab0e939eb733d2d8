// Package sms routes SMS across several routes — SMPP binds to SMSCs and
// HTTP SMS providers — and is the otpd.Channel for "sms".
//
// Each destination is matched against every route's prefixes; the routes
// with the longest matching prefix are tried in priority order, and a route
// that is down, refuses a message temporarily or uses up its share of the
// send's time hands it to the next one (see Router.Send).
// A permanent refusal (an invalid number, say) is final: another route
// would refuse it too, and trying costs money.
package sms

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otpd/otpd"
)

// Route is one way to send SMS: an SMPP bind or an HTTP provider.
type Route struct {
	Name     string
	Prefixes []string // E.164 prefixes with '+', e.g. "+44", "+447"; none matches every number
	Priority int      // lower is tried first among routes of equally long prefixes
	Channel  otpd.Channel

	health health
}

// Router is the SMS channel: it sends each message on the best route.
type Router struct {
	routes   []*Route
	now      func() time.Time
	obs      Observer
	minShare time.Duration // MinRouteShare; shorter in tests
}

// Observer is told of every send on a route, for metrics. It must not block.
type Observer interface {
	RouteSend(route string, d time.Duration, err error)
}

// SetObserver makes the router report sends to obs.
func (r *Router) SetObserver(obs Observer) { r.obs = obs }

var _ otpd.Channel = (*Router)(nil)

// NewRouter returns a router over routes. Route names must be unique and
// prefixes must look like E.164 prefixes.
func NewRouter(routes []*Route) (*Router, error) {
	if len(routes) == 0 {
		return nil, errors.New("sms: no routes")
	}
	names := map[string]bool{}
	for _, r := range routes {
		if r.Name == "" || names[r.Name] {
			return nil, fmt.Errorf("sms: route name %q is empty or used twice", r.Name)
		}
		names[r.Name] = true
		if r.Channel == nil {
			return nil, fmt.Errorf("sms: route %s has no channel", r.Name)
		}
		for _, p := range r.Prefixes {
			if !validPrefix(p) {
				return nil, fmt.Errorf("sms: route %s: prefix %q must be '+' and 1 to 15 digits", r.Name, p)
			}
		}
	}
	return &Router{routes: routes, now: time.Now, minShare: MinRouteShare}, nil
}

func validPrefix(p string) bool {
	if len(p) < 2 || len(p) > 16 || p[0] != '+' {
		return false
	}
	for _, c := range p[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Candidates returns the routes for a destination in the order they are
// tried: longest matching prefix first, then priority, then name.
func (r *Router) Candidates(to string) []*Route {
	type match struct {
		route *Route
		depth int
	}
	var ms []match
	for _, rt := range r.routes {
		depth := -1
		if len(rt.Prefixes) == 0 {
			depth = 0
		}
		for _, p := range rt.Prefixes {
			if strings.HasPrefix(to, p) && len(p) > depth {
				depth = len(p)
			}
		}
		if depth >= 0 {
			ms = append(ms, match{rt, depth})
		}
	}
	slices.SortStableFunc(ms, func(a, b match) int {
		if a.depth != b.depth {
			return b.depth - a.depth
		}
		if a.route.Priority != b.route.Priority {
			return a.route.Priority - b.route.Priority
		}
		return strings.Compare(a.route.Name, b.route.Name)
	})
	out := make([]*Route, len(ms))
	for i, m := range ms {
		out[i] = m.route
	}
	return out
}

// ErrMaybeAccepted is wrapped by a route's error when the route failed
// without knowing whether its provider took the message: the request was
// written (an SMPP submit_sm, an HTTP POST) but no answer came before the
// route's time ran out or the connection dropped, or the answer could not
// be read. The message may reach the phone through that route even though
// the send failed.
var ErrMaybeAccepted = errors.New("the route may have accepted the message")

// TrackWrite is for HTTP routes: it returns ctx set to note when a request
// made with it has been written in full, and a function that wraps an
// error of that request's round trip with ErrMaybeAccepted once it has
// (before that, the provider cannot have the message).
func TrackWrite(ctx context.Context) (context.Context, func(error) error) {
	var written atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				written.Store(true)
			}
		},
	})
	return ctx, func(err error) error {
		if err == nil || !written.Load() {
			return err
		}
		return fmt.Errorf("%w: %w", ErrMaybeAccepted, err)
	}
}

// Shares of a send's time. A route that is not the last candidate gets
// the time left divided by the number of candidates left, at least
// MinRouteShare (and never more than the time left), so a route that
// stalls — an SMSC answering every submit_sm with ESME_RTHROTTLED, which
// the transmitter retries until its deadline — yields to the next one
// instead of using up the whole send. The last candidate gets all that
// remains.
const (
	MinRouteShare = time.Second
	// NoDeadlineShare bounds each route but the last when the send's
	// context has no deadline (the engine always sets one).
	NoDeadlineShare = 15 * time.Second
)

// Send tries the destination's routes in order until one accepts the
// message or refuses it for good. The provider id and refs are prefixed
// with the route's name ("route:id"), so receipts can be told apart per
// route: a receipt on route R for SMSC id X is ref "R:X".
//
// Every route but the last is given a share of the time ctx leaves (see
// MinRouteShare); a route that runs out of its share, is down, or refuses
// the message temporarily hands it to the next. A permanent refusal is
// final.
//
// # Failover is at least once
//
// A route that runs out of time may already have handed the message to its
// provider: an SMPP submit_sm written but not answered, an HTTP request
// whose response never came. Its error then wraps ErrMaybeAccepted. The
// router still moves on, because for a one-time code a duplicate is
// harmless and a lost message is not: the person may get the same code
// twice, once from each route. The message's provider id and refs are
// those of the route that answered; a receipt for the first route's copy
// quotes an id no message has and is acknowledged and dropped, so the
// message's status follows the copy otpd knows of. The same holds when the
// first route's transmitter resubmitted on its own (see smpp.Transmitter).
func (r *Router) Send(ctx context.Context, msg *otpd.Outbound) (otpd.SendResult, error) {
	routes := r.Candidates(msg.To)
	if len(routes) == 0 {
		return otpd.SendResult{}, &otpd.SendError{Permanent: true, Err: errors.New("no SMS route serves this destination")}
	}
	var errs []error
	// Readiness is checked up front (it does no I/O), so that routes which
	// are down do not count when the time is shared out.
	ready := make([]*Route, 0, len(routes))
	for _, rt := range routes {
		if rt.Channel.Ready(ctx) != nil {
			errs = append(errs, fmt.Errorf("route %s: not ready", rt.Name))
			continue
		}
		ready = append(ready, rt)
	}
	for i, rt := range ready {
		if ctx.Err() != nil {
			break
		}
		routeCtx, cancel := r.share(ctx, len(ready)-i)
		start := r.now()
		res, err := rt.Channel.Send(routeCtx, msg)
		// The route ran out of its own share, not of the whole send's time.
		shareOver := err != nil && ctx.Err() == nil && routeCtx.Err() != nil && errors.Is(err, context.DeadlineExceeded)
		cancel()
		d := r.now().Sub(start)
		rt.health.record(d, err)
		if r.obs != nil {
			r.obs.RouteSend(rt.Name, d, err)
		}
		if err == nil {
			// Ids are unique per route only: qualify them, so a receipt
			// arriving on a route finds its own message.
			res.ProviderID = rt.Name + ":" + res.ProviderID
			for i, ref := range res.Refs {
				res.Refs[i] = rt.Name + ":" + ref
			}
			return res, nil
		}
		if shareOver {
			errs = append(errs, fmt.Errorf("route %s: gave up after %s, its share of the send's time: %w", rt.Name, d.Round(time.Millisecond), err))
			continue
		}
		if otpd.IsPermanent(err) {
			return otpd.SendResult{}, fmt.Errorf("route %s: %w", rt.Name, err)
		}
		errs = append(errs, fmt.Errorf("route %s: %w", rt.Name, err))
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	// Temporary: the dispatcher retries the message later, on every route.
	return otpd.SendResult{}, errors.Join(errs...)
}

// share returns the context a route is tried with when left candidates
// (this one included) remain: the last gets ctx as it is.
func (r *Router) share(ctx context.Context, left int) (context.Context, context.CancelFunc) {
	if left <= 1 {
		return context.WithCancel(ctx)
	}
	d := NoDeadlineShare
	if deadline, ok := ctx.Deadline(); ok {
		d = max(time.Until(deadline)/time.Duration(left), r.minShare)
	}
	// WithTimeout keeps the earlier of the two deadlines: never past ctx's.
	return context.WithTimeout(ctx, d)
}

var _ otpd.RoutedChannel = (*Router)(nil)

// RouteOf returns the name of the route that gave providerID, as Send
// qualified it ("route:id"), or "" if no route of this router did.
func (r *Router) RouteOf(providerID string) string {
	var name string
	for _, rt := range r.routes {
		// The longest name wins: a route may be named like another's
		// prefix with a colon in it.
		if len(rt.Name) > len(name) && strings.HasPrefix(providerID, rt.Name+":") {
			name = rt.Name
		}
	}
	return name
}

// Ready reports whether at least one route can send.
func (r *Router) Ready(ctx context.Context) error {
	var errs []error
	for _, rt := range r.routes {
		err := rt.Channel.Ready(ctx)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("route %s: %w", rt.Name, err))
	}
	return errors.Join(errs...)
}

// RouteReadiness returns each route's readiness by name: nil when it can
// send, else why not.
func (r *Router) RouteReadiness(ctx context.Context) map[string]error {
	out := make(map[string]error, len(r.routes))
	for _, rt := range r.routes {
		out[rt.Name] = rt.Channel.Ready(ctx)
	}
	return out
}

// RouteHealth is a route's state, for /readyz details and metrics.
//
// The error rate and the latencies are over the route's last HealthWindow
// sends (fewer before it has sent that many), failed ones included: a
// route that times out is slow as well as failing. They say nothing of a
// route that has not sent for a while, which is what Ready and the binds
// are for.
type RouteHealth struct {
	Name  string
	Ready bool  // the route can take a message now (what failover checks)
	Err   error // why it cannot, when it cannot
	// State is "bound" or "unbound" for a route with binds (SMPP: at least
	// one bind up, or none); for others (HTTP providers), "reachable" when
	// the provider answered the last send (accepted or refused it for
	// good), "unreachable" when that send failed for want of an answer or
	// with a temporary error, and "unknown" before the first send.
	State string
	// Binds and BindsUp are the binds a route with binds is configured to
	// keep and how many are up now; both zero for other routes.
	Binds, BindsUp int
	Sent, Failed   uint64        // since the process started
	Recent         int           // sends the window below holds
	ErrorRate      float64       // share of the recent sends that failed
	Latency        time.Duration // mean of the recent sends
	LatencyP50     time.Duration
	LatencyP99     time.Duration
	LastError      string    // of the last failed send, "" if none failed
	LastErrorAt    time.Time // when it failed
}

// HealthWindow is how many of a route's last sends its error rate and
// latencies are over: enough for a p99 to mean something, few enough
// that a route that recovered looks healthy again after a minute of
// ordinary traffic.
const HealthWindow = 200

// BindCounter is implemented by a route's channel that keeps binds to its
// provider (SMPPRoute), so health can show how many are up.
type BindCounter interface {
	// Binds returns how many binds are up and how many the route keeps.
	Binds() (up, configured int)
}

// Health returns every route's state, in the order the routes were given.
// It does no I/O.
func (r *Router) Health(ctx context.Context) []RouteHealth {
	out := make([]RouteHealth, len(r.routes))
	for i, rt := range r.routes {
		h := rt.health.snapshot()
		h.Name = rt.Name
		h.Err = rt.Channel.Ready(ctx)
		h.Ready = h.Err == nil
		if bc, ok := rt.Channel.(BindCounter); ok {
			h.BindsUp, h.Binds = bc.Binds()
			h.State = "unbound"
			if h.BindsUp > 0 {
				h.State = "bound"
			}
		}
		out[i] = h
	}
	return out
}

// health keeps a route's recent outcomes in a ring of HealthWindow sends.
type health struct {
	mu          sync.Mutex
	sent        uint64
	failed      uint64
	ring        [HealthWindow]outcome
	n           int // outcomes in ring (at most HealthWindow)
	next        int // where the next goes
	lastErr     string
	lastErrAt   time.Time
	unreachable bool // the last send failed temporarily
}

type outcome struct {
	d      time.Duration
	failed bool
}

func (h *health) record(d time.Duration, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.failed++
		h.lastErr, h.lastErrAt = err.Error(), time.Now()
	} else {
		h.sent++
	}
	// A permanent refusal is an answer: the provider is there.
	h.unreachable = err != nil && !otpd.IsPermanent(err)
	h.ring[h.next] = outcome{d: d, failed: err != nil}
	h.next = (h.next + 1) % HealthWindow
	h.n = min(h.n+1, HealthWindow)
}

func (h *health) snapshot() RouteHealth {
	h.mu.Lock()
	out := RouteHealth{Sent: h.sent, Failed: h.failed, Recent: h.n, LastError: h.lastErr, LastErrorAt: h.lastErrAt}
	switch {
	case h.sent+h.failed == 0:
		out.State = "unknown"
	case h.unreachable:
		out.State = "unreachable"
	default:
		out.State = "reachable"
	}
	ds := make([]time.Duration, h.n)
	failed := 0
	for i := range h.n {
		ds[i] = h.ring[i].d
		if h.ring[i].failed {
			failed++
		}
	}
	h.mu.Unlock()
	if len(ds) == 0 {
		return out
	}
	out.ErrorRate = float64(failed) / float64(len(ds))
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	out.Latency = sum / time.Duration(len(ds))
	slices.Sort(ds)
	out.LatencyP50, out.LatencyP99 = percentile(ds, 0.50), percentile(ds, 0.99)
	return out
}

// percentile returns the q-quantile of sorted ds (nearest rank).
func percentile(ds []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[max(i, 0)]
}
