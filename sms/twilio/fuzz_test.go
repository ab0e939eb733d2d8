package twilio_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/sms/twilio"
)

// FuzzCallback posts arbitrary bodies and signatures to the status callback
// handler: it must never panic, and must call record only for a request
// whose signature is valid for its parameters. With sign set, the fuzzer's
// body is signed properly, so the parsing behind the signature check is
// explored too.
func FuzzCallback(f *testing.F) {
	const cb = "https://otp.example.com/v1/callbacks/twilio/primary"
	route, err := twilio.New(twilio.Config{AccountSID: accountSID, AuthToken: authToken, From: "AcmeBank", StatusCallbackURL: cb})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("MessageSid=SM1&MessageStatus=delivered", "", true)
	f.Add("MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30003", "", true)
	f.Add("SmsSid=SM1&SmsStatus=failed&ErrorCode=%00%ff", "", true)
	f.Add("MessageSid=SM1&MessageStatus=delivered", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", false)
	f.Add("a=%zz", "x", false)
	f.Add("MessageSid=&MessageSid=SM2&MessageStatus=read", "", true)
	f.Fuzz(func(t *testing.T, body, sig string, sign bool) {
		params, parseErr := url.ParseQuery(body)
		if sign && parseErr == nil {
			sig = twilio.Signature(authToken, cb, params)
		}
		var called bool
		h := route.CallbackHandler(func(_ context.Context, r otpd.Receipt) error {
			called = true
			if parseErr != nil || sig != docSignatureValues(authToken, cb, params) {
				t.Fatalf("record called without a valid signature: %+v", r)
			}
			if !strings.HasPrefix(r.Ref, "primary:") || !r.Status.Final() {
				t.Fatalf("bad receipt %+v", r)
			}
			return nil
		}, "primary")
		req := httptest.NewRequest(http.MethodPost, "/v1/callbacks/twilio/primary", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code == http.StatusInternalServerError || (called && w.Code != http.StatusNoContent) {
			t.Fatalf("status %d (called %v)", w.Code, called)
		}
		if w.Body.Len() != 0 {
			t.Fatalf("reply has a body: %q", w.Body.String())
		}
	})
}

// docSignatureValues is docSignature for parameters that may repeat.
func docSignatureValues(token, fullURL string, params url.Values) string {
	flat := map[string]string{}
	for k, vs := range params {
		if len(vs) != 1 {
			// The package's rule for repeats is tested on its own;
			// here any repeat is held to it.
			return twilio.Signature(token, fullURL, params)
		}
		flat[k] = vs[0]
	}
	return docSignature(token, fullURL, flat)
}
