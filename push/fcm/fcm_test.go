package fcm_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/push"
	"github.com/otpd/otpd/push/fcm"
)

const (
	projectID   = "acme-otp"
	clientEmail = "otpd@acme-otp.iam.gserviceaccount.com"
	regToken    = "bk3RNwTe3H0:CI2k_HHwgIpoDKCIZvvDMExUdFQ3P1-dp7L5a8qeDLKsWBRcU7chKgTA8Nj7dKdK6q7YKS1A8h-qiAzrSrY0Q8Cx0TlqjFdeXC1Lu2Qd1JnJ5mPEc-UN6cYc0Iwa8k2r8bJG2n2Kv9wW"
	messageName = "projects/acme-otp/messages/0:1500415314455276%31bd1c9631bd1c96"
)

// serviceKey is the test service account's RSA key, made once: RSA key
// generation is slow under -race.
var serviceKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// serviceAccountJSON is a key file as the Google Cloud console makes
// them, with token_uri pointing at tokenURL.
func serviceAccountJSON(t testing.TB, project, tokenURL string) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(serviceKey())
	require.NoError(t, err)
	b, err := json.Marshal(map[string]string{
		"type":                        "service_account",
		"project_id":                  project,
		"private_key_id":              "0123456789abcdef0123456789abcdef01234567",
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                clientEmail,
		"client_id":                   "100000000000000000000",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURL,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	})
	require.NoError(t, err)
	return b
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// request is what the fake FCM saw.
type request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// testBundle is a fake FCM API and Google token endpoint on one local
// TLS server, and a sender to them.
type testBundle struct {
	sender *fcm.Sender
	clock  *clock
	url    string

	mu         sync.Mutex
	reqs       []request
	tokens     []string // access tokens issued, in order
	tokenReply func(w http.ResponseWriter) bool
	reply      func(w http.ResponseWriter, r *http.Request)
}

func setup(t *testing.T, opts ...func(*fcm.Config)) *testBundle {
	t.Helper()
	b := &testBundle{
		clock: &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)},
		reply: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=UTF-8")
			_, _ = fmt.Fprintf(w, `{"name": %q}`, messageName)
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", b.token)
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", b.send)
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	cfg := fcm.Config{
		ServiceAccountJSON: serviceAccountJSON(t, projectID, srv.URL+"/token"),
		BaseURL:            srv.URL,
		HTTPClient:         srv.Client(),
		Now:                b.clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := fcm.New(cfg)
	require.NoError(t, err)
	b.sender = s
	return b
}

// token is Google's token endpoint: it checks the JWT bearer grant
// against the service account's public key.
func (b *testBundle) token(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	reply := b.tokenReply
	b.mu.Unlock()
	if reply != nil && reply(w) {
		return
	}
	if r.PostFormValue("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
		return
	}
	tok, err := jwt.Parse(r.PostFormValue("assertion"), func(*jwt.Token) (any, error) {
		return &serviceKey().PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		http.Error(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, http.StatusBadRequest)
		return
	}
	c := tok.Claims.(jwt.MapClaims)
	if c["iss"] != clientEmail || c["scope"] != fcm.Scope || c["aud"] != b.url+"/token" {
		http.Error(w, `{"error":"invalid_grant","error_description":"bad claims"}`, http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	access := fmt.Sprintf("ya29.test-%d", len(b.tokens)+1)
	b.tokens = append(b.tokens, access)
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"access_token":%q,"expires_in":3599,"token_type":"Bearer"}`, access)
}

// send is messages:send: it wants a token the endpoint issued.
func (b *testBundle) send(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	known := false
	for _, tok := range b.tokens {
		known = known || r.Header.Get("Authorization") == "Bearer "+tok
	}
	b.reqs = append(b.reqs, request{r.Method, r.URL.Path, r.Header.Clone(), body})
	reply := b.reply
	b.mu.Unlock()
	if !known {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`)
		return
	}
	reply(w, r)
}

func (b *testBundle) requests() []request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]request(nil), b.reqs...)
}

func (b *testBundle) issued() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.tokens...)
}

func (b *testBundle) setReply(f func(w http.ResponseWriter, r *http.Request)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reply = f
}

func device() push.Device {
	return push.Device{ID: "dev_01", ServiceID: "svc_01", Platform: push.PlatformAndroid, Token: regToken}
}

func (b *testBundle) outbound(ttl time.Duration) *otpd.Outbound {
	return &otpd.Outbound{
		MessageID:      "msg_01hzy8k6d2a9xq3m4n5p6r7s8t",
		VerificationID: "ver_01hzy8k6d2",
		ServiceID:      "svc_01",
		Channel:        otpd.ChannelPush,
		To:             "dev_01",
		Brand:          "Acme Bank",
		ExpiresAt:      b.clock.Now().Add(ttl),
		Code:           "123456",
		Rendered:       otpd.Rendered{Text: "Your Acme Bank code is 123456"},
	}
}

func TestSendRequest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.sender.Send(context.Background(), device(), b.outbound(10*time.Minute))
	require.NoError(t, err)
	require.Equal(t, otpd.SendResult{ProviderID: messageName}, res)

	reqs := b.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "/v1/projects/acme-otp/messages:send", r.Path)
	require.Equal(t, "Bearer ya29.test-1", r.Header.Get("Authorization"))
	require.Equal(t, "application/json; charset=utf-8", r.Header.Get("Content-Type"))
	require.JSONEq(t, `{"message": {
		"token": "`+regToken+`",
		"data": {
			"code": "123456",
			"text": "Your Acme Bank code is 123456",
			"brand": "Acme Bank",
			"verification_id": "ver_01hzy8k6d2",
			"expires_at": "2025-03-01T12:10:00Z"
		},
		"android": {"priority": "HIGH", "ttl": "600s"}
	}}`, string(r.Body))
}

func TestSendOptionalFields(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msg := b.outbound(0)
	msg.ExpiresAt, msg.Brand, msg.VerificationID = time.Time{}, "", ""
	_, err := b.sender.Send(context.Background(), device(), msg)
	require.NoError(t, err)
	require.JSONEq(t, `{"message": {
		"token": "`+regToken+`",
		"data": {"code": "123456", "text": "Your Acme Bank code is 123456"},
		"android": {"priority": "HIGH"}
	}}`, string(b.requests()[0].Body), "no ttl without an expiry: FCM's default")
}

func TestTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ttl  time.Duration
		want string
	}{
		{"whole seconds, rounded down", 90*time.Second + 900*time.Millisecond, "90s"},
		{"an expired code: now or never", -time.Minute, "0s"},
		{"capped at four weeks", 40 * 24 * time.Hour, "2419200s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.sender.Send(context.Background(), device(), b.outbound(tt.ttl))
			require.NoError(t, err)
			var body struct {
				Message struct {
					Android struct{ TTL string } `json:"android"`
				} `json:"message"`
			}
			require.NoError(t, json.Unmarshal(b.requests()[0].Body, &body))
			require.Equal(t, tt.want, body.Message.Android.TTL)
		})
	}
}

func TestProjectIDOverride(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *fcm.Config) { c.ProjectID = "other-project" })
	_, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
	require.NoError(t, err)
	require.Equal(t, "/v1/projects/other-project/messages:send", b.requests()[0].Path)
}

func TestAccessTokenIsCached(t *testing.T) {
	t.Parallel()
	b := setup(t)
	send := func() {
		t.Helper()
		_, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
		require.NoError(t, err)
	}
	send()
	b.clock.Advance(30 * time.Minute)
	send()
	require.Equal(t, []string{"ya29.test-1"}, b.issued(), "one token while it is valid")
	b.clock.Advance(30 * time.Minute)
	send()
	require.Equal(t, []string{"ya29.test-1", "ya29.test-2"}, b.issued(), "a new one near its expiry")
	reqs := b.requests()
	require.Equal(t, "Bearer ya29.test-2", reqs[2].Header.Get("Authorization"))
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			msg := b.outbound(time.Minute)
			msg.MessageID = fmt.Sprintf("msg_%d", i)
			res, err := b.sender.Send(context.Background(), device(), msg)
			assert.NoError(t, err)
			assert.Equal(t, messageName, res.ProviderID)
		})
	}
	wg.Wait()
	require.Len(t, b.requests(), 50)
	require.Len(t, b.issued(), 1, "concurrent sends share one token fetch")
}

// fcmError is a google.rpc.Status refusal.
func fcmError(status int, canonical, message, details string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":%q,"details":[%s]}}`, status, message, canonical, details)
	}
}

const (
	unregistered   = `{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}`
	invalidArg     = `{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}`
	tokenViolation = `{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token","description":"Invalid registration token"}]}`
	dataViolation  = `{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.data[0].value","description":"Invalid value at 'message.data[0].value' (TYPE_STRING), 123456"}]}`
)

func TestSendErrors(t *testing.T) {
	t.Parallel()
	withRetryAfter := func(v string, f func(w http.ResponseWriter, r *http.Request)) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", v)
			f(w, r)
		}
	}
	tests := []struct {
		name       string
		reply      func(w http.ResponseWriter, r *http.Request)
		permanent  bool
		dead       bool
		code       string
		retryAfter time.Duration
	}{
		{"UNREGISTERED", fcmError(404, "NOT_FOUND", "Requested entity was not found.", unregistered), true, true, "UNREGISTERED", 0},
		{"invalid token, field violation", fcmError(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", invalidArg+","+tokenViolation), true, true, "INVALID_ARGUMENT", 0},
		{"invalid token, message", fcmError(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", invalidArg), true, true, "INVALID_ARGUMENT", 0},
		{"invalid data value", fcmError(400, "INVALID_ARGUMENT", "Invalid value at 'message.data[0].value' (TYPE_STRING), 123456", dataViolation), true, false, "INVALID_ARGUMENT", 0},
		{"payload too large", fcmError(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", ""), true, false, "INVALID_ARGUMENT", 0},
		{"wrong project: 404 without UNREGISTERED", fcmError(404, "NOT_FOUND", "Requested entity was not found.", ""), true, false, "NOT_FOUND", 0},
		{"SENDER_ID_MISMATCH", fcmError(403, "PERMISSION_DENIED", "SenderId mismatch", `{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"SENDER_ID_MISMATCH"}`), true, false, "SENDER_ID_MISMATCH", 0},
		{"PERMISSION_DENIED", fcmError(403, "PERMISSION_DENIED", "Permission 'cloudmessaging.messages.create' denied", ""), true, false, "PERMISSION_DENIED", 0},
		{"THIRD_PARTY_AUTH_ERROR", fcmError(401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service", `{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"THIRD_PARTY_AUTH_ERROR"}`), true, false, "THIRD_PARTY_AUTH_ERROR", 0},
		{"UNAUTHENTICATED", fcmError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", ""), false, false, "UNAUTHENTICATED", 0},
		{"QUOTA_EXCEEDED with Retry-After seconds", withRetryAfter("30", fcmError(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", `{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"QUOTA_EXCEEDED"}`)), false, false, "QUOTA_EXCEEDED", 30 * time.Second},
		{"UNAVAILABLE with a Retry-After date", withRetryAfter("Sat, 01 Mar 2025 12:02:00 GMT", fcmError(503, "UNAVAILABLE", "The service is currently unavailable.", `{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNAVAILABLE"}`)), false, false, "UNAVAILABLE", 2 * time.Minute},
		{"INTERNAL", fcmError(500, "INTERNAL", "Internal error encountered.", `{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INTERNAL"}`), false, false, "INTERNAL", 0},
		{"429 without a body", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(429) }, false, false, "429", 0},
		{"502 HTML from a proxy", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<!DOCTYPE html><title>Error 502 (Server Error)!!1</title>")
		}, false, false, "502", 0},
		{"an unknown 4xx", fcmError(409, "ABORTED", "", ""), true, false, "ABORTED", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.setReply(tt.reply)
			_, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
			var se *otpd.SendError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.permanent, se.Permanent, "%v", err)
			require.Equal(t, tt.code, se.Code)
			require.Equal(t, tt.dead, errors.Is(err, push.ErrDeadToken))
			require.Equal(t, tt.retryAfter, push.RetryAfter(err))
			if tt.retryAfter > 0 {
				require.Contains(t, err.Error(), "retry after "+tt.retryAfter.String())
			}
			require.NotContains(t, err.Error(), "123456", "FCM's message may quote the code; it is never kept")
			require.NotContains(t, err.Error(), regToken)
		})
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		permanent bool
	}{
		{"key deleted", 400, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, true},
		{"rate limited", 429, `{"error":"rate_limit_exceeded"}`, false},
		{"server error", 503, ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.mu.Lock()
			b.tokenReply = func(w http.ResponseWriter) bool {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
				return true
			}
			b.mu.Unlock()
			_, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
			require.Error(t, err)
			require.Equal(t, tt.permanent, otpd.IsPermanent(err), "%v", err)
			require.False(t, errors.Is(err, push.ErrDeadToken))
			require.Empty(t, b.requests(), "nothing is sent without a token")
		})
	}
}

func TestMalformedRegistrationToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tok := range []string{"", "has space", "new\nline", "ünicode", strings.Repeat("a", 5000)} {
		dev := device()
		dev.Token = tok
		_, err := b.sender.Send(context.Background(), dev, b.outbound(time.Minute))
		require.True(t, otpd.IsPermanent(err), "%q", tok)
		require.ErrorIs(t, err, push.ErrDeadToken)
	}
	require.Empty(t, b.requests())
}

func TestTimeoutIsTemporary(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *fcm.Config) { c.Timeout = 200 * time.Millisecond })
	// Fetch the token first, so the timeout hits messages:send. Signing
	// and fetching it may itself take longer than 200 ms on a loaded
	// machine: try until a send goes through (the token is then cached).
	require.Eventually(t, func() bool {
		_, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
		return err == nil
	}, 20*time.Second, 10*time.Millisecond, "no send went through to warm the token up")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	b.setReply(func(http.ResponseWriter, *http.Request) { <-release })
	_, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, otpd.IsPermanent(err))
}

func TestAcceptedWithoutAName(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.setReply(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "not json") })
	res, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
	require.NoError(t, err, "a 2xx is accepted: failing it would send the code again")
	require.Empty(t, res.ProviderID)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	sa := serviceAccountJSON(t, projectID, "https://oauth2.googleapis.com/token")
	noProject := serviceAccountJSON(t, "", "https://oauth2.googleapis.com/token")
	valid := fcm.Config{ServiceAccountJSON: sa}
	require.NoError(t, valid.Validate())
	require.NoError(t, fcm.Config{ServiceAccountJSON: noProject, ProjectID: "acme-otp"}.Validate())
	tests := []struct {
		name string
		cfg  fcm.Config
		want string
	}{
		{"no key file", fcm.Config{}, "ServiceAccountJSON is required"},
		{"not JSON", fcm.Config{ServiceAccountJSON: []byte("-----BEGIN PRIVATE KEY-----")}, "not JSON"},
		{"not a service account", fcm.Config{ServiceAccountJSON: []byte(`{"type":"authorized_user"}`)}, "service_account"},
		{"no project id", fcm.Config{ServiceAccountJSON: noProject}, "ProjectID"},
		{"project id with a slash", fcm.Config{ServiceAccountJSON: sa, ProjectID: "acme/../x"}, "ProjectID"},
		{"base URL with a path", fcm.Config{ServiceAccountJSON: sa, BaseURL: "https://fcm.googleapis.com/v1"}, "BaseURL"},
		{"negative timeout", fcm.Config{ServiceAccountJSON: sa, Timeout: -1}, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "PRIVATE KEY-----\nMII")
			_, err = fcm.New(tt.cfg)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
