package sqlite

import (
	"context"
	"sync"
)

// Turns.
//
// Two updates of one verification often overlap: the dispatcher records
// the send's outcome while the end user, who already has the code, checks
// it. Both start from the same copy (recent.go) and reach the writer with
// the same version; the writer runs the first and finds the second's
// version moved, so the second has cost the writer a statement for
// nothing and must run again. Measured under load, a third of
// updateFromRead's writes were such misses — a fifth of all the writer's
// work. So the updates of one verification take turns within the store:
// the second waits for the first to be committed (which it would have had
// to do anyway, to run again) and starts from the copy the first left.
//
// Turns only order this process's updates; the version still guards the
// write against another process's, and the locked try still follows a
// move. A turn is held from the copy's take to the write's outcome, so fn
// must not update the same verification (it would wait for itself).

// turns hands out the turns, one per verification id at a time.
type turns struct {
	mu   sync.Mutex
	busy map[string]chan struct{} // closed when the turn ends
}

// take waits for the turn of verification id and returns the function that
// ends it, or ctx's error if ctx ends first.
func (t *turns) take(ctx context.Context, id string) (done func(), err error) {
	for {
		t.mu.Lock()
		wait, ok := t.busy[id]
		if !ok {
			if t.busy == nil {
				t.busy = make(map[string]chan struct{})
			}
			end := make(chan struct{})
			t.busy[id] = end
			t.mu.Unlock()
			return func() {
				t.mu.Lock()
				delete(t.busy, id)
				t.mu.Unlock()
				close(end)
			}, nil
		}
		t.mu.Unlock()
		select {
		case <-wait:
			// Another waiter may take it first: look again.
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
