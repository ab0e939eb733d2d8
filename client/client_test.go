package client_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

const token = "otpd_admin_test"

// recorded is one request as the fake server saw it.
type recorded struct {
	Method      string
	EscapedPath string
	Query       url.Values
	Header      http.Header
	Body        string
}

// reply is one canned answer. drop closes the connection without
// answering, which the client sees as a transport error.
type reply struct {
	status int
	header map[string]string
	body   string
	drop   bool
}

// fakeServer answers the n-th request with the n-th reply, repeating the
// last one, and records every request.
type fakeServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	replies []reply
}

func newFakeServer(t *testing.T, replies ...reply) *fakeServer {
	t.Helper()
	require.NotEmpty(t, replies)
	f := &fakeServer{replies: replies}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading request body: %v", err)
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{
			Method:      r.Method,
			EscapedPath: r.URL.EscapedPath(),
			Query:       r.URL.Query(),
			Header:      r.Header.Clone(),
			Body:        string(body),
		})
		rep := f.replies[min(len(f.reqs), len(f.replies))-1]
		f.mu.Unlock()
		if rep.drop {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijacking: %v", err)
				return
			}
			_ = conn.Close()
			return
		}
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fakeServer) client(opts ...client.Option) *client.Client {
	return client.New(f.srv.URL, token, opts...)
}

func jsonReply(status int, body string) reply {
	return reply{status: status, header: map[string]string{"Content-Type": "application/json"}, body: body}
}

func problemReply(status int, body string, header ...string) reply {
	h := map[string]string{"Content-Type": "application/problem+json"}
	for i := 0; i+1 < len(header); i += 2 {
		h[header[i]] = header[i+1]
	}
	return reply{status: status, header: h, body: body}
}

var noContent = reply{status: http.StatusNoContent}

// ---- Fixtures ----

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

const serviceJSON = `{"id":"svc_1","name":"Acme Bank","code_length":6,"code_alphabet":"digits",
 "ttl_seconds":600,"max_ttl_seconds":900,"max_check_attempts":5,"max_sends":5,"resend_cooldown_seconds":30,
 "channels":["sms","email"],"allowed_countries":["GB"],"default_locale":"en",
 "webhook_url":"https://acme.example/hook","app_hash":null,"webotp_domain":null,
 "created_at":"2025-03-01T10:00:00.000Z","updated_at":"2025-03-01T10:00:00.000Z"}`

var createdServiceJSON = strings.Replace(serviceJSON, `"id":"svc_1",`, `"id":"svc_1","webhook_secret":"whsec_s3cret",`, 1)

func wantService() *client.Service {
	return &client.Service{
		ID: "svc_1", Name: "Acme Bank", CodeLength: 6, CodeAlphabet: client.AlphabetDigits,
		TTLSeconds: 600, MaxTTLSeconds: 900, MaxCheckAttempts: 5, MaxSends: 5, ResendCooldownSeconds: 30,
		Channels: []string{"sms", "email"}, AllowedCountries: []string{"GB"}, DefaultLocale: "en",
		WebhookURL: new("https://acme.example/hook"), CreatedAt: t0, UpdatedAt: t0,
	}
}

func wantCreatedService() *client.Service {
	s := wantService()
	s.WebhookSecret = "whsec_s3cret"
	return s
}

const keyJSON = `{"id":"key_1","service_id":"svc_1","name":"backend","created_at":"2025-03-01T10:00:00.000Z","last_used_at":null,"secret":"otpd_sk_x"}`

const verificationJSON = `{"id":"ver_1","service_id":"svc_1","to":"+447700900123","channel":"sms","status":"pending",
 "locale":"de","purpose":"login","reference":null,
 "transaction":{"amount":"125.00","currency":"EUR","payee":"ACME Shop"},
 "created_at":"2025-03-01T10:00:00.000Z","updated_at":"2025-03-01T10:00:00.000Z","expires_at":"2025-03-01T10:10:00.000Z",
 "attempts_remaining":5,"sends_remaining":4,
 "messages":[{"id":"msg_1","channel":"sms","status":"failed","created_at":"2025-03-01T10:00:00.000Z",
   "updated_at":"2025-03-01T10:00:01.500Z","error":"unreachable"}]}`

var txn = &client.Transaction{Amount: "125.00", Currency: "EUR", Payee: "ACME Shop"}

func wantVerification() *client.Verification {
	return &client.Verification{
		ID: "ver_1", ServiceID: "svc_1", To: "+447700900123", Channel: client.ChannelSMS,
		Status: client.StatusPending, Locale: "de", Purpose: new("login"), Transaction: txn,
		CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
		AttemptsRemaining: 5, SendsRemaining: 4,
		Messages: []client.Message{{
			ID: "msg_1", Channel: client.ChannelSMS, Status: client.MessageFailed,
			CreatedAt: t0, UpdatedAt: t0.Add(1500 * time.Millisecond), Error: new("unreachable"),
		}},
	}
}

const checkJSON = `{"valid":false,"status":"pending","attempts_remaining":4,"verification":` + verificationJSON + `}`

func wantCheck() *client.CheckResult {
	return &client.CheckResult{Valid: false, Status: client.StatusPending, AttemptsRemaining: 4, Verification: *wantVerification()}
}

const eventJSON = `{"id":"evt_1","type":"message.sent","created_at":"2025-03-01T10:00:00.000Z",
 "verification_id":"ver_1","message_id":"msg_1","data":` + verificationJSON + `,
 "delivery":{"status":"pending","attempts":2,"next_attempt_at":"2025-03-01T10:00:10.000Z",
  "last_attempt_at":"2025-03-01T10:00:05.000Z","last_status_code":500,"last_error":"500 Internal Server Error",
  "delivered_at":null,"give_up_at":"2025-03-04T10:00:00.000Z"}}`

func wantEvent() *client.Event {
	return &client.Event{
		ID: "evt_1", Type: client.EventMessageSent, CreatedAt: t0, VerificationID: "ver_1", MessageID: new("msg_1"),
		Data: *wantVerification(),
		Delivery: client.EventDelivery{
			Status: client.DeliveryPending, Attempts: 2, NextAttemptAt: new(t0.Add(10 * time.Second)),
			LastAttemptAt: new(t0.Add(5 * time.Second)), LastStatusCode: new(500), LastError: new("500 Internal Server Error"),
			GiveUpAt: new(t0.Add(72 * time.Hour)),
		},
	}
}

const rateLimitedJSON = `{"type":"https://otpd.dev/problems/rate_limited","title":"Rate limited","status":429,
 "detail":"too many requests","code":"rate_limited","retry_after_seconds":1}`

// autoKey stands for "an Idempotency-Key generated by the client".
const autoKey = "<generated>"

// ---- Every method: request on the wire, response decoded ----

func TestMethods(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		call   func(context.Context, *client.Client) (any, error)
		method string
		path   string // escaped
		query  url.Values
		body   string // JSON; "" for no body
		key    string // expected Idempotency-Key: "", autoKey or an exact value
		reply  reply
		want   any
	}{
		{
			name: "CreateService minimal",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CreateService(ctx, client.CreateServiceParams{Name: "Acme Bank"})
			},
			method: "POST", path: "/v1/services", body: `{"name":"Acme Bank"}`, key: autoKey,
			reply: jsonReply(201, createdServiceJSON), want: wantCreatedService(),
		},
		{
			name: "CreateService every field",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CreateService(ctx, client.CreateServiceParams{
					Name: "Acme Bank", CodeLength: 8, CodeAlphabet: client.AlphabetAlphanumeric,
					TTLSeconds: 600, MaxTTLSeconds: 900, MaxCheckAttempts: 3, MaxSends: 2,
					ResendCooldownSeconds: new(0), Channels: []string{"sms", "email"},
					AllowedCountries: []string{"GB", "DE"}, DefaultLocale: "de",
					WebhookURL: "https://acme.example/hook", AppHash: "FA+9qCX9VSu", WebOTPDomain: "acme.example",
					IdempotencyKey: "create-acme",
				})
			},
			method: "POST", path: "/v1/services",
			body: `{"name":"Acme Bank","code_length":8,"code_alphabet":"alphanumeric","ttl_seconds":600,
				"max_ttl_seconds":900,"max_check_attempts":3,"max_sends":2,"resend_cooldown_seconds":0,
				"channels":["sms","email"],"allowed_countries":["GB","DE"],"default_locale":"de",
				"webhook_url":"https://acme.example/hook","app_hash":"FA+9qCX9VSu","webotp_domain":"acme.example"}`,
			key:   "create-acme",
			reply: jsonReply(201, createdServiceJSON), want: wantCreatedService(),
		},
		{
			name: "ListServices page",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListServices(ctx, client.ListOptions{Limit: 10, Cursor: "c1"})
			},
			method: "GET", path: "/v1/services", query: url.Values{"limit": {"10"}, "cursor": {"c1"}},
			reply: jsonReply(200, `{"data":[`+serviceJSON+`],"next_cursor":"c2"}`),
			want:  &client.ServiceList{Data: []client.Service{*wantService()}, NextCursor: "c2"},
		},
		{
			name: "ListServices last page",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListServices(ctx, client.ListOptions{})
			},
			method: "GET", path: "/v1/services",
			reply: jsonReply(200, `{"data":[],"next_cursor":null}`),
			want:  &client.ServiceList{Data: []client.Service{}},
		},
		{
			name: "GetService",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetService(ctx, "svc_1")
			},
			method: "GET", path: "/v1/services/svc_1",
			reply: jsonReply(200, serviceJSON), want: wantService(),
		},
		{
			name: "GetService escapes the id",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetService(ctx, "svc/1?x")
			},
			method: "GET", path: "/v1/services/svc%2F1%3Fx",
			reply: jsonReply(200, serviceJSON), want: wantService(),
		},
		{
			name: "UpdateService sets, clears and nulls",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.UpdateService(ctx, "svc_1", client.UpdateServiceParams{
					Name: new("Acme"), ResendCooldownSeconds: new(0), AllowedCountries: []string{},
					Channels: []string{"email"}, WebhookURL: new(""), AppHash: new("FA+9qCX9VSu"),
				})
			},
			method: "PATCH", path: "/v1/services/svc_1",
			body: `{"name":"Acme","resend_cooldown_seconds":0,"channels":["email"],"allowed_countries":[],
				"webhook_url":null,"app_hash":"FA+9qCX9VSu"}`,
			reply: jsonReply(200, serviceJSON), want: wantService(),
		},
		{
			name: "UpdateService nothing",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.UpdateService(ctx, "svc_1", client.UpdateServiceParams{})
			},
			method: "PATCH", path: "/v1/services/svc_1", body: `{}`,
			reply: jsonReply(200, serviceJSON), want: wantService(),
		},
		{
			name: "DeleteService",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return nil, c.DeleteService(ctx, "svc_1")
			},
			method: "DELETE", path: "/v1/services/svc_1", reply: noContent,
		},
		{
			name: "CreateKey",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CreateKey(ctx, "svc_1", "backend")
			},
			method: "POST", path: "/v1/services/svc_1/keys", body: `{"name":"backend"}`, key: autoKey,
			reply: jsonReply(201, keyJSON),
			want:  &client.Key{ID: "key_1", ServiceID: "svc_1", Name: "backend", CreatedAt: t0, Secret: "otpd_sk_x"},
		},
		{
			name: "CreateKey with the caller's key",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CreateKey(client.ContextWithIdempotencyKey(ctx, "key-req-1"), "svc_1", "backend")
			},
			method: "POST", path: "/v1/services/svc_1/keys", body: `{"name":"backend"}`, key: "key-req-1",
			reply: jsonReply(201, keyJSON),
			want:  &client.Key{ID: "key_1", ServiceID: "svc_1", Name: "backend", CreatedAt: t0, Secret: "otpd_sk_x"},
		},
		{
			name: "ListKeys",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListKeys(ctx, "svc_1", client.ListOptions{Limit: 2})
			},
			method: "GET", path: "/v1/services/svc_1/keys", query: url.Values{"limit": {"2"}},
			reply: jsonReply(200, `{"data":[{"id":"key_1","service_id":"svc_1","name":"backend",
				"created_at":"2025-03-01T10:00:00.000Z","last_used_at":"2025-03-01T10:05:00.000Z"}],"next_cursor":null}`),
			want: &client.KeyList{Data: []client.Key{{
				ID: "key_1", ServiceID: "svc_1", Name: "backend", CreatedAt: t0, LastUsedAt: new(t0.Add(5 * time.Minute)),
			}}},
		},
		{
			name: "RevokeKey",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return nil, c.RevokeKey(ctx, "svc_1", "key_1")
			},
			method: "DELETE", path: "/v1/services/svc_1/keys/key_1", reply: noContent,
		},
		{
			name: "RegisterDevice",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.RegisterDevice(ctx, "svc_1", client.RegisterDeviceParams{Platform: client.PlatformIOS, Token: "a1b2", Label: "user-42"})
			},
			method: "POST", path: "/v1/services/svc_1/devices", body: `{"platform":"ios","token":"a1b2","label":"user-42"}`, key: autoKey,
			reply: jsonReply(201, deviceJSON), want: wantDevice(),
		},
		{
			name: "ListDevices",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListDevices(ctx, "svc_1", client.ListOptions{Limit: 1, Cursor: "abc"})
			},
			method: "GET", path: "/v1/services/svc_1/devices", query: url.Values{"limit": {"1"}, "cursor": {"abc"}},
			reply: jsonReply(200, `{"data":[`+deviceJSON+`],"next_cursor":null}`), want: &client.DeviceList{Data: []client.Device{*wantDevice()}},
		},
		{
			name: "GetDevice",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetDevice(ctx, "svc_1", "dev_1")
			},
			method: "GET", path: "/v1/services/svc_1/devices/dev_1", reply: jsonReply(200, deviceJSON), want: wantDevice(),
		},
		{
			name: "DeleteDevice",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return nil, c.DeleteDevice(ctx, "svc_1", "dev_1")
			},
			method: "DELETE", path: "/v1/services/svc_1/devices/dev_1", reply: noContent,
		},
		{
			name: "SetTemplate",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				t, created, err := c.SetTemplate(ctx, "svc_1", client.TemplateKey{Channel: client.ChannelEmail, Locale: "pt-BR", Purpose: client.PurposeTransaction},
					client.SetTemplateParams{Subject: "{brand}", Text: "{amount} {payee} {code}"})
				if err == nil && !created {
					return nil, errors.New("201 is created")
				}
				return t, err
			},
			method: "PUT", path: "/v1/services/svc_1/templates/email/pt-BR", query: url.Values{"purpose": {"transaction"}},
			body:  `{"subject":"{brand}","text":"{amount} {payee} {code}"}`,
			reply: jsonReply(201, templateJSON), want: wantTemplate(),
		},
		{
			name: "GetTemplate",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetTemplate(ctx, "svc_1", client.TemplateKey{Channel: client.ChannelEmail, Locale: "pt-BR", Purpose: client.PurposeTransaction})
			},
			method: "GET", path: "/v1/services/svc_1/templates/email/pt-BR", query: url.Values{"purpose": {"transaction"}},
			reply: jsonReply(200, templateJSON), want: wantTemplate(),
		},
		{
			name: "ListTemplates",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListTemplates(ctx, "svc_1")
			},
			method: "GET", path: "/v1/services/svc_1/templates",
			reply: jsonReply(200, `{"data":[`+templateJSON+`],"next_cursor":null}`), want: &client.TemplateList{Data: []client.Template{*wantTemplate()}},
		},
		{
			name: "DeleteTemplate",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return nil, c.DeleteTemplate(ctx, "svc_1", client.TemplateKey{Channel: client.ChannelSMS, Locale: "en"})
			},
			method: "DELETE", path: "/v1/services/svc_1/templates/sms/en", reply: noContent,
		},
		{
			name: "StartVerification minimal",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.StartVerification(ctx, "svc_1", client.StartParams{To: "+447700900123"})
			},
			method: "POST", path: "/v1/services/svc_1/verifications", body: `{"to":"+447700900123"}`, key: autoKey,
			reply: jsonReply(201, verificationJSON), want: wantVerification(),
		},
		{
			name: "StartVerification every field",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.StartVerification(ctx, "svc_1", client.StartParams{
					To: "+447700900123", Channel: client.ChannelSMS, Fallback: []string{"whatsapp", "sms"},
					Locale: "de", Purpose: "login", Transaction: txn, TTLSeconds: 300,
					ClientIP: "203.0.113.7", Reference: "order-8812", IdempotencyKey: "start-8812",
				})
			},
			method: "POST", path: "/v1/services/svc_1/verifications",
			body: `{"to":"+447700900123","channel":"sms","fallback":["whatsapp","sms"],"locale":"de","purpose":"login",
				"transaction":{"amount":"125.00","currency":"EUR","payee":"ACME Shop"},"ttl_seconds":300,
				"client_ip":"203.0.113.7","reference":"order-8812"}`,
			key:   "start-8812",
			reply: jsonReply(201, verificationJSON), want: wantVerification(),
		},
		{
			name: "GetVerification",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetVerification(ctx, "svc_1", "ver_1")
			},
			method: "GET", path: "/v1/services/svc_1/verifications/ver_1",
			reply: jsonReply(200, verificationJSON), want: wantVerification(),
		},
		{
			name: "ListVerifications filtered",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListVerifications(ctx, "svc_1", client.ListVerificationsOptions{
					Status: client.StatusPending, To: "+447700900123", Limit: 5, Cursor: "c1",
				})
			},
			method: "GET", path: "/v1/services/svc_1/verifications",
			query: url.Values{"status": {"pending"}, "to": {"+447700900123"}, "limit": {"5"}, "cursor": {"c1"}},
			reply: jsonReply(200, `{"data":[`+verificationJSON+`],"next_cursor":"c2"}`),
			want:  &client.VerificationList{Data: []client.Verification{*wantVerification()}, NextCursor: "c2"},
		},
		{
			name: "CheckVerification",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CheckVerification(ctx, "svc_1", "ver_1", client.CheckParams{Code: "123456", Transaction: txn})
			},
			method: "POST", path: "/v1/services/svc_1/verifications/ver_1/check",
			body:  `{"code":"123456","transaction":{"amount":"125.00","currency":"EUR","payee":"ACME Shop"}}`,
			reply: jsonReply(200, checkJSON), want: wantCheck(),
		},
		{
			name: "CheckVerification with the caller's key",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CheckVerification(ctx, "svc_1", "ver_1", client.CheckParams{Code: "123456", IdempotencyKey: "chk-1"})
			},
			method: "POST", path: "/v1/services/svc_1/verifications/ver_1/check",
			body: `{"code":"123456"}`, key: "chk-1",
			reply: jsonReply(200, checkJSON), want: wantCheck(),
		},
		{
			name: "CheckByDestination",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CheckByDestination(ctx, "svc_1", client.CheckByDestinationParams{To: "+447700900123", Code: "123456"})
			},
			method: "POST", path: "/v1/services/svc_1/verification-checks",
			body:  `{"to":"+447700900123","code":"123456"}`,
			reply: jsonReply(200, checkJSON), want: wantCheck(),
		},
		{
			name: "ResendVerification same channel",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ResendVerification(ctx, "svc_1", "ver_1", "")
			},
			method: "POST", path: "/v1/services/svc_1/verifications/ver_1/resend", key: autoKey,
			reply: jsonReply(200, verificationJSON), want: wantVerification(),
		},
		{
			name: "ResendVerification other channel",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ResendVerification(ctx, "svc_1", "ver_1", client.ChannelWhatsApp)
			},
			method: "POST", path: "/v1/services/svc_1/verifications/ver_1/resend",
			body: `{"channel":"whatsapp"}`, key: autoKey,
			reply: jsonReply(200, verificationJSON), want: wantVerification(),
		},
		{
			name: "CancelVerification",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CancelVerification(ctx, "svc_1", "ver_1")
			},
			method: "POST", path: "/v1/services/svc_1/verifications/ver_1/cancel",
			reply: jsonReply(200, verificationJSON), want: wantVerification(),
		},
		{
			name: "CancelVerification with the caller's key",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CancelVerification(client.ContextWithIdempotencyKey(ctx, "cancel-1"), "svc_1", "ver_1")
			},
			method: "POST", path: "/v1/services/svc_1/verifications/ver_1/cancel", key: "cancel-1",
			reply: jsonReply(200, verificationJSON), want: wantVerification(),
		},
		{
			name: "ListEvents filtered",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListEvents(ctx, "svc_1", client.EventListParams{
					Type: client.EventMessageSent, Since: t0.In(time.FixedZone("", 2*3600)).Add(500 * time.Millisecond),
					VerificationID: "ver_1", Limit: 5, Cursor: "c1",
				})
			},
			method: "GET", path: "/v1/services/svc_1/events",
			query: url.Values{"type": {"message.sent"}, "since": {"2025-03-01T10:00:00.5Z"}, "verification_id": {"ver_1"},
				"limit": {"5"}, "cursor": {"c1"}},
			reply: jsonReply(200, `{"data":[`+eventJSON+`],"next_cursor":"c2"}`),
			want:  &client.EventList{Data: []client.Event{*wantEvent()}, NextCursor: "c2"},
		},
		{
			name: "ListEvents last page",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListEvents(ctx, "svc_1", client.EventListParams{})
			},
			method: "GET", path: "/v1/services/svc_1/events",
			reply: jsonReply(200, `{"data":[],"next_cursor":null}`),
			want:  &client.EventList{Data: []client.Event{}},
		},
		{
			name: "GetEvent",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetEvent(ctx, "svc_1", "evt_1")
			},
			method: "GET", path: "/v1/services/svc_1/events/evt_1",
			reply: jsonReply(200, strings.TrimSuffix(eventJSON, "}")+`,"attempts":[
				{"at":"2025-03-01T10:00:00.000Z","url":"https://acme.example/hook","status_code":null,"error":"connection refused","duration_ms":3},
				{"at":"2025-03-01T10:00:05.000Z","url":"https://acme.example/hook","status_code":500,"error":"500 Internal Server Error","duration_ms":41}]}`),
			want: func() *client.Event {
				e := wantEvent()
				e.Attempts = []client.DeliveryAttempt{
					{At: t0, URL: "https://acme.example/hook", Error: new("connection refused"), DurationMS: 3},
					{At: t0.Add(5 * time.Second), URL: "https://acme.example/hook", StatusCode: new(500), Error: new("500 Internal Server Error"), DurationMS: 41},
				}
				return e
			}(),
		},
		{
			name: "GetEvent escapes the ids",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetEvent(ctx, "svc/1", "evt 1")
			},
			method: "GET", path: "/v1/services/svc%2F1/events/evt%201",
			reply: jsonReply(200, eventJSON), want: wantEvent(),
		},
		{
			name: "RedeliverEvent",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.RedeliverEvent(ctx, "svc_1", "evt_1")
			},
			method: "POST", path: "/v1/services/svc_1/events/evt_1/redeliver", key: autoKey,
			reply: jsonReply(202, eventJSON), want: wantEvent(),
		},
		{
			name: "RedeliverEvent with the caller's key",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.RedeliverEvent(client.ContextWithIdempotencyKey(ctx, "redeliver-1"), "svc_1", "evt_1")
			},
			method: "POST", path: "/v1/services/svc_1/events/evt_1/redeliver", key: "redeliver-1",
			reply: jsonReply(202, eventJSON), want: wantEvent(),
		},
		{
			name: "DevMessages",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.DevMessages(ctx, "+447700900123")
			},
			method: "GET", path: "/dev/messages", query: url.Values{"to": {"+447700900123"}},
			reply: jsonReply(200, `[{"to":"+447700900123","channel":"sms","text":"Your Acme code: 123456",
				"created_at":"2025-03-01T10:00:00.000Z","verification_id":"ver_1","message_id":"msg_1"},
				{"to":"+447700900123","channel":"email","subject":"Your code","text":"123456","created_at":"2025-03-01T10:00:00.000Z"}]`),
			want: []client.DevMessage{
				{To: "+447700900123", Channel: "sms", Text: "Your Acme code: 123456", CreatedAt: t0, VerificationID: "ver_1", MessageID: "msg_1"},
				{To: "+447700900123", Channel: "email", Subject: "Your code", Text: "123456", CreatedAt: t0},
			},
		},
		{
			name: "DevMessages every destination",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.DevMessages(ctx, "")
			},
			method: "GET", path: "/dev/messages",
			reply: jsonReply(200, `[]`), want: []client.DevMessage{},
		},
		{
			name: "Healthz",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return nil, c.Healthz(ctx)
			},
			method: "GET", path: "/healthz", reply: jsonReply(200, `{"status":"ok"}`),
		},
		{
			name: "Readyz",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return nil, c.Readyz(ctx)
			},
			method: "GET", path: "/readyz", reply: jsonReply(200, `{"status":"ok","checks":{"store":"ok"}}`),
		},
		{
			name: "OpenAPI",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.OpenAPI(ctx)
			},
			method: "GET", path: "/openapi.json",
			reply: jsonReply(200, `{"openapi":"3.1.0"}`), want: []byte(`{"openapi":"3.1.0"}`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeServer(t, tt.reply)
			got, err := tt.call(t.Context(), f.client())
			require.NoError(t, err)
			if tt.want == nil {
				require.Nil(t, got)
			} else {
				require.Equal(t, tt.want, got)
			}

			reqs := f.requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			require.Equal(t, tt.method, r.Method)
			require.Equal(t, tt.path, r.EscapedPath)
			if tt.query == nil {
				tt.query = url.Values{}
			}
			require.Equal(t, tt.query, r.Query)
			require.Equal(t, "Bearer "+token, r.Header.Get("Authorization"))
			require.Equal(t, client.DefaultUserAgent, r.Header.Get("User-Agent"))
			require.Equal(t, "application/json, application/problem+json", r.Header.Get("Accept"))
			if tt.body == "" {
				require.Empty(t, r.Body)
				require.Empty(t, r.Header.Values("Content-Type"))
			} else {
				require.JSONEq(t, tt.body, r.Body)
				require.Equal(t, "application/json", r.Header.Get("Content-Type"))
			}
			switch tt.key {
			case "":
				require.Empty(t, r.Header.Values("Idempotency-Key"))
			case autoKey:
				requireGeneratedKey(t, r.Header.Get("Idempotency-Key"))
			default:
				require.Equal(t, tt.key, r.Header.Get("Idempotency-Key"))
			}
		})
	}
}

func requireGeneratedKey(t *testing.T, key string) {
	t.Helper()
	b, err := hex.DecodeString(key)
	require.NoError(t, err, "Idempotency-Key %q is not hex", key)
	require.Len(t, b, 16, "Idempotency-Key %q is not 128 bits", key)
}

func TestGeneratedKeysDifferPerCall(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, jsonReply(201, verificationJSON))
	c := f.client()
	for range 2 {
		_, err := c.StartVerification(t.Context(), "svc_1", client.StartParams{To: "+447700900123"})
		require.NoError(t, err)
	}
	reqs := f.requests()
	require.Len(t, reqs, 2)
	require.NotEqual(t, reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key"))
}

// ---- Options ----

func TestOptions(t *testing.T) {
	t.Parallel()

	t.Run("base URL with a path prefix and a trailing slash", func(t *testing.T) {
		t.Parallel()
		f := newFakeServer(t, jsonReply(200, serviceJSON))
		_, err := client.New(f.srv.URL+"/otpd/", token).GetService(t.Context(), "svc_1")
		require.NoError(t, err)
		require.Equal(t, "/otpd/v1/services/svc_1", f.requests()[0].EscapedPath)
	})

	t.Run("user agent", func(t *testing.T) {
		t.Parallel()
		f := newFakeServer(t, jsonReply(200, `{"status":"ok"}`))
		require.NoError(t, f.client(client.WithUserAgent("acme-backend/2.1")).Healthz(t.Context()))
		require.Equal(t, "acme-backend/2.1", f.requests()[0].Header.Get("User-Agent"))
	})

	t.Run("no token, no Authorization", func(t *testing.T) {
		t.Parallel()
		f := newFakeServer(t, jsonReply(200, `{"status":"ok"}`))
		require.NoError(t, client.New(f.srv.URL, "").Healthz(t.Context()))
		require.Empty(t, f.requests()[0].Header.Values("Authorization"))
	})

	t.Run("HTTP client", func(t *testing.T) {
		t.Parallel()
		f := newFakeServer(t, jsonReply(200, `{"status":"ok"}`))
		var n atomic.Int32
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			n.Add(1)
			return http.DefaultTransport.RoundTrip(r)
		})}
		require.NoError(t, f.client(client.WithHTTPClient(hc)).Healthz(t.Context()))
		require.Equal(t, int32(1), n.Load())
	})

	t.Run("bad base URL", func(t *testing.T) {
		t.Parallel()
		err := client.New("http://[::1", token).Healthz(t.Context())
		require.Error(t, err)
		require.False(t, errors.As(err, new(*client.Error)))
	})
}

// onClose calls f when the body is closed.
type onClose struct {
	io.ReadCloser
	f func()
}

func (b *onClose) Close() error {
	err := b.ReadCloser.Close()
	b.f()
	return err
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// ---- Retries ----

func TestRetries(t *testing.T) {
	t.Parallel()

	tooMany := problemReply(429, rateLimitedJSON, "Retry-After", "0")
	unavailable := problemReply(503, `{"type":"about:blank","title":"Unavailable","status":503,"detail":"draining","code":"internal_error"}`)
	dropped := reply{drop: true}

	start := func(ctx context.Context, c *client.Client) error {
		_, err := c.StartVerification(ctx, "svc_1", client.StartParams{To: "+447700900123"})
		return err
	}
	createService := func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateService(ctx, client.CreateServiceParams{Name: "Acme"})
		return err
	}
	createKey := func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateKey(ctx, "svc_1", "backend")
		return err
	}
	resend := func(ctx context.Context, c *client.Client) error {
		_, err := c.ResendVerification(ctx, "svc_1", "ver_1", "")
		return err
	}
	get := func(ctx context.Context, c *client.Client) error {
		_, err := c.GetVerification(ctx, "svc_1", "ver_1")
		return err
	}
	del := func(ctx context.Context, c *client.Client) error {
		return c.DeleteService(ctx, "svc_1")
	}
	check := func(ctx context.Context, c *client.Client) error {
		_, err := c.CheckVerification(ctx, "svc_1", "ver_1", client.CheckParams{Code: "123456"})
		return err
	}
	checkWithKey := func(ctx context.Context, c *client.Client) error {
		_, err := c.CheckVerification(ctx, "svc_1", "ver_1", client.CheckParams{Code: "123456", IdempotencyKey: "chk-1"})
		return err
	}
	cancel := func(ctx context.Context, c *client.Client) error {
		_, err := c.CancelVerification(ctx, "svc_1", "ver_1")
		return err
	}
	readyz := func(ctx context.Context, c *client.Client) error { return c.Readyz(ctx) }

	tests := []struct {
		name       string
		call       func(context.Context, *client.Client) error
		opts       []client.Option
		replies    []reply
		wantStatus int // 0: success
		wantTries  int
	}{
		{"429 then created: start", start, nil, []reply{tooMany, jsonReply(201, verificationJSON)}, 0, 2},
		{"429 then created: service", createService, nil, []reply{tooMany, jsonReply(201, createdServiceJSON)}, 0, 2},
		{"429 twice then created: key", createKey, nil, []reply{tooMany, tooMany, jsonReply(201, keyJSON)}, 0, 3},
		{"429 then resent", resend, nil, []reply{tooMany, jsonReply(200, verificationJSON)}, 0, 2},
		{"429 retried even without a key", check, nil, []reply{tooMany, jsonReply(200, checkJSON)}, 0, 2},
		{"429 until retries run out", start, []client.Option{client.WithMaxRetries(2)}, []reply{tooMany}, 429, 3},
		{"429 not retried with retries off", start, []client.Option{client.WithMaxRetries(0)}, []reply{tooMany}, 429, 1},
		{"429 with a wait over a minute returned at once", resend, nil,
			[]reply{problemReply(429, rateLimitedJSON, "Retry-After", "3600"), jsonReply(200, verificationJSON)}, 429, 1},
		{"503 then found: GET", get, nil, []reply{unavailable, jsonReply(200, verificationJSON)}, 0, 2},
		{"502 then deleted: DELETE", del, nil, []reply{{status: 502, body: "bad gateway"}, noContent}, 0, 2},
		{"504 then created: POST with a key", createKey, nil, []reply{{status: 504}, jsonReply(201, keyJSON)}, 0, 2},
		{"503 then checked: check with the caller's key", checkWithKey, nil, []reply{unavailable, jsonReply(200, checkJSON)}, 0, 2},
		{"503 not retried: check without a key", check, nil, []reply{unavailable, jsonReply(200, checkJSON)}, 503, 1},
		{"503 not retried: cancel without a key", cancel, nil, []reply{unavailable, jsonReply(200, verificationJSON)}, 503, 1},
		{"503 until retries run out", get, []client.Option{client.WithMaxRetries(1)}, []reply{unavailable}, 503, 2},
		{"500 not retried", get, nil, []reply{{status: 500}, jsonReply(200, verificationJSON)}, 500, 1},
		{"400 not retried", start, nil, []reply{problemReply(400, `{"code":"invalid_parameter"}`), jsonReply(201, verificationJSON)}, 400, 1},
		{"503 readiness not retried", readyz, nil, []reply{jsonReply(503, `{"status":"unavailable","checks":{}}`), jsonReply(200, `{}`)}, 503, 1},
		{"connection lost then found: GET", get, nil, []reply{dropped, jsonReply(200, verificationJSON)}, 0, 2},
		{"connection lost then created: POST with a key", start, nil, []reply{dropped, jsonReply(201, verificationJSON)}, 0, 2},
		{"connection lost not retried: check without a key", check, nil, []reply{dropped, jsonReply(200, checkJSON)}, -1, 1},
		{"connection lost until retries run out", get, []client.Option{client.WithMaxRetries(1)}, []reply{dropped}, -1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeServer(t, tt.replies...)
			err := tt.call(t.Context(), f.client(tt.opts...))
			switch {
			case tt.wantStatus == 0:
				require.NoError(t, err)
			case tt.wantStatus < 0: // a transport error
				require.Error(t, err)
				require.False(t, errors.As(err, new(*client.Error)), "got %v", err)
			default:
				var e *client.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, tt.wantStatus, e.HTTPStatus)
			}
			reqs := f.requests()
			require.Len(t, reqs, tt.wantTries)
			for _, r := range reqs[1:] {
				// A retry is the same request: same key, same body.
				require.Equal(t, reqs[0].Method, r.Method)
				require.Equal(t, reqs[0].EscapedPath, r.EscapedPath)
				require.Equal(t, reqs[0].Body, r.Body)
				require.Equal(t, reqs[0].Header.Values("Idempotency-Key"), r.Header.Values("Idempotency-Key"))
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t,
		problemReply(429, rateLimitedJSON, "Retry-After", "1"),
		jsonReply(201, verificationJSON))
	begin := time.Now()
	v, err := f.client().StartVerification(t.Context(), "svc_1", client.StartParams{To: "+447700900123"})
	require.NoError(t, err)
	require.Equal(t, wantVerification(), v)
	require.GreaterOrEqual(t, time.Since(begin), time.Second)

	reqs := f.requests()
	require.Len(t, reqs, 2)
	requireGeneratedKey(t, reqs[0].Header.Get("Idempotency-Key"))
	require.Equal(t, reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key"))
	require.JSONEq(t, reqs[0].Body, reqs[1].Body)
}

func TestRetryWaitEndsWithContext(t *testing.T) {
	t.Parallel()

	t.Run("canceled while waiting", func(t *testing.T) {
		t.Parallel()
		f := newFakeServer(t, problemReply(429, rateLimitedJSON, "Retry-After", "30"))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		// Cancel once the client has read and closed the 429's body: from
		// then on it is deciding to wait, or waiting, 30 s.
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err == nil {
				resp.Body = &onClose{ReadCloser: resp.Body, f: cancel}
			}
			return resp, err
		})}
		begin := time.Now()
		_, err := f.client(client.WithHTTPClient(hc)).StartVerification(ctx, "svc_1", client.StartParams{To: "+447700900123"})
		require.Less(t, time.Since(begin), 10*time.Second)
		require.ErrorIs(t, err, context.Canceled)
		var e *client.Error
		require.ErrorAs(t, err, &e, "the error keeps the server's last answer")
		require.Equal(t, client.CodeRateLimited, e.Code)
		require.Len(t, f.requests(), 1)
	})

	t.Run("deadline before the wait ends", func(t *testing.T) {
		t.Parallel()
		f := newFakeServer(t, problemReply(429, rateLimitedJSON, "Retry-After", "30"))
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		begin := time.Now()
		_, err := f.client().GetVerification(ctx, "svc_1", "ver_1")
		require.Less(t, time.Since(begin), 10*time.Second, "a wait past the deadline is not started")
		require.True(t, client.IsCode(err, client.CodeRateLimited), "got %v", err)
		require.Len(t, f.requests(), 1)
	})

	t.Run("canceled before the call", func(t *testing.T) {
		t.Parallel()
		f := newFakeServer(t, jsonReply(200, verificationJSON))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := f.client().GetVerification(ctx, "svc_1", "ver_1")
		require.ErrorIs(t, err, context.Canceled)
		require.Empty(t, f.requests())
	})
}

// ---- Errors ----

func TestErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		reply   reply
		want    *client.Error // Body is checked to be the reply's body
		wantMsg string
	}{
		{
			name: "invalid parameter",
			reply: problemReply(400, `{"type":"https://otpd.dev/problems/invalid_parameter","title":"Invalid parameter",
				"status":400,"detail":"to is not a valid phone number","code":"invalid_parameter","param":"to"}`),
			want: &client.Error{HTTPStatus: 400, Type: "https://otpd.dev/problems/invalid_parameter", Title: "Invalid parameter",
				Detail: "to is not a valid phone number", Code: client.CodeInvalidParameter, Param: "to"},
			wantMsg: "otpd: 400 invalid_parameter (param to): to is not a valid phone number",
		},
		{
			name: "verification closed",
			reply: problemReply(409, `{"type":"https://otpd.dev/problems/verification_closed","title":"Verification closed",
				"status":409,"detail":"the verification can no longer be checked","code":"verification_closed",
				"verification_status":"max_attempts_reached"}`),
			want: &client.Error{HTTPStatus: 409, Type: "https://otpd.dev/problems/verification_closed", Title: "Verification closed",
				Detail: "the verification can no longer be checked", Code: client.CodeVerificationClosed,
				VerificationStatus: client.StatusMaxAttemptsReached},
			wantMsg: "otpd: 409 verification_closed: the verification can no longer be checked (verification max_attempts_reached)",
		},
		{
			name:  "rate limited, header and body",
			reply: problemReply(429, strings.Replace(rateLimitedJSON, `"retry_after_seconds":1`, `"retry_after_seconds":7`, 1), "Retry-After", "7"),
			want: &client.Error{HTTPStatus: 429, Type: "https://otpd.dev/problems/rate_limited", Title: "Rate limited",
				Detail: "too many requests", Code: client.CodeRateLimited, RetryAfter: 7 * time.Second},
			wantMsg: "otpd: 429 rate_limited: too many requests (retry after 7s)",
		},
		{
			name:  "rate limited, body only",
			reply: problemReply(429, `{"title":"Rate limited","status":429,"code":"rate_limited","retry_after_seconds":12}`),
			want: &client.Error{HTTPStatus: 429, Title: "Rate limited", Code: client.CodeRateLimited,
				RetryAfter: 12 * time.Second},
			wantMsg: "otpd: 429 rate_limited: Rate limited (retry after 12s)",
		},
		{
			name: "not found",
			reply: problemReply(404, `{"type":"https://otpd.dev/problems/not_found","title":"Not found","status":404,
				"detail":"the resource does not exist","code":"not_found"}`),
			want: &client.Error{HTTPStatus: 404, Type: "https://otpd.dev/problems/not_found", Title: "Not found",
				Detail: "the resource does not exist", Code: client.CodeNotFound},
			wantMsg: "otpd: 404 not_found: the resource does not exist",
		},
		{
			name:    "not a problem",
			reply:   reply{status: 502, header: map[string]string{"Content-Type": "text/html"}, body: "<html>\n  <h1>502 Bad Gateway</h1>\n</html>\n"},
			want:    &client.Error{HTTPStatus: 502},
			wantMsg: "otpd: 502 Bad Gateway: <html> <h1>502 Bad Gateway</h1> </html>",
		},
		{
			name:    "JSON that is not a problem",
			reply:   jsonReply(500, `["oops"]`),
			want:    &client.Error{HTTPStatus: 500},
			wantMsg: `otpd: 500 Internal Server Error: ["oops"]`,
		},
		{
			name:    "no body",
			reply:   reply{status: 418},
			want:    &client.Error{HTTPStatus: 418},
			wantMsg: "otpd: 418 I'm a teapot",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeServer(t, tt.reply)
			_, err := f.client(client.WithMaxRetries(0)).StartVerification(t.Context(), "svc_1", client.StartParams{To: "x"})
			var e *client.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.wantMsg, err.Error())
			require.Equal(t, []byte(tt.reply.body), e.Body)
			tt.want.Body = e.Body
			require.Equal(t, tt.want, e)
			if tt.want.Code != "" {
				require.True(t, client.IsCode(err, tt.want.Code))
				require.True(t, client.IsCode(fmt.Errorf("starting: %w", err), tt.want.Code), "IsCode sees wrapped errors")
			}
			require.False(t, client.IsCode(err, "some_other_code"))
		})
	}

	t.Run("webhook unavailable", func(t *testing.T) {
		t.Parallel()
		f := newFakeServer(t, problemReply(409, `{"type":"https://otpd.dev/problems/webhook_unavailable","title":"Webhook unavailable",
			"status":409,"detail":"the service has no webhook_url","code":"webhook_unavailable"}`))
		_, err := f.client().RedeliverEvent(t.Context(), "svc_1", "evt_1")
		require.True(t, client.IsCode(err, client.CodeWebhookUnavailable))
		require.Equal(t, "otpd: 409 webhook_unavailable: the service has no webhook_url", err.Error())
		require.Len(t, f.requests(), 1, "a 409 is an answer, not retried")
	})

	t.Run("IsCode on other errors", func(t *testing.T) {
		t.Parallel()
		require.False(t, client.IsCode(nil, client.CodeNotFound))
		require.False(t, client.IsCode(errors.New("not_found"), client.CodeNotFound))
	})

	t.Run("Retry-After as an HTTP date", func(t *testing.T) {
		t.Parallel()
		at := time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat)
		f := newFakeServer(t, problemReply(503, `{"code":"internal_error"}`, "Retry-After", at))
		_, err := f.client().GetService(t.Context(), "svc_1")
		var e *client.Error
		require.ErrorAs(t, err, &e)
		require.InDelta(t, (2 * time.Hour).Seconds(), e.RetryAfter.Seconds(), 5)
		require.Len(t, f.requests(), 1, "a wait of two hours is not waited for")
	})

	t.Run("readiness report", func(t *testing.T) {
		t.Parallel()
		f := newFakeServer(t, jsonReply(503, `{"status":"unavailable","checks":{"store":"ok","sms":"dial tcp: connection refused","email":"no route"}}`))
		err := f.client().Readyz(t.Context())
		var e *client.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, 503, e.HTTPStatus)
		require.Equal(t, "email: no route; sms: dial tcp: connection refused", e.Detail)
		require.Equal(t, "otpd: 503 Service Unavailable: email: no route; sms: dial tcp: connection refused", err.Error())
	})

	t.Run("undecodable success", func(t *testing.T) {
		t.Parallel()
		f := newFakeServer(t, jsonReply(200, `{"id":`))
		_, err := f.client().GetService(t.Context(), "svc_1")
		require.ErrorContains(t, err, "decoding 200 response")
		require.False(t, errors.As(err, new(*client.Error)))
	})
}

const deviceJSON = `{"id":"dev_1","platform":"ios","label":"user-42","status":"active","dead_reason":null,
	"created_at":"2026-11-26T09:00:00.000Z","dead_at":null}`

func wantDevice() *client.Device {
	label := "user-42"
	return &client.Device{ID: "dev_1", Platform: "ios", Label: &label, Status: "active",
		CreatedAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
}

const templateJSON = `{"channel":"email","purpose":"transaction","locale":"pt-BR","subject":"{brand}","text":"{amount} {payee} {code}",
	"created_at":"2026-11-26T09:00:00.000Z","updated_at":"2026-11-26T09:05:00.000Z"}`

func wantTemplate() *client.Template {
	subject := "{brand}"
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	return &client.Template{Channel: "email", Purpose: "transaction", Locale: "pt-BR", Subject: &subject,
		Text: "{amount} {payee} {code}", CreatedAt: at, UpdatedAt: at.Add(5 * time.Minute)}
}
