package ratelimit

import (
	"time"

	"github.com/otpd/otpd"
)

// Slots is how many slots a limit's period is divided into.
const Slots = 10

// SlotCount is the number of events counted in one slot.
type SlotCount struct {
	Slot  int64
	Count int64
}

// Slot returns the slot of limit l that holds now: slot n spans
// [n*Per/Slots, (n+1)*Per/Slots) since the Unix epoch.
func Slot(l otpd.RateLimit, now time.Time) int64 {
	return now.UnixNano() / slotLen(l)
}

// FirstLive returns the oldest slot whose events still count at now.
func FirstLive(l otpd.RateLimit, now time.Time) int64 {
	return Slot(l, now) - (Slots - 1)
}

func slotLen(l otpd.RateLimit) int64 { return int64(l.Per) / Slots }

// WaitFor returns how long from now until one more event fits limit l,
// given the counts of its slots (any order; slots no longer live are
// ignored): 0 when it fits now.
func WaitFor(l otpd.RateLimit, now time.Time, counts []SlotCount) time.Duration {
	if l.Off() {
		return 0
	}
	first := FirstLive(l, now)
	var live [Slots]int64
	total := int64(0)
	for _, c := range counts {
		if i := c.Slot - first; i >= 0 && i < Slots {
			live[i] += c.Count
			total += c.Count
		}
	}
	excess := total + 1 - int64(l.N)
	if excess <= 0 {
		return 0
	}
	// Slot first+i stops counting when slot first+i+Slots begins.
	for i, n := range live {
		if excess -= n; excess <= 0 {
			until := time.Unix(0, (first+int64(i)+Slots)*slotLen(l))
			return until.Sub(now)
		}
	}
	// The current slot alone holds more than the limit (Add past it):
	// wait until all of it has gone.
	return time.Unix(0, (first+2*Slots-1)*slotLen(l)).Sub(now)
}
