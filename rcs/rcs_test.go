package rcs_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/rcs"
)

const (
	agentID     = "acme-otp-agent@rbm.goog"
	clientEmail = "rbm-agent@acme-otp.iam.gserviceaccount.com"
	clientToken = "SJENCPGJESMGUFPY"
	to          = "+447700900123"
	otpdMsgID   = "msg_01hzy8k6d2a9xq3m4n5p6r7s8t"
)

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// serviceAccountJSON is a key file as the Cloud console writes it.
func serviceAccountJSON(t testing.TB, tokenURI string) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(testKey())
	require.NoError(t, err)
	b, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "acme-otp",
		"private_key_id": "7e1f0c3b2a",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   clientEmail,
		"client_id":      "108734019283740192837",
		"token_uri":      tokenURI,
	})
	require.NoError(t, err)
	return b
}

// apiRequest is what the fake RBM API saw.
type apiRequest struct {
	Method, Path string
	Query        url.Values
	Header       http.Header
	Body         string
}

// testBundle is a fake Google on 127.0.0.1 (token endpoint and RBM API)
// and a channel pointed at it.
type testBundle struct {
	ch     *rcs.Channel
	tokens atomic.Int64
	mu     sync.Mutex
	reqs   []apiRequest
	// token answers the token endpoint; a valid token by default.
	token func(w http.ResponseWriter)
	// capabilities and create answer the two API methods; 200 by default.
	capabilities func(w http.ResponseWriter, n int)
	create       func(w http.ResponseWriter, n int)
	nCap, nMsg   int
}

func setup(t *testing.T, opts ...func(*rcs.Config)) *testBundle {
	t.Helper()
	b := &testBundle{
		token: func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"ya29.rbm-token","expires_in":3599,"token_type":"Bearer"}`)
		},
		capabilities: func(w http.ResponseWriter, _ int) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"features":["REVOCATION","RICHCARD_STANDALONE","ACTION_DIAL"]}`)
		},
		create: func(w http.ResponseWriter, _ int) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"name":"phones/+447700900123/agentMessages/x","sendTime":"2026-03-01T12:00:00.123Z","contentMessage":{"text":"..."}}`)
		},
	}
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/token" {
			b.tokens.Add(1)
			form, _ := url.ParseQuery(string(body))
			_, err := jwt.Parse(form.Get("assertion"), func(*jwt.Token) (any, error) { return &testKey().PublicKey, nil },
				jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(srvURL+"/token"), jwt.WithIssuer(clientEmail))
			if err != nil || form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)
				return
			}
			b.mu.Lock()
			reply := b.token
			b.mu.Unlock()
			reply(w)
			return
		}
		b.mu.Lock()
		b.reqs = append(b.reqs, apiRequest{r.Method, r.URL.Path, r.URL.Query(), r.Header.Clone(), string(body)})
		var reply func(http.ResponseWriter, int)
		var n int
		switch {
		case strings.HasSuffix(r.URL.Path, "/capabilities"):
			b.nCap++
			reply, n = b.capabilities, b.nCap
		case strings.HasSuffix(r.URL.Path, "/agentMessages"):
			b.nMsg++
			reply, n = b.create, b.nMsg
		}
		b.mu.Unlock()
		if reply == nil {
			w.WriteHeader(http.StatusNotImplemented)
			return
		}
		reply(w, n)
	}))
	t.Cleanup(srv.Close)
	srvURL = srv.URL
	cfg := rcs.Config{
		ServiceAccountJSON: serviceAccountJSON(t, "https://oauth2.googleapis.com/token"),
		AgentID:            agentID,
		ClientToken:        clientToken,
		BaseURL:            srv.URL,
		TokenURL:           srv.URL + "/token",
	}
	for _, o := range opts {
		o(&cfg)
	}
	ch, err := rcs.New(cfg)
	require.NoError(t, err)
	b.ch = ch
	return b
}

func (b *testBundle) requests() []apiRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]apiRequest(nil), b.reqs...)
}

func (b *testBundle) set(f func()) {
	b.mu.Lock()
	f()
	b.mu.Unlock()
}

// googleError writes a Google API error body.
func googleError(w http.ResponseWriter, code int, status, message string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":%q}}`, code, message, status)
}

func outbound(ttl time.Duration) *otpd.Outbound {
	return &otpd.Outbound{
		MessageID: otpdMsgID,
		Channel:   otpd.ChannelRCS,
		To:        to,
		ExpiresAt: time.Now().Add(ttl),
		Code:      "123456",
		Rendered:  otpd.Rendered{Text: "Your Acme Bank code is 123456. Don't share it."},
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// docUUIDv5 computes a name-based UUID step by step as RFC 9562 section
// 5.5 describes it, independently of the package.
func docUUIDv5(namespace, name string) string {
	ns, err := hex.DecodeString(strings.ReplaceAll(namespace, "-", ""))
	if err != nil {
		panic(err)
	}
	sum := sha1.Sum(append(ns, name...))
	u := sum[:16]
	u[6] = (u[6] & 0x0f) | 0x50
	u[8] = (u[8] & 0x3f) | 0x80
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func TestMessageID(t *testing.T) {
	t.Parallel()
	id := rcs.MessageID(otpdMsgID)
	require.Equal(t, docUUIDv5("a0afd590-5b3c-423f-8577-e1256ef30616", otpdMsgID), id)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id)
	require.Equal(t, id, rcs.MessageID(otpdMsgID), "stable across calls (and processes)")
	require.NotEqual(t, id, rcs.MessageID("msg_01hzy8k6d2a9xq3m4n5p6r7s8v"))
	require.Regexp(t, uuidV4, rcs.MessageID(""), "no otpd id: a random UUID")
	require.NotEqual(t, rcs.MessageID(""), rcs.MessageID(""))
}

func TestSendRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.ch.Send(context.Background(), outbound(10*time.Minute+500*time.Millisecond))
	require.NoError(t, err)
	id := rcs.MessageID(otpdMsgID)
	require.Equal(t, otpd.SendResult{ProviderID: id, Refs: []string{id}}, res)
	require.EqualValues(t, 1, b.tokens.Load())

	reqs := b.requests()
	require.Len(t, reqs, 2)
	capReq, msgReq := reqs[0], reqs[1]

	require.Equal(t, http.MethodGet, capReq.Method)
	require.Equal(t, "/v1/phones/+447700900123/capabilities", capReq.Path)
	require.Equal(t, []string{"agentId", "requestId"}, keys(capReq.Query))
	require.Equal(t, agentID, capReq.Query.Get("agentId"))
	require.Regexp(t, uuidV4, capReq.Query.Get("requestId"))
	require.Equal(t, "Bearer ya29.rbm-token", capReq.Header.Get("Authorization"))
	require.Empty(t, capReq.Body)

	require.Equal(t, http.MethodPost, msgReq.Method)
	require.Equal(t, "/v1/phones/+447700900123/agentMessages", msgReq.Path)
	require.Equal(t, []string{"agentId", "messageId"}, keys(msgReq.Query))
	require.Equal(t, agentID, msgReq.Query.Get("agentId"))
	require.Equal(t, id, msgReq.Query.Get("messageId"))
	require.Equal(t, "Bearer ya29.rbm-token", msgReq.Header.Get("Authorization"))
	require.Equal(t, "application/json; charset=utf-8", msgReq.Header.Get("Content-Type"))
	var body map[string]any
	require.NoError(t, json.Unmarshal([]byte(msgReq.Body), &body))
	ttl, _ := body["ttl"].(string)
	require.Contains(t, []string{"599s", "600s"}, ttl, "the code's remaining time, rounded down")
	require.Equal(t, map[string]any{
		"contentMessage":     map[string]any{"text": "Your Acme Bank code is 123456. Don't share it."},
		"messageTrafficType": "AUTHENTICATION",
		"ttl":                ttl,
	}, body)

	// A second send checks again with a new requestId (RBM ignores a
	// repeated one) and uses the cached token.
	_, err = b.ch.Send(context.Background(), outbound(time.Minute))
	require.NoError(t, err)
	reqs = b.requests()
	require.NotEqual(t, reqs[0].Query.Get("requestId"), reqs[2].Query.Get("requestId"))
	require.EqualValues(t, 1, b.tokens.Load())
}

func keys(v url.Values) []string {
	var ks []string
	for k := range v {
		ks = append(ks, k)
	}
	if len(ks) == 2 && ks[0] > ks[1] {
		ks[0], ks[1] = ks[1], ks[0]
	}
	return ks
}

func TestSendTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		expires func() time.Time
		want    any // the ttl field, nil for none
	}{
		{"beyond 15 days", func() time.Time { return time.Now().Add(20 * 24 * time.Hour) }, "1296000s"},
		{"no expiry", func() time.Time { return time.Time{} }, nil},
		{"one second", func() time.Time { return time.Now().Add(1500 * time.Millisecond) }, "1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			msg := outbound(0)
			msg.ExpiresAt = tt.expires()
			_, err := b.ch.Send(context.Background(), msg)
			require.NoError(t, err)
			reqs := b.requests()
			var body map[string]any
			require.NoError(t, json.Unmarshal([]byte(reqs[1].Body), &body))
			require.Equal(t, tt.want, body["ttl"])
		})
	}
}

func TestSendExpiredCode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.ch.Send(context.Background(), outbound(-time.Second))
	require.True(t, otpd.IsPermanent(err))
	require.ErrorContains(t, err, "expired")
	require.Empty(t, b.requests(), "a dead code is not sent")
	require.Zero(t, b.tokens.Load())
}

func TestSendInvalidDestination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, dest := range []string{"447700900123", "+44 7700 900123", "+44/../../x", "+0447700900123", "+1", ""} {
		msg := outbound(time.Minute)
		msg.To = dest
		_, err := b.ch.Send(context.Background(), msg)
		require.True(t, otpd.IsPermanent(err), dest)
	}
	require.Empty(t, b.requests())
}

func TestSendNotCapable(t *testing.T) {
	t.Parallel()
	t.Run("capability check 404", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.set(func() {
			b.capabilities = func(w http.ResponseWriter, _ int) {
				googleError(w, 404, "NOT_FOUND", "Requested entity was not found.")
			}
		})
		_, err := b.ch.Send(context.Background(), outbound(time.Minute))
		require.ErrorIs(t, err, rcs.ErrNotCapable)
		require.True(t, otpd.IsPermanent(err), "the next channel takes over at once")
		var se *otpd.SendError
		require.ErrorAs(t, err, &se)
		require.Equal(t, "NOT_FOUND", se.Code)
		require.Len(t, b.requests(), 1, "nothing is sent")
	})
	t.Run("send 404", func(t *testing.T) {
		t.Parallel()
		// Capable a moment ago, not any more (RCS turned off).
		b := setup(t)
		b.set(func() {
			b.create = func(w http.ResponseWriter, _ int) {
				googleError(w, 404, "NOT_FOUND", "Requested entity was not found.")
			}
		})
		_, err := b.ch.Send(context.Background(), outbound(time.Minute))
		require.ErrorIs(t, err, rcs.ErrNotCapable)
		require.True(t, otpd.IsPermanent(err))
	})
}

func TestSendTransientThenOK(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.set(func() {
		b.create = func(w http.ResponseWriter, n int) {
			if n == 1 {
				googleError(w, 503, "UNAVAILABLE", "The service is currently unavailable.")
				return
			}
			_, _ = io.WriteString(w, `{}`)
		}
	})
	msg := outbound(time.Minute)
	_, err := b.ch.Send(context.Background(), msg)
	require.Error(t, err)
	require.False(t, otpd.IsPermanent(err), "retried with backoff")
	require.ErrorContains(t, err, "HTTP 503 UNAVAILABLE: The service is currently unavailable.")

	res, err := b.ch.Send(context.Background(), msg)
	require.NoError(t, err)
	require.Equal(t, rcs.MessageID(otpdMsgID), res.ProviderID)
	reqs := b.requests()
	require.Len(t, reqs, 4)
	require.Equal(t, reqs[1].Query.Get("messageId"), reqs[3].Query.Get("messageId"), "the retry reuses the messageId")
	first, retry := map[string]any{}, map[string]any{}
	require.NoError(t, json.Unmarshal([]byte(reqs[1].Body), &first))
	require.NoError(t, json.Unmarshal([]byte(reqs[3].Body), &retry))
	delete(first, "ttl") // a second may have passed
	delete(retry, "ttl")
	require.Equal(t, first, retry, "the same message")
}

func TestSendDuplicateMessageID(t *testing.T) {
	t.Parallel()
	// The first attempt reached RBM but its answer was lost; the retry
	// (same messageId) is refused as a duplicate, which is success.
	b := setup(t)
	b.set(func() {
		b.create = func(w http.ResponseWriter, _ int) {
			googleError(w, 409, "ALREADY_EXISTS", "Requested entity already exists")
		}
	})
	res, err := b.ch.Send(context.Background(), outbound(time.Minute))
	require.NoError(t, err)
	id := rcs.MessageID(otpdMsgID)
	require.Equal(t, otpd.SendResult{ProviderID: id, Refs: []string{id}}, res)
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		onCap     bool // the capability check fails rather than the send
		code      int
		status    string
		message   string
		permanent bool
		want      string
	}{
		{"invalid argument", false, 400, "INVALID_ARGUMENT", "Invalid value at 'agent_message.ttl'", true,
			"rcs: send: HTTP 400 INVALID_ARGUMENT: Invalid value at 'agent_message.ttl'"},
		{"permission denied", false, 403, "PERMISSION_DENIED", "Agent is not launched for +447700900123", true,
			"rcs: send: HTTP 403 PERMISSION_DENIED: Agent is not launched for <destination>"},
		{"permission denied on check", true, 403, "PERMISSION_DENIED", "The caller does not have permission", true,
			"rcs: capability check: HTTP 403 PERMISSION_DENIED: The caller does not have permission"},
		{"rate limited", false, 429, "RESOURCE_EXHAUSTED", "Quota exceeded", false, "HTTP 429 RESOURCE_EXHAUSTED: Quota exceeded"},
		{"internal", false, 500, "INTERNAL", "Internal error encountered.", false, "HTTP 500 INTERNAL"},
		{"unavailable on check", true, 503, "UNAVAILABLE", "The service is currently unavailable.", false, "capability check: HTTP 503 UNAVAILABLE"},
		{"unauthenticated", false, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", false, "HTTP 401 UNAUTHENTICATED"},
		{"gateway, no JSON", false, 502, "", "", false, "rcs: send: HTTP 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			fail := func(w http.ResponseWriter, _ int) {
				if tt.status == "" {
					w.WriteHeader(tt.code)
					_, _ = io.WriteString(w, "<html>Bad Gateway</html>")
					return
				}
				googleError(w, tt.code, tt.status, tt.message)
			}
			b.set(func() {
				if tt.onCap {
					b.capabilities = fail
				} else {
					b.create = fail
				}
			})
			_, err := b.ch.Send(context.Background(), outbound(time.Minute))
			require.Error(t, err)
			require.Equal(t, tt.permanent, otpd.IsPermanent(err))
			require.False(t, errors.Is(err, rcs.ErrNotCapable))
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "447700900123", "the number is masked")
			var se *otpd.SendError
			require.ErrorAs(t, err, &se)
			if tt.status != "" {
				require.Equal(t, tt.status, se.Code)
			} else {
				require.Equal(t, "502", se.Code)
			}
		})
	}
}

func TestSendConnectionLost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.set(func() {
		b.create = func(http.ResponseWriter, int) { panic(http.ErrAbortHandler) }
	})
	_, err := b.ch.Send(context.Background(), outbound(time.Minute))
	require.ErrorContains(t, err, "rcs: send: ")
	require.False(t, otpd.IsPermanent(err), "retried; the same messageId makes the retry safe")
	require.NotContains(t, err.Error(), "447700900123", "transport errors do not quote the URL")
}

func TestTokenCachedAcrossSends(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := b.ch.Send(context.Background(), outbound(time.Minute))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, b.ch.Ready(context.Background()))
	require.EqualValues(t, 1, b.tokens.Load(), "one token for every send")
	require.Len(t, b.requests(), 40)
}

func TestTokenFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.set(func() {
		b.token = func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"Invalid grant: account not found"}`)
		}
	})
	_, err := b.ch.Send(context.Background(), outbound(time.Minute))
	require.Error(t, err)
	require.False(t, otpd.IsPermanent(err), "a credentials problem is the operator's to fix; the message waits")
	var se *otpd.SendError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "oauth_token", se.Code)
	require.ErrorContains(t, err, "invalid_grant: Invalid grant: account not found")
	require.Empty(t, b.requests(), "no API request without a token")

	err = b.ch.Ready(context.Background())
	require.ErrorContains(t, err, "invalid_grant")

	// Fixed: the next call fetches a token.
	b.set(func() {
		b.token = func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"access_token":"ya29.new","expires_in":3599,"token_type":"Bearer"}`)
		}
	})
	require.NoError(t, b.ch.Ready(context.Background()))
	_, err = b.ch.Send(context.Background(), outbound(time.Minute))
	require.NoError(t, err)
	require.Equal(t, "Bearer ya29.new", b.requests()[0].Header.Get("Authorization"))
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	sa := serviceAccountJSON(t, "")
	tests := []struct {
		name string
		edit func(*rcs.Config)
		want string
	}{
		{"valid", func(*rcs.Config) {}, ""},
		{"no key", func(c *rcs.Config) { c.ServiceAccountJSON = nil }, "ServiceAccountJSON is required"},
		{"bad key", func(c *rcs.Config) { c.ServiceAccountJSON = []byte(`{"type":"authorized_user"}`) }, "rcs: ServiceAccountJSON: googleauth:"},
		{"no agent", func(c *rcs.Config) { c.AgentID = "" }, "AgentID is required"},
		{"agent with space", func(c *rcs.Config) { c.AgentID = "a b" }, "AgentID"},
		{"traffic type", func(c *rcs.Config) { c.TrafficType = "otp" }, "TrafficType"},
		{"base URL path", func(c *rcs.Config) { c.BaseURL = "https://rcsbusinessmessaging.googleapis.com/v1" }, "BaseURL"},
		{"token URL", func(c *rcs.Config) { c.TokenURL = "/token" }, "TokenURL"},
		{"timeout", func(c *rcs.Config) { c.Timeout = -1 }, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := rcs.Config{ServiceAccountJSON: sa, AgentID: agentID}
			tt.edit(&cfg)
			err := cfg.Validate()
			_, newErr := rcs.New(cfg)
			if tt.want == "" {
				require.NoError(t, err)
				require.NoError(t, newErr)
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.Equal(t, err.Error(), newErr.Error())
			require.NotContains(t, err.Error(), "PRIVATE KEY")
		})
	}
}
