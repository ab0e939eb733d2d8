package whatsapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/whatsapp"
)

const (
	phoneNumberID = "106540352242922"
	accessToken   = "EAAJBtestaccesstoken0123456789"
	appSecret     = "0123456789abcdef0123456789abcdef"
	verifyToken   = "verify-me-please"
	wamid         = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NUE0NTJDMzk2QkI3RjU4NjQA"
	templateName  = "otp_copy_code"
)

// request is what the fake Cloud API saw.
type request struct {
	Method, Path string
	Header       http.Header
	Body         string
}

// testBundle is a fake Cloud API on 127.0.0.1 and a channel to it.
type testBundle struct {
	channel *whatsapp.Channel
	mu      sync.Mutex
	reqs    []request
	// reply answers each request; the nth request (from 0) gets
	// replies[n] when there is one, else reply.
	reply   func(w http.ResponseWriter, r *http.Request)
	replies []func(w http.ResponseWriter, r *http.Request)
}

func setup(t *testing.T, opts ...func(*whatsapp.Config)) *testBundle {
	t.Helper()
	b := &testBundle{reply: sendOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		n := len(b.reqs)
		b.reqs = append(b.reqs, request{r.Method, r.URL.Path, r.Header.Clone(), string(body)})
		reply := b.reply
		if n < len(b.replies) {
			reply = b.replies[n]
		}
		b.mu.Unlock()
		reply(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := whatsapp.Config{
		PhoneNumberID: phoneNumberID,
		AccessToken:   accessToken,
		AppSecret:     appSecret,
		VerifyToken:   verifyToken,
		BaseURL:       srv.URL,
		Template:      templateName,
	}
	for _, o := range opts {
		o(&cfg)
	}
	ch, err := whatsapp.New(cfg)
	require.NoError(t, err)
	b.channel = ch
	return b
}

func (b *testBundle) requests() []request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]request(nil), b.reqs...)
}

// sendOK is the Cloud API's answer to an accepted message.
func sendOK(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"messaging_product":"whatsapp","contacts":[{"input":"447700900123","wa_id":"447700900123"}],"messages":[{"id":"`+wamid+`"}]}`)
}

// graphError answers with a Graph API error object.
func graphError(status int, body string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func outbound(locale string, ttl time.Duration) *otpd.Outbound {
	return &otpd.Outbound{
		MessageID: "msg_01hzy8k6d2a9xq3m4n5p6r7s8t",
		ServiceID: "svc_acme",
		Channel:   otpd.ChannelWhatsApp,
		To:        "+447700900123",
		Brand:     "Acme Bank",
		Locale:    locale,
		ExpiresAt: time.Now().Add(ttl),
		Code:      "491038",
		Rendered:  otpd.Rendered{Text: "Your Acme Bank code is 491038."},
	}
}

// wantBody is the exact request for an authentication template message.
func wantBody(to, name, lang, code string) string {
	return `{
	  "messaging_product": "whatsapp",
	  "recipient_type": "individual",
	  "to": "` + to + `",
	  "type": "template",
	  "template": {
	    "name": "` + name + `",
	    "language": {"code": "` + lang + `"},
	    "components": [
	      {"type": "body", "parameters": [{"type": "text", "text": "` + code + `"}]},
	      {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "` + code + `"}]}
	    ]
	  }
	}`
}

func TestSendRequest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.channel.Send(context.Background(), outbound("", 10*time.Minute))
	require.NoError(t, err)
	require.Equal(t, otpd.SendResult{ProviderID: wamid, Refs: []string{wamid}}, res)

	reqs := b.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "/"+whatsapp.DefaultAPIVersion+"/"+phoneNumberID+"/messages", r.Path)
	require.Equal(t, "Bearer "+accessToken, r.Header.Get("Authorization"))
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.Equal(t, "application/json", r.Header.Get("Accept"))
	require.JSONEq(t, wantBody("447700900123", templateName, "en", "491038"), r.Body)
}

func TestSendAPIVersionAndBaseURLPath(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *whatsapp.Config) { c.APIVersion, c.BaseURL = "v21.0", c.BaseURL+"/" })
	_, err := b.channel.Send(context.Background(), outbound("", time.Minute))
	require.NoError(t, err)
	require.Equal(t, "/v21.0/"+phoneNumberID+"/messages", b.requests()[0].Path)
}

func TestSendLanguage(t *testing.T) {
	t.Parallel()
	translations := []string{"en", "en_US", "es", "pt_BR", "zh_TW"}
	tests := []struct {
		locale    string
		languages []string // Config.Languages
		want      string
	}{
		// Against WhatsApp's supported languages.
		{"", nil, "en"},
		{"en", nil, "en"},
		{"en-US", nil, "en_US"},
		{"en_us", nil, "en_US"},
		{"en-GB", nil, "en_GB"},
		{"en-AU", nil, "en"},
		{"pt-BR", nil, "pt_BR"},
		{"pt-PT", nil, "pt_PT"},
		{"pt", nil, "pt_BR"},
		{"de-AT", nil, "de"},
		{"es-419", nil, "es"},
		{"es-MX", nil, "es_MX"},
		{"zh-Hant", nil, "zh_TW"},
		{"zh-Hant-HK", nil, "zh_HK"},
		{"zh-Hans-CN", nil, "zh_CN"},
		{"zh", nil, "zh_CN"},
		{"no", nil, "nb"},
		{"nb-NO", nil, "nb"},
		{"fil-PH", nil, "fil"},
		{"sr-Latn-RS", nil, "sr"},
		{"de-1996", nil, "de"},
		{"en-x-private-US", nil, "en"},
		{"e1-US", nil, "en"},
		{"xx-YY", nil, "en"},
		{"i-klingon", nil, "en"},
		{"1234", nil, "en"},
		// Against the template's translations.
		{"en-US", translations, "en_US"},
		{"en-GB", translations, "en"},
		{"es-MX", translations, "es"},
		{"pt", translations, "pt_BR"},
		{"pt-PT", translations, "pt_BR"},
		{"zh-Hant-TW", translations, "zh_TW"},
		{"zh-CN", translations, "zh_TW"},
		{"de", translations, "en"},
		{"en", []string{"en_US", "es"}, "en_US"},
	}
	for _, tt := range tests {
		t.Run(tt.locale+"/"+strings.Join(tt.languages, ","), func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *whatsapp.Config) {
				c.Languages = tt.languages
				if len(tt.languages) > 0 {
					c.Language = tt.languages[0]
				}
			})
			_, err := b.channel.Send(context.Background(), outbound(tt.locale, time.Minute))
			require.NoError(t, err)
			reqs := b.requests()
			require.Len(t, reqs, 1)
			require.Equal(t, tt.want, languageOf(t, reqs[0].Body))
		})
	}
}

func languageOf(t *testing.T, body string) string {
	t.Helper()
	var m struct {
		Template struct {
			Name     string `json:"name"`
			Language struct {
				Code string `json:"code"`
			} `json:"language"`
		} `json:"template"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	return m.Template.Language.Code
}

func templateOf(t *testing.T, body string) string {
	t.Helper()
	var m struct {
		Template struct {
			Name string `json:"name"`
		} `json:"template"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	return m.Template.Name
}

const missingTranslationError = `{"error":{"message":"(#132001) Template name does not exist in the translation","type":"OAuthException","code":132001,"error_data":{"messaging_product":"whatsapp","details":"template name (otp_copy_code) does not exist in en_US"},"fbtrace_id":"AbCdEf123"}}`

func TestSendFallsBackWhenTranslationMissing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.replies = []func(http.ResponseWriter, *http.Request){graphError(404, missingTranslationError)}
	res, err := b.channel.Send(context.Background(), outbound("en-US", time.Minute))
	require.NoError(t, err)
	require.Equal(t, wamid, res.ProviderID)
	reqs := b.requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "en_US", languageOf(t, reqs[0].Body))
	require.JSONEq(t, wantBody("447700900123", templateName, "en", "491038"), reqs[1].Body)
}

func TestSendMissingTranslationWithoutFallback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		locale string
		edit   func(*whatsapp.Config)
	}{
		{"already the default language", "en", func(*whatsapp.Config) {}},
		{"no locale", "", func(*whatsapp.Config) {}},
		{"a service's explicit language", "en-US", func(c *whatsapp.Config) {
			c.Templates = func(string) (string, string, bool) { return "acme_otp", "de", true }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.edit)
			b.reply = graphError(404, missingTranslationError)
			_, err := b.channel.Send(context.Background(), outbound(tt.locale, time.Minute))
			require.True(t, otpd.IsPermanent(err), "%v", err)
			require.Len(t, b.requests(), 1)
			require.NoError(t, b.channel.Ready(context.Background()), "a template problem is not the account's")
		})
	}
}

func TestSendServiceTemplates(t *testing.T) {
	t.Parallel()
	templates := func(serviceID string) (string, string, bool) {
		switch serviceID {
		case "svc_acme":
			return "acme_otp", "de", true
		case "svc_named":
			return "named_otp", "", true
		case "svc_empty":
			return "", "fr", true
		}
		return "", "", false
	}
	tests := []struct {
		service, locale, wantName, wantLang string
	}{
		{"svc_acme", "en-US", "acme_otp", "de"},
		{"svc_named", "pt-BR", "named_otp", "pt_BR"},
		{"svc_named", "", "named_otp", "en"},
		{"svc_empty", "es", templateName, "es"}, // no name: nothing of it is used
		{"svc_other", "es", templateName, "es"},
	}
	for _, tt := range tests {
		t.Run(tt.service+"/"+tt.locale, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *whatsapp.Config) { c.Templates = templates })
			msg := outbound(tt.locale, time.Minute)
			msg.ServiceID = tt.service
			_, err := b.channel.Send(context.Background(), msg)
			require.NoError(t, err)
			body := b.requests()[0].Body
			require.Equal(t, tt.wantName, templateOf(t, body))
			require.Equal(t, tt.wantLang, languageOf(t, body))
		})
	}
}

func TestSendRefusesInvalidServiceTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *whatsapp.Config) {
		c.Templates = func(string) (string, string, bool) { return "Acme OTP", "", true }
	})
	_, err := b.channel.Send(context.Background(), outbound("", time.Minute))
	require.True(t, otpd.IsPermanent(err))
	require.Empty(t, b.requests())
}

// A Graph API error body.
func graphBody(code int, subcode int, message string) string {
	m := map[string]any{"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}
	if subcode != 0 {
		m["error_subcode"] = subcode
	}
	m["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": message + " for +447700900123"}
	out, _ := json.Marshal(map[string]any{"error": m})
	return string(out)
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		permanent bool
		code      string
		notReady  bool
		contains  string
	}{
		// Throttling: temporary.
		{"4 app rate limit", 400, graphBody(4, 0, "(#4) Application request limit reached"), false, "4", false, "rate limit"},
		{"80007 WABA rate limit", 400, graphBody(80007, 0, "(#80007) Rate limit issues"), false, "80007", false, "rate limit"},
		{"130429 throughput", 429, graphBody(130429, 0, "(#130429) Rate limit hit"), false, "130429", false, "throughput"},
		{"131048 spam rate limit", 400, graphBody(131048, 0, "(#131048) Spam rate limit hit"), false, "131048", false, "spam"},
		{"131056 pair rate limit", 400, graphBody(131056, 0, "(#131056) (Business Account, Consumer Account) pair rate limit hit"), false, "131056", false, "pair"},
		// Server errors: temporary.
		{"131000 something went wrong", 500, graphBody(131000, 0, "(#131000) Something went wrong"), false, "131000", false, "went wrong"},
		{"2 service", 503, graphBody(2, 0, "(#2) Service temporarily unavailable"), false, "2", false, "unavailable"},
		{"502 from a proxy", 502, "<html>Bad Gateway</html>", false, "502", false, "HTTP 502"},
		{"503 without a body", 503, "", false, "503", false, "HTTP 503"},
		{"429 without a body", 429, "", false, "429", false, "too many"},
		{"an unknown code", 400, graphBody(139999, 0, "(#139999) Something new"), false, "139999", false, "refused (OAuthException)"},
		// The recipient or the request: permanent.
		{"131026 undeliverable", 400, graphBody(131026, 0, "(#131026) Message Undeliverable"), true, "131026", false, "undeliverable"},
		{"131030 not in the allowed list", 400, graphBody(131030, 2655007, "(#131030) Recipient phone number not in allowed list"), true, "131030", false, "allowed list"},
		{"100 invalid parameter", 400, graphBody(100, 2494010, "(#100) Invalid parameter"), true, "100", false, "invalid parameter"},
		{"131009 invalid value", 400, graphBody(131009, 0, "(#131009) Parameter value is not valid"), true, "131009", false, "not valid"},
		// Templates: permanent.
		{"132000 parameter count", 400, graphBody(132000, 0, "(#132000) Number of parameters does not match"), true, "132000", false, "count"},
		{"132001 does not exist", 404, graphBody(132001, 0, "(#132001) Template name does not exist in the translation"), true, "132001", false, "does not exist"},
		{"132012 parameter format", 400, graphBody(132012, 0, "(#132012) Parameter format does not match format in the created template"), true, "132012", false, "format"},
		{"132015 paused", 400, graphBody(132015, 0, "(#132015) Template is Paused"), true, "132015", false, "paused"},
		{"132099 an unlisted template error", 400, graphBody(132099, 0, "(#132099) New"), true, "132099", false, "template error"},
		// The account: permanent, and Ready fails.
		{"190 expired token", 401, graphBody(190, 463, "Error validating access token: Session has expired"), true, "190", true, "subcode 463"},
		{"0 auth exception", 401, graphBody(0, 0, "(#0) AuthException"), true, "0", true, "authentication"},
		{"10 permission denied", 403, graphBody(10, 0, "(#10) Permission denied"), true, "10", true, "permission"},
		{"200 permissions", 403, graphBody(200, 0, "(#200) Permissions error"), true, "200", true, "permission"},
		{"131031 account locked", 400, graphBody(131031, 0, "(#131031) Business Account locked"), true, "131031", true, "locked"},
		{"131042 payment", 400, graphBody(131042, 0, "(#131042) Business eligibility payment issue"), true, "131042", true, "payment"},
		{"401 without a body", 401, "", true, "401", true, "unauthorized"},
		{"403 without a body", 403, "", true, "403", true, "forbidden"},
		{"404 without a body", 404, "", false, "404", false, "refused"},
		{"code given as a string", 400, `{"error":{"message":"x","type":"OAuthException","code":"130429"}}`, false, "130429", false, "throughput"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.reply = graphError(tt.status, tt.body)
			_, err := b.channel.Send(context.Background(), outbound("", time.Minute))
			require.Error(t, err)
			require.Equal(t, tt.permanent, otpd.IsPermanent(err), "%v", err)
			var se *otpd.SendError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.code, se.Code)
			require.Contains(t, err.Error(), tt.contains)
			require.Contains(t, err.Error(), "(code "+tt.code+")")
			require.NotContains(t, err.Error(), "447700900123", "Meta's texts may quote the number; errors are stored")
			if strings.Contains(tt.body, "fbtrace_id") {
				require.Contains(t, err.Error(), "fbtrace_id Az8or2yhqkZfEZ-_4Qn_Bam")
			}
			ready := b.channel.Ready(context.Background())
			if tt.notReady {
				require.Error(t, ready)
				require.Contains(t, ready.Error(), tt.code)
			} else {
				require.NoError(t, ready)
			}
			require.Len(t, b.requests(), 1, "no retry inside Send")
		})
	}
}

func TestReadyRecoversAfterASuccessfulSend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.replies = []func(http.ResponseWriter, *http.Request){graphError(401, graphBody(190, 463, "expired"))}
	_, err := b.channel.Send(context.Background(), outbound("", time.Minute))
	require.True(t, otpd.IsPermanent(err))
	require.ErrorContains(t, b.channel.Ready(context.Background()), "access token expired")

	// A temporary refusal says nothing about the token.
	b.mu.Lock()
	b.replies = append(b.replies, graphError(400, graphBody(130429, 0, "rate")))
	b.mu.Unlock()
	_, err = b.channel.Send(context.Background(), outbound("", time.Minute))
	require.Error(t, err)
	require.Error(t, b.channel.Ready(context.Background()))

	_, err = b.channel.Send(context.Background(), outbound("", time.Minute))
	require.NoError(t, err)
	require.NoError(t, b.channel.Ready(context.Background()), "the token works again")
}

func TestReadyDoesNotCallMeta(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.channel.Ready(context.Background()))
	require.Empty(t, b.requests())
}

func TestSendMalformedSuccess(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{"messaging_product":"whatsapp","messages":[]}`, `{"messages":[{"id":""}]}`, `not json`} {
		b := setup(t)
		b.reply = graphError(200, body)
		_, err := b.channel.Send(context.Background(), outbound("", time.Minute))
		require.Error(t, err, body)
		require.False(t, otpd.IsPermanent(err), "a reply we cannot read is retried")
	}
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := setup(t, func(c *whatsapp.Config) { c.Timeout = 50 * time.Millisecond })
	b.reply = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	t.Cleanup(func() { close(release) })
	_, err := b.channel.Send(context.Background(), outbound("", time.Minute))
	require.Error(t, err)
	require.False(t, otpd.IsPermanent(err))
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
}

func TestSendCanceled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.channel.Send(ctx, outbound("", time.Minute))
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, otpd.IsPermanent(err))
}

func TestSendRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*otpd.Outbound)
	}{
		{"no plus", func(m *otpd.Outbound) { m.To = "447700900123" }},
		{"spaces", func(m *otpd.Outbound) { m.To = "+44 7700 900123" }},
		{"just a plus", func(m *otpd.Outbound) { m.To = "+" }},
		{"too long", func(m *otpd.Outbound) { m.To = "+1234567890123456" }},
		{"leading zero", func(m *otpd.Outbound) { m.To = "+0447700900123" }},
		{"no code", func(m *otpd.Outbound) { m.Code = "" }},
		{"expired code", func(m *otpd.Outbound) { m.ExpiresAt = time.Now().Add(-time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			msg := outbound("", time.Minute)
			tt.edit(msg)
			_, err := b.channel.Send(context.Background(), msg)
			require.True(t, otpd.IsPermanent(err), "%v", err)
			require.Empty(t, b.requests())
		})
	}
}

// A code without an expiry is sent: nothing to compare the TTL with.
func TestSendWithoutExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msg := outbound("", 0)
	msg.ExpiresAt = time.Time{}
	_, err := b.channel.Send(context.Background(), msg)
	require.NoError(t, err)
}

// The template's TTL cannot be set per message, so a code with less time
// left than the TTL is still sent (see the package documentation).
func TestSendCodeShorterThanTemplateTTL(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *whatsapp.Config) { c.TemplateTTL = 10 * time.Minute })
	_, err := b.channel.Send(context.Background(), outbound("", 2*time.Minute))
	require.NoError(t, err)
	require.Len(t, b.requests(), 1)
}

func TestCheckTemplateTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		templateTTL, codeTTL time.Duration
		err                  string
	}{
		{0, 10 * time.Minute, ""}, // Meta's default, 10 minutes
		{0, 15 * time.Minute, ""},
		{0, 5 * time.Minute, "at most 300"},
		{5 * time.Minute, 5 * time.Minute, ""},
		{5 * time.Minute, 4*time.Minute + 30*time.Second, "at most 270"},
		{time.Minute, 10 * time.Second, "at most 30"},
	}
	for _, tt := range tests {
		ch, err := whatsapp.New(whatsapp.Config{PhoneNumberID: phoneNumberID, AccessToken: accessToken, Template: templateName, TemplateTTL: tt.templateTTL})
		require.NoError(t, err)
		err = ch.CheckTemplateTTL(tt.codeTTL)
		if tt.err == "" {
			require.NoError(t, err)
			continue
		}
		require.ErrorContains(t, err, tt.err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := whatsapp.Config{PhoneNumberID: phoneNumberID, AccessToken: accessToken, AppSecret: appSecret, Template: templateName}
	tests := []struct {
		name string
		edit func(*whatsapp.Config)
		err  string
	}{
		{"valid", func(*whatsapp.Config) {}, ""},
		{"sending only", func(c *whatsapp.Config) { c.AppSecret = "" }, ""},
		{"languages", func(c *whatsapp.Config) { c.Languages, c.Language = []string{"en_US", "pt_BR", "prs_AF"}, "en_US" }, ""},
		{"template TTL bounds", func(c *whatsapp.Config) { c.TemplateTTL = 30 * time.Second }, ""},
		{"no phone number id", func(c *whatsapp.Config) { c.PhoneNumberID = "" }, "PhoneNumberID"},
		{"a phone number, not its id", func(c *whatsapp.Config) { c.PhoneNumberID = "+15550783881" }, "PhoneNumberID"},
		{"no token", func(c *whatsapp.Config) { c.AccessToken = "" }, "AccessToken"},
		{"bad API version", func(c *whatsapp.Config) { c.APIVersion = "21.0" }, "APIVersion"},
		{"base URL with a path", func(c *whatsapp.Config) { c.BaseURL = "https://graph.facebook.com/v21.0" }, "BaseURL"},
		{"base URL with credentials", func(c *whatsapp.Config) { c.BaseURL = "https://u:p@graph.facebook.com" }, "BaseURL"},
		{"no template", func(c *whatsapp.Config) { c.Template = "" }, "Template"},
		{"template with spaces", func(c *whatsapp.Config) { c.Template = "OTP code" }, "Template"},
		{"BCP 47 language", func(c *whatsapp.Config) { c.Language = "en-US" }, "Language"},
		{"bad language in the list", func(c *whatsapp.Config) { c.Languages, c.Language = []string{"en", "pt-BR"}, "en" }, "Languages"},
		{"default language not listed", func(c *whatsapp.Config) { c.Languages = []string{"en_US"} }, "one of Languages"},
		{"template TTL too short", func(c *whatsapp.Config) { c.TemplateTTL = 29 * time.Second }, "TemplateTTL"},
		{"template TTL too long", func(c *whatsapp.Config) { c.TemplateTTL = 16 * time.Minute }, "TemplateTTL"},
		{"negative timeout", func(c *whatsapp.Config) { c.Timeout = -time.Second }, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.edit(&c)
			err := c.Validate()
			if tt.err == "" {
				require.NoError(t, err)
				_, err = whatsapp.New(c)
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.err)
			require.NotContains(t, err.Error(), accessToken)
			require.NotContains(t, err.Error(), appSecret)
			_, err = whatsapp.New(c)
			require.Error(t, err)
		})
	}
}

// New copies Languages: the caller may reuse its slice.
func TestNewCopiesLanguages(t *testing.T) {
	t.Parallel()
	langs := []string{"en", "pt_BR"}
	b := setup(t, func(c *whatsapp.Config) { c.Languages = langs })
	langs[1] = "de"
	_, err := b.channel.Send(context.Background(), outbound("pt", time.Minute))
	require.NoError(t, err)
	require.Equal(t, "pt_BR", languageOf(t, b.requests()[0].Body))
}

func TestSendConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := b.channel.Send(context.Background(), outbound("en-US", time.Minute))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, b.requests(), 8)
}

// TestCheckService: the template's TTL is checked against the code lifetime
// of every service that sends on WhatsApp, with the configured template or
// its own, and of no other.
func TestCheckService(t *testing.T) {
	t.Parallel()
	ch, err := whatsapp.New(whatsapp.Config{PhoneNumberID: phoneNumberID, AccessToken: accessToken, Template: templateName, TemplateTTL: 10 * time.Minute})
	require.NoError(t, err)
	svc := func(ttl time.Duration, channels []otpd.ChannelName, template string) *otpd.Service {
		p := otpd.DefaultPolicy()
		p.TTL = ttl
		return &otpd.Service{Name: "Acme", Policy: p, Channels: channels, WhatsAppTemplate: template}
	}
	tests := []struct {
		name string
		svc  *otpd.Service
		ok   bool
	}{
		{"whatsapp, code lives as long as the template", svc(10*time.Minute, []otpd.ChannelName{otpd.ChannelWhatsApp}, ""), true},
		{"whatsapp, code lives longer", svc(time.Hour, []otpd.ChannelName{otpd.ChannelSMS, otpd.ChannelWhatsApp}, ""), true},
		{"whatsapp, code dies first", svc(5*time.Minute, []otpd.ChannelName{otpd.ChannelSMS, otpd.ChannelWhatsApp}, ""), false},
		{"own template, code dies first", svc(5*time.Minute, []otpd.ChannelName{otpd.ChannelSMS}, "acme_otp"), false},
		{"no whatsapp", svc(5*time.Minute, []otpd.ChannelName{otpd.ChannelSMS}, ""), true},
	}
	for _, tt := range tests {
		err := ch.CheckService(tt.svc)
		if tt.ok {
			require.NoError(t, err, tt.name)
			continue
		}
		require.ErrorIs(t, err, otpd.ErrInvalid, tt.name)
		var oe *otpd.Error
		require.ErrorAs(t, err, &oe)
		require.Equal(t, "ttl_seconds", oe.Param)
		require.Contains(t, oe.Detail, "at least 600")
	}
}

// A service's own template is bound by the code's life as the configured
// one is: an expired code is not sent.
func TestSendServiceTemplateExpiredCode(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *whatsapp.Config) {
		c.Templates = func(string) (string, string, bool) { return "acme_otp", "en", true }
	})
	msg := outbound("en", time.Minute)
	msg.ExpiresAt = time.Now().Add(-time.Second)
	_, err := b.channel.Send(context.Background(), msg)
	require.True(t, otpd.IsPermanent(err), "%v", err)
	require.Empty(t, b.requests())
}
