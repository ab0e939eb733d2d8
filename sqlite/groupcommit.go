package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Group commit.
//
// Every write (a start, a check, a delivery outcome) must be durable before
// its caller is answered, and with synchronous=FULL each commit costs an
// fsync of the WAL, about a millisecond on an ordinary disk. One commit per
// write caps a store at roughly a thousand writes a second however many
// cores it has. So writes queue for a single writer goroutine, which runs
// every write waiting at that moment in one transaction — each inside its
// own SAVEPOINT, so one write's failure rolls back only that write — then
// commits once and answers them all. Under light load a batch is one write
// and nothing waits; under heavy load one fsync makes a whole batch durable.
// No write is answered before the commit that holds it.

// maxBatch bounds a batch, so that one commit's latency stays small and a
// flood of writes cannot hold the write lock for long.
const maxBatch = 128

// writeReq is one write waiting for the writer.
type writeReq struct {
	ctx  context.Context
	fn   func(*txn) error
	done chan writeResult
	// alone runs fn in a transaction of its own, without the savepoint
	// that lets a batch's other writes survive its failure: see
	// writeAlone.
	alone bool
	// bigCache runs it with the import's page cache (importCacheKiB):
	// see runAlone.
	bigCache bool
}

type writeResult struct {
	err      error
	panicked any // fn panicked with this; re-raised in the caller
}

var errClosed = errors.New("sqlite: store is closed")

// write runs fn in the write transaction of the next batch and returns once
// that transaction is committed (fn's changes are durable) or fn's error
// (its changes are rolled back, others' are not). fn must only use the txn
// it is given: it runs on the writer goroutine. fn may run more than once
// (see runBatch), each time in a fresh transaction: it must set, not
// accumulate, what it reports to its caller.
func (s *Store) write(ctx context.Context, fn func(*txn) error) error {
	return s.send(&writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)})
}

// writeAlone is write for a large write (ImportVerifications): fn runs in
// a transaction of its own, committed when fn returns nil and rolled back
// whole otherwise. Inside a batch's savepoint every statement's end
// truncates the savepoint's in-memory sub-journal by walking it from the
// start, and that journal grows with every page the write has touched: a
// write of thousands of rows spent half its time there.
func (s *Store) writeAlone(ctx context.Context, fn func(*txn) error) error {
	return s.send(&writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1), alone: true})
}

// writeImport is writeAlone with the import's page cache.
func (s *Store) writeImport(ctx context.Context, fn func(*txn) error) error {
	return s.send(&writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1), alone: true, bigCache: true})
}

// The write connection's page cache, as PRAGMA cache_size values (negative:
// KiB). An import of millions of rows inserts into indexes in random order
// — verifications_pending by destination key, message_refs by the SMSC's
// message id — and once those outgrow SQLite's default 2 MiB cache nearly
// every insert reads its leaf page back from the WAL or the file, and the
// transaction's dirty pages spill to the WAL before the commit: a quarter
// of a prefill's CPU was that. The import gets a cache that holds those
// indexes up to several million rows; SQLite allocates pages as they are
// used, and the writer gives them back before the next ordinary write.
// Each 4 KiB page costs about 8 KiB of memory (the allocator rounds its
// header up to whole pages): 1 GiB of cache is 2 GiB resident, and 3 GiB
// grew a 10 M-row fill past 8 GB.
const (
	defaultCacheSize = -2000    // SQLite's default
	importCacheSize  = -1 << 20 // 1 GiB
)

// setCache sets the write connection's page cache size if it is not
// already big (importCacheSize) or not (defaultCacheSize). Shrinking it
// frees the pages above the new size. It runs on the writer goroutine,
// outside a transaction.
func (s *Store) setCache(big bool) {
	if s.bigCache == big {
		return
	}
	size := defaultCacheSize
	if big {
		size = importCacheSize
	}
	// On failure the cache stays as it is: a slower import or a larger
	// cache, not a wrong write.
	if _, err := s.w.Exec(fmt.Sprintf("PRAGMA cache_size = %d", size)); err == nil {
		s.bigCache = big
	}
}

// send hands req to the writer and waits for its outcome.
func (s *Store) send(req *writeReq) error {
	ctx := req.ctx
	s.backlog.Add(1)
	defer s.backlog.Add(-1)
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return errClosed
	}
	// Once queued, the write may already be running: wait for its outcome
	// even if ctx ends, so the caller never mistakes a committed write for
	// a failed one. The writer skips writes whose ctx ended before they ran.
	res := <-req.done
	if res.panicked != nil {
		panic(res.panicked)
	}
	return res.err
}

// WriteBacklog returns how many writes are waiting for the writer or
// running: the engine refuses new work past a limit (otpd.WriteBacklogger).
func (s *Store) WriteBacklog() int { return int(s.backlog.Load()) }

// writer runs batches until the store closes. It owns the write connection.
func (s *Store) writer() {
	defer close(s.writerDone)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case req := <-s.writes:
			if req.alone {
				s.runAlone(req)
				continue
			}
			batch = append(batch[:0], req)
		case <-s.closing:
			// Close waits for callers to stop queuing by closing
			// s.closing first; anything already queued still runs.
			for {
				select {
				case req := <-s.writes:
					if req.alone {
						s.runAlone(req)
					} else {
						s.setCache(false)
						s.runBatch([]*writeReq{req})
					}
				default:
					return
				}
			}
		}
		var alone *writeReq // ends the batch; runs after it
	fill:
		for len(batch) < maxBatch {
			select {
			case req := <-s.writes:
				if req.alone {
					alone = req
					break fill
				}
				batch = append(batch, req)
			default:
				break fill
			}
		}
		s.setCache(false)
		s.runBatch(batch)
		if alone != nil {
			s.runAlone(alone)
		}
	}
}

// runBatch runs the writes in one transaction and answers each.
//
// It first runs them without savepoints (runBare): a savepoint costs two
// statements per write and makes SQLite journal every page the write
// touches, a fifth of the writer's time. A write that fails before it
// changed anything — the usual failures: a version that moved, an
// idempotency key already used, a row not found — needs nothing undone.
// Only a write that fails after changing rows, or panics, would need its
// savepoint: then the whole transaction is rolled back and the batch runs
// again, each write inside a savepoint of its own (runSavepoints). That is
// why write's fn may run more than once.
func (s *Store) runBatch(batch []*writeReq) {
	if s.runBare(batch) {
		return
	}
	s.runSavepoints(batch)
}

// runBare runs the batch in one transaction without savepoints and answers
// it, or, when a write failed after changing rows (or panicked), rolls the
// transaction back, answers nothing and returns false.
func (s *Store) runBare(batch []*writeReq) bool {
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		for _, r := range batch {
			r.done <- writeResult{err: fmt.Errorf("sqlite: begin: %w", err)}
		}
		return true
	}
	errs := make([]error, len(batch))
	ran := false
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		t := &txn{ctx: context.WithoutCancel(r.ctx), tx: tx, stmts: s.ws, sealer: s.sealer}
		clean, err := runFn(t, r.fn)
		if !clean {
			_ = tx.Rollback() // the batch runs again, with savepoints
			return false
		}
		errs[i] = err
		ran = ran || err == nil
	}
	var commitErr error
	if ran {
		commitErr = tx.Commit()
	} else {
		_ = tx.Rollback() // nothing of the callers' was in it
	}
	for i, r := range batch {
		err := errs[i]
		if err == nil && commitErr != nil {
			err = fmt.Errorf("sqlite: commit: %w", commitErr)
		}
		r.done <- writeResult{err: err}
	}
	return true
}

// runFn runs fn on t and reports whether what it left is clean: it
// succeeded, or failed without changing anything.
func runFn(t *txn, fn func(*txn) error) (clean bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			clean = false // the savepoint run recovers it again for the caller
		}
	}()
	err = fn(t)
	return err == nil || !t.dirty, err
}

// runSavepoints runs the writes in one transaction, each inside a
// savepoint, and answers each.
func (s *Store) runSavepoints(batch []*writeReq) {
	results := make([]writeResult, len(batch))
	// Statements run without the callers' cancellation: interrupting a
	// statement makes SQLite roll back the whole transaction, which would
	// undo the other writes of the batch.
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		for _, r := range batch {
			r.done <- writeResult{err: fmt.Errorf("sqlite: begin: %w", err)}
		}
		return
	}
	ran := false
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i].err = err
			continue
		}
		results[i] = s.runOne(tx, r)
		ran = ran || (results[i].err == nil && results[i].panicked == nil)
	}
	var commitErr error
	if ran {
		commitErr = tx.Commit()
	} else {
		commitErr = tx.Rollback()
		if commitErr != nil {
			commitErr = nil // nothing of the callers' was in it
		}
	}
	for i, r := range batch {
		res := results[i]
		if res.err == nil && res.panicked == nil && commitErr != nil {
			res.err = fmt.Errorf("sqlite: commit: %w", commitErr)
		}
		r.done <- res
	}
}

// runAlone runs a writeAlone request in a transaction of its own.
func (s *Store) runAlone(r *writeReq) {
	if err := r.ctx.Err(); err != nil {
		r.done <- writeResult{err: err}
		return
	}
	s.setCache(r.bigCache)
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		r.done <- writeResult{err: fmt.Errorf("sqlite: begin: %w", err)}
		return
	}
	res := func() (res writeResult) {
		defer func() {
			if p := recover(); p != nil {
				res = writeResult{panicked: p}
			}
		}()
		t := &txn{ctx: context.WithoutCancel(r.ctx), tx: tx, stmts: s.ws, sealer: s.sealer}
		return writeResult{err: r.fn(t)}
	}()
	if res.err != nil || res.panicked != nil {
		_ = tx.Rollback() // the outcome to report is fn's
	} else if err := tx.Commit(); err != nil {
		res.err = fmt.Errorf("sqlite: commit: %w", err)
	}
	r.done <- res
}

// The savepoint statements, prepared with the others: run twice per write,
// parsing them each time was a visible share of the writer's time.
const (
	sqlSavepoint  = "SAVEPOINT w"
	sqlRelease    = "RELEASE w"
	sqlRollbackTo = "ROLLBACK TO w"
)

// runOne runs one write inside a savepoint of the batch's transaction.
func (s *Store) runOne(tx *sql.Tx, r *writeReq) (res writeResult) {
	ctx := context.WithoutCancel(r.ctx)
	t := &txn{ctx: ctx, tx: tx, stmts: s.ws, sealer: s.sealer}
	if _, err := t.exec(sqlSavepoint); err != nil {
		return writeResult{err: fmt.Errorf("sqlite: savepoint: %w", err)}
	}
	undo := func() {
		// ROLLBACK TO leaves the savepoint open; RELEASE closes it.
		if _, err := t.exec(sqlRollbackTo); err == nil {
			_, _ = t.exec(sqlRelease)
		}
	}
	defer func() {
		if p := recover(); p != nil {
			undo()
			res = writeResult{panicked: p}
		}
	}()
	if err := r.fn(t); err != nil {
		undo()
		return writeResult{err: err}
	}
	if _, err := t.exec(sqlRelease); err != nil {
		undo()
		return writeResult{err: fmt.Errorf("sqlite: release savepoint: %w", err)}
	}
	return writeResult{}
}
