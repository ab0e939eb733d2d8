package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
	"github.com/otpd/otpd/whatsapp"
)

// fakeWhatsApp is the Cloud API's messages endpoint on loopback: it checks
// the request and remembers the code and wamid of each message.
type fakeWhatsApp struct {
	srv  *httptest.Server
	mu   sync.Mutex
	sent []waSent
}

type waSent struct{ to, code, wamid string }

func newFakeWhatsApp(t *testing.T) *fakeWhatsApp {
	f := &fakeWhatsApp{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/1234567890/messages") || r.Header.Get("Authorization") != "Bearer wa-token" {
			t.Errorf("unexpected request %s %s (auth %q)", r.Method, r.URL.Path, r.Header.Get("Authorization"))
			http.Error(w, "no", http.StatusBadRequest)
			return
		}
		var body struct {
			To       string `json:"to"`
			Template struct {
				Components []struct {
					Parameters []struct {
						Text string `json:"text"`
					} `json:"parameters"`
				} `json:"components"`
			} `json:"template"`
		}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		f.mu.Lock()
		wamid := "wamid.TEST" + string(rune('A'+len(f.sent)))
		f.sent = append(f.sent, waSent{to: body.To, code: body.Template.Components[0].Parameters[0].Text, wamid: wamid})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"messaging_product":"whatsapp","contacts":[{"input":"`+body.To+`","wa_id":"`+body.To+`"}],"messages":[{"id":"`+wamid+`"}]}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// waitFor returns the message WhatsApp got for to (digits, no '+').
func (f *fakeWhatsApp) waitFor(t *testing.T, to string) waSent {
	t.Helper()
	var got waSent
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, s := range f.sent {
			if s.to == to {
				got = s
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "WhatsApp got no message for %s", to)
	return got
}

// TestWhatsAppWithFallbackToSMS runs otpd with WhatsApp (a fake Cloud API)
// before SMS (the dev SMSC): a verification goes out on WhatsApp; when
// Meta reports it failed, the same code goes out by SMS at once; when
// WhatsApp stays silent past its timeout, it falls back too.
func TestWhatsAppWithFallbackToSMS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	wa := newFakeWhatsApp(t)
	cfgPath := filepath.Join(t.TempDir(), "otpd.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`public_url: https://otp.example.com
fallback_timeouts:
  whatsapp: 2s
whatsapp:
  phone_number_id: "1234567890"
  access_token: wa-token
  app_secret: wa-app-secret
  verify_token: wa-verify
  template: otp_login
  base_url: `+wa.srv.URL+`
`), 0o600))
	const token = "a-fixed-admin-token-0123"
	srv := startServerArgs(t, t.TempDir(), "--dev", "--admin-token", token, "--config", cfgPath)
	c := client.New(srv.url, token)
	svc, err := c.CreateService(ctx, client.CreateServiceParams{Name: "Acme", Channels: []string{"whatsapp", "sms"}})
	require.NoError(t, err)

	// Meta's verification handshake.
	res, err := http.Get(srv.url + "/v1/callbacks/whatsapp?hub.mode=subscribe&hub.verify_token=wa-verify&hub.challenge=1158201444")
	require.NoError(t, err)
	challenge, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "1158201444", string(challenge))

	// 1. WhatsApp reports the message failed: SMS at once, same code.
	v, err := c.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900123"})
	require.NoError(t, err)
	require.Equal(t, "whatsapp", v.Channel)
	require.Equal(t, []string{"sms"}, v.Fallback)
	sent := wa.waitFor(t, "447700900123")
	status := func(wamid, st string) []byte {
		return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{` +
			`"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"1234567890"},` +
			`"statuses":[{"id":"` + wamid + `","status":"` + st + `","timestamp":"1764147600","recipient_id":"447700900123",` +
			`"errors":[{"code":131026,"title":"Message undeliverable"}]}]}}]}]}`)
	}
	post := func(body []byte, sig string) int {
		req, err := http.NewRequest(http.MethodPost, srv.url+"/v1/callbacks/whatsapp", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", sig)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	body := status(sent.wamid, "failed")
	require.Equal(t, http.StatusForbidden, post(body, whatsapp.Signature("another secret", body)), "a forged status is refused")
	require.Equal(t, http.StatusOK, post(body, whatsapp.Signature("wa-app-secret", body)))
	code := codeFor(t, c, "+447700900123", v.ID)
	require.Equal(t, sent.code, code, "the same code on every channel")
	got, err := c.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, "sms", got.Channel)
	require.Equal(t, "failed", got.Messages[0].Status)
	require.Contains(t, *got.Messages[0].Error, "131026")
	check, err := c.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code})
	require.NoError(t, err)
	require.True(t, check.Valid)

	// 2. WhatsApp accepts but no receipt comes: SMS after the timeout.
	v, err = c.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900124"})
	require.NoError(t, err)
	sent = wa.waitFor(t, "447700900124")
	code = codeFor(t, c, "+447700900124", v.ID)
	require.Equal(t, sent.code, code)
	got, err = c.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"whatsapp", "sms"}, []string{got.Messages[0].Channel, got.Messages[1].Channel})
	require.Equal(t, "sent", got.Messages[0].Status, "WhatsApp never confirmed it")
}
