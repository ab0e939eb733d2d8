package rcs_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/rcs"
)

// FuzzHandler posts arbitrary event data and signatures to the webhook
// handler: it must never panic, must call onReceipt only for data whose
// signature is valid, and only with a final RCS receipt. With sign set
// the fuzzer's data is signed properly, so the event parser behind the
// signature check is explored too.
func FuzzHandler(f *testing.F) {
	ch, err := rcs.New(rcs.Config{ServiceAccountJSON: serviceAccountJSON(f, ""), AgentID: agentID, ClientToken: clientToken})
	if err != nil {
		f.Fatal(err)
	}
	id := rcs.MessageID(otpdMsgID)
	f.Add([]byte(`{"eventType":"DELIVERED","messageId":"`+id+`","agentId":"acme-otp-agent@rbm.goog"}`), "", true)
	f.Add([]byte(`{"eventType":"TTL_EXPIRATION_REVOKED","messageId":"`+id+`","phoneNumber":"+447700900123"}`), "", true)
	f.Add([]byte(`{"eventType":"READ","messageId":"\u0000\uffff","agentId":"x@y@z"}`), "", true)
	f.Add([]byte(`{"eventType":"DELIVERED","messageId":"`+id+`"}`), "AAAA", false)
	f.Add([]byte(`{"text":"hi"}`), "", true)
	f.Add([]byte(`[1,2]`), "", true)
	f.Fuzz(func(t *testing.T, data []byte, sig string, sign bool) {
		if sign {
			sig = rcs.Signature(clientToken, data)
		}
		valid := sig == docSignature(clientToken, data) || sign
		called := false
		h := ch.Handler(func(_ context.Context, r otpd.Receipt) error {
			called = true
			if !valid {
				t.Fatalf("onReceipt called without a valid signature: %+v", r)
			}
			if r.Channel != otpd.ChannelRCS || r.Ref == "" || !r.Status.Final() {
				t.Fatalf("bad receipt %+v", r)
			}
			return nil
		})
		body := `{"message":{"data":"` + base64.StdEncoding.EncodeToString(data) + `"}}`
		w := post(h, body, sig)
		switch {
		case w.Code == http.StatusInternalServerError:
			t.Fatal("500 without a store error")
		case called && w.Code != http.StatusOK:
			t.Fatalf("recorded but answered %d", w.Code)
		case w.Code != http.StatusOK && w.Code != http.StatusForbidden:
			t.Fatalf("status %d", w.Code)
		}
		if w.Body.Len() != 0 {
			t.Fatalf("reply has a body: %q", w.Body.String())
		}
	})
}
