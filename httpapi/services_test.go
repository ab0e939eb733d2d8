package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var timeRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func requireTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "%v is not a string", v)
	require.Regexp(t, timeRe, s)
	tm, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return tm
}

func TestCreateService(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		r := b.do(t, "POST", "/v1/services", adminToken, map[string]any{"name": "Acme Bank"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		s := r.JSON(t)
		require.Regexp(t, `^svc_[0-9a-z]{26}$`, s["id"])
		require.Regexp(t, `^whsec_`, s["webhook_secret"])
		requireTime(t, s["created_at"])
		requireTime(t, s["updated_at"])
		for _, k := range []string{"id", "webhook_secret", "created_at", "updated_at"} {
			delete(s, k)
		}
		require.Equal(t, map[string]any{
			"name": "Acme Bank", "code_length": 6.0, "code_alphabet": "digits", "ttl_seconds": 600.0,
			"max_ttl_seconds": 600.0, "max_check_attempts": 5.0, "max_sends": 5.0, "resend_cooldown_seconds": 30.0,
			"channels": []any{"sms"}, "allowed_countries": []any{}, "default_locale": "en",
			"webhook_url": nil, "app_hash": nil, "webotp_domain": nil, "whatsapp_template": nil, "whatsapp_language": nil,
			"rate_limits": map[string]any{}, "safe_list": []any{},
		}, s)
	})

	t.Run("every field", func(t *testing.T) {
		t.Parallel()
		body := map[string]any{
			"name": "Acme Shop", "code_length": 8, "code_alphabet": "alphanumeric", "ttl_seconds": 300,
			"max_ttl_seconds": 259200, "max_check_attempts": 3, "max_sends": 2, "resend_cooldown_seconds": 0,
			"channels": []string{"email", "sms"}, "allowed_countries": []string{"gb", "DE"}, "default_locale": "de-de",
			"webhook_url": "https://acme.example/hooks", "app_hash": "FA+9qCX9VSu", "webotp_domain": "Acme.Example",
			"whatsapp_template": "acme_otp", "whatsapp_language": "pt_BR",
			"rate_limits": map[string]any{"destination": "3/15m", "country": "off", "failed_checks": "20/1d"},
			"safe_list":   []string{"+4477009001", "+447700900999"},
		}
		s := b.must(t, http.StatusCreated, "POST", "/v1/services", adminToken, body)
		got := b.must(t, http.StatusOK, "GET", "/v1/services/"+s["id"].(string), adminToken, nil)
		require.NotContains(t, got, "webhook_secret", "the webhook secret is shown once")
		delete(s, "webhook_secret")
		require.Equal(t, s, got)
		require.Equal(t, []any{"GB", "DE"}, got["allowed_countries"])
		require.Equal(t, "de-DE", got["default_locale"])
		require.Equal(t, "acme.example", got["webotp_domain"])
		require.Equal(t, 259200.0, got["max_ttl_seconds"])
		require.Equal(t, 0.0, got["resend_cooldown_seconds"])
		require.Equal(t, map[string]any{"destination": "3/15m", "country": "off", "failed_checks": "20/1d"}, got["rate_limits"])
		require.Equal(t, []any{"+4477009001", "+447700900999"}, got["safe_list"])
	})

	tests := []struct {
		name  string
		body  map[string]any
		param string
	}{
		{"no name", map[string]any{}, "name"},
		{"blank name", map[string]any{"name": "  "}, "name"},
		{"short code", map[string]any{"name": "X", "code_length": 3}, "code_length"},
		{"long code", map[string]any{"name": "X", "code_length": 11}, "code_length"},
		{"alphabet", map[string]any{"name": "X", "code_alphabet": "hex"}, "code_alphabet"},
		{"whatsapp template", map[string]any{"name": "X", "whatsapp_template": "Acme OTP"}, "whatsapp_template"},
		{"whatsapp language", map[string]any{"name": "X", "whatsapp_language": "pt-BR"}, "whatsapp_language"},
		{"short ttl", map[string]any{"name": "X", "ttl_seconds": 59}, "ttl_seconds"},
		{"long ttl", map[string]any{"name": "X", "ttl_seconds": 259201}, "ttl_seconds"},
		{"max ttl below ttl", map[string]any{"name": "X", "max_ttl_seconds": 60}, "max_ttl_seconds"},
		{"zero max ttl", map[string]any{"name": "X", "max_ttl_seconds": 0}, "max_ttl_seconds"},
		{"attempts", map[string]any{"name": "X", "max_check_attempts": 21}, "max_check_attempts"},
		{"sends", map[string]any{"name": "X", "max_sends": 0}, "max_sends"},
		{"cooldown", map[string]any{"name": "X", "resend_cooldown_seconds": -1}, "resend_cooldown_seconds"},
		{"channel", map[string]any{"name": "X", "channels": []string{"pigeon"}}, "channels"},
		{"auto channel", map[string]any{"name": "X", "channels": []string{"auto"}}, "channels"},
		{"country", map[string]any{"name": "X", "allowed_countries": []string{"GBR"}}, "allowed_countries"},
		{"locale", map[string]any{"name": "X", "default_locale": "not a locale"}, "default_locale"},
		{"webhook", map[string]any{"name": "X", "webhook_url": "ftp://x"}, "webhook_url"},
		{"app hash", map[string]any{"name": "X", "app_hash": "short"}, "app_hash"},
		{"webotp", map[string]any{"name": "X", "webotp_domain": "not a domain"}, "webotp_domain"},
		{"limit name", map[string]any{"name": "X", "rate_limits": map[string]any{"per_moon": "1/1h"}}, "rate_limits"},
		{"limit form", map[string]any{"name": "X", "rate_limits": map[string]any{"destination": "5 per hour"}}, "rate_limits"},
		{"limit empty", map[string]any{"name": "X", "rate_limits": map[string]any{"destination": ""}}, "rate_limits"},
		{"limit period", map[string]any{"name": "X", "rate_limits": map[string]any{"destination": "5/100ms"}}, "rate_limits"},
		{"safe list", map[string]any{"name": "X", "safe_list": []string{"+44"}}, "safe_list"},
		{"safe list form", map[string]any{"name": "X", "safe_list": []string{"4477009"}}, "safe_list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := requireProblem(t, b.do(t, "POST", "/v1/services", adminToken, tt.body), http.StatusBadRequest, "invalid_parameter")
			require.Equal(t, tt.param, p["param"])
		})
	}
}

func TestUpdateAndDeleteService(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, map[string]any{"webhook_url": "https://acme.example/hooks", "app_hash": "FA+9qCX9VSu", "max_sends": 3})
	before := b.must(t, http.StatusOK, "GET", "/v1/services/"+sid, adminToken, nil)
	b.clock.Advance(time.Second)

	got := b.must(t, http.StatusOK, "PATCH", "/v1/services/"+sid, adminToken, map[string]any{
		"name": "Acme", "ttl_seconds": 900, "webhook_url": nil, "webotp_domain": "acme.example",
	})
	require.Equal(t, "Acme", got["name"])
	require.Equal(t, 900.0, got["ttl_seconds"])
	require.Equal(t, 900.0, got["max_ttl_seconds"], "max_ttl_seconds follows ttl_seconds when it was not set")
	require.Nil(t, got["webhook_url"], "null clears")
	require.Equal(t, "FA+9qCX9VSu", got["app_hash"], "absent keeps")
	require.Equal(t, "acme.example", got["webotp_domain"])
	require.Equal(t, 3.0, got["max_sends"])
	require.Equal(t, before["created_at"], got["created_at"])
	require.True(t, requireTime(t, got["updated_at"]).After(requireTime(t, before["updated_at"])))
	require.NotContains(t, got, "webhook_secret")
	require.Equal(t, got, b.must(t, http.StatusOK, "GET", "/v1/services/"+sid, adminToken, nil))

	// An empty patch changes nothing but the update time.
	got2 := b.must(t, http.StatusOK, "PATCH", "/v1/services/"+sid, adminToken, nil)
	delete(got, "updated_at")
	delete(got2, "updated_at")
	require.Equal(t, got, got2)

	// Rate limits merge by name; null goes back to the server's default.
	lim := b.must(t, http.StatusOK, "PATCH", "/v1/services/"+sid, adminToken, map[string]any{
		"rate_limits": map[string]any{"destination": "2/1h", "prefix": "off"}})
	require.Equal(t, map[string]any{"destination": "2/1h", "prefix": "off"}, lim["rate_limits"])
	lim = b.must(t, http.StatusOK, "PATCH", "/v1/services/"+sid, adminToken, map[string]any{
		"rate_limits": map[string]any{"prefix": nil, "client_ip": "100/1h"}})
	require.Equal(t, map[string]any{"destination": "2/1h", "client_ip": "100/1h"}, lim["rate_limits"])
	lim = b.must(t, http.StatusOK, "PATCH", "/v1/services/"+sid, adminToken, map[string]any{"rate_limits": map[string]any{"destination": nil, "client_ip": nil}})
	require.Equal(t, map[string]any{}, lim["rate_limits"])

	p := requireProblem(t, b.do(t, "PATCH", "/v1/services/"+sid, adminToken, map[string]any{"code_length": 99}), 400, "invalid_parameter")
	require.Equal(t, "code_length", p["param"])
	requireProblem(t, b.do(t, "PATCH", "/v1/services/svc_01jd0000000000000000000000", adminToken, map[string]any{"name": "X"}), 404, "not_found")

	key := b.key(t, sid)
	vid := b.start(t, sid, key, nil)
	r := b.do(t, "DELETE", "/v1/services/"+sid, adminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status)
	require.Empty(t, r.Body)
	requireProblem(t, b.do(t, "GET", "/v1/services/"+sid, adminToken, nil), 404, "not_found")
	requireProblem(t, b.do(t, "GET", vpath(sid, vid), adminToken, nil), 404, "not_found")
	requireProblem(t, b.do(t, "DELETE", "/v1/services/"+sid, adminToken, nil), 404, "not_found")
	requireProblem(t, b.do(t, "GET", vpath(sid), key, nil), 401, "unauthorized")
}

func TestListServices(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []string
	for i := range 7 {
		ids = append(ids, b.service(t, map[string]any{"name": fmt.Sprintf("S%d", i)}))
	}

	all := b.must(t, http.StatusOK, "GET", "/v1/services", adminToken, nil)
	require.Nil(t, all["next_cursor"])
	require.Len(t, all["data"], 7)

	var got []string
	cursor := ""
	pages := 0
	for {
		q := url.Values{"limit": {"3"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		page := b.must(t, http.StatusOK, "GET", "/v1/services?"+q.Encode(), adminToken, nil)
		pages++
		for _, s := range page["data"].([]any) {
			s := s.(map[string]any)
			require.NotContains(t, s, "webhook_secret")
			got = append(got, s["id"].(string))
		}
		if page["next_cursor"] == nil {
			break
		}
		cursor = page["next_cursor"].(string)
	}
	require.Equal(t, ids, got, "oldest first, each once")
	require.Equal(t, 3, pages)

	// Exactly a page: no next cursor after it.
	page := b.must(t, http.StatusOK, "GET", "/v1/services?limit=7", adminToken, nil)
	require.Nil(t, page["next_cursor"])

	for _, q := range []string{"limit=0", "limit=501", "limit=ten", "limit=-1", "limit=2.5"} {
		p := requireProblem(t, b.do(t, "GET", "/v1/services?"+q, adminToken, nil), 400, "invalid_parameter")
		require.Equal(t, "limit", p["param"], q)
	}
	b.must(t, http.StatusOK, "GET", "/v1/services?limit=500", adminToken, nil)
	b.must(t, http.StatusOK, "GET", "/v1/services?limit=&cursor=", adminToken, nil)
	for _, q := range []string{"cursor=!!", "cursor=bm90LWFuLWlk", "cursor=dmVyXzAxamQwMDAwMDAwMDAwMDAwMDAwMDAwMDAw"} {
		p := requireProblem(t, b.do(t, "GET", "/v1/services?"+q, adminToken, nil), 400, "invalid_parameter")
		require.Equal(t, "cursor", p["param"], q)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, nil)

	created := b.must(t, http.StatusCreated, "POST", "/v1/services/"+sid+"/keys", adminToken, map[string]any{"name": " backend "})
	require.Regexp(t, `^key_[0-9a-z]{26}$`, created["id"])
	require.Regexp(t, `^otpd_sk_`, created["secret"])
	require.Equal(t, "backend", created["name"])
	require.Equal(t, sid, created["service_id"])
	require.Nil(t, created["last_used_at"])
	requireTime(t, created["created_at"])
	secret := created["secret"].(string)

	p := requireProblem(t, b.do(t, "POST", "/v1/services/"+sid+"/keys", adminToken, map[string]any{}), 400, "invalid_parameter")
	require.Equal(t, "name", p["param"])
	requireProblem(t, b.do(t, "POST", "/v1/services/svc_01jd0000000000000000000000/keys", adminToken, map[string]any{"name": "x"}), 404, "not_found")

	// The key works, and using it is recorded.
	b.start(t, sid, secret, nil)
	var kids []string
	for i := range 4 {
		kids = append(kids, b.must(t, http.StatusCreated, "POST", "/v1/services/"+sid+"/keys", adminToken, map[string]any{"name": fmt.Sprint("k", i)})["id"].(string))
	}
	list := b.must(t, http.StatusOK, "GET", "/v1/services/"+sid+"/keys", adminToken, nil)
	require.Nil(t, list["next_cursor"])
	data := list["data"].([]any)
	require.Len(t, data, 5)
	first := data[0].(map[string]any)
	require.NotContains(t, first, "secret")
	require.Equal(t, created["id"], first["id"])
	requireTime(t, first["last_used_at"])

	// Paging.
	page := b.must(t, http.StatusOK, "GET", "/v1/services/"+sid+"/keys?limit=2", adminToken, nil)
	require.Len(t, page["data"], 2)
	page = b.must(t, http.StatusOK, "GET", "/v1/services/"+sid+"/keys?limit=2&cursor="+page["next_cursor"].(string), adminToken, nil)
	require.Equal(t, kids[1], page["data"].([]any)[0].(map[string]any)["id"])
	page = b.must(t, http.StatusOK, "GET", "/v1/services/"+sid+"/keys?limit=2&cursor="+page["next_cursor"].(string), adminToken, nil)
	require.Len(t, page["data"], 1)
	require.Nil(t, page["next_cursor"])

	// Revoking takes effect at once.
	r := b.do(t, "DELETE", "/v1/services/"+sid+"/keys/"+created["id"].(string), adminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status)
	requireProblem(t, b.do(t, "GET", vpath(sid), secret, nil), 401, "unauthorized")
	requireProblem(t, b.do(t, "DELETE", "/v1/services/"+sid+"/keys/"+created["id"].(string), adminToken, nil), 404, "not_found")
	// A key of one service cannot be revoked through another.
	other := b.service(t, nil)
	requireProblem(t, b.do(t, "DELETE", "/v1/services/"+other+"/keys/"+kids[0], adminToken, nil), 404, "not_found")
}

func TestServiceDefaultLocaleAuto(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.must(t, http.StatusCreated, "POST", "/v1/services", adminToken, map[string]any{"name": "Acme", "default_locale": "auto"})
	require.Equal(t, "auto", res["default_locale"])
	sid := res["id"].(string)
	res = b.must(t, http.StatusOK, "PATCH", "/v1/services/"+sid, adminToken, map[string]any{"default_locale": "pt-br"})
	require.Equal(t, "pt-BR", res["default_locale"])
	// "auto" does not skip the other checks.
	res = b.must(t, http.StatusBadRequest, "POST", "/v1/services", adminToken, map[string]any{"name": "Acme", "default_locale": "auto", "webhook_url": "ftp://x"})
	require.Equal(t, "webhook_url", res["param"])
}
