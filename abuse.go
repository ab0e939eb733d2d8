package otpd

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RateLimit is a budget of N events per period, written "5/10m" (five per
// ten minutes). NoLimit, written "off", allows everything. The zero
// RateLimit is unset: in a service's Limits it takes the server's default.
type RateLimit struct {
	N   int // -1: no limit; 0: unset
	Per time.Duration
}

// NoLimit is a limit that allows everything.
var NoLimit = RateLimit{N: -1}

// ParseRateLimit reads a limit written as "<n>/<period>", where period is a
// Go duration ("10m", "1h", "30s"), a number of days ("1d"), or a bare unit
// ("m" for one minute). "off" and "0" are NoLimit; "" is unset.
func ParseRateLimit(s string) (RateLimit, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return RateLimit{}, nil
	case "off", "0":
		return NoLimit, nil
	}
	n, per, ok := strings.Cut(s, "/")
	if !ok {
		return RateLimit{}, fmt.Errorf("rate limit %q: want <count>/<period>, such as 5/10m, or off", s)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count < 1 || count > 1_000_000_000 {
		return RateLimit{}, fmt.Errorf("rate limit %q: the count must be a whole number from 1", s)
	}
	per = strings.TrimSpace(per)
	if per != "" && (per[0] < '0' || per[0] > '9') {
		per = "1" + per
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(per, "d"); ok {
		nd, err := strconv.Atoi(days)
		if err != nil {
			return RateLimit{}, fmt.Errorf("rate limit %q: bad period", s)
		}
		d = time.Duration(nd) * 24 * time.Hour
	} else if d, err = time.ParseDuration(per); err != nil {
		return RateLimit{}, fmt.Errorf("rate limit %q: bad period: %v", s, err)
	}
	if d < time.Second || d > 31*24*time.Hour || d%time.Second != 0 {
		return RateLimit{}, fmt.Errorf("rate limit %q: the period must be whole seconds from 1s to 31d", s)
	}
	return RateLimit{N: count, Per: d}, nil
}

// Off reports whether the limit allows everything (unset counts as off
// here: merge defaults in first with Limits.Or).
func (l RateLimit) Off() bool { return l.N <= 0 }

// String writes the limit the way ParseRateLimit reads it.
func (l RateLimit) String() string {
	switch {
	case l.N == 0:
		return ""
	case l.N < 0:
		return "off"
	}
	per := l.Per
	switch {
	case per%(24*time.Hour) == 0:
		return fmt.Sprintf("%d/%dd", l.N, per/(24*time.Hour))
	case per%time.Hour == 0:
		return fmt.Sprintf("%d/%dh", l.N, per/time.Hour)
	case per%time.Minute == 0:
		return fmt.Sprintf("%d/%dm", l.N, per/time.Minute)
	}
	return fmt.Sprintf("%d/%ds", l.N, per/time.Second)
}

// MarshalText writes the limit as String does.
func (l RateLimit) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads the limit as ParseRateLimit does.
func (l *RateLimit) UnmarshalText(b []byte) error {
	v, err := ParseRateLimit(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// RateHit asks for one unit of a limit's budget under a key. Keys name what
// is counted ("dst:<service>:<blind index>"); they never hold a destination,
// an address or an IP in clear, because counters are stored.
type RateHit struct {
	Key   string
	Limit RateLimit
}

// RateLimiter counts events against limits. Implementations whose counts are
// kept in a shared store make limits hold across every node; all of them
// must be safe for concurrent use and pass ratelimittest's suite.
//
// Budgets are sliding windows: an event counts against its limit for Per
// after it happened, so a burst cannot double the rate at a window's edge.
type RateLimiter interface {
	// Take counts one event against every hit if each of them has room,
	// atomically: either all are counted or none is. It returns 0 when they
	// were counted, else how long until all would have room.
	Take(ctx context.Context, now time.Time, hits []RateHit) (time.Duration, error)
	// Wait returns how long until every hit would have room (0: now),
	// counting nothing.
	Wait(ctx context.Context, now time.Time, hits []RateHit) (time.Duration, error)
	// Add counts one event against every hit, whether or not it has room.
	Add(ctx context.Context, now time.Time, hits []RateHit) error
}

// FraudGuard screens starts for abuse that a rate limit alone does not
// catch, such as SMS pumping: traffic to a number range that is never
// checked. Implementations must be safe for concurrent use; Started and
// Approved are on the request path and must not block.
type FraudGuard interface {
	// Screen returns an *Error of kind ErrDestinationBlocked when the
	// service must not send to dest now.
	Screen(ctx context.Context, svc *Service, dest Destination, now time.Time) error
	// Started records a verification started for dest at the given time.
	Started(serviceID string, dest Destination, at time.Time)
	// Approved records that a verification for dest, started at createdAt,
	// was approved. The guard credits the approval to when it started, so
	// a range is judged on verifications old enough to have been checked.
	Approved(serviceID string, dest Destination, createdAt time.Time)
}

// Limits are the rate limits on a service's verifications. An unset (zero)
// field takes the server's default; NoLimit turns a limit off.
type Limits struct {
	// Destination limits starts per destination.
	Destination RateLimit
	// ClientIP limits starts per end-user IP (the request's client_ip).
	ClientIP RateLimit
	// Service limits all starts of the service.
	Service RateLimit
	// Prefix limits starts per number range: the E.164 number without its
	// last four digits. Pumping fraud walks through a range.
	Prefix RateLimit
	// Country limits starts per destination country.
	Country RateLimit
	// FailedChecks caps wrong codes per destination across verifications:
	// starting a new verification does not reset it.
	FailedChecks RateLimit
}

// Prefix returns the number range of a phone destination: its E.164 number
// without the last four digits, or "" for other destinations.
func (d Destination) Prefix() string {
	if d.Kind != DestinationPhone || len(d.Address) < 8 {
		return ""
	}
	return d.Address[:len(d.Address)-4]
}

// Or returns l with every unset limit taken from defaults.
func (l Limits) Or(defaults Limits) Limits {
	pick := func(a, b RateLimit) RateLimit {
		if a.N == 0 {
			return b
		}
		return a
	}
	return Limits{
		Destination:  pick(l.Destination, defaults.Destination),
		ClientIP:     pick(l.ClientIP, defaults.ClientIP),
		Service:      pick(l.Service, defaults.Service),
		Prefix:       pick(l.Prefix, defaults.Prefix),
		Country:      pick(l.Country, defaults.Country),
		FailedChecks: pick(l.FailedChecks, defaults.FailedChecks),
	}
}

// DefaultLimits are the server's limits when its configuration sets none:
// generous for real users, tight enough that one destination, one IP or
// one number range cannot be flooded or pumped. Service-wide and
// per-country budgets depend on the business and are off.
func DefaultLimits() Limits {
	return Limits{
		Destination:  RateLimit{N: 5, Per: 10 * time.Minute},
		ClientIP:     RateLimit{N: 20, Per: 10 * time.Minute},
		Service:      NoLimit,
		Prefix:       RateLimit{N: 50, Per: 10 * time.Minute},
		Country:      NoLimit,
		FailedChecks: RateLimit{N: 10, Per: time.Hour},
	}
}

// limitNames are the names of Limits' fields in configuration files, the
// API and stores.
var limitNames = []string{"destination", "client_ip", "service", "prefix", "country", "failed_checks"}

// LimitNames returns the names Limits.Named and Limits.Set use, in order.
func LimitNames() []string { return append([]string(nil), limitNames...) }

func (l *Limits) field(name string) *RateLimit {
	switch name {
	case "destination":
		return &l.Destination
	case "client_ip":
		return &l.ClientIP
	case "service":
		return &l.Service
	case "prefix":
		return &l.Prefix
	case "country":
		return &l.Country
	case "failed_checks":
		return &l.FailedChecks
	}
	return nil
}

// Named returns the limits that are set, by name.
func (l Limits) Named() map[string]RateLimit {
	out := map[string]RateLimit{}
	for _, n := range limitNames {
		if v := *l.field(n); v.N != 0 {
			out[n] = v
		}
	}
	return out
}

// Set sets the limit called name.
func (l *Limits) Set(name string, v RateLimit) error {
	f := l.field(name)
	if f == nil {
		return invalid("rate_limits", "unknown limit %q: the limits are %s", name, strings.Join(limitNames, ", "))
	}
	*f = v
	return nil
}

// LimitsFromNamed returns the Limits of a name → limit map, as Named gives.
func LimitsFromNamed(m map[string]RateLimit) (Limits, error) {
	var l Limits
	for n, v := range m {
		if err := l.Set(n, v); err != nil {
			return Limits{}, err
		}
	}
	return l, nil
}
