package otpd

import (
	"fmt"
	"time"
)

// WriteBacklogger is a Store whose writes queue in this process, such as
// package sqlite's single writer. A queue that grows without bound only
// makes every request slower (each is answered after all the writes ahead
// of it) and the process bigger, so past a limit the engine refuses new
// work at once (Admit) and the client retries later, instead of waiting in
// a queue that no longer drains in good time.
type WriteBacklogger interface {
	// WriteBacklog returns how many writes are waiting or running now.
	WriteBacklog() int
}

// DefaultMaxWriteBacklog is Config.MaxWriteBacklog's default. It is well
// above what a busy server keeps waiting (one write per request in flight,
// plus the delivery workers'), so that only a store that has fallen behind
// sheds: at the SQLite writer's pace on a small machine, roughly a second
// of writes.
const DefaultMaxWriteBacklog = 512

// overloadRetryAfter is what an overloaded refusal asks a client to wait.
const overloadRetryAfter = time.Second

// Admit refuses new work with an ErrOverloaded error while the store's
// write backlog is at Config.MaxWriteBacklog or more, so that what is
// already queued drains. It costs an atomic load. Callers ask it before
// anything that writes (package httpapi: before a POST, PATCH, PUT or
// DELETE, ahead of its idempotency key's reservation, itself a write);
// work already accepted — deliveries, receipts — is never shed.
func (e *Engine) Admit() error {
	if e.backlog == nil || e.maxBacklog <= 0 {
		return nil
	}
	if n := e.backlog.WriteBacklog(); n >= e.maxBacklog {
		return &Error{Kind: ErrOverloaded, RetryAfter: overloadRetryAfter,
			Detail: fmt.Sprintf("the server is overloaded (%d writes waiting for the store); retry after a second", n)}
	}
	return nil
}
