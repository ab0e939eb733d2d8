package vonage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/sms/vonage"
)

// FuzzCallback sends arbitrary receipts, as a query, a form or JSON, to a
// handler that requires signed receipts: it must never panic, and must call
// record only when the receipt's sig signs exactly its parameters. With
// sign set, the fuzzer's parameters are signed properly, so the parsing
// and status mapping behind the check are explored too.
func FuzzCallback(f *testing.F) {
	const cb = "https://otp.example.com/v1/callbacks/vonage/a?t=" + token
	route, err := vonage.New(vonage.Config{APIKey: apiKey, APISecret: apiSecret, From: "AcmeBank",
		StatusCallbackURL: cb, SignatureSecret: sigSecret, SignatureMethod: vonage.HMACSHA256})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), "messageId=0A1&status=delivered&err-code=0", true)
	f.Add(uint8(1), "messageId=0A1&status=failed&err-code=6&text=a%26b%3Dc", true)
	f.Add(uint8(2), `{"messageId":"0A1","status":"rejected","err-code":4}`, true)
	f.Add(uint8(2), `{"messageId":"0A1","status":"unknown","err-code":"1","sig":"00"}`, false)
	f.Add(uint8(1), "messageId=0A1&status=delivered&sig=6af838ef94998832dbfc29020b564830", false)
	f.Add(uint8(0), "t=x&messageId=0A1&status=expired", true)
	f.Add(uint8(2), `[]`, false)
	f.Fuzz(func(t *testing.T, kind uint8, input string, sign bool) {
		kind %= 3
		params, ok := fuzzParams(kind, input)
		if sign && ok {
			params.Del("sig")
			sig, err := vonage.Signature(vonage.HMACSHA256, sigSecret, params)
			if err != nil {
				t.Fatal(err)
			}
			params.Set("sig", sig)
			input = encode(kind, params)
		}
		var called bool
		h := route.CallbackHandler(func(_ context.Context, r otpd.Receipt) error {
			called = true
			if !ok || !strings.EqualFold(params.Get("sig"), docSignature(vonage.HMACSHA256, sigSecret, params)) {
				t.Fatalf("record called without a valid signature: %+v", r)
			}
			if !strings.HasPrefix(r.Ref, "a:") || !r.Status.Final() {
				t.Fatalf("bad receipt %+v", r)
			}
			return nil
		}, "a")
		var req *http.Request
		switch kind {
		case 0:
			req = httptest.NewRequest(http.MethodGet, "/cb?t="+token, nil)
			req.URL.RawQuery += "&" + input
		case 1:
			req = httptest.NewRequest(http.MethodPost, "/cb?t="+token, strings.NewReader(input))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		default:
			req = httptest.NewRequest(http.MethodPost, "/cb?t="+token, strings.NewReader(input))
			req.Header.Set("Content-Type", "application/json")
		}
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

// fuzzParams reads input the way Vonage would have meant it, without the
// route's token; ok is false when it is not a readable receipt.
func fuzzParams(kind uint8, input string) (url.Values, bool) {
	switch kind {
	case 0, 1:
		p, err := url.ParseQuery(input)
		if err != nil {
			return nil, false
		}
		if kind == 0 {
			p.Del("t")
		}
		return p, true
	}
	dec := json.NewDecoder(strings.NewReader(input))
	dec.UseNumber()
	var obj map[string]any
	if dec.Decode(&obj) != nil || dec.More() {
		return nil, false
	}
	p := url.Values{}
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			p.Set(k, v)
		case json.Number:
			p.Set(k, v.String())
		case bool:
			if v {
				p.Set(k, "true")
			} else {
				p.Set(k, "false")
			}
		case nil:
		default:
			return nil, false
		}
	}
	return p, true
}

func encode(kind uint8, p url.Values) string {
	if kind != 2 {
		return p.Encode()
	}
	obj := map[string]string{}
	for k := range p {
		obj[k] = p.Get(k)
	}
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(obj)
	return b.String()
}
