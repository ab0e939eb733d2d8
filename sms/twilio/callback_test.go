package twilio_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/sms/twilio"
)

// docSignature computes X-Twilio-Signature step by step as Twilio's
// "Secure your webhooks" page describes it, independently of the package:
// take the full URL, append each POST parameter's name and value sorted by
// name, HMAC-SHA1 with the auth token, base64.
func docSignature(token, fullURL string, params map[string]string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	data := fullURL
	for _, k := range names {
		data += k + params[k]
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// The example Twilio publishes (docs and every helper library's tests):
// auth token 12345, a POST to https://mycompany.com/myapp.php?foo=1&bar=2.
func TestSignaturePublishedExample(t *testing.T) {
	t.Parallel()
	params := map[string]string{
		"CallSid": "CA1234567890ABCDE",
		"Caller":  "+14158675309",
		"Digits":  "1234",
		"From":    "+14158675309",
		"To":      "+18005551212",
	}
	const u, want = "https://mycompany.com/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8="
	require.Equal(t, want, docSignature("12345", u, params))
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	require.Equal(t, want, twilio.Signature("12345", u, form))
}

func TestSignatureRepeatedParameter(t *testing.T) {
	t.Parallel()
	// Each distinct value once, sorted, as Twilio's libraries do.
	got := twilio.Signature("tok", "https://a.example/cb", url.Values{"A": {"2", "1", "2"}})
	mac := hmac.New(sha1.New, []byte("tok"))
	mac.Write([]byte("https://a.example/cbA1A2"))
	require.Equal(t, base64.StdEncoding.EncodeToString(mac.Sum(nil)), got)
}

// receipts records what the handler hands over.
type receipts struct {
	mu  sync.Mutex
	got []otpd.Receipt
	err error
}

func (r *receipts) record(_ context.Context, rc otpd.Receipt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rc)
	return r.err
}

func (r *receipts) all() []otpd.Receipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]otpd.Receipt(nil), r.got...)
}

// callbackServer serves a route's handler on 127.0.0.1 at /cb, with
// StatusCallbackURL pointing there.
func callbackServer(t *testing.T, rec *receipts) (cbURL string) {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cbURL = srv.URL + "/cb?route=primary"
	route, err := twilio.New(twilio.Config{AccountSID: accountSID, AuthToken: authToken, From: "AcmeBank", StatusCallbackURL: cbURL})
	require.NoError(t, err)
	h = route.CallbackHandler(rec.record, "primary")
	return cbURL
}

// statusCallback is the form Twilio posts for a message status.
func statusCallback(status, errorCode string) map[string]string {
	p := map[string]string{
		"AccountSid":    accountSID,
		"ApiVersion":    "2010-04-01",
		"From":          "AcmeBank",
		"MessageSid":    messageSID,
		"MessageStatus": status,
		"SmsSid":        messageSID,
		"SmsStatus":     status,
		"To":            "+447700900123",
	}
	if errorCode != "" {
		p["ErrorCode"] = errorCode
	}
	return p
}

func post(t *testing.T, target string, params map[string]string, header map[string]string) int {
	t.Helper()
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body [1]byte
	n, _ := resp.Body.Read(body[:])
	require.Zero(t, n, "no body, no detail")
	return resp.StatusCode
}

func TestCallbackStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status, errorCode string
		want              *otpd.Receipt // nil: acknowledged, not recorded
	}{
		{"queued", "", nil},
		{"sending", "", nil},
		{"sent", "", nil},
		{"accepted", "", nil},
		{"scheduled", "", nil},
		{"partially_delivered", "", nil},
		{"delivered", "", &otpd.Receipt{Status: otpd.MessageDelivered}},
		{"read", "", &otpd.Receipt{Status: otpd.MessageDelivered}},
		{"undelivered", "30003", &otpd.Receipt{Status: otpd.MessageUndelivered, Error: "undelivered (30003 unreachable destination handset)"}},
		{"undelivered", "30005", &otpd.Receipt{Status: otpd.MessageUndelivered, Error: "undelivered (30005 unknown destination handset)"}},
		{"undelivered", "30006", &otpd.Receipt{Status: otpd.MessageUndelivered, Error: "undelivered (30006 landline or unreachable carrier)"}},
		{"undelivered", "30007", &otpd.Receipt{Status: otpd.MessageUndelivered, Error: "undelivered (30007 message filtered by the carrier)"}},
		{"failed", "30008", &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed (30008 unknown error)"}},
		{"failed", "30036", &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed (30036 validity period expired)"}},
		{"failed", "39999", &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed (39999)"}},
		{"failed", "", &otpd.Receipt{Status: otpd.MessageFailed, Error: "failed"}},
		{"canceled", "", &otpd.Receipt{Status: otpd.MessageFailed, Error: "canceled"}},
	}
	for _, tt := range tests {
		t.Run(tt.status+"/"+tt.errorCode, func(t *testing.T) {
			t.Parallel()
			rec := &receipts{}
			cb := callbackServer(t, rec)
			params := statusCallback(tt.status, tt.errorCode)
			status := post(t, cb, params, map[string]string{"X-Twilio-Signature": docSignature(authToken, cb, params)})
			require.Equal(t, http.StatusNoContent, status)
			if tt.want == nil {
				require.Empty(t, rec.all())
				return
			}
			want := *tt.want
			want.Channel, want.Ref = otpd.ChannelSMS, "primary:"+messageSID
			require.Equal(t, []otpd.Receipt{want}, rec.all())
		})
	}
}

func TestCallbackSignature(t *testing.T) {
	t.Parallel()
	params := statusCallback("delivered", "")
	tests := []struct {
		name   string
		header func(cb string) map[string]string
		want   int
	}{
		{"valid", func(cb string) map[string]string {
			return map[string]string{"X-Twilio-Signature": docSignature(authToken, cb, params)}
		}, http.StatusNoContent},
		{"missing", func(string) map[string]string { return nil }, http.StatusForbidden},
		{"empty", func(string) map[string]string { return map[string]string{"X-Twilio-Signature": ""} }, http.StatusForbidden},
		{"garbage", func(string) map[string]string { return map[string]string{"X-Twilio-Signature": "not base64!"} }, http.StatusForbidden},
		{"wrong token", func(cb string) map[string]string {
			return map[string]string{"X-Twilio-Signature": docSignature("another token", cb, params)}
		}, http.StatusForbidden},
		{"another URL", func(cb string) map[string]string {
			return map[string]string{"X-Twilio-Signature": docSignature(authToken, strings.Replace(cb, "primary", "backup", 1), params)}
		}, http.StatusForbidden},
		{"tampered status", func(cb string) map[string]string {
			p := statusCallback("undelivered", "30003")
			return map[string]string{"X-Twilio-Signature": docSignature(authToken, cb, p)}
		}, http.StatusForbidden},
		{"Webhooks Rule signature", func(cb string) map[string]string {
			return map[string]string{
				"X-Twilio-Signature":                   docSignature(authToken, cb, params),
				"X-Twilio-Webhooks-Signature-Settings": "key=KS123,algorithm=HMAC_SHA256",
			}
		}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &receipts{}
			cb := callbackServer(t, rec)
			require.Equal(t, tt.want, post(t, cb, params, tt.header(cb)))
			if tt.want != http.StatusNoContent {
				require.Empty(t, rec.all(), "nothing is recorded without a valid signature")
			}
		})
	}
}

// Twilio has signed URLs both with and without the scheme's default port;
// its libraries accept either, and so does the handler.
func TestCallbackPortForms(t *testing.T) {
	t.Parallel()
	params := statusCallback("delivered", "")
	tests := []struct{ configured, signed string }{
		{"https://otp.example.com/cb", "https://otp.example.com:443/cb"},
		{"https://otp.example.com:443/cb", "https://otp.example.com/cb"},
		{"http://otp.example.com/cb", "http://otp.example.com:80/cb"},
		{"https://otp.example.com:8443/cb", "https://otp.example.com/cb"},
	}
	for _, tt := range tests {
		t.Run(tt.configured, func(t *testing.T) {
			t.Parallel()
			rec := &receipts{}
			route, err := twilio.New(twilio.Config{AccountSID: accountSID, AuthToken: authToken, From: "AcmeBank", StatusCallbackURL: tt.configured})
			require.NoError(t, err)
			srv := httptest.NewServer(route.CallbackHandler(rec.record, "primary"))
			t.Cleanup(srv.Close)
			status := post(t, srv.URL+"/cb", params, map[string]string{"X-Twilio-Signature": docSignature(authToken, tt.signed, params)})
			require.Equal(t, http.StatusNoContent, status)
			require.Len(t, rec.all(), 1)
		})
	}
}

func TestCallbackWithoutConfiguredURL(t *testing.T) {
	t.Parallel()
	rec := &receipts{}
	route, err := twilio.New(twilio.Config{AccountSID: accountSID, AuthToken: authToken, From: "AcmeBank"})
	require.NoError(t, err)
	srv := httptest.NewServer(route.CallbackHandler(rec.record, "primary"))
	t.Cleanup(srv.Close)
	params := statusCallback("delivered", "")
	status := post(t, srv.URL, params, map[string]string{"X-Twilio-Signature": docSignature(authToken, srv.URL, params)})
	require.Equal(t, http.StatusForbidden, status, "nothing to verify against")
	require.Empty(t, rec.all())
}

func TestCallbackRecordErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"unknown message: acknowledged, Twilio must not retry", fmt.Errorf("receipt for sms ref: %w", otpd.ErrNotFound), http.StatusNoContent},
		{"store failure: Twilio retries", errors.New("database is locked"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &receipts{err: tt.err}
			cb := callbackServer(t, rec)
			params := statusCallback("delivered", "")
			require.Equal(t, tt.want, post(t, cb, params, map[string]string{"X-Twilio-Signature": docSignature(authToken, cb, params)}))
			require.Len(t, rec.all(), 1)
		})
	}
}

func TestCallbackRequests(t *testing.T) {
	t.Parallel()
	rec := &receipts{}
	cb := callbackServer(t, rec)

	resp, err := http.Get(cb)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	// A body over the limit is refused before anything else.
	big := strings.NewReader("Body=" + strings.Repeat("x", 128<<10))
	resp, err = http.Post(cb, "application/x-www-form-urlencoded", big)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	// Signed, but without a message sid: nothing to record.
	params := map[string]string{"MessageStatus": "delivered"}
	require.Equal(t, http.StatusNoContent, post(t, cb, params, map[string]string{"X-Twilio-Signature": docSignature(authToken, cb, params)}))
	require.Empty(t, rec.all())
}
