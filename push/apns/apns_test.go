package apns_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/push"
	"github.com/otpd/otpd/push/apns"
)

const (
	keyID       = "ABC123DEFG"
	teamID      = "DEF123GHIJ"
	topic       = "com.example.bank"
	deviceToken = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"
	messageID   = "msg_01hzy8k6d2a9xq3m4n5p6r7s8t"
	// apnsID is MessageID(messageID), computed independently with
	// Python's uuid.uuid5(UUID("e59cb389-4e2b-4c0b-ae70-b87fb3e8f5bf"), messageID).
	apnsID = "83aede3e-c249-5936-837f-6d12e587deca"
)

// clock is a settable clock for the sender and the fake APNs.
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

// request is what the fake APNs saw.
type request struct {
	Method, Path string
	ProtoMajor   int
	Header       http.Header
	Body         []byte
	Token        string // the provider token
	Issued       time.Time
}

// testBundle is a fake APNs (HTTP/2 over TLS, on 127.0.0.1) that checks
// provider tokens with the public half of a key generated for the test,
// and a sender to it.
type testBundle struct {
	sender *apns.Sender
	clock  *clock
	key    *ecdsa.PrivateKey
	mu     sync.Mutex
	reqs   []request
	// reply answers each request whose provider token verified; 200
	// with the request's apns-id by default.
	reply func(w http.ResponseWriter, r *http.Request, seen request)
}

func newKey(t testing.TB) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func setup(t *testing.T, opts ...func(*apns.Config)) *testBundle {
	t.Helper()
	key, p8 := newKey(t)
	b := &testBundle{
		clock: &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)},
		key:   key,
		reply: func(w http.ResponseWriter, r *http.Request, _ request) {
			w.Header().Set("apns-id", r.Header.Get("apns-id"))
			w.WriteHeader(http.StatusOK)
		},
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(b.serve))
	// Concurrent first requests may each dial; the transport keeps one
	// connection and drops the others mid-handshake, which the server
	// would log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cfg := apns.Config{
		KeyID:      keyID,
		TeamID:     teamID,
		Key:        p8,
		Topic:      topic,
		BaseURL:    srv.URL,
		HTTPClient: srv.Client(),
		Now:        b.clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := apns.New(cfg)
	require.NoError(t, err)
	b.sender = s
	return b
}

// serve checks the provider token as APNs does and records the request.
func (b *testBundle) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	seen := request{Method: r.Method, Path: r.URL.Path, ProtoMajor: r.ProtoMajor, Header: r.Header.Clone(), Body: body}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "bearer ")
	if !ok {
		writeReason(w, http.StatusForbidden, "MissingProviderToken")
		return
	}
	seen.Token = tok
	parsed, err := jwt.Parse(tok, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != keyID {
			return nil, fmt.Errorf("kid %v", t.Header["kid"])
		}
		return &b.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		writeReason(w, http.StatusForbidden, "InvalidProviderToken")
		return
	}
	claims := parsed.Claims.(jwt.MapClaims)
	iat, _ := claims["iat"].(float64)
	if claims["iss"] != teamID || len(claims) != 2 || iat == 0 {
		writeReason(w, http.StatusForbidden, "InvalidProviderToken")
		return
	}
	seen.Issued = time.Unix(int64(iat), 0).UTC()
	b.mu.Lock()
	b.reqs = append(b.reqs, seen)
	reply := b.reply
	b.mu.Unlock()
	if age := b.clock.Now().Sub(seen.Issued); age >= time.Hour {
		writeReason(w, http.StatusForbidden, "ExpiredProviderToken")
		return
	}
	reply(w, r, seen)
}

func writeReason(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"reason":%q}`, reason)
}

func (b *testBundle) requests() []request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]request(nil), b.reqs...)
}

func (b *testBundle) setReply(f func(w http.ResponseWriter, r *http.Request, seen request)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reply = f
}

func device() push.Device {
	return push.Device{ID: "dev_01", ServiceID: "svc_01", Platform: push.PlatformIOS, Token: deviceToken}
}

func (b *testBundle) outbound(ttl time.Duration) *otpd.Outbound {
	return &otpd.Outbound{
		MessageID:      messageID,
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
	msg := b.outbound(10 * time.Minute)
	res, err := b.sender.Send(context.Background(), device(), msg)
	require.NoError(t, err)
	require.Equal(t, otpd.SendResult{ProviderID: apnsID}, res)

	reqs := b.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, 2, r.ProtoMajor, "APNs speaks HTTP/2 only")
	require.Equal(t, "/3/device/"+deviceToken, r.Path)
	require.Equal(t, b.clock.Now(), r.Issued, "iat is the signing time")
	want := map[string]string{
		"Authorization":    "bearer " + r.Token,
		"Apns-Topic":       topic,
		"Apns-Push-Type":   "alert",
		"Apns-Priority":    "10",
		"Apns-Expiration":  strconv.FormatInt(msg.ExpiresAt.Unix(), 10),
		"Apns-Id":          apnsID,
		"Apns-Collapse-Id": "ver_01hzy8k6d2",
	}
	for k, v := range want {
		require.Equal(t, []string{v}, r.Header.Values(k), k)
	}
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "apns-") {
			_, ok := want[k]
			require.True(t, ok, "unexpected header %s", k)
		}
	}
	require.JSONEq(t, `{
		"aps": {
			"alert": {"title": "Acme Bank", "body": "Your Acme Bank code is 123456"},
			"sound": "default",
			"interruption-level": "time-sensitive"
		},
		"code": "123456",
		"verification_id": "ver_01hzy8k6d2",
		"expires_at": "2025-03-01T12:10:00Z"
	}`, string(r.Body))
}

func TestSendOptionalFields(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *apns.Config) { c.InterruptionLevel = apns.Active })
	msg := b.outbound(0)
	msg.ExpiresAt, msg.MessageID, msg.VerificationID, msg.Brand = time.Time{}, "", "", ""
	b.setReply(func(w http.ResponseWriter, _ *http.Request, _ request) {
		w.Header().Set("apns-id", "eabeae54-14a8-11e5-b60b-1697f925ec7b")
		w.WriteHeader(http.StatusOK)
	})
	res, err := b.sender.Send(context.Background(), device(), msg)
	require.NoError(t, err)
	require.Equal(t, "eabeae54-14a8-11e5-b60b-1697f925ec7b", res.ProviderID, "APNs' own apns-id when none was sent")
	r := b.requests()[0]
	for _, h := range []string{"Apns-Expiration", "Apns-Id", "Apns-Collapse-Id"} {
		_, sent := r.Header[h]
		require.False(t, sent, h)
	}
	require.JSONEq(t, `{
		"aps": {"alert": {"body": "Your Acme Bank code is 123456"}, "sound": "default", "interruption-level": "active"},
		"code": "123456"
	}`, string(r.Body))
}

func TestExpirationOfAnExpiredCode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.sender.Send(context.Background(), device(), b.outbound(-time.Second))
	require.NoError(t, err)
	require.Equal(t, "0", b.requests()[0].Header.Get("Apns-Expiration"), "0: try once, do not store")
}

func TestMessageID(t *testing.T) {
	t.Parallel()
	require.Equal(t, apnsID, apns.MessageID(messageID))
	require.Equal(t, apns.MessageID(messageID), apns.MessageID(messageID), "deterministic")
	require.NotEqual(t, apns.MessageID(messageID), apns.MessageID(messageID+"x"))
	canonical := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, id := range []string{"", "msg_1", strings.Repeat("x", 1000), "ünïcode"} {
		require.Regexp(t, canonical, apns.MessageID(id))
	}
}

func TestRetryCarriesTheSameID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.setReply(func(w http.ResponseWriter, _ *http.Request, _ request) {
		writeReason(w, http.StatusServiceUnavailable, "ServiceUnavailable")
	})
	_, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
	require.Error(t, err)
	require.False(t, otpd.IsPermanent(err))
	b.setReply(func(w http.ResponseWriter, r *http.Request, _ request) {
		w.Header().Set("apns-id", r.Header.Get("apns-id"))
	})
	_, err = b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
	require.NoError(t, err)
	reqs := b.requests()
	require.Len(t, reqs, 2)
	require.Equal(t, reqs[0].Header.Get("Apns-Id"), reqs[1].Header.Get("Apns-Id"))
	require.Equal(t, reqs[0].Header.Get("Apns-Collapse-Id"), reqs[1].Header.Get("Apns-Collapse-Id"))
}

func TestProviderTokenRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		refresh time.Duration
	}{
		{"default 40 minutes", 0},
		{"20 minutes", 20 * time.Minute},
		{"50 minutes", 50 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *apns.Config) { c.RefreshAfter = tt.refresh })
			every := tt.refresh
			if every == 0 {
				every = apns.DefaultRefresh
			}
			send := func() request {
				t.Helper()
				_, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
				require.NoError(t, err)
				reqs := b.requests()
				return reqs[len(reqs)-1]
			}
			start := b.clock.Now()
			first := send()
			require.Equal(t, start, first.Issued)

			b.clock.Advance(every - time.Second)
			again := send()
			require.Equal(t, first.Token, again.Token, "reused until RefreshAfter")

			b.clock.Advance(time.Second)
			fresh := send()
			require.NotEqual(t, first.Token, fresh.Token, "replaced at RefreshAfter")
			require.Equal(t, start.Add(every), fresh.Issued)

			// Never older than an hour, however the sends are spaced.
			for range 10 {
				b.clock.Advance(17 * time.Minute)
				r := send()
				require.Less(t, b.clock.Now().Sub(r.Issued), time.Hour)
				require.GreaterOrEqual(t, b.clock.Now().Sub(r.Issued), time.Duration(0))
			}
		})
	}
}

func TestProviderTokenAfterClockWentBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
	require.NoError(t, err)
	b.clock.Advance(-time.Hour)
	_, err = b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
	require.NoError(t, err)
	reqs := b.requests()
	require.NotEqual(t, reqs[0].Token, reqs[1].Token, "a token from the future is not reused")
	require.Equal(t, b.clock.Now(), reqs[1].Issued)
}

func TestExpiredProviderToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const concurrent = 8
	var mu sync.Mutex
	refused, arrived := "", 0
	// All the first sends carry the same token only if none is refused
	// before the last has gone out: hold the refusals until all arrived.
	allArrived := make(chan struct{})
	b.setReply(func(w http.ResponseWriter, r *http.Request, seen request) {
		mu.Lock()
		if refused == "" {
			refused = seen.Token
		}
		stale := seen.Token == refused
		if stale {
			if arrived++; arrived == concurrent {
				close(allArrived)
			}
		}
		mu.Unlock()
		if stale {
			select {
			case <-allArrived:
			case <-time.After(10 * time.Second):
				t.Error("the concurrent sends did not all arrive with the first token")
			}
			writeReason(w, http.StatusForbidden, "ExpiredProviderToken")
			return
		}
		w.Header().Set("apns-id", r.Header.Get("apns-id"))
	})
	// Several sends refused with the same token at once...
	var wg sync.WaitGroup
	for range concurrent {
		wg.Go(func() {
			_, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
			var se *otpd.SendError
			if assert.ErrorAs(t, err, &se) {
				assert.False(t, se.Permanent, "temporary: the retry has a new token")
				assert.Equal(t, "ExpiredProviderToken", se.Code)
				assert.False(t, errors.Is(err, push.ErrDeadToken))
			}
		})
	}
	wg.Wait()
	// ... cause one new token, shared by the retries.
	for range 8 {
		wg.Go(func() {
			_, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	tokens := map[string]bool{}
	for _, r := range b.requests() {
		tokens[r.Token] = true
	}
	require.Len(t, tokens, 2)
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		body      string
		permanent bool
		dead      bool
		code      string
	}{
		{410, `{"reason":"Unregistered","timestamp":1740830400000}`, true, true, "Unregistered"},
		{410, `{"reason":"ExpiredToken"}`, true, true, "ExpiredToken"},
		{410, ``, true, true, "410"},
		{400, `{"reason":"BadDeviceToken"}`, true, true, "BadDeviceToken"},
		{400, `{"reason":"DeviceTokenNotForTopic"}`, true, true, "DeviceTokenNotForTopic"},
		{400, `{"reason":"BadTopic"}`, true, false, "BadTopic"},
		{400, `{"reason":"IdleTimeout"}`, false, false, "IdleTimeout"},
		{400, `{"reason":"SomethingNew"}`, true, false, "SomethingNew"},
		{403, `{"reason":"InvalidProviderToken"}`, true, false, "InvalidProviderToken"},
		{403, `{"reason":"TopicDisallowed"}`, true, false, "TopicDisallowed"},
		{403, `{"reason":"ExpiredProviderToken"}`, false, false, "ExpiredProviderToken"},
		{413, `{"reason":"PayloadTooLarge"}`, true, false, "PayloadTooLarge"},
		{429, `{"reason":"TooManyRequests"}`, false, false, "TooManyRequests"},
		{429, `{"reason":"TooManyProviderTokenUpdates"}`, false, false, "TooManyProviderTokenUpdates"},
		{500, `{"reason":"InternalServerError"}`, false, false, "InternalServerError"},
		{503, `{"reason":"Shutdown"}`, false, false, "Shutdown"},
		{502, `<html>Bad Gateway</html>`, false, false, "502"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.code), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.setReply(func(w http.ResponseWriter, _ *http.Request, _ request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			_, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
			var se *otpd.SendError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.permanent, se.Permanent, "%v", err)
			require.Equal(t, tt.code, se.Code)
			require.Equal(t, tt.dead, errors.Is(err, push.ErrDeadToken))
			var pe *push.ProviderError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, "apns", pe.Provider)
			require.Equal(t, tt.status, pe.Status)
			require.Contains(t, err.Error(), strconv.Itoa(tt.status))
			require.NotContains(t, err.Error(), deviceToken)
			require.NotContains(t, err.Error(), "123456", "the code never shows in errors")
		})
	}
}

func TestInvalidDeviceToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tok := range []string{"", "xyz", "abc", "../../3/device/00", strings.Repeat("ab", 300)} {
		dev := device()
		dev.Token = tok
		_, err := b.sender.Send(context.Background(), dev, b.outbound(time.Minute))
		require.True(t, otpd.IsPermanent(err), "%q", tok)
		require.ErrorIs(t, err, push.ErrDeadToken)
	}
	require.Empty(t, b.requests(), "nothing is sent for a malformed token")
}

func TestPayloadTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msg := b.outbound(time.Minute)
	msg.Text = strings.Repeat("x", apns.MaxPayload)
	_, err := b.sender.Send(context.Background(), device(), msg)
	require.True(t, otpd.IsPermanent(err))
	require.False(t, errors.Is(err, push.ErrDeadToken))
	require.Empty(t, b.requests())
}

func TestConnectionFailureIsTemporary(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.EnableHTTP2 = true
	srv.StartTLS()
	client, url := srv.Client(), srv.URL
	srv.Close()
	_, p8 := newKey(t)
	s, err := apns.New(apns.Config{KeyID: keyID, TeamID: teamID, Key: p8, Topic: topic, BaseURL: url, HTTPClient: client})
	require.NoError(t, err)
	_, err = s.Send(context.Background(), device(), &otpd.Outbound{MessageID: messageID, Code: "1", Rendered: otpd.Rendered{Text: "x"}})
	require.Error(t, err)
	require.False(t, otpd.IsPermanent(err))
}

func TestTimeoutIsTemporary(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *apns.Config) { c.Timeout = 50 * time.Millisecond })
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	b.setReply(func(http.ResponseWriter, *http.Request, request) { <-release })
	_, err := b.sender.Send(context.Background(), device(), b.outbound(time.Minute))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, otpd.IsPermanent(err))
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
			assert.Equal(t, apns.MessageID(msg.MessageID), res.ProviderID)
		})
	}
	wg.Wait()
	reqs := b.requests()
	require.Len(t, reqs, 50)
	for _, r := range reqs {
		require.Equal(t, reqs[0].Token, r.Token, "one provider token for all")
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	_, p8 := newKey(t)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustRSAPKCS8(t)})
	valid := apns.Config{KeyID: keyID, TeamID: teamID, Key: p8, Topic: topic}
	require.NoError(t, valid.Validate())
	tests := []struct {
		name string
		edit func(*apns.Config)
		want string
	}{
		{"short key id", func(c *apns.Config) { c.KeyID = "ABC" }, "KeyID"},
		{"key id with punctuation", func(c *apns.Config) { c.KeyID = "ABC123DEF-" }, "KeyID"},
		{"no team id", func(c *apns.Config) { c.TeamID = "" }, "TeamID"},
		{"no topic", func(c *apns.Config) { c.Topic = "" }, "Topic"},
		{"topic with a newline", func(c *apns.Config) { c.Topic = "com.example\nx" }, "Topic"},
		{"no key", func(c *apns.Config) { c.Key = nil }, "Key is required"},
		{"not PEM", func(c *apns.Config) { c.Key = []byte("MIGTAgEAMBMGByqGSM49") }, "not PEM"},
		{"RSA key", func(c *apns.Config) { c.Key = rsaPEM }, "ECDSA"},
		{"http base URL", func(c *apns.Config) { c.BaseURL = "http://127.0.0.1:1" }, "BaseURL"},
		{"base URL with a path", func(c *apns.Config) { c.BaseURL = "https://api.push.apple.com/3" }, "BaseURL"},
		{"passive level", func(c *apns.Config) { c.InterruptionLevel = "passive" }, "InterruptionLevel"},
		{"refresh too often", func(c *apns.Config) { c.RefreshAfter = 19 * time.Minute }, "RefreshAfter"},
		{"refresh too late", func(c *apns.Config) { c.RefreshAfter = 51 * time.Minute }, "RefreshAfter"},
		{"negative timeout", func(c *apns.Config) { c.Timeout = -1 }, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.edit(&c)
			err := c.Validate()
			require.ErrorContains(t, err, tt.want)
			_, err = apns.New(c)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestSandboxDefault(t *testing.T) {
	t.Parallel()
	// The server a config picks shows in the connection error of a
	// request that cannot leave this machine: a client whose dialer
	// refuses every address.
	var mu sync.Mutex
	var hosts []string
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
			mu.Lock()
			hosts = append(hosts, addr)
			mu.Unlock()
			return nil, errors.New("no network in tests")
		},
	}}
	_, p8 := newKey(t)
	for _, sandbox := range []bool{false, true} {
		s, err := apns.New(apns.Config{KeyID: keyID, TeamID: teamID, Key: p8, Topic: topic, Sandbox: sandbox, HTTPClient: client})
		require.NoError(t, err)
		_, err = s.Send(context.Background(), device(), &otpd.Outbound{Code: "1", Rendered: otpd.Rendered{Text: "x"}})
		require.Error(t, err)
	}
	require.Equal(t, []string{"api.push.apple.com:443", "api.sandbox.push.apple.com:443"}, hosts)
}

func TestErrorMessagesNeverQuoteTheKey(t *testing.T) {
	t.Parallel()
	_, p8 := newKey(t)
	block, _ := pem.Decode(p8)
	// A damaged key: the right block type, the DER cut short.
	damaged := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: block.Bytes[:len(block.Bytes)-5]})
	_, err := apns.ParseKey(damaged)
	require.Error(t, err)
	body := strings.Join(strings.Split(string(damaged), "\n")[1:3], "")
	require.NotContains(t, err.Error(), body[:16])
}

func TestPayloadIsJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msg := b.outbound(time.Minute)
	msg.Text = "Code \"123456\" <b>&</b>\n\u2028 ✅"
	_, err := b.sender.Send(context.Background(), device(), msg)
	require.NoError(t, err)
	var p struct {
		APS struct {
			Alert struct{ Body string } `json:"alert"`
		} `json:"aps"`
	}
	require.NoError(t, json.Unmarshal(b.requests()[0].Body, &p))
	require.Equal(t, msg.Text, p.APS.Alert.Body)
}
