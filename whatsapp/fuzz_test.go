package whatsapp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/whatsapp"
)

// FuzzVerifySignature holds the X-Hub-Signature-256 parser to its
// definition: a header verifies exactly when it is, up to surrounding
// space and the case of its ASCII letters, the signature Meta computes.
func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte("test"), "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914")
	f.Add([]byte("test"), "SHA256=0329A06B62CD16B33EB6792BE8C60B158D89A2EE3A876FCE9A881EBB488C0914")
	f.Add([]byte(`{"entry":[]}`), "sha256=")
	f.Add([]byte(""), "sha1=0329a06b62cd16b33eb6792be8c60b158d89a2ee")
	f.Add([]byte("x"), "sha256=\x00\xff")
	f.Add([]byte("test"), "\u017fha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c091")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		got := whatsapp.VerifySignature("secret", body, header)
		want := asciiLower(strings.TrimSpace(header)) == whatsapp.Signature("secret", body)
		if got != want {
			t.Fatalf("VerifySignature(%q, %q) = %v, want %v", body, header, got, want)
		}
		if !whatsapp.VerifySignature("secret", body, whatsapp.Signature("secret", body)) {
			t.Fatal("a body's own signature does not verify")
		}
	})
}

// asciiLower lowercases ASCII letters only: strings.EqualFold would also
// match "ſha256=" (U+017F folds to s), which is no signature.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// FuzzWebhook posts arbitrary bodies and signatures to the webhook: it
// must never panic, must call onReceipt only for a correctly signed body,
// and must hand over only final receipts naming a message. With sign set
// the body is signed properly, so the payload parser behind the signature
// check is explored too.
func FuzzWebhook(f *testing.F) {
	ch, err := whatsapp.New(whatsapp.Config{
		PhoneNumberID: phoneNumberID, AccessToken: accessToken, AppSecret: appSecret, Template: templateName,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(statusNotification(wamid, "delivered", ""), "", true)
	f.Add(statusNotification(wamid, "read", ""), "", true)
	f.Add(statusNotification(wamid, "sent", ""), "", true)
	f.Add(statusNotification(wamid, "failed", `[{"code": 131026, "title": "Message undeliverable"}]`), "", true)
	f.Add(statusNotification(wamid, "failed", `[{"code": "x\u0000", "title": 5}]`), "", true)
	f.Add(`{"entry":[{"changes":[{"value":{"statuses":[{"id":"w","status":"failed","errors":[{}]}]}}]}]}`, "", true)
	f.Add(`{"entry":[{"changes":[{"value":{"statuses":[{"id":"w","status":"delivered"}]}}]}]}`, "sha256=00", false)
	f.Add(`not json`, "", true)
	f.Fuzz(func(t *testing.T, body, sig string, sign bool) {
		if sign {
			sig = docSignature(appSecret, body)
		}
		signed := whatsapp.VerifySignature(appSecret, []byte(body), sig)
		called := false
		h := ch.Handler(func(_ context.Context, r otpd.Receipt) error {
			called = true
			if !signed {
				t.Fatalf("onReceipt called without a valid signature: %+v", r)
			}
			if r.Channel != otpd.ChannelWhatsApp || r.Ref == "" || len(r.Ref) > 256 || !r.Status.Final() {
				t.Fatalf("bad receipt %+v", r)
			}
			if r.Status == otpd.MessageDelivered && r.Error != "" || r.Status == otpd.MessageFailed && !strings.HasPrefix(r.Error, "failed") {
				t.Fatalf("bad receipt error %+v", r)
			}
			if strings.ContainsFunc(r.Error, func(c rune) bool { return c < ' ' }) {
				t.Fatalf("control character in a stored error: %q", r.Error)
			}
			return nil
		})
		req := httptest.NewRequest(http.MethodPost, "/v1/callbacks/whatsapp", strings.NewReader(body))
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch {
		case w.Code == http.StatusInternalServerError:
			t.Fatal("500 although onReceipt never fails")
		case called && w.Code != http.StatusOK:
			t.Fatalf("status %d after recording", w.Code)
		case !signed && w.Code != http.StatusUnauthorized && w.Code != http.StatusForbidden:
			t.Fatalf("status %d for an unsigned body", w.Code)
		case w.Body.Len() != 0:
			t.Fatalf("reply has a body: %q", w.Body.String())
		}
	})
}
