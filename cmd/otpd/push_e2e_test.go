package main_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// fakeFCM is Google's token endpoint and FCM's messages:send on one
// loopback server. A send to deadToken is answered as FCM answers for an
// uninstalled app (404 UNREGISTERED).
type fakeFCM struct {
	srv  *httptest.Server
	mu   sync.Mutex
	sent []fcmSent
}

// fcmSent is what messages:send got.
type fcmSent struct {
	path, auth, token string
	data              map[string]string
	priority, ttl     string
}

const (
	fcmProject   = "acme-otp"
	fcmAccess    = "ya29.e2e-access-token"
	fcmDeadToken = "fcm-token-of-an-uninstalled-app"
)

func newFakeFCM(t *testing.T) *fakeFCM {
	f := &fakeFCM{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || r.PostFormValue("assertion") == "" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"`+fcmAccess+`","expires_in":3599,"token_type":"Bearer"}`)
	})
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Message struct {
				Token   string            `json:"token"`
				Data    map[string]string `json:"data"`
				Android struct {
					Priority string `json:"priority"`
					TTL      string `json:"ttl"`
				} `json:"android"`
			} `json:"message"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		m := body.Message
		f.mu.Lock()
		f.sent = append(f.sent, fcmSent{path: r.URL.Path, auth: r.Header.Get("Authorization"), token: m.Token, data: m.Data,
			priority: m.Android.Priority, ttl: m.Android.TTL})
		n := len(f.sent)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		if m.Token == fcmDeadToken {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[`+
				`{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`)
			return
		}
		fmt.Fprintf(w, `{"name":"projects/%s/messages/0:17000000000000%02d"}`, fcmProject, n)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// waitFor returns what FCM got for the device token.
func (f *fakeFCM) waitFor(t *testing.T, token string) fcmSent {
	t.Helper()
	return waitForSent(t, &f.mu, &f.sent, func(s fcmSent) bool { return s.token == token }, "FCM got nothing for the device")
}

// fcmServiceAccount writes a Firebase service account key file whose
// token_uri is the fake's.
func fcmServiceAccount(t *testing.T, tokenURL string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": fcmProject, "private_key_id": "0123456789abcdef",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "otpd@" + fcmProject + ".iam.gserviceaccount.com", "token_uri": tokenURL,
	})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "firebase.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

// TestPushOverFCM runs otpd with push over FCM (a fake on loopback): a
// device registered through the API gets the code in a data message, and
// the code checks; the service's own push text is used once set; a device whose app is gone (UNREGISTERED) is marked
// dead, its verification fails, and new verifications to it are refused.
func TestPushOverFCM(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fcm := newFakeFCM(t)
	cfgPath := filepath.Join(t.TempDir(), "otpd.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`push:
  fcm:
    service_account_file: `+fcmServiceAccount(t, fcm.srv.URL+"/token")+`
    base_url: `+fcm.srv.URL+`
`), 0o600))
	const token = "a-fixed-admin-token-0123"
	srv := startServerArgs(t, t.TempDir(), "--admin-token", token, "--config", cfgPath)
	c := client.New(srv.url, token)
	svc, err := c.CreateService(ctx, client.CreateServiceParams{Name: "Acme Bank", Channels: []string{"push"}})
	require.NoError(t, err)
	key, err := c.CreateKey(ctx, svc.ID, "backend")
	require.NoError(t, err)
	backend := client.New(srv.url, key.Secret)

	// 1. A live device gets the code.
	dev, err := backend.RegisterDevice(ctx, svc.ID, client.RegisterDeviceParams{Platform: client.PlatformAndroid, Token: "fcm-token-live", Label: "user-42"})
	require.NoError(t, err)
	v, err := backend.StartVerification(ctx, svc.ID, client.StartParams{To: dev.ID, Channel: client.ChannelPush})
	require.NoError(t, err)
	got := fcm.waitFor(t, "fcm-token-live")
	require.Equal(t, "/v1/projects/"+fcmProject+"/messages:send", got.path)
	require.Equal(t, "Bearer "+fcmAccess, got.auth)
	require.Equal(t, "HIGH", got.priority)
	require.NotEmpty(t, got.ttl)
	code := got.data["code"]
	require.Regexp(t, `^[0-9]{6}$`, code)
	require.Equal(t, "Your Acme Bank code is "+code+". It expires in 10 minutes. Don't share it.", got.data["text"])
	require.Equal(t, "Acme Bank", got.data["brand"])
	require.Equal(t, v.ID, got.data["verification_id"])
	res, err := backend.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code})
	require.NoError(t, err)
	require.True(t, res.Valid)

	// The service's own push text is what the app gets.
	_, _, err = c.SetTemplate(ctx, svc.ID, client.TemplateKey{Channel: client.ChannelPush, Locale: "en"},
		client.SetTemplateParams{Text: "{brand}: tap to sign in with {code}"})
	require.NoError(t, err)
	v, err = backend.StartVerification(ctx, svc.ID, client.StartParams{To: dev.ID, Channel: client.ChannelPush})
	require.NoError(t, err)
	got = waitForSent(t, &fcm.mu, &fcm.sent, func(s fcmSent) bool { return s.data["verification_id"] == v.ID }, "FCM got nothing for the second verification")
	require.Equal(t, "Acme Bank: tap to sign in with "+got.data["code"], got.data["text"])

	// 2. A dead token: the device is marked dead and the verification fails.
	dead, err := backend.RegisterDevice(ctx, svc.ID, client.RegisterDeviceParams{Platform: client.PlatformAndroid, Token: fcmDeadToken})
	require.NoError(t, err)
	v, err = backend.StartVerification(ctx, svc.ID, client.StartParams{To: dead.ID, Channel: client.ChannelPush})
	require.NoError(t, err)
	fcm.waitFor(t, fcmDeadToken)
	require.Eventually(t, func() bool {
		d, err := backend.GetDevice(ctx, svc.ID, dead.ID)
		require.NoError(t, err)
		return d.Status == "dead"
	}, 10*time.Second, 10*time.Millisecond, "the device was not marked dead")
	d, err := backend.GetDevice(ctx, svc.ID, dead.ID)
	require.NoError(t, err)
	require.Equal(t, "fcm: UNREGISTERED", *d.DeadReason)
	require.Eventually(t, func() bool {
		got, err := backend.GetVerification(ctx, svc.ID, v.ID)
		require.NoError(t, err)
		return got.Status == client.StatusFailed
	}, 10*time.Second, 10*time.Millisecond, "the verification did not fail")
	_, err = backend.StartVerification(ctx, svc.ID, client.StartParams{To: dead.ID, Channel: client.ChannelPush})
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "channel_unavailable", apiErr.Code)

	log := srv.stderr.String()
	require.NotContains(t, log, code, "the code is never logged")
	require.NotContains(t, log, "fcm-token-live", "nor a device token")
	require.NotContains(t, log, fcmAccess, "nor an access token")
}

// TestPushDeadTokenFallsBackToEmail: a push verification that names the
// person's e-mail address for its e-mail step; the token is dead, so the
// device is marked dead and the same code goes out over SMTP to that
// address.
func TestPushDeadTokenFallsBackToEmail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fcm := newFakeFCM(t)
	sink, smtpAddr := startSMTPSink(t, nil)
	cfgPath := filepath.Join(t.TempDir(), "otpd.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`push:
  fcm:
    service_account_file: `+fcmServiceAccount(t, fcm.srv.URL+"/token")+`
    base_url: `+fcm.srv.URL+`
email:
  url: smtp://`+smtpAddr+`?tls=none&from=otp@acme.example
`), 0o600))
	const token = "a-fixed-admin-token-0123"
	srv := startServerArgs(t, t.TempDir(), "--admin-token", token, "--config", cfgPath)
	c := client.New(srv.url, token)
	svc, err := c.CreateService(ctx, client.CreateServiceParams{Name: "Acme Bank", Channels: []string{"push", "email"}})
	require.NoError(t, err)

	dead, err := c.RegisterDevice(ctx, svc.ID, client.RegisterDeviceParams{Platform: client.PlatformAndroid, Token: fcmDeadToken})
	require.NoError(t, err)
	v, err := c.StartVerification(ctx, svc.ID, client.StartParams{To: dead.ID, Channel: client.ChannelPush,
		Fallback: []string{client.ChannelEmail}, FallbackTo: map[string]string{client.ChannelEmail: "ana@example.com"}})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"email": "ana@example.com"}, v.FallbackTo)
	fcm.waitFor(t, fcmDeadToken)

	raw := sink.first(t, "no e-mail after the push failed")
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	require.NoError(t, err)
	to, err := mail.ParseAddress(msg.Header.Get("To"))
	require.NoError(t, err)
	require.Equal(t, "ana@example.com", to.Address)
	code := regexp.MustCompile(`\b([0-9]{6})\b`).FindStringSubmatch(raw)
	require.NotNil(t, code, "no code in the e-mail")

	d, err := c.GetDevice(ctx, svc.ID, dead.ID)
	require.NoError(t, err)
	require.Equal(t, "dead", d.Status)
	got, err := c.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Len(t, got.Messages, 2)
	require.Equal(t, []string{"push", "failed"}, []string{got.Messages[0].Channel, got.Messages[0].Status})
	require.Equal(t, "email", got.Messages[1].Channel)
	res, err := c.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code[1]})
	require.NoError(t, err)
	require.True(t, res.Valid, "the e-mail carries the same code")
}
