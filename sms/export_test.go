package sms

import "time"

// SetMinShare lowers the least time a route that is not the last is given,
// so tests can share out deadlines of a fraction of a second.
func (r *Router) SetMinShare(d time.Duration) { r.minShare = d }

// SetNow replaces the router's clock, so tests can give sends a latency.
func (r *Router) SetNow(now func() time.Time) { r.now = now }
