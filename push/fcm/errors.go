package fcm

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/push"
)

// How FCM refusals are classified (Firebase's "ErrorCode" reference for
// the HTTP v1 API). A refusal is a google.rpc.Status,
//
//	{"error":{"code":404,"message":"...","status":"NOT_FOUND","details":[
//	  {"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"},
//	  {"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token",...}]}]}}
//
// and the FcmError's errorCode, when there is one, says more than the
// canonical status.
//
// Dead tokens: UNREGISTERED (the app was uninstalled or the token
// rotated), and INVALID_ARGUMENT about the token itself (a field
// violation on message.token, or Google's "registration token is not a
// valid FCM registration token"). INVALID_ARGUMENT about anything else (a
// payload too large, a bad TTL) is permanent but leaves the device alone.
// A 404 without UNREGISTERED is a wrong project id, not a dead token.
//
// Temporary: QUOTA_EXCEEDED, UNAVAILABLE, INTERNAL (and the canonical
// RESOURCE_EXHAUSTED), any 429 or 5xx, and 401 UNAUTHENTICATED, an access
// token refused before its time (revoked), which the token source
// replaces when it lapses. Retry-After, when FCM sends it, is carried in
// the error (push.RetryAfter) and its text.
//
// Everything else is permanent: SENDER_ID_MISMATCH (the token belongs to
// another Firebase project, or ProjectID is wrong), PERMISSION_DENIED
// (the service account lacks the messaging role), THIRD_PARTY_AUTH_ERROR,
// and codes not known here.
var temporaryCodes = map[string]bool{
	"QUOTA_EXCEEDED":     true,
	"UNAVAILABLE":        true,
	"INTERNAL":           true,
	"RESOURCE_EXHAUSTED": true,
	"UNAUTHENTICATED":    true,
}

// descriptions are otpd's words for FCM's codes, in stored errors. FCM's
// own message is never kept: it may quote what was sent (Google's
// example for a bad data value ends with the value), and that may be the
// code.
var descriptions = map[string]string{
	"UNSPECIFIED_ERROR":      "no information about the error",
	"INVALID_ARGUMENT":       "the request is invalid",
	"UNREGISTERED":           "the app instance was unregistered from FCM",
	"SENDER_ID_MISMATCH":     "the registration token belongs to another Firebase project",
	"QUOTA_EXCEEDED":         "sending limit exceeded",
	"UNAVAILABLE":            "FCM is overloaded",
	"INTERNAL":               "FCM internal error",
	"THIRD_PARTY_AUTH_ERROR": "FCM's APNs or web push credentials were refused",
	"UNAUTHENTICATED":        "the access token was refused",
	"PERMISSION_DENIED":      "the service account may not send for this project (check its role and ProjectID)",
	"NOT_FOUND":              "not found (check ProjectID)",
	"RESOURCE_EXHAUSTED":     "quota exhausted",
}

const (
	fcmErrorType   = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
	badRequestType = "type.googleapis.com/google.rpc.BadRequest"
)

// apiError is what a refusal says, reduced to what the classification
// needs.
type apiError struct {
	Status    string // the canonical status, e.g. "INVALID_ARGUMENT"
	ErrorCode string // the FcmError's errorCode, e.g. "UNREGISTERED"
	BadToken  bool   // INVALID_ARGUMENT about the registration token
}

// parseError reads a refusal's body. A body that is not the documented
// JSON (a proxy's HTML page) gives the zero apiError. Codes are cleaned
// for error messages.
func parseError(body []byte) apiError {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
			Details []struct {
				Type            string `json:"@type"`
				ErrorCode       string `json:"errorCode"`
				FieldViolations []struct {
					Field string `json:"field"`
				} `json:"fieldViolations"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return apiError{}
	}
	out := apiError{Status: code(e.Error.Status)}
	tokenField := false
	for _, d := range e.Error.Details {
		switch d.Type {
		case fcmErrorType:
			if out.ErrorCode == "" {
				out.ErrorCode = code(d.ErrorCode)
			}
		case badRequestType:
			for _, v := range d.FieldViolations {
				if v.Field == "message.token" {
					tokenField = true
				}
			}
		}
	}
	invalid := out.ErrorCode == "INVALID_ARGUMENT" || (out.ErrorCode == "" && out.Status == "INVALID_ARGUMENT")
	out.BadToken = invalid && (tokenField || strings.Contains(strings.ToLower(e.Error.Message), "registration token"))
	return out
}

// code keeps s if it looks like an enum name (upper-case letters, digits
// and '_', at most 64), else drops it: it goes into error messages.
func code(s string) string {
	if len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return ""
		}
	}
	return s
}

// responseError turns a refusal into an error for the delivery queue.
func responseError(status int, header http.Header, body []byte, now time.Time) error {
	e := parseError(body)
	reason := e.ErrorCode
	if reason == "" {
		reason = e.Status
	}
	dead := e.ErrorCode == "UNREGISTERED" || e.BadToken
	temporary := !dead && reason != "THIRD_PARTY_AUTH_ERROR" &&
		(temporaryCodes[reason] || status == http.StatusTooManyRequests || status == http.StatusUnauthorized || status >= 500)
	detail := descriptions[reason]
	if e.BadToken {
		detail = "the registration token is not valid"
	}
	if detail == "" {
		detail = strings.ToLower(http.StatusText(status))
	}
	pe := &push.ProviderError{Provider: "fcm", Status: status, Reason: reason, Detail: detail, DeadToken: dead}
	if temporary {
		pe.RetryAfter = retryAfter(header.Get("Retry-After"), now)
	}
	c := reason
	if c == "" {
		c = strconv.Itoa(status)
	}
	return &otpd.SendError{Permanent: !temporary, Code: c, Err: pe}
}

// maxRetryAfter bounds a Retry-After taken from a response: a code does
// not live longer.
const maxRetryAfter = 24 * time.Hour

// retryAfter reads a Retry-After header (RFC 9110 section 10.2.3): a
// number of seconds or an HTTP date. 0 when absent, malformed or past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now).Truncate(time.Second)
	}
	return min(max(d, 0), maxRetryAfter)
}
