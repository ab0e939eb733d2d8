package fcm

import (
	"errors"
	"net/http"
	"testing"
	"time"
	"unicode"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/push"
)

// FuzzResponseError feeds arbitrary statuses, bodies and Retry-After
// values to the refusal parser: it must never panic, must always give a
// *otpd.SendError with a code, must keep its text printable and short and
// free of what FCM's message said, and must keep the classification's
// invariants.
func FuzzResponseError(f *testing.F) {
	f.Add(404, `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`, "")
	f.Add(400, `{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"},{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token","description":"Invalid registration token"}]}]}}`, "")
	f.Add(400, `{"error":{"code":400,"message":"Invalid value at 'message.data[0].value' (TYPE_STRING), SECRET","status":"INVALID_ARGUMENT"}}`, "")
	f.Add(429, `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"QUOTA_EXCEEDED"}]}}`, "30")
	f.Add(503, `<html>`, "Sat, 01 Mar 2025 12:02:00 GMT")
	f.Add(500, `{"error":{"status":"SECRET\n","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"SECRET "}]}}`, "-5")
	f.Add(401, `{"error":{"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"THIRD_PARTY_AUTH_ERROR"}]}}`, "99999999999999999999")
	f.Add(0, ``, ``)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, body, retry string) {
		h := http.Header{}
		h.Set("Retry-After", retry)
		err := responseError(status, h, []byte(body), now)
		var se *otpd.SendError
		if !errors.As(err, &se) || se.Code == "" {
			t.Fatalf("not a SendError with a code: %#v", err)
		}
		var pe *push.ProviderError
		if !errors.As(err, &pe) || pe.Provider != "fcm" || pe.Status != status {
			t.Fatalf("no ProviderError: %#v", err)
		}
		msg := err.Error()
		for _, r := range msg {
			if !unicode.IsPrint(r) {
				t.Fatalf("unprintable error %q", msg)
			}
		}
		if len(msg) > 300 {
			t.Fatalf("long error %q", msg)
		}
		if d := pe.RetryAfter; d < 0 || d > maxRetryAfter || (d > 0 && se.Permanent) {
			t.Fatalf("retry after %v (permanent %v)", d, se.Permanent)
		}
		dead := errors.Is(err, push.ErrDeadToken)
		if dead && !se.Permanent {
			t.Fatal("a dead token is permanent")
		}
		if !dead && (status == 429 || status >= 500) && se.Permanent && pe.Reason != "THIRD_PARTY_AUTH_ERROR" {
			t.Fatalf("%d is temporary", status)
		}
	})
}

// FuzzRetryAfter: any header value gives a wait between 0 and
// maxRetryAfter, in whole seconds.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "30", " 120 ", "-1", "1e3", "Sat, 01 Mar 2025 12:02:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "9223372036854775807"} {
		f.Add(s)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d := retryAfter(v, now)
		if d < 0 || d > maxRetryAfter || d%time.Second != 0 {
			t.Fatalf("retryAfter(%q) = %v", v, d)
		}
	})
}
