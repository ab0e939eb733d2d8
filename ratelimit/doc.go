// Package ratelimit counts events against otpd's rate limits.
//
// Every limit is a sliding window of N events per period, kept as counts in
// Slots slots of a tenth of the period each: an event counts from when it
// happens until its slot is more than a period old. That needs ten integers
// a key at most, cannot be doubled by a burst at a window's edge as a fixed
// window can, and gives an exact Retry-After: the time until enough old
// slots have dropped out. The price is that an event may stop counting up
// to a tenth of a period early.
//
// [Memory] keeps the counts in the process: the limiter of a single node
// (otpd on SQLite). The PostgreSQL store implements [otpd.RateLimiter] with
// the same arithmetic ([Slot], [WaitFor]) on a table every node shares.
// Both pass the suite in ratelimittest.
package ratelimit
