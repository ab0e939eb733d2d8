package whatsapp_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/whatsapp"
)

// docSignature computes X-Hub-Signature-256 as Meta documents it,
// independently of the package: "sha256=" and the hex HMAC-SHA256 of the
// raw body keyed with the app secret.
func docSignature(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// A published vector (whatsapp_sdk's Webhook.compute_signature("test",
// "secret")), which `openssl dgst -sha256 -hmac secret` agrees with.
func TestSignatureKnownVector(t *testing.T) {
	t.Parallel()
	const want = "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
	require.Equal(t, want, whatsapp.Signature("secret", []byte("test")))
	require.Equal(t, want, docSignature("secret", "test"))
	require.True(t, whatsapp.VerifySignature("secret", []byte("test"), want))
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	good := docSignature(appSecret, string(body))
	tests := []struct {
		name, secret, header string
		body                 []byte
		want                 bool
	}{
		{"valid", appSecret, good, body, true},
		{"uppercase hex", appSecret, "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), body, true},
		{"uppercase prefix", appSecret, "SHA256=" + strings.TrimPrefix(good, "sha256="), body, true},
		{"surrounding space", appSecret, " " + good + " ", body, true},
		{"empty", appSecret, "", body, false},
		{"no prefix", appSecret, strings.TrimPrefix(good, "sha256="), body, false},
		{"sha1 header form", appSecret, "sha1=" + strings.TrimPrefix(good, "sha256=")[:40], body, false},
		{"truncated", appSecret, good[:len(good)-2], body, false},
		{"not hex", appSecret, "sha256=" + strings.Repeat("zz", 32), body, false},
		{"wrong secret", "another secret", good, body, false},
		{"empty secret", "", docSignature("", string(body)), body, false},
		{"tampered body", appSecret, good, append([]byte(" "), body...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, whatsapp.VerifySignature(tt.secret, tt.body, tt.header))
		})
	}
}

// receipts records what the handler hands over.
type receipts struct {
	mu  sync.Mutex
	got []otpd.Receipt
	err func(otpd.Receipt) error
}

func (r *receipts) record(_ context.Context, rc otpd.Receipt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rc)
	if r.err != nil {
		return r.err(rc)
	}
	return nil
}

func (r *receipts) all() []otpd.Receipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]otpd.Receipt(nil), r.got...)
}

// webhookServer serves a channel's Handler on 127.0.0.1.
func webhookServer(t *testing.T, rec *receipts, opts ...func(*whatsapp.Config)) string {
	t.Helper()
	cfg := whatsapp.Config{
		PhoneNumberID: phoneNumberID,
		AccessToken:   accessToken,
		AppSecret:     appSecret,
		VerifyToken:   verifyToken,
		Template:      templateName,
	}
	for _, o := range opts {
		o(&cfg)
	}
	ch, err := whatsapp.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(ch.Handler(rec.record))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1/callbacks/whatsapp"
}

// post sends body to the webhook, signed with header (none when empty),
// and returns the status.
func post(t *testing.T, target, body, signature string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Empty(t, b, "no body, no detail")
	return resp.StatusCode
}

// statusNotification is a messages webhook with one status, shaped as
// Meta's status webhook reference shows it; errors is the raw JSON of the
// status's errors array, or "".
func statusNotification(id, status, errorsJSON string) string {
	errs := ""
	if errorsJSON != "" {
		errs = `, "errors": ` + errorsJSON
	}
	return `{
  "object": "whatsapp_business_account",
  "entry": [{
    "id": "102290129340398",
    "changes": [{
      "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "` + phoneNumberID + `"},
        "statuses": [{
          "id": "` + id + `",
          "status": "` + status + `",
          "timestamp": "1750263773",
          "recipient_id": "447700900123",
          "pricing": {"billable": true, "pricing_model": "PMP", "category": "authentication", "type": "regular"}` + errs + `
        }]
      },
      "field": "messages"
    }]
  }]
}`
}

func TestWebhookStatuses(t *testing.T) {
	t.Parallel()
	const undeliverable = `[{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable", "error_data": {"details": "Message Undeliverable."}, "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]`
	tests := []struct {
		name, status, errors string
		want                 *otpd.Receipt // nil: acknowledged, not recorded
	}{
		{"sent", "sent", "", nil},
		{"delivered", "delivered", "", &otpd.Receipt{Status: otpd.MessageDelivered}},
		{"read", "read", "", &otpd.Receipt{Status: otpd.MessageDelivered}},
		{"played", "played", "", nil},
		{"deleted", "deleted", "", nil},
		{"something new", "warning", "", nil},
		{"failed with an error", "failed", undeliverable, &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed (131026 Message undeliverable)"}},
		{"failed without a title", "failed", `[{"code": 131049}]`, &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed (131049 not delivered to maintain healthy ecosystem engagement)"}},
		{"failed with an unknown code", "failed", `[{"code": 139999}]`, &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed (139999)"}},
		{"failed with a string code", "failed", `[{"code": "131053", "title": "Media upload error"}]`, &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed (131053 Media upload error)"}},
		{"failed with a title only", "failed", `[{"title": "Message expired"}]`, &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed (Message expired)"}},
		{"failed with a bad code", "failed", `[{"code": {"x": 1}}]`, &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed (no error code)"}},
		{"failed with an empty error", "failed", `[{}]`, &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed (no error code)"}},
		{"failed without errors", "failed", "", &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed"}},
		{"failed with a long title", "failed", `[{"code": 131026, "title": "` + strings.Repeat("é", 150) + `"}]`, &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed (131026 " + strings.Repeat("é", 100) + ")"}},
		{"failed, title with control characters", "failed", `[{"code": 131026, "title": "bad\u0000\ntitle"}]`, &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed (131026 bad??title)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &receipts{}
			hook := webhookServer(t, rec)
			body := statusNotification(wamid, tt.status, tt.errors)
			require.Equal(t, http.StatusOK, post(t, hook, body, docSignature(appSecret, body)))
			if tt.want == nil {
				require.Empty(t, rec.all())
				return
			}
			want := *tt.want
			want.Channel, want.Ref = otpd.ChannelWhatsApp, wamid
			require.Equal(t, []otpd.Receipt{want}, rec.all())
		})
	}
}

// One notification may batch entries, changes and statuses, and carries
// fields otpd does not read (incoming messages, conversation, pricing,
// fields Meta adds later): statuses are recorded in order, the rest is
// ignored.
func TestWebhookBatchAndUnknownFields(t *testing.T) {
	t.Parallel()
	body := `{
  "object": "whatsapp_business_account",
  "something_new": {"nested": [1, 2, 3]},
  "entry": [
    {"id": "1", "changes": [
      {"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        "messages": [{"from": "16505551234", "id": "wamid.incoming", "timestamp": "1749416383", "type": "text", "text": {"body": "hi"}}]
      }},
      {"field": "messages", "value": {"statuses": [
        {"id": "wamid.A", "status": "sent", "conversation": {"id": "c1", "origin": {"type": "authentication"}}},
        {"id": "wamid.A", "status": "delivered", "biz_opaque_callback_data": "x", "new_field": true},
        {"id": "wamid.B", "status": "read"}
      ]}}
    ]},
    {"id": "2", "changes": [
      {"field": "message_template_status_update", "value": {"event": "APPROVED", "message_template_id": 1}},
      {"field": "messages", "value": {"errors": [{"code": 131000, "title": "Something went wrong"}], "statuses": [
        {"id": "wamid.C", "status": "failed", "errors": [{"code": 131026, "title": "Message undeliverable"}, {"code": 1}]},
        {"id": "", "status": "delivered"},
        {"status": "delivered"},
        {"id": "` + strings.Repeat("w", 300) + `", "status": "delivered"}
      ]}}
    ]}
  ]
}`
	rec := &receipts{}
	hook := webhookServer(t, rec)
	require.Equal(t, http.StatusOK, post(t, hook, body, docSignature(appSecret, body)))
	require.Equal(t, []otpd.Receipt{
		{Channel: otpd.ChannelWhatsApp, Ref: "wamid.A", Status: otpd.MessageDelivered},
		{Channel: otpd.ChannelWhatsApp, Ref: "wamid.B", Status: otpd.MessageDelivered},
		{Channel: otpd.ChannelWhatsApp, Ref: "wamid.C", Status: otpd.MessageFailed, Error: "failed (131026 Message undeliverable)"},
	}, rec.all())
}

func TestWebhookSignature(t *testing.T) {
	t.Parallel()
	body := statusNotification(wamid, "delivered", "")
	tests := []struct {
		name      string
		signature string
		edit      func(*whatsapp.Config)
		want      int
	}{
		{"valid", docSignature(appSecret, body), nil, http.StatusOK},
		{"missing", "", nil, http.StatusUnauthorized},
		{"malformed", "sha256=xyz", nil, http.StatusForbidden},
		{"wrong secret", docSignature("another secret", body), nil, http.StatusForbidden},
		{"another body", docSignature(appSecret, statusNotification(wamid, "failed", "")), nil, http.StatusForbidden},
		{"no app secret configured", docSignature("", body), func(c *whatsapp.Config) { c.AppSecret = "" }, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &receipts{}
			var opts []func(*whatsapp.Config)
			if tt.edit != nil {
				opts = append(opts, tt.edit)
			}
			hook := webhookServer(t, rec, opts...)
			require.Equal(t, tt.want, post(t, hook, body, tt.signature))
			if tt.want != http.StatusOK {
				require.Empty(t, rec.all(), "nothing is recorded without a valid signature")
			}
		})
	}
}

func TestWebhookBadBodies(t *testing.T) {
	t.Parallel()
	rec := &receipts{}
	hook := webhookServer(t, rec)
	for _, body := range []string{"", "not json", `{"entry": "not a list"}`, `[1, 2]`, `{"entry": [{"changes": [{"value": {"statuses": [{"id": 5}]}}]}]}`} {
		require.Equal(t, http.StatusBadRequest, post(t, hook, body, docSignature(appSecret, body)), body)
	}
	// Valid JSON without statuses is acknowledged.
	for _, body := range []string{`{}`, `{"object": "whatsapp_business_account", "entry": []}`, `{"entry": null}`} {
		require.Equal(t, http.StatusOK, post(t, hook, body, docSignature(appSecret, body)), body)
	}
	require.Empty(t, rec.all())
}

func TestWebhookBodyLimit(t *testing.T) {
	t.Parallel()
	rec := &receipts{}
	hook := webhookServer(t, rec)
	big := `{"pad": "` + strings.Repeat("x", 1<<20) + `"}`
	require.Equal(t, http.StatusRequestEntityTooLarge, post(t, hook, big, docSignature(appSecret, big)))
	require.Empty(t, rec.all())
}

// syncBuffer is a bytes.Buffer for a logger used by the server goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWebhookReceiptErrors(t *testing.T) {
	t.Parallel()
	body := `{"entry": [{"changes": [{"value": {"statuses": [
	  {"id": "wamid.unknown", "status": "delivered"},
	  {"id": "wamid.locked", "status": "read"},
	  {"id": "wamid.ok", "status": "failed", "errors": [{"code": 131026}]}
	]}}]}]}`
	tests := []struct {
		name string
		err  func(otpd.Receipt) error
		want int
	}{
		{"unknown message: acknowledged, Meta must not retry", func(r otpd.Receipt) error {
			if r.Ref == "wamid.unknown" {
				return fmt.Errorf("receipt for whatsapp ref: %w", otpd.ErrNotFound)
			}
			return nil
		}, http.StatusOK},
		{"store failure: Meta retries", func(r otpd.Receipt) error {
			if r.Ref == "wamid.locked" {
				return errors.New("database is locked")
			}
			return nil
		}, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			rec := &receipts{err: tt.err}
			hook := webhookServer(t, rec, func(c *whatsapp.Config) {
				c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			require.Equal(t, tt.want, post(t, hook, body, docSignature(appSecret, body)))
			require.Len(t, rec.all(), 3, "every status is offered, also after a failure")
			if tt.want == http.StatusOK {
				require.Contains(t, logs.String(), "level=DEBUG")
				require.Contains(t, logs.String(), "ref=wamid.unknown")
				require.NotContains(t, logs.String(), "447700900123")
			}
		})
	}
}

// Without a Logger an unknown message is acknowledged all the same.
func TestWebhookUnknownMessageWithoutLogger(t *testing.T) {
	t.Parallel()
	rec := &receipts{err: func(otpd.Receipt) error { return otpd.ErrNotFound }}
	hook := webhookServer(t, rec)
	body := statusNotification(wamid, "delivered", "")
	require.Equal(t, http.StatusOK, post(t, hook, body, docSignature(appSecret, body)))
}

func TestWebhookVerification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query url.Values
		edit  func(*whatsapp.Config)
		want  int
	}{
		{"valid", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {verifyToken}, "hub.challenge": {"1158201444"}}, nil, http.StatusOK},
		{"wrong token", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"guess"}, "hub.challenge": {"1158201444"}}, nil, http.StatusForbidden},
		{"token prefix", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {verifyToken[:5]}, "hub.challenge": {"1158201444"}}, nil, http.StatusForbidden},
		{"no token", url.Values{"hub.mode": {"subscribe"}, "hub.challenge": {"1158201444"}}, nil, http.StatusForbidden},
		{"another mode", url.Values{"hub.mode": {"unsubscribe"}, "hub.verify_token": {verifyToken}, "hub.challenge": {"1158201444"}}, nil, http.StatusForbidden},
		{"no challenge", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {verifyToken}}, nil, http.StatusForbidden},
		{"no verify token configured", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {""}, "hub.challenge": {"1"}},
			func(c *whatsapp.Config) { c.VerifyToken = "" }, http.StatusForbidden},
		{"nothing", nil, nil, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &receipts{}
			var opts []func(*whatsapp.Config)
			if tt.edit != nil {
				opts = append(opts, tt.edit)
			}
			hook := webhookServer(t, rec, opts...)
			resp, err := http.Get(hook + "?" + tt.query.Encode())
			require.NoError(t, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			require.Equal(t, tt.want, resp.StatusCode)
			if tt.want == http.StatusOK {
				require.Equal(t, "1158201444", string(body), "the challenge, as it came")
				require.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
			} else {
				require.Empty(t, body)
			}
			require.Empty(t, rec.all())
		})
	}
}

func TestWebhookMethods(t *testing.T) {
	t.Parallel()
	rec := &receipts{}
	hook := webhookServer(t, rec)
	for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		req, err := http.NewRequest(method, hook, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, method)
		require.Equal(t, "GET, POST", resp.Header.Get("Allow"))
	}
}
