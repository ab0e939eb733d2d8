package googleauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
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
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/internal/googleauth"
)

const (
	clientEmail = "otpd@acme-otp.iam.gserviceaccount.com"
	keyID       = "0123456789abcdef0123456789abcdef01234567"
	scopeRBM    = "https://www.googleapis.com/auth/rcsbusinessmessaging"
	scopeFCM    = "https://www.googleapis.com/auth/firebase.messaging"
)

// testKey is one RSA key for the whole test binary: generating one takes
// a noticeable fraction of a second.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pkcs8PEM(t testing.TB, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// keyFile is a JSON key file as the Cloud console writes it.
func keyFile(t testing.TB, tokenURI string, edit func(m map[string]any)) []byte {
	t.Helper()
	m := map[string]any{
		"type":                        "service_account",
		"project_id":                  "acme-otp",
		"private_key_id":              keyID,
		"private_key":                 pkcs8PEM(t, testKey()),
		"client_email":                clientEmail,
		"client_id":                   "108734019283740192837",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/otpd%40acme-otp.iam.gserviceaccount.com",
		"universe_domain":             "googleapis.com",
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestParseServiceAccount(t *testing.T) {
	t.Parallel()
	sa, err := googleauth.ParseServiceAccount(keyFile(t, "https://oauth2.googleapis.com/token", nil))
	require.NoError(t, err)
	require.Equal(t, "service_account", sa.Type)
	require.Equal(t, "acme-otp", sa.ProjectID)
	require.Equal(t, keyID, sa.PrivateKeyID)
	require.Equal(t, clientEmail, sa.ClientEmail)
	require.Equal(t, "https://oauth2.googleapis.com/token", sa.TokenURI)
	// Nothing exported shows the key.
	dump, err := json.Marshal(sa)
	require.NoError(t, err)
	require.NotContains(t, string(dump), "PRIVATE")
	require.NotContains(t, fmt.Sprintf("%+v", *sa), "PRIVATE")

	t.Run("PKCS1", func(t *testing.T) {
		t.Parallel()
		pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey())}))
		_, err := googleauth.ParseServiceAccount(keyFile(t, "", func(m map[string]any) { m["private_key"] = pkcs1 }))
		require.NoError(t, err)
	})
	t.Run("default token_uri", func(t *testing.T) {
		t.Parallel()
		sa, err := googleauth.ParseServiceAccount(keyFile(t, "", func(m map[string]any) { delete(m, "token_uri") }))
		require.NoError(t, err)
		require.Equal(t, googleauth.DefaultTokenURL, sa.TokenURI)
	})
}

func TestParseServiceAccountErrors(t *testing.T) {
	t.Parallel()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecPEM := pkcs8PEM(t, ecKey)
	rsaPEM := pkcs8PEM(t, testKey())
	corrupt := strings.Replace(rsaPEM, rsaPEM[100:110], "AAAAAAAAAA", 1)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not JSON", []byte("not json"), "not JSON"},
		{"authorized_user", keyFile(t, "", func(m map[string]any) { m["type"] = "authorized_user" }), `type is "authorized_user"`},
		{"no type", keyFile(t, "", func(m map[string]any) { delete(m, "type") }), `type is ""`},
		{"no client_email", keyFile(t, "", func(m map[string]any) { delete(m, "client_email") }), "no client_email"},
		{"no private_key", keyFile(t, "", func(m map[string]any) { delete(m, "private_key") }), "no private_key"},
		{"key not PEM", keyFile(t, "", func(m map[string]any) { m["private_key"] = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" }), "not PEM"},
		{"EC key", keyFile(t, "", func(m map[string]any) { m["private_key"] = ecPEM }), "want an RSA key"},
		{"corrupt key", keyFile(t, "", func(m map[string]any) { m["private_key"] = corrupt }), "not a valid PKCS #8"},
		{"certificate", keyFile(t, "", func(m map[string]any) {
			m["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}))
		}), `PEM "CERTIFICATE" block`},
		{"token_uri relative", keyFile(t, "/token", nil), "token_uri"},
		{"token_uri with credentials", keyFile(t, "https://user:secret@oauth2.googleapis.com/token", nil), "token_uri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sa, err := googleauth.ParseServiceAccount(tt.data)
			require.Nil(t, sa)
			require.ErrorContains(t, err, tt.want)
			require.True(t, strings.HasPrefix(err.Error(), "googleauth: "), err.Error())
			require.NotContains(t, err.Error(), "MII", "an error must not quote the key")
			require.NotContains(t, err.Error(), "secret")
		})
	}
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// tokenRequest is what the fake token endpoint saw, with the assertion
// verified.
type tokenRequest struct {
	Method, ContentType string
	Form                url.Values
	Header              map[string]any
	Claims              jwt.MapClaims
	VerifyErr           error
}

// testBundle is a token endpoint on 127.0.0.1 that checks assertions
// against the test key, and a source pointed at it.
type testBundle struct {
	url   string
	clock *clock
	mu    sync.Mutex
	reqs  []tokenRequest
	count atomic.Int64
	// reply answers each request; a fresh token valid for 3599 s by
	// default, as Google answers.
	reply func(w http.ResponseWriter, n int64)
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{clock: &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	b.reply = func(w http.ResponseWriter, n int64) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprintf(w, `{"access_token":"ya29.token-%d","expires_in":3599,"token_type":"Bearer"}`, n)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := b.count.Add(1)
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		tr := tokenRequest{Method: r.Method, ContentType: r.Header.Get("Content-Type"), Form: form, Claims: jwt.MapClaims{}}
		tok, err := jwt.ParseWithClaims(form.Get("assertion"), tr.Claims, func(tok *jwt.Token) (any, error) {
			return &testKey().PublicKey, nil
		}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(b.clock.Now))
		tr.VerifyErr = err
		if tok != nil {
			tr.Header = tok.Header
		}
		b.mu.Lock()
		b.reqs = append(b.reqs, tr)
		reply := b.reply
		b.mu.Unlock()
		reply(w, n)
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL + "/token"
	return b
}

func (b *testBundle) source(t *testing.T, scopes ...string) *googleauth.TokenSource {
	t.Helper()
	sa, err := googleauth.ParseServiceAccount(keyFile(t, b.url, nil))
	require.NoError(t, err)
	return googleauth.NewTokenSource(sa, scopes, googleauth.WithClock(b.clock.Now))
}

func (b *testBundle) requests() []tokenRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]tokenRequest(nil), b.reqs...)
}

func TestTokenRequest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok, err := b.source(t, scopeRBM, scopeFCM).Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "ya29.token-1", tok)

	reqs := b.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "application/x-www-form-urlencoded", r.ContentType)
	require.Equal(t, []string{"assertion", "grant_type"}, sortedKeys(r.Form))
	require.Equal(t, "urn:ietf:params:oauth:grant-type:jwt-bearer", r.Form.Get("grant_type"))
	require.NoError(t, r.VerifyErr, "the assertion must verify with the service account's public key")
	require.Equal(t, map[string]any{"alg": "RS256", "typ": "JWT", "kid": keyID}, r.Header)
	iat, exp := r.Claims["iat"].(float64), r.Claims["exp"].(float64)
	require.Equal(t, jwt.MapClaims{
		"iss":   clientEmail,
		"scope": scopeRBM + " " + scopeFCM,
		"aud":   b.url,
		"iat":   iat,
		"exp":   exp,
	}, r.Claims)
	require.Equal(t, float64(3600), exp-iat)
	require.InDelta(t, float64(b.clock.Now().Unix()), iat, 60, "iat is about now")
	require.LessOrEqual(t, iat, float64(b.clock.Now().Unix()), "never in the future")
}

func TestWithTokenURL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sa, err := googleauth.ParseServiceAccount(keyFile(t, "https://oauth2.googleapis.com/token", nil))
	require.NoError(t, err)
	ts := googleauth.NewTokenSource(sa, []string{scopeRBM}, googleauth.WithClock(b.clock.Now),
		googleauth.WithTokenURL(b.url), googleauth.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}))
	_, err = ts.Token(context.Background())
	require.NoError(t, err)
	reqs := b.requests()
	require.Len(t, reqs, 1)
	require.Equal(t, b.url, reqs[0].Claims["aud"], "aud is where the assertion is sent")
}

func sortedKeys(v url.Values) []string {
	var ks []string
	for k := range v {
		ks = append(ks, k)
	}
	if len(ks) == 2 && ks[0] > ks[1] {
		ks[0], ks[1] = ks[1], ks[0]
	}
	return ks
}

func TestTokenCachedUntilShortlyBeforeExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := b.source(t, scopeRBM)
	ctx := context.Background()
	for range 5 {
		tok, err := ts.Token(ctx)
		require.NoError(t, err)
		require.Equal(t, "ya29.token-1", tok)
	}
	// 3599 s of life, refreshed 5 min early: still good at 54 min.
	b.clock.Advance(54 * time.Minute)
	tok, err := ts.Token(ctx)
	require.NoError(t, err)
	require.Equal(t, "ya29.token-1", tok)
	require.EqualValues(t, 1, b.count.Load())

	b.clock.Advance(59 * time.Second) // 54m59s: 5 min left of 3599 s
	tok, err = ts.Token(ctx)
	require.NoError(t, err)
	require.Equal(t, "ya29.token-2", tok)
	tok, err = ts.Token(ctx)
	require.NoError(t, err)
	require.Equal(t, "ya29.token-2", tok)
	require.EqualValues(t, 2, b.count.Load())
	reqs := b.requests()
	require.Greater(t, reqs[1].Claims["iat"].(float64), reqs[0].Claims["iat"].(float64), "a new assertion each time")
}

func TestTokenShortLifetime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reply = func(w http.ResponseWriter, n int64) {
		fmt.Fprintf(w, `{"access_token":"short-%d","expires_in":60,"token_type":"bearer"}`, n)
	}
	ts := b.source(t, scopeRBM)
	tok, err := ts.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "short-1", tok)
	b.clock.Advance(29 * time.Second) // used for the first half of its life
	tok, _ = ts.Token(context.Background())
	require.Equal(t, "short-1", tok)
	b.clock.Advance(time.Second)
	tok, _ = ts.Token(context.Background())
	require.Equal(t, "short-2", tok)
}

func TestTokenConcurrentCallersShareOneRequest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := make(chan struct{})
	arrived := make(chan struct{}, 100)
	b.reply = func(w http.ResponseWriter, n int64) {
		arrived <- struct{}{}
		<-release
		fmt.Fprintf(w, `{"access_token":"ya29.token-%d","expires_in":3599,"token_type":"Bearer"}`, n)
	}
	ts := b.source(t, scopeRBM)
	const callers = 20
	var wg sync.WaitGroup
	var started sync.WaitGroup
	toks := make([]string, callers)
	errs := make([]error, callers)
	started.Add(callers)
	for i := range callers {
		wg.Go(func() {
			started.Done()
			toks[i], errs[i] = ts.Token(context.Background())
		})
	}
	started.Wait()
	<-arrived // the one request is at the endpoint
	close(release)
	wg.Wait()
	for i := range callers {
		require.NoError(t, errs[i])
		require.Equal(t, "ya29.token-1", toks[i])
	}
	// Callers that came after the first fetch finished used its cached
	// token; either way only one request was made.
	require.EqualValues(t, 1, b.count.Load())
}

func TestTokenWaiterCancelled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	b.reply = func(w http.ResponseWriter, n int64) {
		arrived <- struct{}{}
		<-release
		fmt.Fprintf(w, `{"access_token":"ya29.token-%d","expires_in":3599,"token_type":"Bearer"}`, n)
	}
	ts := b.source(t, scopeRBM)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := ts.Token(ctx)
		done <- err
	}()
	<-arrived
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	// The fetch goes on for others and its token is cached.
	close(release)
	tok, err := ts.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "ya29.token-1", tok)
	require.EqualValues(t, 1, b.count.Load())
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		want      string
		tokenErr  *googleauth.TokenError
		temporary bool
	}{
		{
			name:     "invalid_grant",
			status:   http.StatusBadRequest,
			body:     `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`,
			want:     "googleauth: token endpoint: HTTP 400: invalid_grant: Invalid JWT Signature.",
			tokenErr: &googleauth.TokenError{StatusCode: 400, Code: "invalid_grant", Description: "Invalid JWT Signature."},
		},
		{
			name:     "invalid_scope",
			status:   http.StatusBadRequest,
			body:     `{"error":"invalid_scope","error_description":"Invalid OAuth scope or ID token audience provided."}`,
			want:     "HTTP 400: invalid_scope: Invalid OAuth scope",
			tokenErr: &googleauth.TokenError{StatusCode: 400, Code: "invalid_scope", Description: "Invalid OAuth scope or ID token audience provided."},
		},
		{
			name:      "unavailable, not JSON",
			status:    http.StatusServiceUnavailable,
			body:      "<html>busy</html>",
			want:      "googleauth: token endpoint: HTTP 503",
			tokenErr:  &googleauth.TokenError{StatusCode: 503},
			temporary: true,
		},
		{
			name:      "rate limited",
			status:    http.StatusTooManyRequests,
			body:      `{"error":"rate_limit_exceeded","error_description":"line1\nline2"}`,
			want:      "HTTP 429: rate_limit_exceeded: line1?line2",
			tokenErr:  &googleauth.TokenError{StatusCode: 429, Code: "rate_limit_exceeded", Description: "line1?line2"},
			temporary: true,
		},
		{name: "200 not JSON", status: 200, body: "ok", want: "token response is not JSON"},
		{name: "200 no token", status: 200, body: `{"expires_in":3599,"token_type":"Bearer"}`, want: "no access_token"},
		{name: "200 wrong type", status: 200, body: `{"access_token":"x","expires_in":3599,"token_type":"MAC"}`, want: `token type "MAC"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.reply = func(w http.ResponseWriter, _ int64) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}
			ts := b.source(t, scopeRBM)
			_, err := ts.Token(context.Background())
			require.ErrorContains(t, err, tt.want)
			var te *googleauth.TokenError
			if tt.tokenErr != nil {
				require.ErrorAs(t, err, &te)
				require.Equal(t, tt.tokenErr, te)
				require.Equal(t, tt.temporary, te.Temporary())
			} else {
				require.False(t, errors.As(err, &te))
			}
			// Failures are not cached: the next call asks again.
			_, err = ts.Token(context.Background())
			require.Error(t, err)
			require.EqualValues(t, 2, b.count.Load())
		})
	}
}

func TestTokenLongDescriptionShortened(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reply = func(w http.ResponseWriter, _ int64) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_request","error_description":%q}`, strings.Repeat("é", 1000))
	}
	_, err := b.source(t, scopeRBM).Token(context.Background())
	var te *googleauth.TokenError
	require.ErrorAs(t, err, &te)
	require.LessOrEqual(t, len(te.Description), 260)
	require.True(t, strings.HasSuffix(te.Description, "é..."))
}

func TestTokenUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	sa, err := googleauth.ParseServiceAccount(keyFile(t, u+"/token", nil))
	require.NoError(t, err)
	_, err = googleauth.NewTokenSource(sa, []string{scopeRBM}).Token(context.Background())
	require.ErrorContains(t, err, "googleauth: token request:")
	var te *googleauth.TokenError
	require.False(t, errors.As(err, &te))
}
