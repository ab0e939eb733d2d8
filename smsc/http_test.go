package smsc_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/internal/htmlpage"
	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/smsc"
)

func TestHTTPMessages(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 15, 4, 5, 123_456_789, time.UTC)
	b := setup(t, smsc.Config{Now: func() time.Time { return now }})
	c := b.bound(t, asTransceiver, "otpd")
	st, id := c.submit(sms(testTo, "Your code is 123456"))
	require.Equal(t, smpp.StatusOK, st)
	st, _ = c.submit(sms("447700900999", "someone else"))
	require.Equal(t, smpp.StatusOK, st)

	h := httptest.NewServer(b.srv.Handler())
	t.Cleanup(h.Close)

	get := func(path string) (*http.Response, []byte) {
		resp, err := http.Get(h.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, body
	}

	for _, q := range []string{"%2B" + testTo, "+" + testTo, testTo} {
		resp, body := get("/messages?to=" + q)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var got []map[string]any
		require.NoError(t, json.Unmarshal(body, &got), q)
		require.Equal(t, []map[string]any{{
			"to":          "+" + testTo,
			"channel":     "sms",
			"text":        "Your code is 123456",
			"created_at":  "2026-01-02T15:04:05.123Z",
			"from":        testSender,
			"message_ids": []any{id},
			"parts":       float64(1),
			"data_coding": float64(0),
			"system_id":   "otpd",
			"stat":        "DELIVRD",
			"duplicate":   false,
		}}, got, q)
	}

	_, body := get("/messages")
	var all []map[string]any
	require.NoError(t, json.Unmarshal(body, &all))
	require.Len(t, all, 2)
	require.Equal(t, "someone else", all[1]["text"], "newest last")

	_, body = get("/messages?to=%2B15550000000")
	require.JSONEq(t, "[]", string(body), "an empty list, not null")

	_, body = get("/stats")
	var stats smsc.Stats
	require.NoError(t, json.Unmarshal(body, &stats))
	require.Equal(t, 2, stats.Messages)

	req, err := http.NewRequest(http.MethodDelete, h.URL+"/messages", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Empty(t, b.srv.Messages(""))

	resp, _ = get("/nothing-here")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestHTTPPageEscapes(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	c := b.bound(t, asTransceiver, "otpd")
	st, _ := c.submit(sms(testTo, "<script>alert(1)</script> code 123456"))
	require.Equal(t, smpp.StatusOK, st)
	st, _ = c.submit(sms(testTo, "second message"))
	require.Equal(t, smpp.StatusOK, st)

	rec := httptest.NewRecorder()
	b.srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?to=%3Cb%3E", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.NotContains(t, rec.Body.String(), "<b>", "the query is escaped too")

	rec = httptest.NewRecorder()
	b.srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	page := rec.Body.String()
	require.NoError(t, htmlpage.Check(rec.Header(), rec.Body.Bytes()), "security headers, and a CSP that allows the page's own style and nothing else")
	require.Contains(t, page, `<meta http-equiv="refresh" content="2">`)
	require.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt; code 123456")
	require.NotContains(t, page, "<script>")
	require.Less(t, strings.Index(page, "second message"), strings.Index(page, "code 123456"), "newest first")
}
