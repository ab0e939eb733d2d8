package apns

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/push"
)

// FuzzResponseError feeds arbitrary statuses and bodies to the refusal
// parser: it must never panic, must always give a *otpd.SendError with a
// code, must keep its text printable and short whatever the body holds,
// and must keep the classification's invariants.
func FuzzResponseError(f *testing.F) {
	f.Add(410, []byte(`{"reason":"Unregistered","timestamp":1740830400000}`))
	f.Add(400, []byte(`{"reason":"BadDeviceToken"}`))
	f.Add(403, []byte(`{"reason":"ExpiredProviderToken"}`))
	f.Add(429, []byte(`{"reason":"TooManyRequests"}`))
	f.Add(503, []byte(`<html>Service Unavailable</html>`))
	f.Add(400, []byte(`{"reason":"\u0000\n\u2028`+strings.Repeat("x", 100)+`"}`))
	f.Add(400, []byte(`{"reason":12,"timestamp":"x"}`))
	f.Add(0, []byte(nil))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		err := responseError(status, body)
		var se *otpd.SendError
		if !errors.As(err, &se) || se.Code == "" {
			t.Fatalf("not a SendError with a code: %#v", err)
		}
		var pe *push.ProviderError
		if !errors.As(err, &pe) || pe.Provider != "apns" || pe.Status != status {
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
		dead := errors.Is(err, push.ErrDeadToken)
		if dead && !se.Permanent {
			t.Fatal("a dead token is permanent")
		}
		if status == 410 && !dead {
			t.Fatal("410 is a dead token")
		}
		if !dead && (status == 429 || status >= 500) && se.Permanent {
			t.Fatalf("%d is temporary", status)
		}
	})
}
