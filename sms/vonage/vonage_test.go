package vonage_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/sms"
	"github.com/otpd/otpd/sms/vonage"
)

const (
	apiKey     = "abcd1234"
	apiSecret  = "abcdef0123456789"
	sigSecret  = "71efab63122f1d179f51c46bac838fb5"
	token      = "Zx4pQ9rT2mL7vB1nK8sD"
	callbackAt = "https://otp.example.com/v1/callbacks/vonage/a?t=" + token
)

// request is what the fake SMS API saw.
type request struct {
	Method, Path string
	Header       http.Header
	Form         url.Values
}

// testBundle is a fake SMS API on 127.0.0.1 and a route to it.
type testBundle struct {
	route *vonage.Route
	mu    sync.Mutex
	reqs  []request
	reply func(w http.ResponseWriter, r *http.Request)
}

func setup(t *testing.T, opts ...func(*vonage.Config)) *testBundle {
	t.Helper()
	b := &testBundle{reply: replyJSON(http.StatusOK, oneAccepted)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		b.mu.Lock()
		b.reqs = append(b.reqs, request{r.Method, r.URL.Path, r.Header.Clone(), form})
		reply := b.reply
		b.mu.Unlock()
		reply(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := vonage.Config{
		APIKey:            apiKey,
		APISecret:         apiSecret,
		From:              "AcmeBank",
		BaseURL:           srv.URL,
		StatusCallbackURL: callbackAt,
	}
	for _, o := range opts {
		o(&cfg)
	}
	r, err := vonage.New(cfg)
	require.NoError(t, err)
	b.route = r
	return b
}

func (b *testBundle) requests() []request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]request(nil), b.reqs...)
}

func replyJSON(status int, body string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// Replies shaped as the SMS API reference shows them.
const (
	oneAccepted = `{
  "message-count": "1",
  "messages": [{
    "to": "447700900123",
    "message-id": "0A0000000123ABCD1",
    "status": "0",
    "remaining-balance": "3.14159265",
    "message-price": "0.03330000",
    "network": "23410",
    "client-ref": "msg_01hzy8k6d2a9xq3m4n5p6r7s8t"
  }]
}`
	twoAccepted = `{
  "message-count": "2",
  "messages": [
    {"to": "447700900123", "message-id": "0A0000000123ABCD1", "status": "0", "remaining-balance": "3.1", "message-price": "0.0333", "network": "23410"},
    {"to": "447700900123", "message-id": "0A0000000123ABCD2", "status": "0", "remaining-balance": "3.0", "message-price": "0.0333", "network": "23410"}
  ]
}`
)

func outbound(text string, ttl time.Duration) *otpd.Outbound {
	return &otpd.Outbound{
		MessageID: "msg_01hzy8k6d2a9xq3m4n5p6r7s8t",
		Channel:   otpd.ChannelSMS,
		To:        "+447700900123",
		ExpiresAt: time.Now().Add(ttl),
		Rendered:  otpd.Rendered{Text: text},
	}
}

func TestSendRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, typ string
		reply           string
		want            otpd.SendResult
	}{
		{"GSM-7 with extension characters", "Your Acme code is 123456. {€}\n@acme.example #123456", "text", oneAccepted,
			otpd.SendResult{ProviderID: "0A0000000123ABCD1", Refs: []string{"0A0000000123ABCD1"}}},
		{"Unicode in two parts", "Ваш код Acme Bank: 123456. Никому его не сообщайте, даже сотрудникам банка.", "unicode", twoAccepted,
			otpd.SendResult{ProviderID: "0A0000000123ABCD1", Refs: []string{"0A0000000123ABCD1", "0A0000000123ABCD2"}}},
		{"one character outside GSM-7", "Your code is 123456 ✅", "unicode", oneAccepted,
			otpd.SendResult{ProviderID: "0A0000000123ABCD1", Refs: []string{"0A0000000123ABCD1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.reply = replyJSON(http.StatusOK, tt.reply)
			res, err := b.route.Send(context.Background(), outbound(tt.text, 10*time.Minute+500*time.Millisecond))
			require.NoError(t, err)
			require.Equal(t, tt.want, res)

			reqs := b.requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			require.Equal(t, http.MethodPost, r.Method)
			require.Equal(t, "/sms/json", r.Path)
			require.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
			require.Equal(t, "application/json", r.Header.Get("Accept"))
			require.Empty(t, r.Header.Get("Authorization"), "credentials go in the body")
			ttl, err := strconv.Atoi(r.Form.Get("ttl"))
			require.NoError(t, err)
			require.InDelta(t, 600000, ttl, 1500, "the code's remaining TTL in milliseconds")
			require.Equal(t, url.Values{
				"api_key":           {apiKey},
				"api_secret":        {apiSecret},
				"from":              {"AcmeBank"},
				"to":                {"447700900123"},
				"text":              {tt.text},
				"type":              {tt.typ},
				"status-report-req": {"1"},
				"callback":          {callbackAt},
				"client-ref":        {"msg_01hzy8k6d2a9xq3m4n5p6r7s8t"},
				"ttl":               {r.Form.Get("ttl")},
			}, r.Form)
		})
	}
}

func TestSendSigned(t *testing.T) {
	t.Parallel()
	methods := []vonage.SignatureMethod{vonage.MD5Hash, vonage.HMACMD5, vonage.HMACSHA1, vonage.HMACSHA256, vonage.HMACSHA512}
	for _, m := range methods {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *vonage.Config) {
				c.APISecret, c.SignatureSecret, c.SignatureMethod = "", sigSecret, m
				c.From = "+447700900999"
			})
			before := time.Now().Unix()
			_, err := b.route.Send(context.Background(), outbound("Your code & more = 123456", time.Minute))
			require.NoError(t, err)
			f := b.requests()[0].Form
			require.NotContains(t, f, "api_secret", "Vonage refuses a secret next to a signature (status 32)")
			require.Equal(t, "447700900999", f.Get("from"), "numbers without '+'")
			ts, err := strconv.ParseInt(f.Get("timestamp"), 10, 64)
			require.NoError(t, err)
			require.InDelta(t, before, ts, 5)
			require.Equal(t, docSignature(m, sigSecret, f), f.Get("sig"))
		})
	}
}

func TestSendOptionalFields(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *vonage.Config) { c.StatusCallbackURL = "" })
	msg := outbound("code 123456", 0)
	msg.ExpiresAt = time.Time{}
	msg.MessageID = "an-id-longer-than-the-forty-characters-client-ref-takes"
	_, err := b.route.Send(context.Background(), msg)
	require.NoError(t, err)
	f := b.requests()[0].Form
	for _, k := range []string{"callback", "ttl", "client-ref"} {
		require.NotContains(t, f, k)
	}
}

func TestTTLBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ttl  time.Duration
		want int64
	}{
		{"at least the API's 20 seconds", 5 * time.Second, vonage.MinTTL},
		{"an expired code too", -time.Minute, vonage.MinTTL},
		{"at most the API's 7 days", 30 * 24 * time.Hour, vonage.MaxTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.route.Send(context.Background(), outbound("code", tt.ttl))
			require.NoError(t, err)
			require.Equal(t, strconv.FormatInt(tt.want, 10), b.requests()[0].Form.Get("ttl"))
		})
	}
}

func TestSendRefusals(t *testing.T) {
	t.Parallel()
	refusal := func(status, text string) string {
		return `{"message-count": "1", "messages": [{"status": "` + status + `", "error-text": "` + text + `"}]}`
	}
	tests := []struct {
		name      string
		status    int
		body      string
		permanent bool
		code      string
	}{
		{"1 throttled", 200, refusal("1", "Throughput Rate Exceeded - please wait [ 10 ] and retry"), false, "1"},
		{"2 missing parameters", 200, refusal("2", "Missing text param"), true, "2"},
		{"3 invalid parameters", 200, refusal("3", "Invalid to address: 447700900123"), true, "3"},
		{"4 invalid credentials", 200, refusal("4", "Bad Credentials"), false, "4"},
		{"5 internal error", 200, refusal("5", "Internal Error"), false, "5"},
		{"6 invalid message", 200, refusal("6", "Unroutable message - rejected"), true, "6"},
		{"7 number barred", 200, refusal("7", "Number barred: 447700900123"), true, "7"},
		{"8 account barred", 200, refusal("8", "Partner account barred"), false, "8"},
		{"9 no credit", 200, refusal("9", "Partner quota exceeded"), false, "9"},
		{"11 not enabled for HTTP", 200, refusal("11", "Account not enabled for REST"), false, "11"},
		{"12 too long", 200, refusal("12", "Message too long"), true, "12"},
		{"14 invalid signature", 200, refusal("14", "Invalid Signature"), false, "14"},
		{"15 sender id not allowed", 200, refusal("15", "Illegal Sender Address - rejected"), false, "15"},
		{"29 demo account", 200, refusal("29", "Non White-listed Destination - rejected"), false, "29"},
		{"33 de-activated", 200, refusal("33", "Number de-activated"), true, "33"},
		{"an unknown status", 200, refusal("99", "Something new"), false, "99"},
		{"a numeric status", 200, `{"message-count": "1", "messages": [{"status": 7, "error-text": "Number barred"}]}`, true, "7"},
		{"second part refused", 200, `{"message-count": "2", "messages": [{"status": "0", "message-id": "0A1"}, {"status": "1", "error-text": "Throttled"}]}`, false, "1"},
		{"401", 401, `{"type": "https://developer.nexmo.com/api-errors#unauthorized", "title": "Unauthorized"}`, false, "401"},
		{"429", 429, ``, false, "429"},
		{"500", 500, `{"title": "Internal Server Error"}`, false, "500"},
		{"502 from a proxy", 502, `<html>Bad Gateway</html>`, false, "502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.reply = replyJSON(tt.status, tt.body)
			_, err := b.route.Send(context.Background(), outbound("code 123456", time.Minute))
			require.Error(t, err)
			require.Equal(t, tt.permanent, otpd.IsPermanent(err))
			var se *otpd.SendError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.code, se.Code)
			require.NotContains(t, err.Error(), "447700900123", "error-text may quote the number; errors are stored")
		})
	}
}

func TestSendUnreadableReply(t *testing.T) {
	t.Parallel()
	for _, body := range []string{``, `{}`, `{"messages": []}`, `{"messages": [{"status": "0"}]}`, `not json`} {
		b := setup(t)
		b.reply = replyJSON(http.StatusOK, body)
		_, err := b.route.Send(context.Background(), outbound("code", time.Minute))
		require.Error(t, err, body)
		require.False(t, otpd.IsPermanent(err), body)
	}
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := setup(t, func(c *vonage.Config) { c.Timeout = 50 * time.Millisecond })
	b.reply = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	t.Cleanup(func() { close(release) })
	_, err := b.route.Send(context.Background(), outbound("code", time.Minute))
	require.Error(t, err)
	require.False(t, otpd.IsPermanent(err))
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	require.ErrorIs(t, err, sms.ErrMaybeAccepted, "the request was written: the message may exist")
}

func TestSendRefusesNonE164(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, to := range []string{"447700900123", "+44 7700 900123", "+123", "+1234567890123456"} {
		msg := outbound("code", time.Minute)
		msg.To = to
		_, err := b.route.Send(context.Background(), msg)
		require.True(t, otpd.IsPermanent(err), to)
	}
	require.Empty(t, b.requests())
}

func TestReadyDoesNotCallVonage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.route.Ready(context.Background()))
	require.Empty(t, b.requests())
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := vonage.Config{APIKey: apiKey, APISecret: apiSecret, From: "AcmeBank", StatusCallbackURL: callbackAt}
	tests := []struct {
		name string
		edit func(*vonage.Config)
		err  string
	}{
		{"valid", func(*vonage.Config) {}, ""},
		{"number with +", func(c *vonage.Config) { c.From = "+447700900999" }, ""},
		{"number without +", func(c *vonage.Config) { c.From = "447700900999" }, ""},
		{"signed requests", func(c *vonage.Config) { c.APISecret, c.SignatureSecret = "", sigSecret }, ""},
		{"signed callbacks need no token", func(c *vonage.Config) {
			c.SignatureSecret, c.SignatureMethod, c.StatusCallbackURL = sigSecret, vonage.HMACSHA256, "https://otp.example.com/cb"
		}, ""},
		{"no callback", func(c *vonage.Config) { c.StatusCallbackURL = "" }, ""},
		{"no key", func(c *vonage.Config) { c.APIKey = "" }, "APIKey"},
		{"no secret", func(c *vonage.Config) { c.APISecret = "" }, "APISecret"},
		{"unknown method", func(c *vonage.Config) { c.SignatureMethod = "sha3" }, "SignatureMethod"},
		{"no sender", func(c *vonage.Config) { c.From = "" }, "From"},
		{"sender too long", func(c *vonage.Config) { c.From = "AcmeBankLtd1" }, "1 to 11"},
		{"sender punctuation", func(c *vonage.Config) { c.From = "Acme-Bank" }, "letters, digits and spaces"},
		{"number too long", func(c *vonage.Config) { c.From = "+1234567890123456" }, "15 digits"},
		{"base URL with a path", func(c *vonage.Config) { c.BaseURL = "https://rest.nexmo.com/sms/json" }, "BaseURL"},
		{"callback not absolute", func(c *vonage.Config) { c.StatusCallbackURL = "/cb?t=" + token }, "StatusCallbackURL"},
		{"callback too long", func(c *vonage.Config) {
			c.StatusCallbackURL = "https://otp.example.com/v1/callbacks/vonage/a-very-long-route-name-indeed-yes?t=" + token + token
		}, "at most 100"},
		{"unsigned callback without a token", func(c *vonage.Config) { c.StatusCallbackURL = "https://otp.example.com/cb" }, "secret token"},
		{"unsigned callback with a short token", func(c *vonage.Config) { c.StatusCallbackURL = "https://otp.example.com/cb?t=abc" }, "secret token"},
		{"negative timeout", func(c *vonage.Config) { c.Timeout = -time.Second }, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.edit(&c)
			err := c.Validate()
			if tt.err == "" {
				require.NoError(t, err)
				_, err = vonage.New(c)
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.err)
			for _, secret := range []string{apiSecret, sigSecret, token} {
				require.NotContains(t, err.Error(), secret)
			}
			_, err = vonage.New(c)
			require.Error(t, err)
		})
	}
}
