package rcs_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/rcs"
)

// docSignature computes X-Goog-Signature as RBM's webhook guide shows it:
// decode message.data from base64, HMAC-SHA512 it with the clientToken,
// base64 the digest.
func docSignature(token string, data []byte) string {
	mac := hmac.New(sha512.New, []byte(token))
	mac.Write(data)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSignature(t *testing.T) {
	t.Parallel()
	data := []byte(`{"eventType":"DELIVERED","messageId":"x"}`)
	require.Equal(t, docSignature(clientToken, data), rcs.Signature(clientToken, data))
	require.NotEqual(t, rcs.Signature(clientToken, data), rcs.Signature("other", data))
}

// receipts records what the handler hands over.
type receipts struct {
	mu  sync.Mutex
	got []otpd.Receipt
	err error
}

func (r *receipts) record(_ context.Context, rc otpd.Receipt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rc)
	return r.err
}

func (r *receipts) all() []otpd.Receipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]otpd.Receipt(nil), r.got...)
}

// envelope is a webhook body carrying data, as RBM posts it.
func envelope(data []byte) string {
	b, _ := json.Marshal(map[string]any{
		"message": map[string]any{
			"attributes":  map[string]string{"message_type": "EVENT"},
			"data":        base64.StdEncoding.EncodeToString(data),
			"messageId":   "13145678901234567",
			"publishTime": "2026-03-01T12:00:01.234Z",
		},
		"subscription": "projects/rbm-acme-otp-agent/subscriptions/rbm-agent-subscription",
	})
	return string(b)
}

func post(h http.Handler, body, sig string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/callbacks/rcs", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("X-Goog-Signature", sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func postEvent(h http.Handler, data []byte) *httptest.ResponseRecorder {
	return post(h, envelope(data), docSignature(clientToken, data))
}

func TestWebhookVerification(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var rs receipts
	h := b.ch.Handler(rs.record)

	w := post(h, `{"clientToken":"SJENCPGJESMGUFPY","secret":"1234567890"}`, "")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "1234567890", w.Body.String())
	require.Equal(t, "text/plain; charset=utf-8", w.Header().Get("Content-Type"))

	w = post(h, `{"clientToken":"SJENCPGJESMGUFPX","secret":"1234567890"}`, "")
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Empty(t, w.Body.String(), "the secret is echoed only for our token")

	noToken := setup(t, func(c *rcs.Config) { c.ClientToken = "" })
	w = post(noToken.ch.Handler(rs.record), `{"clientToken":"","secret":"1"}`, "")
	require.Equal(t, http.StatusBadRequest, w.Code)
	w = post(noToken.ch.Handler(rs.record), `{"clientToken":"SJENCPGJESMGUFPY","secret":"1"}`, "")
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Empty(t, rs.all())
}

func TestHandlerEvents(t *testing.T) {
	t.Parallel()
	id := rcs.MessageID(otpdMsgID)
	tests := []struct {
		name string
		data string
		want *otpd.Receipt
	}{
		{"delivered", `{"senderPhoneNumber":"+447700900123","eventType":"DELIVERED","eventId":"MxLjg1cHJEaTJ","messageId":"` + id + `","sendTime":"2026-03-01T12:00:01.123Z","agentId":"acme-otp-agent@rbm.goog"}`,
			&otpd.Receipt{Channel: otpd.ChannelRCS, Ref: id, Status: otpd.MessageDelivered}},
		{"read", `{"senderPhoneNumber":"+447700900123","eventType":"READ","eventId":"e2","messageId":"` + strings.ToUpper(id) + `","agentId":"acme-otp-agent@rbm.goog"}`,
			&otpd.Receipt{Channel: otpd.ChannelRCS, Ref: id, Status: otpd.MessageDelivered}},
		{"ttl revoked", `{"phoneNumber":"+447700900123","agentId":"acme-otp-agent@rbm.goog","messageId":"` + id + `","eventType":"TTL_EXPIRATION_REVOKED","eventId":"e3","sendTime":"2026-03-01T12:10:00Z"}`,
			&otpd.Receipt{Channel: otpd.ChannelRCS, Ref: id, Status: otpd.MessageUndelivered,
				Error: "TTL_EXPIRATION_REVOKED (not delivered before the code expired; withdrawn)"}},
		{"ttl revoke failed", `{"phoneNumber":"+447700900123","agentId":"acme-otp-agent@rbm.goog","messageId":"` + id + `","eventType":"TTL_EXPIRATION_REVOKE_FAILED","eventId":"e4"}`,
			&otpd.Receipt{Channel: otpd.ChannelRCS, Ref: id, Status: otpd.MessageUndelivered,
				Error: "TTL_EXPIRATION_REVOKE_FAILED (not delivered before the code expired; withdrawal failed)"}},
		{"agent id without domain", `{"eventType":"DELIVERED","messageId":"` + id + `","agentId":"acme-otp-agent"}`,
			&otpd.Receipt{Channel: otpd.ChannelRCS, Ref: id, Status: otpd.MessageDelivered}},
		{"no agent id", `{"eventType":"DELIVERED","messageId":"` + id + `"}`,
			&otpd.Receipt{Channel: otpd.ChannelRCS, Ref: id, Status: otpd.MessageDelivered}},
		{"another agent", `{"eventType":"DELIVERED","messageId":"` + id + `","agentId":"acme-marketing@rbm.goog"}`, nil},
		{"typing", `{"senderPhoneNumber":"+447700900123","eventType":"IS_TYPING","eventId":"e5","agentId":"acme-otp-agent@rbm.goog"}`, nil},
		{"user text", `{"senderPhoneNumber":"+447700900123","text":"STOP","eventId":"e6","messageId":"m6","agentId":"acme-otp-agent@rbm.goog"}`, nil},
		{"unsubscribe", `{"senderPhoneNumber":"+447700900123","eventType":"UNSUBSCRIBE","eventId":"e7","agentId":"acme-otp-agent@rbm.goog"}`, nil},
		{"delivered without id", `{"eventType":"DELIVERED","agentId":"acme-otp-agent@rbm.goog"}`, nil},
		{"not JSON", `hello`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var rs receipts
			w := postEvent(b.ch.Handler(rs.record), []byte(tt.data))
			require.Equal(t, http.StatusOK, w.Code, "RBM retries anything but 200")
			require.Empty(t, w.Body.String())
			if tt.want == nil {
				require.Empty(t, rs.all())
				return
			}
			require.Equal(t, []otpd.Receipt{*tt.want}, rs.all())
		})
	}
}

func TestHandlerAuthenticity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var rs receipts
	h := b.ch.Handler(rs.record)
	data := []byte(`{"eventType":"DELIVERED","messageId":"` + rcs.MessageID(otpdMsgID) + `"}`)
	other := []byte(`{"eventType":"DELIVERED","messageId":"00000000-0000-4000-8000-000000000000"}`)
	raw := docSignature(clientToken, data)
	tests := []struct {
		name, sig string
		ok        bool
	}{
		{"valid", raw, true},
		{"valid, unpadded URL alphabet", strings.NewReplacer("+", "-", "/", "_").Replace(strings.TrimRight(raw, "=")), true},
		{"missing", "", false},
		{"other data's", docSignature(clientToken, other), false},
		{"other token's", docSignature("SJENCPGJESMGUFPX", data), false},
		{"truncated", raw[:20], false},
		{"not base64", "!!!", false},
		{"SHA-256 instead", base64.StdEncoding.EncodeToString(hmacSHA256(clientToken, data)), false},
	}
	for _, tt := range tests {
		w := post(h, envelope(data), tt.sig)
		if tt.ok {
			require.Equal(t, http.StatusOK, w.Code, tt.name)
		} else {
			require.Equal(t, http.StatusForbidden, w.Code, tt.name)
		}
	}
	require.Len(t, rs.all(), 2, "recorded only for valid signatures")

	// Without a configured clientToken nothing is accepted, however signed.
	noToken := setup(t, func(c *rcs.Config) { c.ClientToken = "" })
	w := post(noToken.ch.Handler(rs.record), envelope(data), docSignature("", data))
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Len(t, rs.all(), 2)
}

func hmacSHA256(key string, data []byte) []byte {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(data)
	return mac.Sum(nil)
}

func TestHandlerReplies(t *testing.T) {
	t.Parallel()
	data := []byte(`{"eventType":"DELIVERED","messageId":"` + rcs.MessageID(otpdMsgID) + `"}`)
	t.Run("unknown message is acknowledged", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rs := receipts{err: fmt.Errorf("receipt for rcs ref: %w", otpd.ErrNotFound)}
		require.Equal(t, http.StatusOK, postEvent(b.ch.Handler(rs.record), data).Code)
	})
	t.Run("store failure is retried", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rs := receipts{err: errors.New("database is locked")}
		require.Equal(t, http.StatusInternalServerError, postEvent(b.ch.Handler(rs.record), data).Code)
	})
	t.Run("bad requests", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var rs receipts
		h := b.ch.Handler(rs.record)
		require.Equal(t, http.StatusBadRequest, post(h, `not json`, "x").Code)
		require.Equal(t, http.StatusBadRequest, post(h, `{}`, "x").Code)
		require.Equal(t, http.StatusBadRequest, post(h, `{"message":{"data":"%%%"}}`, "x").Code)
		big := `{"message":{"data":"` + strings.Repeat("A", 1<<20) + `"}}`
		require.Equal(t, http.StatusRequestEntityTooLarge, post(h, big, "x").Code)

		req := httptest.NewRequest(http.MethodGet, "/v1/callbacks/rcs", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		require.Equal(t, http.StatusMethodNotAllowed, w.Code)
		require.Equal(t, http.MethodPost, w.Header().Get("Allow"))
		require.Empty(t, rs.all())
	})
}
