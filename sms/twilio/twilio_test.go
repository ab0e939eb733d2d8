package twilio_test

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
	"github.com/otpd/otpd/sms/twilio"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "0123456789abcdef0123456789abcdef"
	messageSID = "SM1234567890abcdef1234567890abcdef"
	serviceSID = "MG0123456789abcdef0123456789abcdef"
	callbackAt = "https://otp.example.com/v1/callbacks/twilio/primary"
)

// request is what the fake Twilio saw.
type request struct {
	Method, Path string
	Header       http.Header
	User, Pass   string
	BasicAuth    bool
	Form         url.Values
	RawBody      string
}

// testBundle is a fake Messages API on 127.0.0.1 and a route to it.
type testBundle struct {
	route *twilio.Route
	mu    sync.Mutex
	reqs  []request
	// reply answers each request; a 201 with a message resource by default.
	reply func(w http.ResponseWriter, r *http.Request)
}

func setup(t *testing.T, opts ...func(*twilio.Config)) *testBundle {
	t.Helper()
	b := &testBundle{reply: func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, messageResource)
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		user, pass, ok := r.BasicAuth()
		b.mu.Lock()
		b.reqs = append(b.reqs, request{r.Method, r.URL.Path, r.Header.Clone(), user, pass, ok, form, string(body)})
		reply := b.reply
		b.mu.Unlock()
		reply(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := twilio.Config{
		AccountSID:        accountSID,
		AuthToken:         authToken,
		From:              "AcmeBank",
		BaseURL:           srv.URL,
		StatusCallbackURL: callbackAt,
	}
	for _, o := range opts {
		o(&cfg)
	}
	r, err := twilio.New(cfg)
	require.NoError(t, err)
	b.route = r
	return b
}

func (b *testBundle) requests() []request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]request(nil), b.reqs...)
}

// messageResource is the shape of Twilio's 201 reply to a create.
const messageResource = `{
  "account_sid": "AC0123456789abcdef0123456789abcdef",
  "api_version": "2010-04-01",
  "body": "Your Acme Bank code is 123456.",
  "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
  "direction": "outbound-api",
  "error_code": null,
  "error_message": null,
  "from": "AcmeBank",
  "messaging_service_sid": null,
  "num_media": "0",
  "num_segments": "1",
  "price": null,
  "sid": "SM1234567890abcdef1234567890abcdef",
  "status": "queued",
  "to": "+447700900123",
  "uri": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/SM1234567890abcdef1234567890abcdef.json"
}`

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
		name, text string
	}{
		{"GSM-7", "Your Acme Bank code is 123456.\n@acme.example #123456"},
		{"Unicode", "Ваш код Acme Bank: 123456 ✅"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			res, err := b.route.Send(context.Background(), outbound(tt.text, 10*time.Minute+500*time.Millisecond))
			require.NoError(t, err)
			require.Equal(t, otpd.SendResult{ProviderID: messageSID, Refs: []string{messageSID}}, res)

			reqs := b.requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			require.Equal(t, http.MethodPost, r.Method)
			require.Equal(t, "/2010-04-01/Accounts/"+accountSID+"/Messages.json", r.Path)
			require.True(t, r.BasicAuth)
			require.Equal(t, accountSID, r.User)
			require.Equal(t, authToken, r.Pass)
			require.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
			require.Equal(t, "application/json", r.Header.Get("Accept"))
			require.Equal(t, "msg_01hzy8k6d2a9xq3m4n5p6r7s8t", r.Header.Get("I-Twilio-Idempotency-Token"))
			// Every field, and nothing else: the text goes as it is,
			// Twilio picks the encoding.
			vp := r.Form.Get("ValidityPeriod")
			require.Contains(t, []string{"599", "600"}, vp, "the code's remaining TTL, in whole seconds")
			require.Equal(t, url.Values{
				"To":             {"+447700900123"},
				"From":           {"AcmeBank"},
				"Body":           {tt.text},
				"StatusCallback": {callbackAt},
				"ValidityPeriod": {vp},
			}, r.Form)
		})
	}
}

func TestSendOptionalFields(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *twilio.Config) {
		c.From, c.MessagingServiceSID, c.StatusCallbackURL = "", serviceSID, ""
	})
	msg := outbound("code 123456", 0)
	msg.ExpiresAt, msg.MessageID = time.Time{}, ""
	_, err := b.route.Send(context.Background(), msg)
	require.NoError(t, err)
	r := b.requests()[0]
	require.Equal(t, url.Values{
		"To":                  {"+447700900123"},
		"MessagingServiceSid": {serviceSID},
		"Body":                {"code 123456"},
	}, r.Form, "no StatusCallback without a URL, no ValidityPeriod without an expiry")
	_, sent := r.Header["I-Twilio-Idempotency-Token"]
	require.False(t, sent)
}

func TestValidityPeriodBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ttl  time.Duration
		want string
	}{
		{"capped at the API's 10 hours", 20 * time.Hour, "36000"},
		{"at least one second", -5 * time.Second, "1"},
		{"rounded down", 90*time.Second + 900*time.Millisecond, "90"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.route.Send(context.Background(), outbound("code", tt.ttl))
			require.NoError(t, err)
			got := b.requests()[0].Form.Get("ValidityPeriod")
			if tt.want == "90" {
				require.Contains(t, []string{"89", "90"}, got)
				return
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	restError := func(status int, code int, message string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"code": `+strconv.Itoa(code)+`, "message": "`+message+`", "more_info": "https://www.twilio.com/docs/errors/`+strconv.Itoa(code)+`", "status": `+strconv.Itoa(status)+`}`)
		}
	}
	tests := []struct {
		name      string
		reply     func(w http.ResponseWriter, r *http.Request)
		permanent bool
		code      string
	}{
		{"21211 invalid To", restError(400, 21211, "The 'To' number +447700900123 is not a valid phone number."), true, "21211"},
		{"21610 unsubscribed", restError(400, 21610, "Attempt to send to unsubscribed recipient"), true, "21610"},
		{"21614 not a mobile number", restError(400, 21614, "'To' number is not a valid mobile number"), true, "21614"},
		{"21635 landline", restError(400, 21635, "'To' number cannot be a landline"), true, "21635"},
		{"21617 body too long", restError(400, 21617, "The concatenated message body exceeds the 1600 character limit"), true, "21617"},
		{"21408 region not enabled: another route may serve it", restError(400, 21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"), false, "21408"},
		{"21606 unusable sender", restError(400, 21606, "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination/account"), false, "21606"},
		{"21608 trial account", restError(400, 21608, "The number is unverified"), false, "21608"},
		{"21612 unreachable from this sender", restError(400, 21612, "The 'To' phone number is not currently reachable"), false, "21612"},
		{"20003 bad credentials", restError(401, 20003, "Authenticate"), false, "20003"},
		{"20404 wrong account", restError(404, 20404, "The requested resource was not found"), false, "20404"},
		{"20429 too many requests", restError(429, 20429, "Too Many Requests"), false, "20429"},
		{"an unknown 4xx code", restError(400, 21999, "Something new"), false, "21999"},
		{"500 with a body", restError(500, 20500, "Internal Server Error"), false, "20500"},
		{"503 without a body", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, false, "503"},
		{"429 without a body", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(429) }, false, "429"},
		{"HTML from a proxy", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<html>Bad Gateway</html>")
		}, false, "502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.reply = tt.reply
			_, err := b.route.Send(context.Background(), outbound("code 123456", time.Minute))
			require.Error(t, err)
			require.Equal(t, tt.permanent, otpd.IsPermanent(err))
			var se *otpd.SendError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.code, se.Code)
			require.NotContains(t, err.Error(), "447700900123", "Twilio's text may quote the number; errors are stored")
		})
	}
}

func TestSendMalformedSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reply = func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"status": "queued"}`)
	}
	_, err := b.route.Send(context.Background(), outbound("code", time.Minute))
	require.Error(t, err)
	require.False(t, otpd.IsPermanent(err), "a reply we cannot read is retried")
	require.ErrorIs(t, err, sms.ErrMaybeAccepted, "a 201 created something")
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := setup(t, func(c *twilio.Config) { c.Timeout = 50 * time.Millisecond })
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

func TestSendCanceled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.route.Send(ctx, outbound("code", time.Minute))
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, otpd.IsPermanent(err))
}

func TestSendRefusesNonE164(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, to := range []string{"447700900123", "+44 7700 900123", "+", "+1234567890123456"} {
		msg := outbound("code", time.Minute)
		msg.To = to
		_, err := b.route.Send(context.Background(), msg)
		require.True(t, otpd.IsPermanent(err), to)
	}
	require.Empty(t, b.requests())
}

func TestReadyDoesNotCallTwilio(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.route.Ready(context.Background()))
	require.Empty(t, b.requests())
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := twilio.Config{AccountSID: accountSID, AuthToken: authToken, From: "+447700900999"}
	tests := []struct {
		name string
		edit func(*twilio.Config)
		err  string
	}{
		{"valid", func(*twilio.Config) {}, ""},
		{"short code", func(c *twilio.Config) { c.From = "12345" }, ""},
		{"alphanumeric with space", func(c *twilio.Config) { c.From = "Acme Bank" }, ""},
		{"messaging service", func(c *twilio.Config) { c.From, c.MessagingServiceSID = "", serviceSID }, ""},
		{"callback URL", func(c *twilio.Config) { c.StatusCallbackURL = callbackAt + "?route=a" }, ""},
		{"no account", func(c *twilio.Config) { c.AccountSID = "" }, "AccountSID"},
		{"API key SID is not an account", func(c *twilio.Config) { c.AccountSID = "SK0123456789abcdef0123456789abcdef" }, "AccountSID"},
		{"no token", func(c *twilio.Config) { c.AuthToken = "" }, "AuthToken"},
		{"no sender", func(c *twilio.Config) { c.From = "" }, "From or MessagingServiceSID"},
		{"two senders", func(c *twilio.Config) { c.MessagingServiceSID = serviceSID }, "not both"},
		{"bad service", func(c *twilio.Config) { c.From, c.MessagingServiceSID = "", "MGxyz" }, "MessagingServiceSID"},
		{"sender too long", func(c *twilio.Config) { c.From = "AcmeBankLtd1" }, "1 to 11"},
		{"sender without a letter", func(c *twilio.Config) { c.From = "12 34" }, "at least one letter"},
		{"sender punctuation", func(c *twilio.Config) { c.From = "Acme-Bank" }, "letters, digits and spaces"},
		{"base URL with a path", func(c *twilio.Config) { c.BaseURL = "https://api.twilio.com/2010-04-01" }, "BaseURL"},
		{"callback not absolute", func(c *twilio.Config) { c.StatusCallbackURL = "/v1/callbacks/twilio" }, "StatusCallbackURL"},
		{"callback with fragment", func(c *twilio.Config) { c.StatusCallbackURL = callbackAt + "#rc=2" }, "fragment"},
		{"negative timeout", func(c *twilio.Config) { c.Timeout = -time.Second }, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.edit(&c)
			err := c.Validate()
			if tt.err == "" {
				require.NoError(t, err)
				_, err = twilio.New(c)
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.err)
			require.NotContains(t, err.Error(), authToken)
			_, err = twilio.New(c)
			require.Error(t, err)
		})
	}
}
