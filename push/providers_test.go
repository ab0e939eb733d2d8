package push_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/push"
	"github.com/otpd/otpd/push/apns"
	"github.com/otpd/otpd/push/fcm"
)

// The channel with the real senders, against a local APNs (HTTP/2 over
// TLS) and a local FCM with its token endpoint: a token each provider
// calls dead ends with the device marked dead in the registry, and the
// next verification for it fails without a push.

const (
	liveAPNsToken = "aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233"
	deadAPNsToken = "dead00000000000000000000000000000000000000000000000000000000beef"
	liveFCMToken  = "fcm-live:APA91bH_live"
	deadFCMToken  = "fcm-dead:APA91bH_dead"
)

// providers are the fake APNs and FCM, counting the pushes they take.
type providers struct {
	mu     sync.Mutex
	pushes map[string]int // by device token
}

func (p *providers) count(token string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pushes[token]
}

func (p *providers) record(token string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pushes[token]++
}

func newAPNs(t *testing.T, p *providers) *apns.Sender {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.URL.Path, "/3/device/")
		p.record(tok)
		if tok == deadAPNsToken {
			w.WriteHeader(http.StatusGone)
			_, _ = io.WriteString(w, `{"reason":"Unregistered","timestamp":1740830400000}`)
			return
		}
		w.Header().Set("apns-id", r.Header.Get("apns-id"))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s, err := apns.New(apns.Config{
		KeyID: "ABC123DEFG", TeamID: "DEF123GHIJ", Topic: "com.example.bank",
		Key:     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		BaseURL: srv.URL, HTTPClient: srv.Client(),
	})
	require.NoError(t, err)
	return s
}

func newFCM(t *testing.T, p *providers) *fcm.Sender {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"access_token":"ya29.test","expires_in":3599,"token_type":"Bearer"}`)
	})
	mux.HandleFunc("POST /v1/projects/acme-otp/messages:send", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Message struct{ Token string } `json:"message"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		p.record(body.Message.Token)
		if body.Message.Token == deadFCMToken {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`)
			return
		}
		_, _ = io.WriteString(w, `{"name":"projects/acme-otp/messages/0:1"}`)
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	sa, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "acme-otp", "client_email": "otpd@acme-otp.iam.gserviceaccount.com",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"token_uri":   srv.URL + "/token",
	})
	require.NoError(t, err)
	s, err := fcm.New(fcm.Config{ServiceAccountJSON: sa, BaseURL: srv.URL, HTTPClient: srv.Client()})
	require.NoError(t, err)
	return s
}

func TestChannelWithProviders(t *testing.T) {
	t.Parallel()
	p := &providers{pushes: map[string]int{}}
	devices := newRegistry(
		push.Device{ID: "dev_ios_live", ServiceID: "svc_1", Platform: push.PlatformIOS, Token: liveAPNsToken},
		push.Device{ID: "dev_ios_dead", ServiceID: "svc_1", Platform: push.PlatformIOS, Token: deadAPNsToken},
		push.Device{ID: "dev_android_live", ServiceID: "svc_1", Platform: push.PlatformAndroid, Token: liveFCMToken},
		push.Device{ID: "dev_android_dead", ServiceID: "svc_1", Platform: push.PlatformAndroid, Token: deadFCMToken},
	)
	ch, err := push.New(push.Config{Devices: devices, Android: newFCM(t, p), IOS: newAPNs(t, p)})
	require.NoError(t, err)
	require.NoError(t, ch.Ready(context.Background()))

	res, err := ch.Send(context.Background(), outbound("dev_ios_live"))
	require.NoError(t, err)
	require.Equal(t, apns.MessageID("msg_1"), res.ProviderID)
	res, err = ch.Send(context.Background(), outbound("dev_android_live"))
	require.NoError(t, err)
	require.Equal(t, "projects/acme-otp/messages/0:1", res.ProviderID)

	for _, tt := range []struct{ device, token, reason string }{
		{"dev_ios_dead", deadAPNsToken, "apns: Unregistered"},
		{"dev_android_dead", deadFCMToken, "fcm: UNREGISTERED"},
	} {
		_, err := ch.Send(context.Background(), outbound(tt.device))
		require.True(t, otpd.IsPermanent(err), "%v", err)
		require.ErrorIs(t, err, push.ErrDeadToken)
		require.NotContains(t, err.Error(), tt.token)
		// Marked dead: the next code for the device is not pushed.
		_, err = ch.Send(context.Background(), outbound(tt.device))
		require.True(t, otpd.IsPermanent(err))
		require.Equal(t, 1, p.count(tt.token), tt.device)
	}
	require.Equal(t, []deadMark{
		{"svc_1", "dev_ios_dead", "apns: Unregistered", nil},
		{"svc_1", "dev_android_dead", "fcm: UNREGISTERED", nil},
	}, devices.marks())
}

func TestChannelWithProvidersConcurrently(t *testing.T) {
	t.Parallel()
	p := &providers{pushes: map[string]int{}}
	devices := newRegistry(
		push.Device{ID: "dev_ios", ServiceID: "svc_1", Platform: push.PlatformIOS, Token: liveAPNsToken},
		push.Device{ID: "dev_android", ServiceID: "svc_1", Platform: push.PlatformAndroid, Token: liveFCMToken},
	)
	ch, err := push.New(push.Config{Devices: devices, Android: newFCM(t, p), IOS: newAPNs(t, p)})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			msg := outbound([]string{"dev_ios", "dev_android"}[i%2])
			msg.MessageID = fmt.Sprintf("msg_%d", i)
			_, err := ch.Send(context.Background(), msg)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	require.Equal(t, 20, p.count(liveAPNsToken))
	require.Equal(t, 20, p.count(liveFCMToken))
}
