package client

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Problem codes: the stable, machine-readable Code of an [Error].
const (
	CodeInvalidParameter    = "invalid_parameter"    // 400; Param names the parameter
	CodeUnauthorized        = "unauthorized"         // 401
	CodeDestinationBlocked  = "destination_blocked"  // 403: geo permission or fraud rule
	CodeNotFound            = "not_found"            // 404, also for another service's resources
	CodeVerificationClosed  = "verification_closed"  // 409; VerificationStatus says why
	CodeIdempotencyConflict = "idempotency_conflict" // 409
	CodeChannelUnavailable  = "channel_unavailable"  // 422
	CodeRateLimited         = "rate_limited"         // 429; RetryAfter says when to try again
	CodeWebhookUnavailable  = "webhook_unavailable"  // 409: the service has no webhook_url (RedeliverEvent)
	CodeMethodNotAllowed    = "method_not_allowed"   // 405: the server knows the path, not the method
	CodeRequestTooLarge     = "request_too_large"    // 413: the body is over 64 KiB
	CodeInternalError       = "internal_error"       // 500
)

// Error is a non-2xx answer from the server. For the API's RFC 9457
// problem documents every field is filled from the document; for other
// bodies (a proxy's 502 page, a readiness report) HTTPStatus and Body are
// set and Code is empty.
type Error struct {
	// HTTPStatus is the response's status code.
	HTTPStatus int
	// Type is the problem type URI; Title its short summary.
	Type, Title string
	// Detail explains this occurrence, for humans.
	Detail string
	// Code is the stable machine-readable code, one of the Code constants.
	Code string
	// Param is the request parameter at fault, for invalid_parameter and
	// some policy errors (e.g. "to", "transaction.amount").
	Param string
	// VerificationStatus is the verification's status on
	// verification_closed (approved, expired, ...).
	VerificationStatus string
	// RetryAfter is how long the server asked to wait, from the
	// Retry-After header or the problem's retry_after_seconds.
	RetryAfter time.Duration
	// Body is the response body as received (at most 64 KiB).
	Body []byte
}

// Error returns a one-line description such as
// "otpd: 400 invalid_parameter (param to): to is not a valid phone number".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("otpd: ")
	b.WriteString(strconv.Itoa(e.HTTPStatus))
	b.WriteByte(' ')
	if e.Code != "" {
		b.WriteString(e.Code)
	} else if t := http.StatusText(e.HTTPStatus); t != "" {
		b.WriteString(t)
	} else {
		b.WriteString("error")
	}
	if e.Param != "" {
		b.WriteString(" (param " + e.Param + ")")
	}
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	if msg == "" && e.Code == "" {
		msg = snippet(e.Body)
	}
	if msg != "" {
		b.WriteString(": " + msg)
	}
	if e.VerificationStatus != "" && !strings.Contains(msg, e.VerificationStatus) {
		b.WriteString(" (verification " + e.VerificationStatus + ")")
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after " + e.RetryAfter.String() + ")")
	}
	return b.String()
}

// IsCode reports whether err is, or wraps, an [*Error] with the given
// problem code, e.g. IsCode(err, client.CodeNotFound).
func IsCode(err error, code string) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Code == code
}

// problem is the wire form of an RFC 9457 problem document. "status" is
// left out: the response's status code is authoritative, and a non-problem
// JSON body may use the name for something else.
type problem struct {
	Type               string `json:"type"`
	Title              string `json:"title"`
	Detail             string `json:"detail"`
	Code               string `json:"code"`
	Param              string `json:"param"`
	VerificationStatus string `json:"verification_status"`
	RetryAfterSeconds  *int   `json:"retry_after_seconds"`
}

// readError reads a non-2xx response into an *Error and reports the wait
// the server asked for, if it asked.
func readError(resp *http.Response) (_ *Error, retryAfter time.Duration, hasRetryAfter bool) {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{HTTPStatus: resp.StatusCode, Body: body}
	var p problem
	if isJSON(resp.Header.Get("Content-Type")) && json.Unmarshal(body, &p) == nil {
		e.Type, e.Title, e.Detail = p.Type, p.Title, p.Detail
		e.Code, e.Param, e.VerificationStatus = p.Code, p.Param, p.VerificationStatus
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter, retryAfter, hasRetryAfter = d, d, true
	} else if p.RetryAfterSeconds != nil && *p.RetryAfterSeconds >= 0 {
		d := seconds(int64(*p.RetryAfterSeconds))
		e.RetryAfter, retryAfter, hasRetryAfter = d, d, true
	}
	return e, retryAfter, hasRetryAfter
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date (RFC 9110, section 10.2.3).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return seconds(n), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

// seconds converts a server-given number of seconds, clamped far beyond any
// sane wait so that the multiplication cannot overflow into a negative one.
func seconds(n int64) time.Duration {
	return time.Duration(min(n, 1<<32)) * time.Second
}

// snippet returns the start of a non-problem body on one line.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	const limit = 200
	if len(s) > limit {
		cut := limit
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
