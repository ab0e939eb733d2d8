package main_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// Fake Twilio and Vonage accounts the tests send through.
const (
	twilioSID      = "AC0123456789abcdef0123456789abcdef"
	twilioToken    = "e2e-twilio-auth-token-0123456789"
	twilioFrom     = "+15005550006"
	vonageKey      = "abcd1234"
	vonageSecret   = "e2e-vonage-secret"
	providersAdmin = "a-fixed-admin-token-0123"
)

// fakeSMS is one message a fake provider accepted.
type fakeSMS struct {
	To, Body, Callback, ID string
}

// fakeProvider is an HTTP SMS provider's API on 127.0.0.1. accept checks a
// request against the provider's documentation and returns the message it
// asks for, or why it is wrong; reply answers an accepted one as the
// provider does. Wrong requests are answered 400 and kept in problems.
type fakeProvider struct {
	url    string
	accept func(r *http.Request, form url.Values) (fakeSMS, error)
	reply  func(w http.ResponseWriter, m fakeSMS)
	tls    *tls.Config // serve HTTPS with it, when set

	mu       sync.Mutex
	sent     []fakeSMS
	problems []string
	ids      atomic.Int64
}

func startFakeProvider(t *testing.T, p *fakeProvider) *fakeProvider {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		form, perr := url.ParseQuery(string(body))
		var m fakeSMS
		if err == nil {
			err = perr
		}
		if err == nil {
			m, err = p.accept(r, form)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			p.problems = append(p.problems, err.Error())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		p.sent = append(p.sent, m)
		p.reply(w, m)
	}))
	if p.tls != nil {
		srv.TLS = p.tls
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests are about
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	p.url = srv.URL
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		require.Empty(t, p.problems, "requests otpd sent that the provider would refuse")
	})
	return p
}

// waitFor waits for the provider to accept a message to the destination.
func (p *fakeProvider) waitFor(t *testing.T, to string) fakeSMS {
	t.Helper()
	var m fakeSMS
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		i := slices.IndexFunc(p.sent, func(m fakeSMS) bool { return m.To == to })
		if i >= 0 {
			m = p.sent[i]
		}
		return i >= 0
	}, 10*time.Second, 5*time.Millisecond, "the provider never got a message to %s", to)
	return m
}

// fakeTwilio checks requests as Twilio's Messages API documents them:
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP Basic with the
// account sid and auth token, a form with To, From, Body and
// StatusCallback (and ValidityPeriod); it answers 201 with the Message
// resource.
func fakeTwilio(t *testing.T, callbackURL string) *fakeProvider {
	return startFakeProvider(t, twilioAPI(callbackURL))
}

// twilioAPI is fakeTwilio's provider, not yet started.
func twilioAPI(callbackURL string) *fakeProvider {
	p := &fakeProvider{}
	p.accept = func(r *http.Request, form url.Values) (fakeSMS, error) {
		user, pass, ok := r.BasicAuth()
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+twilioSID+"/Messages.json":
			return fakeSMS{}, fmt.Errorf("twilio: %s %s", r.Method, r.URL.Path)
		case !ok || user != twilioSID || pass != twilioToken:
			return fakeSMS{}, errors.New("twilio: basic auth is not the account sid and auth token")
		case r.Header.Get("Content-Type") != "application/x-www-form-urlencoded":
			return fakeSMS{}, fmt.Errorf("twilio: content type %q", r.Header.Get("Content-Type"))
		case form.Get("From") != twilioFrom || form.Get("StatusCallback") != callbackURL || form.Get("Body") == "" ||
			!strings.HasPrefix(form.Get("To"), "+1"):
			return fakeSMS{}, fmt.Errorf("twilio: form %v", form)
		}
		if vp, err := strconv.Atoi(form.Get("ValidityPeriod")); err != nil || vp < 1 || vp > 36000 {
			return fakeSMS{}, fmt.Errorf("twilio: ValidityPeriod %q", form.Get("ValidityPeriod"))
		}
		for k := range form {
			if !slices.Contains([]string{"To", "From", "Body", "StatusCallback", "ValidityPeriod"}, k) {
				return fakeSMS{}, fmt.Errorf("twilio: unexpected field %s", k)
			}
		}
		return fakeSMS{To: form.Get("To"), Body: form.Get("Body"), Callback: form.Get("StatusCallback"),
			ID: fmt.Sprintf("SM%032x", p.ids.Add(1))}, nil
	}
	p.reply = func(w http.ResponseWriter, m fakeSMS) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"sid": m.ID, "account_sid": twilioSID, "to": m.To, "from": twilioFrom, "body": m.Body,
			"status": "queued", "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
			"uri": "/2010-04-01/Accounts/" + twilioSID + "/Messages/" + m.ID + ".json",
		})
	}
	return p
}

// fakeVonage checks requests as Vonage's SMS API documents them: POST
// /sms/json with a form carrying api_key and api_secret, from, to without
// '+', text, type, status-report-req and callback; it answers 200 with one
// accepted part.
func fakeVonage(t *testing.T, callbackPrefix string) *fakeProvider {
	p := &fakeProvider{}
	p.accept = func(r *http.Request, form url.Values) (fakeSMS, error) {
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/sms/json":
			return fakeSMS{}, fmt.Errorf("vonage: %s %s", r.Method, r.URL.Path)
		case form.Get("api_key") != vonageKey || form.Get("api_secret") != vonageSecret:
			return fakeSMS{}, errors.New("vonage: wrong credentials")
		case form.Get("from") != "AcmeBank" || !strings.HasPrefix(form.Get("to"), "44") || form.Get("text") == "" ||
			form.Get("type") != "text" || form.Get("status-report-req") != "1" || !strings.HasPrefix(form.Get("callback"), callbackPrefix):
			return fakeSMS{}, fmt.Errorf("vonage: form %v", form)
		}
		return fakeSMS{To: "+" + form.Get("to"), Body: form.Get("text"), Callback: form.Get("callback"),
			ID: fmt.Sprintf("0A%015X", p.ids.Add(1))}, nil
	}
	p.reply = func(w http.ResponseWriter, m fakeSMS) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"message-count": "1", "messages": []map[string]string{
			{"to": m.To[1:], "message-id": m.ID, "status": "0", "remaining-balance": "3.14", "message-price": "0.0333", "network": "23410"},
		}})
	}
	return startFakeProvider(t, p)
}

// twilioSignature is X-Twilio-Signature as Twilio documents it, written
// here apart from otpd's: the URL, then each POST parameter's name and
// value sorted by name, HMAC-SHA1 with the auth token, base64.
func twilioSignature(token, callbackURL string, params url.Values) string {
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range params {
			if !yield(k) {
				return
			}
		}
	})
	data := callbackURL
	for _, k := range names {
		data += k + params.Get(k)
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// postForm posts params to target as the providers post their callbacks
// and returns the status and Content-Type of the answer.
func postForm(t *testing.T, target string, params url.Values, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(params.Encode()))
	require.NoError(t, err)
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header.Get("Content-Type")
}

// publicProxy stands for the load balancer in front of otpd: public_url
// points at it before otpd has a port, and it forwards to otpd once
// started.
func publicProxy(t *testing.T) (publicURL string, forwardTo func(string)) {
	t.Helper()
	var target atomic.Pointer[url.URL]
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target.Load()) }})
	t.Cleanup(proxy.Close)
	return proxy.URL, func(s string) {
		u, err := url.Parse(s)
		require.NoError(t, err)
		target.Store(u)
	}
}

var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

// messageStatus reads the status of the verification's only message.
func messageStatus(t *testing.T, c *client.Client, svc, id string) string {
	t.Helper()
	v, err := c.GetVerification(context.Background(), svc, id)
	require.NoError(t, err)
	require.Len(t, v.Messages, 1)
	return v.Messages[0].Status
}

// otpd serve sends +1 numbers through Twilio and +44 through Vonage (fakes
// on 127.0.0.1 that check every request), and records their signed status
// callbacks at <public_url>/v1/callbacks/<type>/<route>; a callback that is
// not signed right is refused and changes nothing.
//
// Not parallel: the Twilio auth token comes from the environment, as an
// operator would give it (auth_token_env), and t.Setenv needs that.
func TestProvidersEndToEnd(t *testing.T) {
	t.Setenv("OTPD_E2E_TWILIO_TOKEN", twilioToken)
	ctx := context.Background()
	public, forwardTo := publicProxy(t)
	twilioCallback := public + "/v1/callbacks/twilio/us"
	tw := fakeTwilio(t, twilioCallback)
	vo := fakeVonage(t, public+"/v1/callbacks/vonage/uk?t=")

	config := filepath.Join(t.TempDir(), "otpd.yaml")
	require.NoError(t, os.WriteFile(config, []byte(`
public_url: `+public+`
sms:
  routes:
    - name: us
      type: twilio
      prefixes: ["+1"]
      account_sid: `+twilioSID+`
      auth_token_env: OTPD_E2E_TWILIO_TOKEN
      from: "`+twilioFrom+`"
      base_url: `+tw.url+`
    - name: uk
      type: vonage
      prefixes: ["+44"]
      api_key: `+vonageKey+`
      api_secret: `+vonageSecret+`
      from: AcmeBank
      base_url: `+vo.url+`
`), 0o600))
	srv := startServerArgs(t, t.TempDir(), "--config", config, "--admin-token", providersAdmin)
	forwardTo(srv.url)
	admin := client.New(srv.url, providersAdmin)
	svc, err := admin.CreateService(ctx, client.CreateServiceParams{Name: "Acme Bank"})
	require.NoError(t, err)

	// Twilio.
	const us = "+14155550123"
	v, err := admin.StartVerification(ctx, svc.ID, client.StartParams{To: us})
	require.NoError(t, err)
	sent := tw.waitFor(t, us)
	require.Equal(t, twilioCallback, sent.Callback)
	code := sixDigits.FindString(sent.Body)
	require.NotEmpty(t, code, "the SMS carries the code: %q", sent.Body)
	require.Eventually(t, func() bool { return messageStatus(t, admin, svc.ID, v.ID) == client.MessageSent }, 10*time.Second, 10*time.Millisecond)

	status := func(s string) url.Values {
		return url.Values{"AccountSid": {twilioSID}, "ApiVersion": {"2010-04-01"}, "From": {twilioFrom}, "To": {us},
			"MessageSid": {sent.ID}, "SmsSid": {sent.ID}, "MessageStatus": {s}, "SmsStatus": {s}}
	}
	forged := status("undelivered")
	forged.Set("ErrorCode", "30003")
	for name, sig := range map[string]string{
		"no signature":  "",
		"another token": twilioSignature("not-the-auth-token", twilioCallback, forged),
		"another URL":   twilioSignature(twilioToken, public+"/v1/callbacks/twilio/other", forged),
	} {
		st, ctype := postForm(t, twilioCallback, forged, http.Header{"X-Twilio-Signature": {sig}})
		require.Equal(t, http.StatusForbidden, st, name)
		require.Equal(t, "application/problem+json", ctype, name)
	}
	res, err := http.Get(twilioCallback)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode, "callbacks are POSTs")
	require.Equal(t, client.MessageSent, messageStatus(t, admin, svc.ID, v.ID), "a callback without a valid signature changes nothing")

	delivered := status("delivered")
	code2, _ := postForm(t, sent.Callback, delivered, http.Header{"X-Twilio-Signature": {twilioSignature(twilioToken, sent.Callback, delivered)}})
	require.Equal(t, http.StatusNoContent, code2)
	require.Equal(t, client.MessageDelivered, messageStatus(t, admin, svc.ID, v.ID), "recorded before the answer")
	check, err := admin.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code})
	require.NoError(t, err)
	require.True(t, check.Valid)

	// Vonage.
	const uk = "+447700900123"
	v2, err := admin.StartVerification(ctx, svc.ID, client.StartParams{To: uk})
	require.NoError(t, err)
	sent2 := vo.waitFor(t, uk)
	cb, err := url.Parse(sent2.Callback)
	require.NoError(t, err)
	token := cb.Query().Get("t")
	require.Len(t, token, 24)
	require.Eventually(t, func() bool { return messageStatus(t, admin, svc.ID, v2.ID) == client.MessageSent }, 10*time.Second, 10*time.Millisecond)
	dlr := url.Values{"msisdn": {uk[1:]}, "to": {"AcmeBank"}, "network-code": {"23410"}, "messageId": {sent2.ID},
		"price": {"0.03330000"}, "status": {"failed"}, "err-code": {"6"}, "message-timestamp": {"2026-01-02 15:04:05"}}
	wrong := strings.Replace(sent2.Callback, token, strings.Repeat("x", len(token)), 1)
	code3, ctype := postForm(t, wrong, dlr, nil)
	require.Equal(t, http.StatusForbidden, code3, "a receipt without the route's token is refused")
	require.Equal(t, "application/problem+json", ctype)
	require.Equal(t, client.MessageSent, messageStatus(t, admin, svc.ID, v2.ID))
	dlr.Set("status", "delivered")
	dlr.Set("err-code", "0")
	code4, _ := postForm(t, sent2.Callback, dlr, nil)
	require.Equal(t, http.StatusNoContent, code4)
	require.Equal(t, client.MessageDelivered, messageStatus(t, admin, svc.ID, v2.ID))

	// A callback for a message otpd never sent is acknowledged, so the
	// provider stops retrying it.
	unknown := status("delivered")
	unknown.Set("MessageSid", "SM"+strings.Repeat("f", 32))
	code5, _ := postForm(t, twilioCallback, unknown, http.Header{"X-Twilio-Signature": {twilioSignature(twilioToken, twilioCallback, unknown)}})
	require.Equal(t, http.StatusNoContent, code5)

	ready := getJSON[struct {
		Details map[string]string `json:"details"`
	}](t, srv.url+"/readyz")
	require.Equal(t, "ok", ready.Details["sms_route:us"])
	require.Equal(t, "ok", ready.Details["sms_route:uk"])

	srv.stop(t)
	logs := srv.stderr.String()
	require.Contains(t, logs, "status callback for an unknown message")
	for _, secret := range []string{twilioToken, vonageSecret, token, code} {
		require.NotContains(t, logs, secret, "secrets and codes are never logged")
	}
}

// A provider route without public_url could never hear back from its
// provider: otpd refuses to start, saying which route and what to set.
func TestProvidersNeedPublicURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "otpd.yaml")
	require.NoError(t, os.WriteFile(config, []byte(`
sms:
  routes:
    - name: us
      type: twilio
      account_sid: `+twilioSID+`
      auth_token: `+twilioToken+`
      from: "`+twilioFrom+`"
`), 0o600))
	cmd := exec.Command(binary, "serve", "--data-dir", filepath.Join(dir, "data"), "--addr", "127.0.0.1:0", "--config", config)
	cmd.Env = append(os.Environ(), "OTPD_CONFIG=", "OTPD_PUBLIC_URL=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", out)
	require.NotZero(t, ee.ExitCode())
	require.Contains(t, string(out), "sms.routes[0] (us): a twilio route needs public_url (--public-url, OTPD_PUBLIC_URL)")
	require.NotContains(t, string(out), twilioToken)
}
