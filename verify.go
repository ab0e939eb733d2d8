package otpd

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// StartRequest asks for a new verification.
type StartRequest struct {
	To       string
	Channel  ChannelName // "" or ChannelAuto: the service's order
	Fallback []ChannelName
	// FallbackTo names destinations for fallback channels that cannot
	// reach To, by channel.
	FallbackTo  map[ChannelName]string
	Locale      string
	Purpose     string
	Transaction *Transaction
	TTL         time.Duration // 0: the service's
	ClientIP    string
	Reference   string
}

var purposeRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Start validates req against the service's policy, creates a pending
// verification and queues its first message, durably, in one transaction.
func (e *Engine) Start(ctx context.Context, serviceID string, req StartRequest) (*Verification, error) {
	svc, err := e.service(ctx, serviceID)
	if err != nil {
		return nil, err
	}
	dest, err := ParseDestination(req.To)
	if err != nil {
		return nil, err
	}
	if req.Channel == "" {
		req.Channel = ChannelAuto
	}
	if !req.Channel.Valid() {
		return nil, invalid("channel", `must be one of "sms", "whatsapp", "rcs", "push", "email" or "auto"`)
	}
	for _, c := range req.Fallback {
		if !c.Valid() || c == ChannelAuto {
			return nil, invalid("fallback", "unknown channel %q", c)
		}
	}
	locale := svc.Locale
	if req.Locale != "" {
		if locale, err = CanonicalLocale(req.Locale); err != nil {
			return nil, invalid("locale", "%q is not a BCP 47 language tag", req.Locale)
		}
	}
	if locale == LocaleAuto {
		// The request said nothing and the service asks for the locale of
		// the number's country.
		locale = "en"
		if dest.Kind == DestinationPhone && e.regionLocale != nil {
			if l := e.regionLocale(dest.Region); l != "" {
				locale = l
			}
		}
	}
	if req.Purpose != "" && !purposeRe.MatchString(req.Purpose) {
		return nil, invalid("purpose", "must be a label of lower-case letters, digits, '_', '.' or '-', at most 64 characters")
	}
	if req.Transaction != nil {
		if err := req.Transaction.Normalize(); err != nil {
			return nil, err
		}
	}
	ttl := svc.Policy.TTL
	if req.TTL != 0 {
		if req.TTL < MinTTL || req.TTL > svc.Policy.MaxTTL || req.TTL%time.Second != 0 {
			return nil, invalid("ttl_seconds", "must be between %d and the service's max_ttl_seconds (%d)", int(MinTTL.Seconds()), int(svc.Policy.MaxTTL.Seconds()))
		}
		ttl = req.TTL
	}
	if req.ClientIP != "" {
		if _, err := netip.ParseAddr(req.ClientIP); err != nil {
			return nil, invalid("client_ip", "must be an IPv4 or IPv6 address")
		}
	}
	if utf8.RuneCountInString(req.Reference) > 256 {
		return nil, invalid("reference", "must be at most 256 characters")
	}

	// Policy decisions come after every parameter is known to be well formed.
	if dest.Kind == DestinationPhone && !svc.AllowsRegion(dest.Region) {
		return nil, &Error{Kind: ErrDestinationBlocked, Param: "to", Detail: fmt.Sprintf("the service does not send to numbers in %s", dest.Region)}
	}
	channel, err := e.pickChannel(svc, req.Channel, dest)
	if err != nil {
		return nil, err
	}
	fallbackTo, err := parseFallbackTo(req.FallbackTo)
	if err != nil {
		return nil, err
	}
	fallback, err := e.fallbackRoute(svc, req, channel, dest, fallbackTo)
	if err != nil {
		return nil, err
	}
	if dest.Kind == DestinationDevice {
		if err := e.usableDevice(ctx, svc.ID, dest.Address); err != nil {
			return nil, err
		}
	}
	now := e.Now()
	if err := e.screen(ctx, svc, dest, append([]ChannelName{channel}, fallback...), now); err != nil {
		return nil, err
	}
	// One keyring for the whole start: a reload in between must not give
	// the verification a key id other than the one its code came from.
	ring := e.Keyring()
	toKey := ring.DestinationKeys(svc.ID, dest.Address)[0]
	hits := e.sendHits(svc, dest, toKey, req.ClientIP)
	for c, d := range fallbackTo {
		// A fallback recipient is screened and counted as a destination
		// of its own: naming one must not open a way around the limits.
		if err := e.screen(ctx, svc, d, []ChannelName{c}, now); err != nil {
			var oe *Error
			if errors.As(err, &oe) {
				oe.Param = "fallback_to." + string(c)
			}
			return nil, err
		}
		hits = append(hits, e.sendHits(svc, d, ring.DestinationKeys(svc.ID, d.Address)[0], "")[0])
	}
	if err := e.take(ctx, now, hits); err != nil {
		return nil, err
	}
	v := &Verification{
		ID:             NewID(PrefixVerification, now),
		ServiceID:      svc.ID,
		To:             dest.Address,
		ToKey:          toKey,
		Channel:        channel,
		Status:         StatusPending,
		Locale:         locale,
		Purpose:        req.Purpose,
		Reference:      req.Reference,
		ClientIP:       req.ClientIP,
		Transaction:    req.Transaction,
		Fallback:       fallback,
		FallbackTo:     fallbackAddresses(fallbackTo, fallback),
		CodeLength:     svc.Policy.CodeLength,
		Alphabet:       svc.Policy.Alphabet,
		KeyID:          ring.CurrentID(),
		Salt:           make([]byte, 16),
		MaxAttempts:    svc.Policy.MaxCheckAttempts,
		MaxSends:       svc.Policy.MaxSends,
		Sends:          1,
		ResendCooldown: svc.Policy.ResendCooldown,
		CreatedAt:      now,
		UpdatedAt:      now,
		ExpiresAt:      now.Add(ttl),
		LastSentAt:     now,
	}
	if _, err := rand.Read(v.Salt); err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	code, err := ring.DeriveCode(v.KeyID, v.ID, v.Salt, v.Alphabet, v.CodeLength)
	if err != nil {
		return nil, err
	}
	if v.CodeHash, err = ring.HashCode(v.KeyID, v.ServiceID, v.ID, code, v.Transaction); err != nil {
		return nil, err
	}
	m := newMessage(v, channel, now)
	v.Messages = []*Message{m}
	if err := e.emit(v, EventVerificationCreated, "", now); err != nil {
		return nil, err
	}
	h := e.reserve()
	h.leaseTo(m, now)
	if err := e.store.CreateVerification(ctx, v); err != nil {
		h.cancel()
		return nil, fmt.Errorf("create verification: %w", err)
	}
	v.Events = nil
	e.pending.put(v)
	h.give(v, m)
	e.notifyEvents()
	if e.guard != nil {
		e.guard.Started(svc.ID, dest, now)
	}
	e.obs.VerificationStarted(channel)
	return v, nil
}

// handing is a handoff reservation for one message, or none.
type handing struct {
	e     *Engine
	ok    bool
	lease time.Duration
}

// reserve reserves a handoff for a message about to be queued.
func (e *Engine) reserve() handing {
	if e.handoff == nil {
		return handing{e: e}
	}
	lease, ok := e.handoff.Reserve()
	return handing{e: e, ok: ok, lease: lease}
}

// leaseTo marks m, about to be inserted, as leased to this node, when the
// reservation was granted.
func (h handing) leaseTo(m *Message, now time.Time) {
	if h.ok {
		m.LeaseUntil = now.Add(h.lease)
	}
}

// give hands m, now committed, to the dispatcher, or wakes the dispatcher
// to claim it when no handoff was reserved.
func (h handing) give(v *Verification, m *Message) {
	if !h.ok {
		h.e.notify()
		return
	}
	// A copy: the caller goes on to answer with v, and the dispatcher reads
	// it on another goroutine.
	h.e.handoff.Give(ClaimedMessage{ServiceID: v.ServiceID, VerificationID: v.ID, MessageID: m.ID, Verification: v.Clone()})
}

// cancel returns an unused reservation.
func (h handing) cancel() {
	if h.ok {
		h.e.handoff.Cancel()
	}
}

func newMessage(v *Verification, ch ChannelName, now time.Time) *Message {
	return &Message{
		ID:             NewID(PrefixMessage, now),
		VerificationID: v.ID,
		Channel:        ch,
		Status:         MessageQueued,
		NextAttemptAt:  now,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
}

// pickChannel resolves the requested channel for a destination: an explicit
// channel must be one of the service's and configured on this server;
// "auto" takes the first of the service's channels that is.
func (e *Engine) pickChannel(svc *Service, want ChannelName, dest Destination) (ChannelName, error) {
	usable := func(c ChannelName) error {
		inService := false
		for _, sc := range svc.Channels {
			inService = inService || sc == c
		}
		switch {
		case !inService:
			return &Error{Kind: ErrChannelUnavailable, Param: "channel", Detail: fmt.Sprintf("channel %q is not enabled for this service", c)}
		case e.channels[c] == nil:
			return &Error{Kind: ErrChannelUnavailable, Param: "channel", Detail: fmt.Sprintf("channel %q is not configured on this server", c)}
		case !dest.Kind.Reaches(c):
			return &Error{Kind: ErrChannelUnavailable, Param: "channel", Detail: fmt.Sprintf("channel %q cannot reach this destination", c)}
		}
		return nil
	}
	if want != ChannelAuto {
		if err := usable(want); err != nil {
			return "", err
		}
		return want, nil
	}
	for _, c := range svc.Channels {
		if usable(c) == nil {
			return c, nil
		}
	}
	return "", &Error{Kind: ErrChannelUnavailable, Param: "channel", Detail: "none of the service's channels can reach this destination"}
}

// fallbackRoute returns the channels to fall back to after primary: the
// request's fallback list, each of which must be usable for the
// destination (or for the one fallback_to names for it); or, for channel "auto" without one, the rest of the
// service's channels that can reach it, in the service's order.
func (e *Engine) fallbackRoute(svc *Service, req StartRequest, primary ChannelName, dest Destination, fallbackTo map[ChannelName]Destination) ([]ChannelName, error) {
	route, err := e.route(svc, req, primary, dest, fallbackTo)
	if err != nil {
		return nil, err
	}
	for c := range fallbackTo {
		if !slices.Contains(route, c) {
			return nil, invalid("fallback_to", "names %q, which is not a fallback channel of this verification", c)
		}
	}
	return route, nil
}

// route is fallbackRoute before the check of fallback_to's channels.
func (e *Engine) route(svc *Service, req StartRequest, primary ChannelName, dest Destination, fallbackTo map[ChannelName]Destination) ([]ChannelName, error) {
	// reach is the destination a channel of the route sends to.
	reach := func(c ChannelName) Destination {
		if d, ok := fallbackTo[c]; ok && !dest.Kind.Reaches(c) {
			return d
		}
		return dest
	}
	seen := map[ChannelName]bool{primary: true}
	var out []ChannelName
	if len(req.Fallback) > 0 {
		if len(req.Fallback) > 4 {
			return nil, invalid("fallback", "at most 4 channels")
		}
		for _, c := range req.Fallback {
			if seen[c] {
				return nil, invalid("fallback", "channel %q appears twice in the route", c)
			}
			seen[c] = true
			if _, err := e.pickChannel(svc, c, reach(c)); err != nil {
				var oe *Error
				if errors.As(err, &oe) {
					oe.Param = "fallback"
				}
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	if req.Channel != ChannelAuto {
		return nil, nil
	}
	for _, c := range svc.Channels {
		if seen[c] {
			continue
		}
		if _, err := e.pickChannel(svc, c, reach(c)); err == nil {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// GetVerification returns a verification with its status as of now.
func (e *Engine) GetVerification(ctx context.Context, serviceID, id string) (*Verification, error) {
	v, err := e.store.GetVerification(ctx, serviceID, id)
	if err != nil {
		return nil, err
	}
	v.Status = v.StatusAt(e.Now())
	return v, nil
}

// ListRequest selects verifications to list.
type ListRequest struct {
	Status VerificationStatus
	To     string
	Before string
	Limit  int
}

// ListVerifications returns a service's verifications, newest first, with
// statuses as of now.
func (e *Engine) ListVerifications(ctx context.Context, serviceID string, req ListRequest) ([]*Verification, error) {
	if _, err := e.service(ctx, serviceID); err != nil {
		return nil, err
	}
	f := VerificationFilter{ServiceID: serviceID, Status: req.Status, Before: req.Before, Limit: req.Limit, Now: e.Now()}
	if req.Status != "" && !req.Status.Valid() {
		return nil, invalid("status", "unknown status %q", req.Status)
	}
	if req.To != "" {
		dest, err := ParseDestination(req.To)
		if err != nil {
			return nil, err
		}
		f.ToKeys = e.Keyring().DestinationKeys(serviceID, dest.Address)
	}
	vs, err := e.store.ListVerifications(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		v.Status = v.StatusAt(f.Now)
	}
	return vs, nil
}

// CheckResult is the outcome of a check.
type CheckResult struct {
	Valid        bool
	Verification *Verification
}

// Check compares code (and, for a transaction verification, the
// transaction) with the verification's in constant time. A wrong code uses
// one attempt; the last attempt closes the verification. Of any number of
// concurrent checks with the right code exactly one is valid, because the
// store serializes updates of one verification.
func (e *Engine) Check(ctx context.Context, serviceID, id, code string, txn *Transaction) (CheckResult, error) {
	code, err := normalizeCode(code)
	if err != nil {
		return CheckResult{}, err
	}
	if txn != nil {
		if err := txn.Normalize(); err != nil {
			return CheckResult{}, err
		}
	}
	limits, err := e.serviceLimits(ctx, serviceID)
	if err != nil {
		return CheckResult{}, err
	}
	var fail RateHit
	if e.limiter != nil {
		// Wrong codes count per destination across verifications, so
		// starting new ones does not buy a guesser more tries; over the cap
		// the code is not even compared, and no attempt is used. The cap is
		// read before the verification is locked: a limiter that keeps its
		// counts in the store would otherwise need a second connection
		// while the update holds one, and a busy pool would deadlock.
		// The destination key of a verification this engine started is
		// known without reading it (recent.go).
		toKey, pending := e.pending.get(serviceID, id, e.Now())
		if !pending {
			pre, err := e.store.GetVerification(ctx, serviceID, id)
			if err != nil {
				return CheckResult{}, err
			}
			toKey, pending = pre.ToKey, pre.StatusAt(e.Now()) == StatusPending
		}
		fail = e.failedCheckHit(serviceID, limits, toKey)
		if pending {
			if err := e.underFailCap(ctx, fail); err != nil {
				return CheckResult{}, err
			}
		}
	}
	return e.check(ctx, serviceID, id, code, txn, fail)
}

// underFailCap refuses a check when its destination had too many wrong
// codes.
func (e *Engine) underFailCap(ctx context.Context, fail RateHit) error {
	wait, err := e.limiter.Wait(ctx, e.Now(), []RateHit{fail})
	if err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	if wait > 0 {
		return failedChecksError(wait, fail.Limit)
	}
	return nil
}

// check compares the code once the failed-checks cap has let it through;
// a wrong code counts against fail.
func (e *Engine) check(ctx context.Context, serviceID, id, code string, txn *Transaction, fail RateHit) (CheckResult, error) {
	var (
		valid bool
		now   time.Time
	)
	v, err := e.store.UpdateVerification(ctx, serviceID, id, func(v *Verification) error {
		now = e.Now()
		if st := v.StatusAt(now); st != StatusPending {
			return &Error{Kind: ErrClosed, Status: st, Detail: fmt.Sprintf("the verification is %s and can no longer be checked", st)}
		}
		sum, err := e.Keyring().HashCode(v.KeyID, v.ServiceID, v.ID, code, txn)
		if err != nil {
			return err
		}
		v.UpdatedAt = now
		if valid = hmac.Equal(sum, v.CodeHash); valid {
			v.Status = StatusApproved
			return e.emit(v, EventVerificationApproved, "", now)
		}
		v.Attempts++
		if v.Attempts >= v.MaxAttempts {
			v.Status = StatusMaxAttemptsReached
			return e.emit(v, EventVerificationMaxAttempts, "", now)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrClosed) {
			e.pending.forget(id)
			e.obs.VerificationChecked(CheckClosed)
		}
		return CheckResult{}, err
	}
	if v.Status != StatusPending {
		e.pending.forget(v.ID)
		e.notifyEvents()
	}
	if !valid && e.limiter != nil {
		if err := e.limiter.Add(ctx, now, []RateHit{fail}); err != nil {
			e.log.Error("count a wrong code", "verification", v.ID, "err", err)
		}
	}
	if valid && e.guard != nil {
		if dest, err := ParseDestination(v.To); err == nil {
			e.guard.Approved(serviceID, dest, v.CreatedAt)
		}
	}
	switch {
	case valid:
		e.obs.VerificationChecked(CheckApproved)
	case v.Status == StatusMaxAttemptsReached:
		e.obs.VerificationChecked(CheckMaxAttempts)
	default:
		e.obs.VerificationChecked(CheckWrongCode)
	}
	return CheckResult{Valid: valid, Verification: v}, nil
}

// CheckDestination checks code against the newest pending verification of
// the service for a destination.
func (e *Engine) CheckDestination(ctx context.Context, serviceID, to, code string, txn *Transaction) (CheckResult, error) {
	dest, err := ParseDestination(to)
	if err != nil {
		return CheckResult{}, err
	}
	norm, err := normalizeCode(code)
	if err != nil {
		return CheckResult{}, err
	}
	limits, err := e.serviceLimits(ctx, serviceID)
	if err != nil {
		return CheckResult{}, err
	}
	ring := e.Keyring()
	keys := ring.DestinationKeys(serviceID, dest.Address)
	now := e.Now()
	fail := e.failedCheckHit(serviceID, limits, keys[0])
	if e.limiter != nil {
		if err := e.underFailCap(ctx, fail); err != nil {
			return CheckResult{}, err
		}
	}
	v, err := e.store.FindPending(ctx, serviceID, keys, now)
	if errors.Is(err, ErrNotFound) {
		// A guess at a destination with nothing pending costs what a wrong
		// guess at one with a verification does: the same hashing and the
		// same count against the destination, so neither the answer's
		// timing nor the failure cap tells the two apart.
		_, _ = ring.HashCode(ring.CurrentID(), serviceID, NewID(PrefixVerification, now), norm, txn)
		if e.limiter != nil {
			if err := e.limiter.Add(ctx, now, []RateHit{fail}); err != nil {
				return CheckResult{}, fmt.Errorf("rate limit: %w", err)
			}
		}
		return CheckResult{}, notFound("pending verification for this destination")
	}
	if err != nil {
		return CheckResult{}, err
	}
	if txn != nil {
		if err := txn.Normalize(); err != nil {
			return CheckResult{}, err
		}
	}
	// The cap was read for this destination; a verification made under an
	// older key of the keyring counts its wrong codes where it always did.
	return e.check(ctx, serviceID, v.ID, norm, txn, e.failedCheckHit(serviceID, limits, v.ToKey))
}

// normalizeCode accepts what people type: spaces and dashes between
// groups, lower-case letters.
func normalizeCode(code string) (string, error) {
	if code == "" {
		return "", invalid("code", "is required")
	}
	if len(code) > 64 {
		return "", invalid("code", "is too long")
	}
	code = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
	return strings.ToUpper(code), nil
}

// Resend queues another message with the same code, on the verification's
// channel or on channel when it is set. It does not extend the expiry and
// never resets failed attempts.
func (e *Engine) Resend(ctx context.Context, serviceID, id string, channel ChannelName) (*Verification, error) {
	if channel != "" && (!channel.Valid() || channel == ChannelAuto) {
		return nil, invalid("channel", `must be one of "sms", "whatsapp", "rcs", "push" or "email"`)
	}
	svc, err := e.service(ctx, serviceID)
	if err != nil {
		return nil, err
	}
	// The limits and the fraud guard are asked before the verification is
	// locked (a limiter in the store needs a connection of its own), with
	// what a read shows; the update checks its state again under the lock.
	pre, err := e.store.GetVerification(ctx, serviceID, id)
	if err != nil {
		return nil, err
	}
	if err := e.admitResend(ctx, svc, pre, channel); err != nil {
		return nil, err
	}
	var m *Message
	h := e.reserve()
	v, err := e.store.UpdateVerification(ctx, serviceID, id, func(v *Verification) error {
		now := e.Now()
		m = nil
		if st := v.StatusAt(now); st != StatusPending {
			return &Error{Kind: ErrClosed, Status: st, Detail: fmt.Sprintf("the verification is %s and can no longer be resent", st)}
		}
		ch := v.Channel
		if channel != "" {
			dest, err := ParseDestination(v.AddressFor(channel))
			if err != nil {
				return err
			}
			if ch, err = e.pickChannel(svc, channel, dest); err != nil {
				return err
			}
		}
		if v.Sends >= v.MaxSends {
			return &Error{Kind: ErrRateLimited, RetryAfter: v.ExpiresAt.Sub(now),
				Detail: fmt.Sprintf("the verification was already sent %d times, its limit; start a new one after it expires", v.Sends)}
		}
		cooldown := resendCooldown(v.ResendCooldown, v.Sends)
		if wait := v.LastSentAt.Add(cooldown).Sub(now); wait > 0 {
			return &Error{Kind: ErrRateLimited, RetryAfter: wait,
				Detail: fmt.Sprintf("the next resend is allowed %d seconds after the last send (the wait doubles with each resend)", int(cooldown.Seconds()))}
		}
		v.Channel = ch
		v.Sends++
		v.LastSentAt = now
		v.UpdatedAt = now
		m = newMessage(v, ch, now)
		h.leaseTo(m, now)
		v.Messages = append(v.Messages, m)
		return nil
	})
	if err != nil {
		h.cancel()
		return nil, err
	}
	h.give(v, m)
	return v, nil
}

// Cancel closes a pending verification; its code no longer works and
// queued messages are not sent.
func (e *Engine) Cancel(ctx context.Context, serviceID, id string) (*Verification, error) {
	v, err := e.store.UpdateVerification(ctx, serviceID, id, func(v *Verification) error {
		now := e.Now()
		if st := v.StatusAt(now); st != StatusPending {
			return &Error{Kind: ErrClosed, Status: st, Detail: fmt.Sprintf("the verification is %s and can no longer be canceled", st)}
		}
		v.Status = StatusCanceled
		v.UpdatedAt = now
		return e.emit(v, EventVerificationCanceled, "", now)
	})
	e.pending.forget(id)
	if err != nil {
		return nil, err
	}
	e.notifyEvents()
	return v, nil
}

// admitResend screens a resend of v and counts it against the rate limits,
// unless the verification's own rules refuse it anyway (the update says
// why, and nothing is counted).
func (e *Engine) admitResend(ctx context.Context, svc *Service, v *Verification, channel ChannelName) error {
	now := e.Now()
	if v.StatusAt(now) != StatusPending || v.Sends >= v.MaxSends ||
		v.LastSentAt.Add(resendCooldown(v.ResendCooldown, v.Sends)).After(now) {
		return nil
	}
	ch := v.Channel
	if channel != "" {
		ch = channel
	}
	dest, err := ParseDestination(v.AddressFor(ch))
	if err != nil {
		return err
	}
	if err := e.screen(ctx, svc, dest, []ChannelName{ch}, now); err != nil {
		return err
	}
	key := v.ToKey
	if dest.Address != v.To {
		key = e.Keyring().DestinationKeys(svc.ID, dest.Address)[0]
	}
	return e.take(ctx, now, e.sendHits(svc, dest, key, ""))
}

// resendCooldown is how long after the last send the next resend may go:
// the service's cooldown, doubled for each resend already made, at most
// MaxResendCooldown. A person waits the cooldown once; a script asking for
// one SMS after another is slowed down quickly.
func resendCooldown(base time.Duration, sends int) time.Duration {
	d := base
	for i := 1; i < sends && d < MaxResendCooldown; i++ {
		d *= 2
	}
	return min(d, MaxResendCooldown)
}

// RetryAfterSeconds rounds a wait up to whole seconds, at least 1, as the
// Retry-After header wants it.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// parseFallbackTo checks the destinations a request names for fallback
// channels: each must be a destination its channel can reach.
func parseFallbackTo(in map[ChannelName]string) (map[ChannelName]Destination, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[ChannelName]Destination, len(in))
	for c, to := range in {
		if !c.Valid() || c == ChannelAuto {
			return nil, invalid("fallback_to", "unknown channel %q", c)
		}
		d, err := ParseDestination(to)
		if err != nil {
			var oe *Error
			if errors.As(err, &oe) {
				oe.Param = "fallback_to." + string(c)
			}
			return nil, err
		}
		if !d.Kind.Reaches(c) {
			return nil, invalid("fallback_to."+string(c), "is not a destination channel %q can reach", c)
		}
		out[c] = d
	}
	return out, nil
}

// fallbackAddresses keeps the fallback destinations of the route's
// channels, as addresses.
func fallbackAddresses(to map[ChannelName]Destination, route []ChannelName) map[ChannelName]string {
	var out map[ChannelName]string
	for c, d := range to {
		if slices.Contains(route, c) {
			if out == nil {
				out = map[ChannelName]string{}
			}
			out[c] = d.Address
		}
	}
	return out
}
