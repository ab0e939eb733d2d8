package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/otpd/otpd"
)

// Problem codes: the stable, machine-readable "code" of a problem document.
const (
	codeInvalidParameter    = "invalid_parameter"
	codeUnauthorized        = "unauthorized"
	codeDestinationBlocked  = "destination_blocked"
	codeNotFound            = "not_found"
	codeMethodNotAllowed    = "method_not_allowed"
	codeVerificationClosed  = "verification_closed"
	codeIdempotencyConflict = "idempotency_conflict"
	codeChannelUnavailable  = "channel_unavailable"
	codeRateLimited         = "rate_limited"
	codeWebhookUnavailable  = "webhook_unavailable"
	codeRequestTooLarge     = "request_too_large"
	codeOverloaded          = "overloaded"
	codeInternalError       = "internal_error"
)

// problemTypeBase prefixes a code to form a problem's "type" URI.
const problemTypeBase = "https://otpd.dev/problems/"

var problemTitles = map[string]string{
	codeInvalidParameter:    "Invalid parameter",
	codeUnauthorized:        "Unauthorized",
	codeDestinationBlocked:  "Destination blocked",
	codeNotFound:            "Not found",
	codeMethodNotAllowed:    "Method not allowed",
	codeVerificationClosed:  "Verification closed",
	codeIdempotencyConflict: "Idempotency conflict",
	codeChannelUnavailable:  "Channel unavailable",
	codeRateLimited:         "Rate limited",
	codeWebhookUnavailable:  "Webhook unavailable",
	codeRequestTooLarge:     "Request too large",
	codeOverloaded:          "Overloaded",
	codeInternalError:       "Internal error",
}

// problem is an RFC 9457 problem document with otpd's extension members.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Param  string `json:"param,omitempty"`
	// VerificationStatus is the verification's status on verification_closed.
	VerificationStatus otpd.VerificationStatus `json:"verification_status,omitempty"`
	// RetryAfterSeconds repeats the Retry-After header on rate_limited and
	// overloaded.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
}

// response is a complete API response, built before anything is written so
// that it can be remembered for idempotent replay.
type response struct {
	status int
	header http.Header
	body   []byte
}

// replayedHeaders are the headers an idempotent replay repeats.
var replayedHeaders = []string{"Content-Type", "Retry-After"}

func writeResponse(w http.ResponseWriter, res *response) {
	h := w.Header()
	for k, v := range res.header {
		h[k] = v
	}
	w.WriteHeader(res.status)
	if len(res.body) > 0 {
		_, _ = w.Write(res.body)
	}
}

// jsonResponse encodes v. A nil v is an empty body (204).
func jsonResponse(status int, v any) *response {
	res := &response{status: status, header: http.Header{}}
	if v == nil {
		return res
	}
	res.header.Set("Content-Type", "application/json")
	res.body = mustJSON(v)
	return res
}

func mustJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Every value encoded here is built from plain types; failing is a bug.
		panic(fmt.Sprintf("httpapi: encoding %T: %v", v, err))
	}
	return buf.Bytes()
}

func problemResponse(status int, code, detail string, p *problem) *response {
	if p == nil {
		p = &problem{}
	}
	p.Type = problemTypeBase + code
	p.Title = problemTitles[code]
	p.Status = status
	p.Code = code
	p.Detail = detail
	res := &response{status: status, header: http.Header{}, body: mustJSON(p)}
	res.header.Set("Content-Type", "application/problem+json")
	if p.RetryAfterSeconds > 0 {
		res.header.Set("Retry-After", strconv.Itoa(p.RetryAfterSeconds))
	}
	if status == http.StatusUnauthorized {
		res.header.Set("WWW-Authenticate", `Bearer realm="otpd"`)
	}
	return res
}

// invalidParam is a 400 for one parameter.
func invalidParam(param, format string, args ...any) error {
	return &otpd.Error{Kind: otpd.ErrInvalid, Param: param, Detail: fmt.Sprintf(format, args...)}
}

// errNotFound is the 404 for ids that cannot name anything (wrong prefix)
// or that belong to another tenant.
var errNotFound = &otpd.Error{Kind: otpd.ErrNotFound, Detail: "the resource does not exist"}

// errBodyTooLarge is the kind of the error for a request body over the
// limit: 413 request_too_large. It is HTTP's concern, so not an otpd kind.
var errBodyTooLarge = errors.New("request body too large")

// errorResponse maps an error to its problem document. Errors that are not
// otpd errors are logged by the caller and answered with a generic 500:
// their text may hold internals.
func errorResponse(err error) *response {
	var oe *otpd.Error
	if !errors.As(err, &oe) {
		oe = &otpd.Error{}
	}
	p := &problem{Param: oe.Param}
	detail := oe.Detail
	var status int
	var code string
	switch {
	case errors.Is(err, errBodyTooLarge):
		status, code = http.StatusRequestEntityTooLarge, codeRequestTooLarge
	case errors.Is(err, otpd.ErrInvalid):
		status, code = http.StatusBadRequest, codeInvalidParameter
		if detail == "" {
			detail = "a parameter is invalid"
		}
		if oe.Param != "" {
			detail = oe.Param + " " + detail
		}
	case errors.Is(err, otpd.ErrUnauthorized):
		status, code = http.StatusUnauthorized, codeUnauthorized
		if detail == "" {
			detail = "missing or invalid bearer token"
		}
	case errors.Is(err, otpd.ErrNotFound):
		status, code = http.StatusNotFound, codeNotFound
		if detail == "" || oe.Kind == nil {
			// A store's wrapped error text is not for clients.
			detail = "the resource does not exist"
		}
	case errors.Is(err, otpd.ErrClosed):
		status, code = http.StatusConflict, codeVerificationClosed
		p.VerificationStatus = oe.Status
		if detail == "" {
			detail = fmt.Sprintf("the verification is %s", oe.Status)
		}
		if oe.Status != "" && !strings.Contains(detail, string(oe.Status)) {
			detail += fmt.Sprintf(" (status %s)", oe.Status)
		}
	case errors.Is(err, otpd.ErrConflict):
		status, code = http.StatusConflict, codeIdempotencyConflict
		if detail == "" {
			detail = "the request conflicts with an earlier one"
		}
	case errors.Is(err, otpd.ErrRateLimited):
		status, code = http.StatusTooManyRequests, codeRateLimited
		p.RetryAfterSeconds = otpd.RetryAfterSeconds(oe.RetryAfter)
		if detail == "" {
			detail = "too many requests"
		}
	case errors.Is(err, otpd.ErrDestinationBlocked):
		status, code = http.StatusForbidden, codeDestinationBlocked
		if detail == "" {
			detail = "the destination is blocked by the service's policy"
		}
	case errors.Is(err, otpd.ErrChannelUnavailable):
		status, code = http.StatusUnprocessableEntity, codeChannelUnavailable
		if detail == "" {
			detail = "the channel cannot be used for this destination"
		}
	case errors.Is(err, otpd.ErrOverloaded):
		status, code = http.StatusServiceUnavailable, codeOverloaded
		p.RetryAfterSeconds = otpd.RetryAfterSeconds(oe.RetryAfter)
		if detail == "" {
			detail = "the server is overloaded; retry later"
		}
	case errors.Is(err, otpd.ErrWebhookUnavailable):
		status, code = http.StatusConflict, codeWebhookUnavailable
		if detail == "" {
			detail = "the service has no webhook_url to deliver events to"
		}
	default:
		return problemResponse(http.StatusInternalServerError, codeInternalError,
			"the server failed to handle the request; it was logged", nil)
	}
	return problemResponse(status, code, detail, p)
}
