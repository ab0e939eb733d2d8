package main

import (
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// riverVersion is the River release this module pins (go.mod).
const riverVersion = "v0.51.2"

// tuning is the River client settings of one configuration.
type tuning struct {
	name              string
	FetchCooldown     time.Duration // zero: River's default, 100 ms
	FetchPollInterval time.Duration // zero: River's default, 1 s
	MaxWorkers        int
	PollOnly          bool
	PoolMaxConns      int32 // PostgreSQL pool size; zero: pgxpool's default, max(4, NumCPU)
	OwnWriter         bool  // SQLite: the producer inserts on a connection of its own, not River's
}

func (t tuning) String() string {
	if t.name == "otpd" {
		return "otpd outbox, delivery.Options{Workers: 32}"
	}
	cd, poll := t.FetchCooldown, t.FetchPollInterval
	if cd == 0 {
		cd = river.FetchCooldownDefault
	}
	if poll == 0 {
		poll = river.FetchPollIntervalDefault
	}
	s := fmt.Sprintf("FetchCooldown=%s FetchPollInterval=%s MaxWorkers=%d", cd, poll, t.MaxWorkers)
	if t.PollOnly {
		s += " PollOnly"
	}
	if t.OwnWriter {
		s += " producer-on-own-connection"
	}
	if t.PoolMaxConns > 0 {
		s += fmt.Sprintf(" pool_max_conns=%d", t.PoolMaxConns)
	}
	return s
}

// configs are the settings measured, per store.
//
//   - default: River's defaults, as its README starts a client (MaxWorkers
//     100). A NOTIFY (PostgreSQL) or a row in river_notification (SQLite,
//     whose listener polls that table every 50 ms) is sent at most once per
//     FetchCooldown per queue, and a producer fetches at most once per
//     FetchCooldown, so pickup waits up to 100 ms; the fallback poll is 1 s.
//   - tuned: what a user chasing latency would set: the shortest cooldown
//     River accepts (1 ms), so nearly every insert notifies and is fetched
//     at once, and a short fallback poll (River adds a jitter of
//     max(interval/10, 10 ms) to it). On SQLite the poll does the work
//     (its listener polls every 50 ms), so it is set to the minimum, 1 ms.
//   - tuned-pool8 (PostgreSQL): tuned with a pool of 8 connections.
//   - tuned-pollonly (SQLite): tuned without the notification listener.
//   - tuned-ownwriter (SQLite): tuned, with the producer's transactions on
//     a second connection (as otpd's own writer connection would insert
//     River jobs), so two writers contend for the database's write lock.
//   - otpd: not River but otpd's own outbox (otpd.go), for comparison.
func configs(store string) []tuning {
	switch store {
	case "pg":
		return []tuning{
			{name: "default", MaxWorkers: 100},
			{name: "tuned", FetchCooldown: time.Millisecond, FetchPollInterval: 10 * time.Millisecond, MaxWorkers: 100},
			{name: "tuned-pool8", FetchCooldown: time.Millisecond, FetchPollInterval: 10 * time.Millisecond, MaxWorkers: 100, PoolMaxConns: 8},
			{name: "otpd", MaxWorkers: 32},
		}
	case "sqlite":
		return []tuning{
			{name: "default", MaxWorkers: 100},
			{name: "tuned", FetchCooldown: time.Millisecond, FetchPollInterval: time.Millisecond, MaxWorkers: 100},
			{name: "tuned-pollonly", FetchCooldown: time.Millisecond, FetchPollInterval: time.Millisecond, MaxWorkers: 100, PollOnly: true},
			{name: "tuned-ownwriter", FetchCooldown: time.Millisecond, FetchPollInterval: time.Millisecond, MaxWorkers: 100, OwnWriter: true},
			{name: "otpd", MaxWorkers: 32},
		}
	}
	return nil
}

func configByName(store, name string) (tuning, bool) {
	for _, c := range configs(store) {
		if c.name == name {
			return c, true
		}
	}
	return tuning{}, false
}

func configNames() []string {
	seen := map[string]bool{}
	var names []string
	for _, s := range []string{"pg", "sqlite"} {
		for _, c := range configs(s) {
			if !seen[c.name] {
				seen[c.name] = true
				names = append(names, c.name)
			}
		}
	}
	return names
}
