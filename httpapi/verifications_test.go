package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStartVerification(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, map[string]any{"channels": []string{"sms", "email"}, "max_ttl_seconds": 3600})
	key := b.key(t, sid)

	r := b.do(t, "POST", vpath(sid), key, map[string]any{
		"to": "+447700900123", "channel": "sms", "locale": "de", "purpose": "transaction",
		"transaction": map[string]any{"amount": "125.00", "currency": "eur", "payee": "ACME Shop"},
		"ttl_seconds": 1200, "client_ip": "203.0.113.7", "reference": "order-8812",
	})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	v := r.JSON(t)
	require.Regexp(t, `^ver_[0-9a-z]{26}$`, v["id"])
	created := requireTime(t, v["created_at"])
	requireTime(t, v["updated_at"])
	require.Equal(t, 1200*time.Second, requireTime(t, v["expires_at"]).Sub(created))
	msgs := v["messages"].([]any)
	require.Len(t, msgs, 1)
	m := msgs[0].(map[string]any)
	require.Regexp(t, `^msg_[0-9a-z]{26}$`, m["id"])
	requireTime(t, m["created_at"])
	requireTime(t, m["updated_at"])
	for _, k := range []string{"id", "created_at", "updated_at", "expires_at", "messages"} {
		delete(v, k)
	}
	require.Equal(t, map[string]any{
		"service_id": sid, "to": "+447700900123", "channel": "sms", "fallback": []any{}, "fallback_to": map[string]any{}, "status": "pending", "locale": "de",
		"purpose": "transaction", "reference": "order-8812",
		"transaction":        map[string]any{"amount": "125.00", "currency": "EUR", "payee": "ACME Shop"},
		"attempts_remaining": 5.0, "sends_remaining": 4.0,
	}, v, "never the code, hash, salt, key id or client ip")
	require.Equal(t, "sms", m["channel"])
	require.Equal(t, "queued", m["status"])
	require.Nil(t, m["error"])

	// The minimal request: service defaults, nulls for the optional members.
	v = b.must(t, http.StatusCreated, "POST", vpath(sid), key, map[string]any{"to": "Ana@Example.COM"})
	require.Equal(t, "Ana@example.com", v["to"], "the domain is case-insensitive, the local part is not")
	require.Equal(t, "email", v["channel"], "auto picks the first channel that reaches the destination")
	require.Equal(t, "en", v["locale"])
	require.Nil(t, v["purpose"])
	require.Nil(t, v["reference"])
	require.Nil(t, v["transaction"])

	tests := []struct {
		name   string
		svc    map[string]any
		body   map[string]any
		status int
		code   string
		param  string
	}{
		{"no destination", nil, map[string]any{}, 400, "invalid_parameter", "to"},
		{"bad number", nil, map[string]any{"to": "+12"}, 400, "invalid_parameter", "to"},
		{"bad channel", nil, map[string]any{"to": "+447700900123", "channel": "fax"}, 400, "invalid_parameter", "channel"},
		{"bad fallback", nil, map[string]any{"to": "+447700900123", "fallback": []string{"fax"}}, 400, "invalid_parameter", "fallback"},
		{"bad locale", nil, map[string]any{"to": "+447700900123", "locale": "not a locale"}, 400, "invalid_parameter", "locale"},
		{"bad purpose", nil, map[string]any{"to": "+447700900123", "purpose": "Log In"}, 400, "invalid_parameter", "purpose"},
		{"bad amount", nil, map[string]any{"to": "+447700900123", "transaction": map[string]any{"amount": "1,00", "currency": "EUR", "payee": "A"}}, 400, "invalid_parameter", "transaction.amount"},
		{"bad currency", nil, map[string]any{"to": "+447700900123", "transaction": map[string]any{"amount": "1.00", "currency": "EURO", "payee": "A"}}, 400, "invalid_parameter", "transaction.currency"},
		{"no payee", nil, map[string]any{"to": "+447700900123", "transaction": map[string]any{"amount": "1.00", "currency": "EUR"}}, 400, "invalid_parameter", "transaction.payee"},
		{"ttl over max", nil, map[string]any{"to": "+447700900123", "ttl_seconds": 601}, 400, "invalid_parameter", "ttl_seconds"},
		{"ttl under min", nil, map[string]any{"to": "+447700900123", "ttl_seconds": 59}, 400, "invalid_parameter", "ttl_seconds"},
		{"bad client ip", nil, map[string]any{"to": "+447700900123", "client_ip": "localhost"}, 400, "invalid_parameter", "client_ip"},
		{"long reference", nil, map[string]any{"to": "+447700900123", "reference": string(make([]byte, 257))}, 400, "invalid_parameter", "reference"},
		{"country not allowed", map[string]any{"allowed_countries": []string{"DE"}}, map[string]any{"to": "+447700900123"}, 403, "destination_blocked", "to"},
		{"channel not enabled", nil, map[string]any{"to": "+447700900123", "channel": "whatsapp"}, 422, "channel_unavailable", "channel"},
		{"channel not configured", map[string]any{"channels": []string{"whatsapp"}}, map[string]any{"to": "+447700900123", "channel": "whatsapp"}, 422, "channel_unavailable", "channel"},
		{"channel cannot reach", map[string]any{"channels": []string{"sms", "email"}}, map[string]any{"to": "+447700900123", "channel": "email"}, 422, "channel_unavailable", "channel"},
		{"no channel reaches", nil, map[string]any{"to": "ana@example.com"}, 422, "channel_unavailable", "channel"},
		{"fallback unavailable", nil, map[string]any{"to": "+447700900123", "fallback": []string{"whatsapp"}}, 422, "channel_unavailable", "fallback"},
		{"fallback repeats the channel", nil, map[string]any{"to": "+447700900123", "fallback": []string{"sms"}}, 400, "invalid_parameter", "fallback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sid := b.service(t, tt.svc)
			p := requireProblem(t, b.do(t, "POST", vpath(sid), adminToken, tt.body), tt.status, tt.code)
			require.Equal(t, tt.param, p["param"])
		})
	}
	requireProblem(t, b.do(t, "POST", vpath("svc_01jd0000000000000000000000"), adminToken, map[string]any{"to": "+447700900123"}), 404, "not_found")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, map[string]any{"max_check_attempts": 3})
	key := b.key(t, sid)

	t.Run("wrong then right then closed", func(t *testing.T) {
		t.Parallel()
		vid := b.start(t, sid, key, nil)
		code := b.code(t, sid, vid)
		got := b.must(t, http.StatusOK, "POST", vpath(sid, vid, "check"), key, map[string]any{"code": wrongCode(code)})
		require.Equal(t, false, got["valid"])
		require.Equal(t, "pending", got["status"])
		require.Equal(t, 2.0, got["attempts_remaining"])
		require.Equal(t, vid, got["verification"].(map[string]any)["id"])
		require.Equal(t, 2.0, got["verification"].(map[string]any)["attempts_remaining"])

		got = b.must(t, http.StatusOK, "POST", vpath(sid, vid, "check"), key, map[string]any{"code": code})
		require.Equal(t, true, got["valid"])
		require.Equal(t, "approved", got["status"])
		require.Equal(t, 2.0, got["attempts_remaining"])
		require.Equal(t, "approved", got["verification"].(map[string]any)["status"])
		require.Equal(t, "delivered", got["verification"].(map[string]any)["messages"].([]any)[0].(map[string]any)["status"])

		p := requireProblem(t, b.do(t, "POST", vpath(sid, vid, "check"), key, map[string]any{"code": code}), 409, "verification_closed")
		require.Equal(t, "approved", p["verification_status"])
		require.Contains(t, p["detail"], "approved")
		require.Equal(t, "approved", b.must(t, http.StatusOK, "GET", vpath(sid, vid), key, nil)["status"])
	})

	t.Run("attempts run out", func(t *testing.T) {
		t.Parallel()
		vid := b.start(t, sid, key, nil)
		code := b.code(t, sid, vid)
		for i, want := range []string{"pending", "pending", "max_attempts_reached"} {
			got := b.must(t, http.StatusOK, "POST", vpath(sid, vid, "check"), key, map[string]any{"code": wrongCode(code)})
			require.Equal(t, false, got["valid"])
			require.Equal(t, want, got["status"])
			require.Equal(t, float64(2-i), got["attempts_remaining"])
		}
		p := requireProblem(t, b.do(t, "POST", vpath(sid, vid, "check"), key, map[string]any{"code": code}), 409, "verification_closed")
		require.Equal(t, "max_attempts_reached", p["verification_status"])
	})

	t.Run("typed with spaces", func(t *testing.T) {
		t.Parallel()
		vid := b.start(t, sid, key, nil)
		code := b.code(t, sid, vid)
		got := b.must(t, http.StatusOK, "POST", vpath(sid, vid, "check"), key, map[string]any{"code": code[:3] + " " + code[3:]})
		require.Equal(t, true, got["valid"])
	})

	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		vid := b.start(t, sid, key, nil)
		p := requireProblem(t, b.do(t, "POST", vpath(sid, vid, "check"), key, map[string]any{}), 400, "invalid_parameter")
		require.Equal(t, "code", p["param"])
		p = requireProblem(t, b.do(t, "POST", vpath(sid, vid, "check"), key, map[string]any{"code": "1", "transaction": map[string]any{"amount": "x"}}), 400, "invalid_parameter")
		require.Equal(t, "transaction.amount", p["param"])
		requireProblem(t, b.do(t, "POST", vpath(sid, "ver_01jd0000000000000000000000", "check"), key, map[string]any{"code": "123456"}), 404, "not_found")
	})

	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		b := setup(t) // moves its own clock
		sid := b.service(t, map[string]any{"ttl_seconds": 60})
		vid := b.start(t, sid, adminToken, nil)
		code := b.code(t, sid, vid)
		b.clock.Advance(61 * time.Second)
		require.Equal(t, "expired", b.must(t, http.StatusOK, "GET", vpath(sid, vid), adminToken, nil)["status"], "status at read time")
		p := requireProblem(t, b.do(t, "POST", vpath(sid, vid, "check"), adminToken, map[string]any{"code": code}), 409, "verification_closed")
		require.Equal(t, "expired", p["verification_status"])
		p = requireProblem(t, b.do(t, "POST", vpath(sid, vid, "resend"), adminToken, nil), 409, "verification_closed")
		require.Equal(t, "expired", p["verification_status"])
		p = requireProblem(t, b.do(t, "POST", vpath(sid, vid, "cancel"), adminToken, nil), 409, "verification_closed")
		require.Equal(t, "expired", p["verification_status"])
		requireProblem(t, b.do(t, "POST", "/v1/services/"+sid+"/verification-checks", adminToken,
			map[string]any{"to": "+447700900123", "code": code}), 404, "not_found")
	})
}

func TestCheckDestination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, nil)
	key := b.key(t, sid)
	path := "/v1/services/" + sid + "/verification-checks"

	older := b.start(t, sid, key, map[string]any{"to": "+447700900123"})
	newer := b.start(t, sid, key, map[string]any{"to": "+447700900123"})
	other := b.start(t, sid, key, map[string]any{"to": "+447700900999"})
	olderCode, newerCode := b.code(t, sid, older), b.code(t, sid, newer)
	b.code(t, sid, other)

	if olderCode != newerCode {
		got := b.must(t, http.StatusOK, "POST", path, key, map[string]any{"to": "+447700900123", "code": olderCode})
		require.Equal(t, false, got["valid"], "the newest pending verification is checked")
		require.Equal(t, newer, got["verification"].(map[string]any)["id"])
	}
	got := b.must(t, http.StatusOK, "POST", path, key, map[string]any{"to": "+447700900123", "code": newerCode})
	require.Equal(t, true, got["valid"])
	require.Equal(t, "approved", got["status"])
	require.Equal(t, newer, got["verification"].(map[string]any)["id"])

	// The newer one is approved; the older is now the newest pending.
	got = b.must(t, http.StatusOK, "POST", path, key, map[string]any{"to": "+447700900123", "code": olderCode})
	require.Equal(t, true, got["valid"])
	require.Equal(t, older, got["verification"].(map[string]any)["id"])

	p := requireProblem(t, b.do(t, "POST", path, key, map[string]any{"to": "+447700900123", "code": olderCode}), 404, "not_found")
	require.Contains(t, p["detail"], "pending verification")
	requireProblem(t, b.do(t, "POST", path, key, map[string]any{"to": "ana@example.com", "code": "123456"}), 404, "not_found")
	p = requireProblem(t, b.do(t, "POST", path, key, map[string]any{"to": "nobody", "code": "123456"}), 400, "invalid_parameter")
	require.Equal(t, "to", p["param"])
	p = requireProblem(t, b.do(t, "POST", path, key, map[string]any{"to": "+447700900999"}), 400, "invalid_parameter")
	require.Equal(t, "code", p["param"])
}

func TestConcurrentChecksApproveOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, nil)
	key := b.key(t, sid)
	vid := b.start(t, sid, key, nil)
	code := b.code(t, sid, vid)

	const n = 50
	statuses := make([]int, n)
	valid := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := b.do(t, "POST", vpath(sid, vid, "check"), key, map[string]any{"code": code})
			statuses[i] = r.Status
			if r.Status == http.StatusOK {
				valid[i] = r.JSON(t)["valid"].(bool)
			}
		})
	}
	wg.Wait()
	approved, closed := 0, 0
	for i := range n {
		switch statuses[i] {
		case http.StatusOK:
			require.True(t, valid[i])
			approved++
		case http.StatusConflict:
			closed++
		default:
			t.Fatalf("unexpected status %d", statuses[i])
		}
	}
	require.Equal(t, 1, approved)
	require.Equal(t, n-1, closed)
}

func TestTransactionBinding(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, map[string]any{"max_check_attempts": 10})
	key := b.key(t, sid)
	txn := map[string]any{"amount": "125.00", "currency": "EUR", "payee": "ACME Shop"}
	vid := b.start(t, sid, key, map[string]any{"to": "+447700900123", "purpose": "transaction", "transaction": txn})
	code := b.code(t, sid, vid)

	for _, wrong := range []map[string]any{
		nil,
		{"amount": "125.01", "currency": "EUR", "payee": "ACME Shop"},
		{"amount": "125.00", "currency": "USD", "payee": "ACME Shop"},
		{"amount": "125.00", "currency": "EUR", "payee": "Mallory"},
	} {
		body := map[string]any{"code": code}
		if wrong != nil {
			body["transaction"] = wrong
		}
		got := b.must(t, http.StatusOK, "POST", vpath(sid, vid, "check"), key, body)
		require.Equal(t, false, got["valid"], "%v", wrong)
		require.Equal(t, "pending", got["status"])
	}
	got := b.must(t, http.StatusOK, "POST", vpath(sid, vid, "check"), key, map[string]any{
		"code": code, "transaction": map[string]any{"amount": "125.0", "currency": "eur", "payee": " ACME Shop "},
	})
	require.Equal(t, true, got["valid"], "the same amount, currency and payee in another spelling")
	require.Equal(t, 6.0, got["attempts_remaining"])

	// The same holds for checks by destination.
	vid = b.start(t, sid, key, map[string]any{"to": "+447700900123", "transaction": txn})
	code = b.code(t, sid, vid)
	path := "/v1/services/" + sid + "/verification-checks"
	got = b.must(t, http.StatusOK, "POST", path, key, map[string]any{"to": "+447700900123", "code": code})
	require.Equal(t, false, got["valid"])
	got = b.must(t, http.StatusOK, "POST", path, key, map[string]any{"to": "+447700900123", "code": code, "transaction": txn})
	require.Equal(t, true, got["valid"])
}

func TestResend(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("cooldown", func(t *testing.T) {
		t.Parallel()
		b := setup(t) // moves its own clock
		sid := b.service(t, map[string]any{"resend_cooldown_seconds": 30, "channels": []string{"sms", "email"}})
		vid := b.start(t, sid, adminToken, nil)
		b.clock.Advance(10 * time.Second)
		r := b.do(t, "POST", vpath(sid, vid, "resend"), adminToken, nil)
		p := requireProblem(t, r, http.StatusTooManyRequests, "rate_limited")
		require.Equal(t, "20", r.Header.Get("Retry-After"))
		require.Equal(t, 20.0, p["retry_after_seconds"])

		b.clock.Advance(20 * time.Second)
		v := b.must(t, http.StatusOK, "POST", vpath(sid, vid, "resend"), adminToken, nil)
		require.Len(t, v["messages"], 2)
		require.Equal(t, 3.0, v["sends_remaining"])
		start := b.must(t, http.StatusOK, "GET", vpath(sid, vid), adminToken, nil)
		require.Equal(t, start["expires_at"], v["expires_at"], "a resend does not extend the expiry")
		require.Equal(t, start, v)

		// The next resend waits twice as long.
		b.clock.Advance(30 * time.Second)
		r = b.do(t, "POST", vpath(sid, vid, "resend"), adminToken, nil)
		requireProblem(t, r, http.StatusTooManyRequests, "rate_limited")
		require.Equal(t, "30", r.Header.Get("Retry-After"))
		b.clock.Advance(30 * time.Second)

		// Another channel, for a destination it can reach.
		p = requireProblem(t, b.do(t, "POST", vpath(sid, vid, "resend"), adminToken, map[string]any{"channel": "email"}), 422, "channel_unavailable")
		require.Equal(t, "channel", p["param"])
		p = requireProblem(t, b.do(t, "POST", vpath(sid, vid, "resend"), adminToken, map[string]any{"channel": "auto"}), 400, "invalid_parameter")
		require.Equal(t, "channel", p["param"])
		v = b.must(t, http.StatusOK, "POST", vpath(sid, vid, "resend"), adminToken, map[string]any{"channel": "sms"})
		require.Len(t, v["messages"], 3)
	})

	t.Run("max sends", func(t *testing.T) {
		t.Parallel()
		sid := b.service(t, map[string]any{"resend_cooldown_seconds": 0, "max_sends": 2})
		key := b.key(t, sid)
		vid := b.start(t, sid, key, nil)
		code := b.code(t, sid, vid)
		v := b.must(t, http.StatusOK, "POST", vpath(sid, vid, "resend"), key, rawBody(`{}`))
		require.Equal(t, 0.0, v["sends_remaining"])
		msgs := v["messages"].([]any)
		require.Len(t, msgs, 2)
		require.Equal(t, "queued", msgs[1].(map[string]any)["status"])
		require.Equal(t, code, b.code(t, sid, vid), "a resend carries the same code")

		r := b.do(t, "POST", vpath(sid, vid, "resend"), key, nil)
		p := requireProblem(t, r, http.StatusTooManyRequests, "rate_limited")
		secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
		require.NoError(t, err)
		require.InDelta(t, 600, secs, 2, "until the verification expires")
		require.Equal(t, float64(secs), p["retry_after_seconds"])
	})

	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		sid := b.service(t, nil)
		requireProblem(t, b.do(t, "POST", vpath(sid, "ver_01jd0000000000000000000000", "resend"), adminToken, nil), 404, "not_found")
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, nil)
	key := b.key(t, sid)
	vid := b.start(t, sid, key, nil)
	code := b.code(t, sid, vid)

	v := b.must(t, http.StatusOK, "POST", vpath(sid, vid, "cancel"), key, nil)
	require.Equal(t, "canceled", v["status"])
	require.Equal(t, vid, v["id"])
	require.Equal(t, "canceled", b.must(t, http.StatusOK, "GET", vpath(sid, vid), key, nil)["status"])

	p := requireProblem(t, b.do(t, "POST", vpath(sid, vid, "check"), key, map[string]any{"code": code}), 409, "verification_closed")
	require.Equal(t, "canceled", p["verification_status"])
	p = requireProblem(t, b.do(t, "POST", vpath(sid, vid, "cancel"), key, nil), 409, "verification_closed")
	require.Equal(t, "canceled", p["verification_status"])
	p = requireProblem(t, b.do(t, "POST", vpath(sid, vid, "resend"), key, nil), 409, "verification_closed")
	require.Equal(t, "canceled", p["verification_status"])
	requireProblem(t, b.do(t, "POST", vpath(sid, "ver_01jd0000000000000000000000", "cancel"), key, nil), 404, "not_found")
}

func TestListVerifications(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, map[string]any{"channels": []string{"sms", "email"}})
	key := b.key(t, sid)
	otherSid := b.service(t, nil)
	b.start(t, otherSid, adminToken, nil) // must never show up

	var ids []string // oldest first
	for i := range 5 {
		ids = append(ids, b.start(t, sid, key, map[string]any{"to": fmt.Sprintf("+44770090012%d", i)}))
	}
	ids = append(ids, b.start(t, sid, key, map[string]any{"to": "ana@example.com"}))
	b.must(t, http.StatusOK, "POST", vpath(sid, ids[1], "cancel"), key, nil)
	b.must(t, http.StatusOK, "POST", vpath(sid, ids[2], "check"), key, map[string]any{"code": b.code(t, sid, ids[2])})

	list := func(q url.Values) []string {
		t.Helper()
		got := b.must(t, http.StatusOK, "GET", vpath(sid)+"?"+q.Encode(), key, nil)
		var out []string
		for _, v := range got["data"].([]any) {
			v := v.(map[string]any)
			require.Equal(t, sid, v["service_id"])
			out = append(out, v["id"].(string))
		}
		return out
	}
	rev := func(ids ...string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[len(ids)-1-i] = id
		}
		return out
	}

	require.Equal(t, rev(ids...), list(nil), "newest first")
	require.Equal(t, []string{ids[1]}, list(url.Values{"status": {"canceled"}}))
	require.Equal(t, []string{ids[2]}, list(url.Values{"status": {"approved"}}))
	require.Equal(t, rev(ids[0], ids[3], ids[4], ids[5]), list(url.Values{"status": {"pending"}}))
	require.Equal(t, []string{ids[3]}, list(url.Values{"to": {"+447700900123"}}))
	require.Equal(t, []string{ids[5]}, list(url.Values{"to": {"ana@EXAMPLE.com"}, "status": {"pending"}}))
	require.Empty(t, list(url.Values{"to": {"+447700900999"}}))

	// Paging, newest first.
	var got []string
	cursor := ""
	for {
		q := url.Values{"limit": {"4"}, "cursor": {cursor}}
		page := b.must(t, http.StatusOK, "GET", vpath(sid)+"?"+q.Encode(), key, nil)
		for _, v := range page["data"].([]any) {
			got = append(got, v.(map[string]any)["id"].(string))
		}
		if page["next_cursor"] == nil {
			break
		}
		cursor = page["next_cursor"].(string)
	}
	require.Equal(t, rev(ids...), got)

	for _, tt := range []struct{ q, param string }{
		{"status=done", "status"},
		{"to=nobody", "to"},
		{"limit=501", "limit"},
		{"limit=0", "limit"},
		{"limit=x", "limit"},
		{"cursor=!!", "cursor"},
		{"cursor=c3ZjXzAxamQwMDAwMDAwMDAwMDAwMDAwMDAwMDAw", "cursor"}, // a service id
	} {
		p := requireProblem(t, b.do(t, "GET", vpath(sid)+"?"+tt.q, key, nil), 400, "invalid_parameter")
		require.Equal(t, tt.param, p["param"], tt.q)
	}
	requireProblem(t, b.do(t, "GET", vpath("svc_01jd0000000000000000000000"), adminToken, nil), 404, "not_found")
}

func TestEraseDestination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, nil)
	key := b.key(t, sid)
	body := map[string]any{"to": "+447700900123", "reference": "order-1"}
	first := b.do(t, "POST", vpath(sid), key, body, idemKey("start-1"))
	require.Equal(t, http.StatusCreated, first.Status)
	vid := first.JSON(t)["id"].(string)
	b.must(t, http.StatusOK, "POST", vpath(sid, vid, "check"), key, map[string]any{"code": "000000"})
	kept := b.start(t, sid, key, map[string]any{"to": "+447700900124"})

	got := b.must(t, http.StatusOK, "DELETE", "/v1/services/"+sid+"/destinations/%2B447700900123", key, nil)
	require.Equal(t, map[string]any{"verifications": 1.0, "events": 1.0, "responses": 1.0, "devices": 0.0}, got)
	requireProblem(t, b.do(t, "GET", vpath(sid, vid), key, nil), 404, "not_found")
	b.must(t, http.StatusOK, "GET", vpath(sid, kept), key, nil)
	list := b.must(t, http.StatusOK, "GET", vpath(sid)+"?to=%2B447700900123", key, nil)
	require.Empty(t, list["data"])

	// The remembered response went too: the same key now starts afresh.
	again := b.do(t, "POST", vpath(sid), key, body, idemKey("start-1"))
	require.Equal(t, http.StatusCreated, again.Status)
	require.Empty(t, again.Header.Get("Idempotent-Replayed"))
	require.NotEqual(t, vid, again.JSON(t)["id"])

	// Erasing what is not there is not an error; a push device goes with its token.
	b.must(t, http.StatusOK, "DELETE", "/v1/services/"+sid+"/destinations/ana@example.com", key, nil)
	did := b.must(t, http.StatusCreated, "POST", "/v1/services/"+sid+"/devices", key, map[string]any{"platform": "android", "token": "fcm-token-9"})["id"].(string)
	got = b.must(t, http.StatusOK, "DELETE", "/v1/services/"+sid+"/destinations/"+did, key, nil)
	require.Equal(t, 1.0, got["devices"])
	requireProblem(t, b.do(t, "GET", "/v1/services/"+sid+"/devices/"+did, key, nil), 404, "not_found")
}
