package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/otpd/otpd"
)

const (
	// idempotencyLock is how long a request holds its key; a node that
	// dies mid-request frees the key for a retry after this.
	idempotencyLock = time.Minute
	// idempotencyWindow is how long a response is replayed. Older records
	// are purged elsewhere; one found before the purge counts as absent.
	idempotencyWindow = 24 * time.Hour
	maxIdempotencyKey = 255
)

func idempotencyKey(r *http.Request) (string, bool) {
	v := r.Header.Values("Idempotency-Key")
	if len(v) == 0 || v[0] == "" {
		return "", false
	}
	return v[0], true
}

func validIdempotencyKey(key string) error {
	if len(key) > maxIdempotencyKey || !utf8.ValidString(key) {
		return invalidParam("Idempotency-Key", "must be at most %d characters", maxIdempotencyKey)
	}
	return nil
}

// idempotent runs the request once per (scope, key): see the package
// documentation for the rules.
func (s *Server) idempotent(ctx context.Context, c *call, key string, run func() *response) *response {
	if s.idem == nil {
		return run()
	}
	rec := s.newRecord(c, key)
	now := rec.CreatedAt
	rec.LockedUntil = now.Add(idempotencyLock)
	existing, err := s.idem.ReserveIdempotencyKey(ctx, rec)
	if err != nil {
		return s.errorResponse(c.r, err)
	}
	if existing != nil && !existing.Taken && now.Sub(existing.CreatedAt) >= idempotencyWindow {
		// Too old to replay, but not yet purged: purge what is due (the
		// periodic purge is late) and reserve afresh, so that the key
		// behaves as unused.
		if existing, err = s.purgeAndReserve(ctx, rec); err != nil {
			return s.errorResponse(c.r, err)
		}
	}
	if existing != nil {
		switch {
		case !bytes.Equal(existing.RequestHash, rec.RequestHash):
			// Also when taken over from a request that died: that one may
			// have done its work, so this key is spent on it.
			return errorResponse(&otpd.Error{Kind: otpd.ErrConflict,
				Detail: "this Idempotency-Key was already used with a different request"})
		case existing.Taken:
			// A request with this body died holding the key: run it again.
		case !existing.Completed:
			return errorResponse(&otpd.Error{Kind: otpd.ErrConflict,
				Detail: "a request with this Idempotency-Key is still in progress"})
		default:
			return replay(existing)
		}
	}

	res := run()
	// The work is done whether or not the client is still there: record it.
	ctx = context.WithoutCancel(ctx)
	if res.status >= 500 || res.status == http.StatusTooManyRequests {
		if err := s.idem.ReleaseIdempotencyKey(ctx, rec.Scope, rec.Key); err != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "releasing idempotency key",
				slog.String("route", c.r.Pattern), slog.Any("err", err))
		}
		return res
	}
	rec.Completed = true
	rec.StatusCode = res.status
	rec.Header = encodeHeader(res.header)
	rec.Body = res.body
	rec.Subject = c.subject
	if err := s.idem.CompleteIdempotencyKey(ctx, rec); err != nil {
		// The response is still right; a retry may run the request again
		// once the lock runs out.
		s.log.LogAttrs(ctx, slog.LevelError, "completing idempotency key",
			slog.String("route", c.r.Pattern), slog.Any("err", err))
	}
	return res
}

// idempotentCreate runs a request of an apiCreate endpoint once per
// (scope, key), with the same outcome as idempotent, in one durable write
// where idempotent takes three: the record is read (not reserved) first,
// and a new one is written by the store with the verification the request
// creates. Two requests with one key at once both run up to that write;
// the store lets one commit, and the other, having written nothing, is
// answered as a retry is.
func (s *Server) idempotentCreate(ctx context.Context, c *call, key string, ep endpoint) *response {
	if s.idem == nil {
		return s.run(ctx, c, ep)
	}
	classic := func() *response {
		c.err = nil
		return s.idempotent(ctx, c, key, func() *response { return s.run(ctx, c, ep) })
	}
	rec := s.newRecord(c, key)
	switch _, err := s.idem.GetIdempotencyKey(ctx, rec.Scope, rec.Key); {
	case err == nil:
		// A record exists: a replay, a conflict, a request in progress or
		// one to take over. idempotent knows them all.
		return classic()
	case !errors.Is(err, otpd.ErrNotFound):
		return s.errorResponse(c.r, err)
	}
	w := &otpd.IdempotentWrite{Record: rec}
	res := s.run(otpd.WithIdempotentWrite(ctx, w), c, ep)
	if w.Written {
		// What a retry will be answered with, to the byte.
		return recorded(w.Record)
	}
	// Nothing of this request was written. If another with the key was
	// meanwhile (the store refused this one's write for it, or this one
	// failed on a limit the other had just used up), it is the answer.
	if errors.Is(c.err, otpd.ErrIdempotencyKeyUsed) || res.status >= 400 {
		if _, err := s.idem.GetIdempotencyKey(ctx, rec.Scope, rec.Key); err == nil {
			return classic()
		}
	}
	if res.status >= 500 || res.status == http.StatusTooManyRequests {
		// Worth retrying: nothing to remember.
		return res
	}
	// Refused before anything was written (a 4xx): remember the refusal,
	// as idempotent does. Should another request have written first, that
	// one's record stands.
	rec.Completed = true
	rec.StatusCode = res.status
	rec.Header = encodeHeader(res.header)
	rec.Body = res.body
	if _, err := s.idem.ReserveIdempotencyKey(context.WithoutCancel(ctx), rec); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "remembering idempotent response",
			slog.String("route", c.r.Pattern), slog.Any("err", err))
	}
	return res
}

// purgeAndReserve deletes the records past the replay window, then
// reserves rec.
func (s *Server) purgeAndReserve(ctx context.Context, rec *otpd.IdempotencyRecord) (*otpd.IdempotencyRecord, error) {
	const batch = 1000
	for {
		n, err := s.idem.PurgeIdempotencyKeys(ctx, rec.CreatedAt.Add(-idempotencyWindow+time.Millisecond), batch)
		if err != nil {
			return nil, err
		}
		if n < batch {
			break
		}
	}
	return s.idem.ReserveIdempotencyKey(ctx, rec)
}

// newRecord names the request c with key, made now.
func (s *Server) newRecord(c *call, key string) *otpd.IdempotencyRecord {
	return &otpd.IdempotencyRecord{
		Scope:       idempotencyScope(c.principal),
		Key:         key,
		RequestHash: requestHash(c.r, c.body),
		CreatedAt:   s.now().UTC(),
	}
}

// idempotencyScope keeps tenants' keys apart. All keys of one service share
// a scope, so a retry may come with a rotated key.
func idempotencyScope(p otpd.Principal) string {
	if p.Admin {
		return "admin"
	}
	return p.ServiceID
}

func requestHash(r *http.Request, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(r.Method))
	h.Write([]byte{0})
	h.Write([]byte(r.URL.Path))
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(nil)
}

func encodeHeader(h http.Header) []byte {
	m := map[string]string{}
	for _, k := range replayedHeaders {
		if v := h.Get(k); v != "" {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// recorded is the response rec remembers.
func recorded(rec *otpd.IdempotencyRecord) *response {
	res := &response{status: rec.StatusCode, header: http.Header{}, body: rec.Body}
	var m map[string]string
	_ = json.Unmarshal(rec.Header, &m)
	for _, k := range replayedHeaders {
		if v := m[k]; v != "" {
			res.header.Set(k, v)
		}
	}
	if res.status == http.StatusUnauthorized {
		res.header.Set("WWW-Authenticate", `Bearer realm="otpd"`)
	}
	return res
}

func replay(rec *otpd.IdempotencyRecord) *response {
	res := recorded(rec)
	res.header.Set("Idempotent-Replayed", "true")
	return res
}
