package rcs

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/otpd/otpd"
)

// googleError is the error body of Google APIs
// (https://cloud.google.com/apis/design/errors#http_mapping):
//
//	{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// apiError turns a refusal of the RBM API into an error for the delivery
// queue:
//
//   - 404 NOT_FOUND: the destination cannot be reached with RBM (no RCS,
//     a network the agent is not launched on, a non-tester for an
//     unlaunched agent). Permanent, wrapping ErrNotCapable, so the next
//     channel is tried at once.
//   - 400 INVALID_ARGUMENT (and other 400s): the request or content is
//     refused, e.g. a feature the device lacks. Permanent.
//   - 403 PERMISSION_DENIED: the agent may not message this user (not
//     launched for them, or not allowed to use the API). Permanent: no
//     retry within the code's lifetime changes that, and the next channel
//     should take over.
//   - 429 RESOURCE_EXHAUSTED, 5xx, UNAVAILABLE and anything else: temporary,
//     retried with backoff. 401 UNAUTHENTICATED is temporary too: the
//     token is refreshed on its own schedule.
//
// The error carries Google's status and message, with the destination
// number masked should the message quote it.
func apiError(op string, status int, body []byte, to string) error {
	var ge googleError
	_ = json.Unmarshal(body, &ge)
	code := printable(ge.Error.Status, 40)
	if code == "" {
		code = strconv.Itoa(status)
	}
	permanent := false
	switch {
	case code == "UNAVAILABLE" || code == "RESOURCE_EXHAUSTED" || code == "UNAUTHENTICATED":
	case status == http.StatusNotFound, status == http.StatusBadRequest, status == http.StatusForbidden:
		permanent = true
	}
	what := fmt.Sprintf("rcs: %s: HTTP %d", op, status)
	if ge.Error.Status != "" {
		what += " " + code
	}
	if m := ge.Error.Message; m != "" {
		if to != "" {
			m = strings.ReplaceAll(m, to, "<destination>")
			m = strings.ReplaceAll(m, to[1:], "<destination>")
		}
		what += ": " + printable(m, 200)
	}
	err := errors.New(what)
	if status == http.StatusNotFound {
		err = fmt.Errorf("%w (%s)", ErrNotCapable, what)
	}
	return &otpd.SendError{Permanent: permanent, Code: code, Err: err}
}

// printable shortens s to about n bytes and replaces control characters:
// it ends up in stored errors and logs.
func printable(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "..."
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
