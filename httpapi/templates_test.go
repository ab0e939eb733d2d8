package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

func tpath(sid string, rest ...string) string {
	return "/v1/services/" + sid + "/templates" + strings.Join(append([]string{""}, rest...), "/")
}

// sent delivers the verification's queued messages and returns what the
// channel was given for the last one.
func (b *testBundle) sent1(t *testing.T, sid, vid string) *otpd.Outbound {
	t.Helper()
	b.code(t, sid, vid)
	v, err := b.engine.GetVerification(context.Background(), sid, vid)
	require.NoError(t, err)
	last := v.Messages[len(v.Messages)-1].ID
	b.sent.mu.Lock()
	defer b.sent.mu.Unlock()
	for _, m := range b.sent.msgs {
		if m.MessageID == last {
			return m
		}
	}
	t.Fatalf("message %s was not sent", last)
	return nil
}

func TestTemplates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, map[string]any{"name": "Acme Bank", "channels": []string{"sms", "email"}})
	key := b.key(t, sid)

	put := b.must(t, http.StatusCreated, "PUT", tpath(sid, "sms", "pt-br"), adminToken, map[string]any{"text": "{brand}: {code} vale {expiry}."})
	require.Equal(t, map[string]any{"channel": "sms", "purpose": "login", "locale": "pt-BR", "subject": nil,
		"text": "{brand}: {code} vale {expiry}.", "created_at": put["created_at"], "updated_at": put["updated_at"]}, put)

	// The override is used for a verification in a locale matching pt-BR.
	vid := b.start(t, sid, key, map[string]any{"to": "+5511987654321", "locale": "pt"})
	out := b.sent1(t, sid, vid)
	require.Equal(t, "Acme Bank: "+out.Code+" vale 10 minutos.", out.Text)
	// Not for another locale or purpose.
	out = b.sent1(t, sid, b.start(t, sid, key, map[string]any{"to": "+5511987654321", "locale": "pt", "purpose": "password_reset"}))
	require.NotContains(t, out.Text, " vale ")
	out = b.sent1(t, sid, b.start(t, sid, key, map[string]any{"to": "+5511987654321"}))
	require.NotContains(t, out.Text, " vale ")

	// PUT again replaces it (200), at once on this node.
	b.clock.Advance(time.Second)
	again := b.must(t, http.StatusOK, "PUT", tpath(sid, "sms", "pt-BR")+"?purpose=login", adminToken, map[string]any{"text": "{code} é o seu código {brand}"})
	require.Equal(t, put["created_at"], again["created_at"])
	require.NotEqual(t, put["updated_at"], again["updated_at"])
	b.must(t, http.StatusOK, "PUT", tpath(sid, "sms", "pt-BR"), adminToken, map[string]any{"text": "{code} é o seu código {brand}"})
	out = b.sent1(t, sid, b.start(t, sid, key, map[string]any{"to": "+5511987654321", "locale": "pt-BR"}))
	require.Equal(t, out.Code+" é o seu código Acme Bank", out.Text)

	// E-mail: the text is escaped in the HTML part, and so are values.
	b.must(t, http.StatusOK, "PATCH", "/v1/services/"+sid, adminToken, map[string]any{"name": "Acme <Bank>"})
	b.must(t, http.StatusCreated, "PUT", tpath(sid, "email", "en")+"?purpose=transaction", adminToken, map[string]any{
		"subject": "{brand}: confirm {amount}", "text": "<p>Pay {amount} to {payee}?</p>\n\n{code}"})
	out = b.sent1(t, sid, b.start(t, sid, key, map[string]any{"to": "ana@example.com", "channel": "email",
		"transaction": map[string]any{"amount": "12.50", "currency": "EUR", "payee": "<script>x</script>"}}))
	require.Equal(t, "Acme <Bank>: confirm €12.50", out.Subject)
	require.Equal(t, "<p>Pay €12.50 to <script>x</script>?</p>\n\n"+out.Code, out.Text)
	require.Contains(t, out.HTML, "&lt;p&gt;Pay <bdi>€12.50</bdi> to <bdi>&lt;script&gt;x&lt;/script&gt;</bdi>?&lt;/p&gt;")
	require.NotContains(t, out.HTML, "<script>")

	list := b.must(t, http.StatusOK, "GET", tpath(sid), adminToken, nil)
	require.Nil(t, list["next_cursor"])
	var keys []string
	for _, it := range list["data"].([]any) {
		m := it.(map[string]any)
		keys = append(keys, m["channel"].(string)+"/"+m["purpose"].(string)+"/"+m["locale"].(string))
	}
	require.Equal(t, []string{"email/transaction/en", "sms/login/pt-BR"}, keys)
	got := b.must(t, http.StatusOK, "GET", tpath(sid, "email", "EN")+"?purpose=transaction", adminToken, nil)
	require.Equal(t, "{brand}: confirm {amount}", got["subject"])

	// DELETE: back to the built-in text.
	b.must(t, http.StatusNoContent, "DELETE", tpath(sid, "sms", "pt-BR"), adminToken, nil)
	requireProblem(t, b.do(t, "DELETE", tpath(sid, "sms", "pt-BR"), adminToken, nil), http.StatusNotFound, "not_found")
	requireProblem(t, b.do(t, "GET", tpath(sid, "sms", "pt-BR"), adminToken, nil), http.StatusNotFound, "not_found")
	out = b.sent1(t, sid, b.start(t, sid, key, map[string]any{"to": "+5511987654321", "locale": "pt-BR"}))
	require.NotContains(t, out.Text, "é o seu código")

	// Deleting the service deletes its templates.
	b.must(t, http.StatusNoContent, "DELETE", "/v1/services/"+sid, adminToken, nil)
	list2, err := b.store.ListTemplates(context.Background(), sid)
	require.NoError(t, err)
	require.Empty(t, list2)
}

// TestTemplateValidation: every refusal is a 400 invalid_parameter naming
// the parameter; tokens that may not manage the service's templates get
// 401 (its own key) or 404 (another service's key, an unknown service).
func TestTemplateValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, map[string]any{"name": "Acme Bank", "webotp_domain": "acme.example", "app_hash": "FA+9qCX9VSu"})
	own := b.key(t, sid)
	otherKey := b.key(t, b.service(t, map[string]any{"name": "Other"}))
	long := strings.Repeat("Lorem ipsum dolor sit amet. ", 22) // 616 characters: over 4 SMS
	tests := []struct {
		name  string
		path  string
		body  map[string]any
		param string
	}{
		{"missing code placeholder", tpath(sid, "sms", "en"), map[string]any{"text": "Your {brand} code"}, "text"},
		{"code placeholder twice", tpath(sid, "sms", "en"), map[string]any{"text": "{code} {code}"}, "text"},
		{"unknown placeholder", tpath(sid, "sms", "en"), map[string]any{"text": "{code} for {user}"}, "text"},
		{"template syntax of another kind", tpath(sid, "sms", "en"), map[string]any{"text": "{code} {{.Brand}}"}, "text"},
		{"too long for SMS", tpath(sid, "sms", "en"), map[string]any{"text": "{code} " + long}, "text"},
		{"transaction without amount", tpath(sid, "sms", "en") + "?purpose=transaction", map[string]any{"text": "{code} for {payee}"}, "text"},
		{"amount outside a transaction", tpath(sid, "sms", "en"), map[string]any{"text": "{code} for {amount}"}, "text"},
		{"empty text", tpath(sid, "sms", "en"), map[string]any{"text": ""}, "text"},
		{"subject on SMS", tpath(sid, "sms", "en"), map[string]any{"text": "{code}", "subject": "x"}, "subject"},
		{"e-mail without subject", tpath(sid, "email", "en"), map[string]any{"text": "{code}"}, "subject"},
		{"code in the subject", tpath(sid, "email", "en"), map[string]any{"text": "{code}", "subject": "Code {code}"}, "subject"},
		{"HTML", tpath(sid, "email", "en"), map[string]any{"text": "{code}", "subject": "x", "html": "<b>{code}</b>"}, "html"},
		{"unknown member", tpath(sid, "sms", "en"), map[string]any{"text": "{code}", "body": "x"}, "body"},
		{"bad locale", tpath(sid, "sms", "xx-!!"), map[string]any{"text": "{code}"}, "locale"},
		{"locale without built-in texts", tpath(sid, "sms", "sv"), map[string]any{"text": "{code}"}, "locale"},
		{"matching but not canonical locale", tpath(sid, "sms", "pt"), map[string]any{"text": "{code}"}, "locale"},
		{"bad channel", tpath(sid, "fax", "en"), map[string]any{"text": "{code}"}, "channel"},
		{"auto is no channel", tpath(sid, "auto", "en"), map[string]any{"text": "{code}"}, "channel"},
		{"bad purpose", tpath(sid, "sms", "en") + "?purpose=signup", map[string]any{"text": "{code}"}, "purpose"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := requireProblem(t, b.do(t, "PUT", tt.path, adminToken, tt.body), http.StatusBadRequest, "invalid_parameter")
			require.Equal(t, tt.param, p["param"], "%v", p["detail"])
		})
	}
	requireProblem(t, b.do(t, "GET", tpath(sid, "fax", "en"), adminToken, nil), http.StatusBadRequest, "invalid_parameter")
	requireProblem(t, b.do(t, "DELETE", tpath(sid, "sms", "sv"), adminToken, nil), http.StatusBadRequest, "invalid_parameter")

	ok := map[string]any{"text": "{code}"}
	requireProblem(t, b.do(t, "PUT", tpath(sid, "sms", "en"), otherKey, ok), http.StatusNotFound, "not_found")
	requireProblem(t, b.do(t, "GET", tpath(sid), otherKey, nil), http.StatusNotFound, "not_found")
	requireProblem(t, b.do(t, "PUT", tpath(sid, "sms", "en"), own, ok), http.StatusUnauthorized, "unauthorized")
	requireProblem(t, b.do(t, "PUT", tpath("svc_01jd0000000000000000000000", "sms", "en"), adminToken, ok), http.StatusNotFound, "not_found")
	requireProblem(t, b.do(t, "GET", tpath("svc_01jd0000000000000000000000"), adminToken, nil), http.StatusNotFound, "not_found")
	b.must(t, http.StatusCreated, "PUT", tpath(sid, "sms", "en"), adminToken, ok)
}

// TestTemplateCache: a node renders with the templates it read within
// otpd.TemplateCacheTTL; a change another node made (here: written to the
// store directly) is used once that has passed.
func TestTemplateCache(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, map[string]any{"name": "Acme Bank"})
	b.must(t, http.StatusCreated, "PUT", tpath(sid, "sms", "en"), adminToken, map[string]any{"text": "one {code}"})
	out := b.sent1(t, sid, b.start(t, sid, adminToken, map[string]any{"to": "+447700900123"}))
	require.Equal(t, "one "+out.Code, out.Text)

	now := b.clock.Now()
	_, err := b.store.PutTemplate(context.Background(), &otpd.MessageTemplate{ServiceID: sid,
		TemplateKey: otpd.TemplateKey{Channel: otpd.ChannelSMS, Purpose: "login", Locale: "en"}, Text: "two {code}", CreatedAt: now, UpdatedAt: now})
	require.NoError(t, err)
	out = b.sent1(t, sid, b.start(t, sid, adminToken, map[string]any{"to": "+447700900124"}))
	require.Equal(t, "one "+out.Code, out.Text, "still cached")
	b.clock.Advance(otpd.TemplateCacheTTL)
	out = b.sent1(t, sid, b.start(t, sid, adminToken, map[string]any{"to": "+447700900125"}))
	require.Equal(t, "two "+out.Code, out.Text)
}
