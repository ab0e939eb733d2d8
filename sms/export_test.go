package sms

import "time"

// SetMinShare lowers the least time a route that is not the last is given,
// so tests can share out deadlines of a fraction of a second.
func (r *Router) SetMinShare(d time.Duration) { r.minShare = d }
