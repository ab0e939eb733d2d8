package otpd

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// screen refuses a phone destination that no channel of the route should
// send a code to (see NumberType.Reachable), then asks the fraud guard.
func (e *Engine) screen(ctx context.Context, svc *Service, dest Destination, route []ChannelName, now time.Time) error {
	if dest.Kind != DestinationPhone {
		return nil
	}
	for _, c := range route {
		if !dest.Type.Reachable(c) {
			what := strings.ReplaceAll(string(dest.Type), "_", " ")
			if dest.Type == NumberFixedLine {
				return &Error{Kind: ErrDestinationBlocked, Param: "to", Detail: "the number is a landline, which cannot receive " + strings.ToUpper(string(c)) + "; use another channel"}
			}
			return &Error{Kind: ErrDestinationBlocked, Param: "to", Detail: fmt.Sprintf("codes are not sent to %s numbers", what)}
		}
	}
	if e.guard != nil {
		return e.guard.Screen(ctx, svc, dest, now)
	}
	return nil
}

// limitHit is a rate-limit hit with the name of the limit, to explain a
// refusal.
type limitHit struct {
	name string
	hit  RateHit
}

// sendHits returns the rate-limit hits of sending a code to dest: a start
// (with the end user's IP when the request gave one) or a resend.
func (e *Engine) sendHits(svc *Service, dest Destination, toKey, clientIP string) []limitHit {
	l := svc.Limits.Or(e.limits)
	hits := []limitHit{
		{"destination", RateHit{Key: "dst:" + svc.ID + ":" + toKey, Limit: l.Destination}},
		{"service", RateHit{Key: "svc:" + svc.ID, Limit: l.Service}},
	}
	if clientIP != "" {
		hits = append(hits, limitHit{"client_ip", RateHit{Key: "ip:" + svc.ID + ":" + e.Keyring().BlindIndex(svc.ID, "ip:"+clientIP), Limit: l.ClientIP}})
	}
	if p := dest.Prefix(); p != "" {
		hits = append(hits, limitHit{"prefix", RateHit{Key: "pfx:" + svc.ID + ":" + p, Limit: l.Prefix}})
	}
	if dest.Region != "" {
		hits = append(hits, limitHit{"country", RateHit{Key: "cc:" + svc.ID + ":" + dest.Region, Limit: l.Country}})
	}
	return hits
}

// failedCheckHit is the hit that counts wrong codes for a destination.
func (e *Engine) failedCheckHit(serviceID string, limits Limits, toKey string) RateHit {
	return RateHit{Key: "fail:" + serviceID + ":" + toKey, Limit: limits.Or(e.limits).FailedChecks}
}

var limitSubjects = map[string]string{
	"destination": "for this destination",
	"service":     "for this service",
	"client_ip":   "from this client_ip",
	"prefix":      "to this number range",
	"country":     "to this country",
}

// take counts a send against every limit, or refuses it with the wait and
// the limits that are full.
func (e *Engine) take(ctx context.Context, now time.Time, hits []limitHit) error {
	if e.limiter == nil {
		return nil
	}
	plain := make([]RateHit, len(hits))
	for i, h := range hits {
		plain[i] = h.hit
	}
	wait, err := e.limiter.Take(ctx, now, plain)
	if err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	if wait == 0 {
		return nil
	}
	// Refusals are rare: only then ask which limits are full.
	var full []string
	for _, h := range hits {
		if w, err := e.limiter.Wait(ctx, now, []RateHit{h.hit}); err == nil && w > 0 {
			full = append(full, fmt.Sprintf("%s (%s)", limitSubjects[h.name], h.hit.Limit))
		}
	}
	detail := "too many codes sent"
	if len(full) > 0 {
		detail += " " + strings.Join(full, ", ")
	}
	return &Error{Kind: ErrRateLimited, RetryAfter: wait, Detail: detail}
}

// ErrFailedChecks explains a check refused by the failed-checks cap.
func failedChecksError(wait time.Duration, l RateLimit) *Error {
	return &Error{Kind: ErrRateLimited, RetryAfter: wait,
		Detail: fmt.Sprintf("too many wrong codes for this destination (%s); the code was not checked", l)}
}

// serviceLimits returns a service's rate limits: checks need no other part
// of the service, and none at all without a limiter.
func (e *Engine) serviceLimits(ctx context.Context, serviceID string) (Limits, error) {
	if e.limiter == nil {
		return Limits{}, nil
	}
	svc, err := e.service(ctx, serviceID)
	if err != nil {
		return Limits{}, err
	}
	return svc.Limits, nil
}
