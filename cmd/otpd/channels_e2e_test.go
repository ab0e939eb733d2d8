package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
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

type waSent struct{ to, code, wamid, template, lang string }

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
				Name     string `json:"name"`
				Language struct {
					Code string `json:"code"`
				} `json:"language"`
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
		f.sent = append(f.sent, waSent{to: body.To, code: body.Template.Components[0].Parameters[0].Text, wamid: wamid,
			template: body.Template.Name, lang: body.Template.Language.Code})
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
	return waitForSent(t, &f.mu, &f.sent, func(s waSent) bool { return s.to == to }, "WhatsApp got no message for "+to)
}

// waitForSent polls what a fake provider received (sent, guarded by mu)
// until match finds an entry, and returns it.
func waitForSent[T any](t *testing.T, mu *sync.Mutex, sent *[]T, match func(T) bool, failure string) T {
	t.Helper()
	var got T
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range *sent {
			if match(s) {
				got = s
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, failure)
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
	require.Equal(t, "otp_login", sent.template, "the configured template")
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

	// 3. A service with its own template and language.
	own, err := c.CreateService(ctx, client.CreateServiceParams{Name: "Acme Shop", Channels: []string{"whatsapp"},
		WhatsAppTemplate: "acme_shop_otp", WhatsAppLanguage: "pt_BR"})
	require.NoError(t, err)
	_, err = c.StartVerification(ctx, own.ID, client.StartParams{To: "+447700900125"})
	require.NoError(t, err)
	sent = wa.waitFor(t, "447700900125")
	require.Equal(t, "acme_shop_otp", sent.template)
	require.Equal(t, "pt_BR", sent.lang)
}

// smtpSink is an SMTP server on loopback that keeps what it receives.
type smtpSink struct {
	mu   sync.Mutex
	msgs []string // raw messages
}

func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{sink: s}, nil }

type smtpSession struct{ sink *smtpSink }

func (*smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, string(b))
	s.sink.mu.Unlock()
	return nil
}
func (*smtpSession) Reset()        {}
func (*smtpSession) Logout() error { return nil }

// TestEmailOverSMTP: a verification by e-mail reaches a real SMTP server
// as a multipart message with the code, and the code checks.
func TestEmailOverSMTP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sink, smtpAddr := startSMTPSink(t, nil)
	cfgPath := filepath.Join(t.TempDir(), "otpd.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte("email:\n  url: smtp://"+smtpAddr+"?tls=none&from=otp@acme.example\n"), 0o600))
	const token = "a-fixed-admin-token-0123"
	otpdSrv := startServerArgs(t, t.TempDir(), "--admin-token", token, "--config", cfgPath)
	c := client.New(otpdSrv.url, token)
	svc, err := c.CreateService(ctx, client.CreateServiceParams{Name: "Acme Bank", Channels: []string{"email"}})
	require.NoError(t, err)
	v, err := c.StartVerification(ctx, svc.ID, client.StartParams{To: "ana@example.com", Locale: "de"})
	require.NoError(t, err)
	require.Equal(t, "email", v.Channel)

	raw := sink.first(t, "the SMTP server got nothing")
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	require.NoError(t, err)
	to, err := mail.ParseAddress(msg.Header.Get("To"))
	require.NoError(t, err)
	require.Equal(t, "ana@example.com", to.Address)
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	require.NoError(t, err)
	require.Equal(t, "Acme Bank", from.Name)
	require.Equal(t, "otp@acme.example", from.Address)
	require.NotEmpty(t, msg.Header.Get("Message-Id"))
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	var text string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		mt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, mt)
		body, err := io.ReadAll(quotedprintable.NewReader(p))
		require.NoError(t, err)
		if mt == "text/plain" {
			text = string(body)
		}
	}
	require.Equal(t, []string{"text/plain", "text/html"}, types)
	code := codeRe.FindStringSubmatch(text)
	require.NotNil(t, code, "a six-digit code in the text part: %q", text)
	res, err := c.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code[1]})
	require.NoError(t, err)
	require.True(t, res.Valid)
	require.NotContains(t, otpdSrv.stderr.String(), code[1], "the code is never logged")
}

// TestFallbackTimerSurvivesRestart: WhatsApp accepts the message and no
// receipt comes; the server is killed (SIGKILL) before the fallback timer
// fires and started again on the same data: the timer was stored, so the
// new process sends the same code by SMS when it runs out.
func TestFallbackTimerSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	wa := newFakeWhatsApp(t)
	cfgPath := filepath.Join(t.TempDir(), "otpd.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`public_url: https://otp.example.com
fallback_timeouts:
  whatsapp: 4s
whatsapp:
  phone_number_id: "1234567890"
  access_token: wa-token
  app_secret: wa-app-secret
  verify_token: wa-verify
  template: otp_login
  base_url: `+wa.srv.URL+`
`), 0o600))
	const token = "a-fixed-admin-token-0123"
	dataDir := t.TempDir()
	args := []string{"--dev", "--admin-token", token, "--config", cfgPath}
	srv := startServerArgs(t, dataDir, args...)
	c := client.New(srv.url, token)
	svc, err := c.CreateService(ctx, client.CreateServiceParams{Name: "Acme", Channels: []string{"whatsapp", "sms"}})
	require.NoError(t, err)
	v, err := c.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900123"})
	require.NoError(t, err)
	sent := wa.waitFor(t, "447700900123")
	// Killed once the send is recorded (so the timer is set), not merely
	// made: a send whose outcome died with the process is sent again when
	// its lease runs out, which is another test (TestCrashLosesNothing).
	var got *client.Verification
	require.Eventually(t, func() bool {
		var err error
		got, err = c.GetVerification(ctx, svc.ID, v.ID)
		require.NoError(t, err)
		return got.Messages[0].Status == "sent"
	}, 10*time.Second, 5*time.Millisecond, "the WhatsApp send was not recorded")
	require.Equal(t, "whatsapp", got.Channel, "the timer has not run out yet")

	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
	<-srv.done
	srv2 := startServerArgs(t, dataDir, args...)
	c2 := client.New(srv2.url, token)
	code := codeFor(t, c2, "+447700900123", v.ID) // waits until the SMS arrives at the new process's dev SMSC
	require.Equal(t, sent.code, code, "the same code")
	got, err = c2.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"whatsapp", "sms"}, []string{got.Messages[0].Channel, got.Messages[1].Channel})
	check, err := c2.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code})
	require.NoError(t, err)
	require.True(t, check.Valid)
}

// TestRCSNotCapableFallsBackToSMS runs otpd with RCS (a fake RBM on
// loopback, whose capability check answers 404 NOT_FOUND) before SMS: the
// verification moves on to SMS at once, with the same code, and nothing was
// sent over RBM.
func TestRCSNotCapableFallsBackToSMS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	var paths []string
	rbm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/token":
			_, _ = io.WriteString(w, `{"access_token": "ya29.rbm", "expires_in": 3600, "token_type": "Bearer"}`)
		case strings.HasSuffix(r.URL.Path, "/capabilities"):
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}`)
		default:
			w.WriteHeader(http.StatusInternalServerError) // nothing else may be asked
		}
	}))
	t.Cleanup(rbm.Close)
	cfgPath := filepath.Join(t.TempDir(), "otpd.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`public_url: https://otp.example.com
rcs:
  agent_id: acme@rbm.goog
  service_account_file: `+fcmServiceAccount(t, rbm.URL+"/token")+`
  client_token: rbm-client-token
  base_url: `+rbm.URL+`
  token_url: `+rbm.URL+`/token
`), 0o600))
	const token = "a-fixed-admin-token-0123"
	srv := startServerArgs(t, t.TempDir(), "--dev", "--admin-token", token, "--config", cfgPath)
	c := client.New(srv.url, token)
	svc, err := c.CreateService(ctx, client.CreateServiceParams{Name: "Acme", Channels: []string{"rcs", "sms"}})
	require.NoError(t, err)
	v, err := c.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900123"})
	require.NoError(t, err)
	require.Equal(t, "rcs", v.Channel)

	code := codeFor(t, c, "+447700900123", v.ID)
	got, err := c.GetVerification(ctx, svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, "sms", got.Channel)
	require.Equal(t, []string{"rcs", "failed"}, []string{got.Messages[0].Channel, got.Messages[0].Status})
	require.NotNil(t, got.Messages[0].Error)
	check, err := c.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code})
	require.NoError(t, err)
	require.True(t, check.Valid, "the SMS carries the verification's code")
	mu.Lock()
	defer mu.Unlock()
	for _, p := range paths {
		require.NotContains(t, p, "agentMessages", "no message was sent over RBM")
	}
	require.Contains(t, strings.Join(paths, "\n"), "/v1/phones/+447700900123/capabilities")
}
