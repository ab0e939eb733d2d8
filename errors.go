package otpd

import (
	"errors"
	"fmt"
	"time"
)

// Kinds of error that callers branch on. Every error the [Engine] returns for
// a caller's mistake or a policy decision is an [*Error] whose Kind is one of
// these, so errors.Is(err, otpd.ErrNotFound) works.
var (
	// ErrInvalid: a request parameter is malformed or out of range.
	ErrInvalid = errors.New("invalid parameter")
	// ErrUnauthorized: the credentials are missing or wrong.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound: the resource does not exist, or the caller may not know it does.
	ErrNotFound = errors.New("not found")
	// ErrClosed: the verification is no longer pending.
	ErrClosed = errors.New("verification closed")
	// ErrRateLimited: too many requests; RetryAfter says when to try again.
	ErrRateLimited = errors.New("rate limited")
	// ErrDestinationBlocked: policy (geo permissions, fraud rules) refuses the destination.
	ErrDestinationBlocked = errors.New("destination blocked")
	// ErrChannelUnavailable: the channel is not configured or cannot reach the destination.
	ErrChannelUnavailable = errors.New("channel unavailable")
	// ErrConflict: the request conflicts with an earlier one (e.g. an idempotency key reused).
	ErrConflict = errors.New("conflict")
	// ErrWebhookUnavailable: the service has no webhook_url to deliver events to.
	ErrWebhookUnavailable = errors.New("webhook unavailable")
	// ErrOverloaded: more writes wait for the store than it can answer in
	// good time; RetryAfter says when to try again.
	ErrOverloaded = errors.New("overloaded")
)

// Error is the error type of the domain. Kind is one of the sentinel errors
// above; the other fields carry what a transport needs to explain it.
type Error struct {
	Kind       error
	Param      string             // the offending parameter, for ErrInvalid
	Detail     string             // a sentence for humans; never contains a code or secret
	Status     VerificationStatus // the verification's status, for ErrClosed
	RetryAfter time.Duration      // for ErrRateLimited
}

func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%v: %s: %s", e.Kind, e.Param, e.Detail)
	}
	if e.Detail != "" {
		return fmt.Sprintf("%v: %s", e.Kind, e.Detail)
	}
	return e.Kind.Error()
}

// Unwrap returns the kind, so errors.Is matches the sentinels.
func (e *Error) Unwrap() error { return e.Kind }

// invalid returns an ErrInvalid error for param.
func invalid(param, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalid, Param: param, Detail: fmt.Sprintf(format, args...)}
}

func notFound(what string) *Error {
	return &Error{Kind: ErrNotFound, Detail: what + " not found"}
}
