package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/httpapi"
)

const hookURL = "https://acme.example/hooks"

// eventsFixture is a service with a webhook and a key, and the events of
// two verifications: ver1 was started, its code sent (sent, delivered)
// and approved; ver2 was started and canceled.
type eventsFixture struct {
	sid, key   string
	ver1, ver2 string
	start1     map[string]any // the 201 answer that started ver1
	approved1  map[string]any // the verification in the check that approved it
	events     []map[string]any
}

func (b *testBundle) eventsFixture(t *testing.T) *eventsFixture {
	t.Helper()
	f := &eventsFixture{sid: b.service(t, map[string]any{"webhook_url": hookURL})}
	f.key = b.key(t, f.sid)
	f.start1 = b.must(t, http.StatusCreated, "POST", vpath(f.sid), f.key, map[string]any{"to": "+447700900123", "reference": "order-1"})
	f.ver1 = f.start1["id"].(string)
	code := b.code(t, f.sid, f.ver1)
	f.approved1 = b.must(t, http.StatusOK, "POST", vpath(f.sid, f.ver1, "check"), f.key, map[string]any{"code": code})["verification"].(map[string]any)
	f.ver2 = b.start(t, f.sid, f.key, map[string]any{"to": "+447700900124"})
	b.must(t, http.StatusOK, "POST", vpath(f.sid, f.ver2, "cancel"), f.key, nil)
	f.events = b.listAllEvents(t, f.sid, f.key, nil)
	return f
}

// listAllEvents follows next_cursor with small pages and returns every
// event that matches q.
func (b *testBundle) listAllEvents(t *testing.T, sid, token string, q url.Values) []map[string]any {
	t.Helper()
	var out []map[string]any
	cursor := ""
	for {
		pq := url.Values{"limit": {"2"}, "cursor": {cursor}}
		for k, v := range q {
			pq[k] = v
		}
		page := b.must(t, http.StatusOK, "GET", eventPath(sid)+"?"+pq.Encode(), token, nil)
		data := page["data"].([]any)
		require.LessOrEqual(t, len(data), 2)
		for _, e := range data {
			out = append(out, e.(map[string]any))
		}
		if page["next_cursor"] == nil {
			return out
		}
		require.Len(t, data, 2, "only a full page has a next page")
		cursor = page["next_cursor"].(string)
	}
}

func eventTypes(evs []map[string]any) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e["type"].(string) + " " + e["verification_id"].(string)
	}
	return out
}

func TestListEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.eventsFixture(t)
	// Another tenant's events must never show up.
	other := b.eventsFixture(t)

	ver1, ver2 := f.ver1, f.ver2
	require.Equal(t, []string{
		"verification.canceled " + ver2,
		"verification.created " + ver2,
		"verification.approved " + ver1,
		"message.delivered " + ver1,
		"message.sent " + ver1,
		"verification.created " + ver1,
	}, eventTypes(f.events), "newest first, every page followed")
	for _, e := range f.events {
		require.Regexp(t, `^evt_[0-9a-z]{26}$`, e["id"])
		requireTime(t, e["created_at"])
		require.Equal(t, f.sid, e["data"].(map[string]any)["service_id"])
		require.NotContains(t, []string{other.ver1, other.ver2}, e["verification_id"])
	}
	// All at once is the same list.
	all := b.must(t, http.StatusOK, "GET", eventPath(f.sid), adminToken, nil)
	require.Len(t, all["data"], len(f.events))
	require.Nil(t, all["next_cursor"])

	since := f.events[2]["created_at"].(string) // verification.approved
	tests := []struct {
		name string
		q    url.Values
		want []string
	}{
		{"by type", url.Values{"type": {"verification.created"}}, []string{"verification.created " + ver2, "verification.created " + ver1}},
		{"by verification", url.Values{"verification_id": {ver2}}, []string{"verification.canceled " + ver2, "verification.created " + ver2}},
		{"by type and verification", url.Values{"type": {"message.sent"}, "verification_id": {ver1}}, []string{"message.sent " + ver1}},
		{"since, inclusive", url.Values{"since": {since}}, eventTypes(f.events[:3])},
		{"since with an offset", url.Values{"since": {shiftZone(t, since)}}, eventTypes(f.events[:3])},
		{"since in the future", url.Values{"since": {"2999-01-01T00:00:00Z"}}, []string{}},
		{"a type that did not happen", url.Values{"type": {"verification.expired"}}, []string{}},
		{"another service's verification", url.Values{"verification_id": {other.ver1}}, []string{}},
		{"empty parameters are absent", url.Values{"type": {""}, "since": {""}, "verification_id": {""}}, eventTypes(f.events)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, eventTypes(b.listAllEvents(t, f.sid, f.key, tt.q)))
		})
	}

	cursorOf := func(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }
	for _, tt := range []struct{ q, param string }{
		{"type=verification.done", "type"},
		{"type=VERIFICATION.CREATED", "type"},
		{"since=yesterday", "since"},
		{"since=2025-03-01", "since"},
		{"since=2025-03-01T10:00:00+01:00", "since"}, // an unescaped + is a space
		{"verification_id=order-1", "verification_id"},
		{"verification_id=" + f.sid, "verification_id"},
		{"limit=0", "limit"},
		{"limit=501", "limit"},
		{"limit=x", "limit"},
		{"cursor=!!", "cursor"},
		{"cursor=" + cursorOf(ver1), "cursor"},
	} {
		t.Run(tt.q, func(t *testing.T) {
			t.Parallel()
			p := requireProblem(t, b.do(t, "GET", eventPath(f.sid)+"?"+tt.q, f.key, nil), 400, "invalid_parameter")
			require.Equal(t, tt.param, p["param"])
		})
	}
}

// shiftZone writes an RFC 3339 UTC time in +02:00, and query-escapes it.
func shiftZone(t *testing.T, s string) string {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return tm.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano)
}

func TestEventsTenantIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.eventsFixture(t)
	other := b.eventsFixture(t)
	eid := f.events[0]["id"].(string)
	noSvc := "svc_01jd0000000000000000000000"

	tests := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"other key lists", "GET", eventPath(f.sid), other.key, 404, "not_found"},
		{"other key reads", "GET", eventPath(f.sid, eid), other.key, 404, "not_found"},
		{"other key redelivers", "POST", eventPath(f.sid, eid, "redeliver"), other.key, 404, "not_found"},
		{"other key reads via own service", "GET", eventPath(other.sid, eid), other.key, 404, "not_found"},
		{"other key redelivers via own service", "POST", eventPath(other.sid, eid, "redeliver"), other.key, 404, "not_found"},
		{"admin reads via the wrong service", "GET", eventPath(other.sid, eid), adminToken, 404, "not_found"},
		{"unknown service", "GET", eventPath(noSvc), adminToken, 404, "not_found"},
		{"unknown event", "GET", eventPath(f.sid, "evt_01jd0000000000000000000000"), f.key, 404, "not_found"},
		{"event id without prefix", "GET", eventPath(f.sid, "ver_"+strings.TrimPrefix(eid, "evt_")), f.key, 404, "not_found"},
		{"unknown event redelivered", "POST", eventPath(f.sid, "evt_01jd0000000000000000000000", "redeliver"), f.key, 404, "not_found"},
		{"no token", "GET", eventPath(f.sid), "", 401, "unauthorized"},
		{"wrong token", "GET", eventPath(f.sid, eid), "otpd_admin_wrong", 401, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			requireProblem(t, b.do(t, tt.method, tt.path, tt.token, nil), tt.status, tt.code)
		})
	}
	// Its own key and the admin may.
	b.must(t, http.StatusOK, "GET", eventPath(f.sid, eid), f.key, nil)
	b.must(t, http.StatusOK, "GET", eventPath(f.sid, eid), adminToken, nil)
}

func TestGetEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.eventsFixture(t)
	byType := map[string]map[string]any{}
	for _, e := range f.events {
		if e["verification_id"] == f.ver1 {
			byType[e["type"].(string)] = e
		}
	}

	t.Run("data is the verification when the event happened", func(t *testing.T) {
		t.Parallel()
		created := b.must(t, http.StatusOK, "GET", eventPath(f.sid, byType["verification.created"]["id"].(string)), f.key, nil)
		require.Equal(t, f.start1, created["data"], "the object the start answered with")
		require.Equal(t, "pending", created["data"].(map[string]any)["status"], "even though it has been approved since")
		approved := b.must(t, http.StatusOK, "GET", eventPath(f.sid, byType["verification.approved"]["id"].(string)), f.key, nil)
		require.Equal(t, f.approved1, approved["data"], "the object the approving check answered with")
		now := b.must(t, http.StatusOK, "GET", vpath(f.sid, f.ver1), f.key, nil)
		require.Equal(t, now, approved["data"], "nothing changed since")
		sent := byType["message.sent"]["data"].(map[string]any)["messages"].([]any)[0].(map[string]any)
		require.Equal(t, "sent", sent["status"], "the message as it was when sent")
	})

	t.Run("message_id", func(t *testing.T) {
		t.Parallel()
		msg := f.start1["messages"].([]any)[0].(map[string]any)["id"]
		require.Equal(t, msg, byType["message.sent"]["message_id"])
		require.Equal(t, msg, byType["message.delivered"]["message_id"])
		require.Nil(t, byType["verification.created"]["message_id"])
		require.Nil(t, byType["verification.approved"]["message_id"])
	})

	t.Run("a new event is pending with no attempts", func(t *testing.T) {
		t.Parallel()
		e := b.must(t, http.StatusOK, "GET", eventPath(f.sid, byType["verification.approved"]["id"].(string)), f.key, nil)
		require.Equal(t, []any{}, e["attempts"])
		d := e["delivery"].(map[string]any)
		created := requireTime(t, e["created_at"])
		require.Equal(t, "pending", d["status"])
		require.Equal(t, 0.0, d["attempts"])
		require.Equal(t, created, requireTime(t, d["next_attempt_at"]), "due at once")
		require.Equal(t, created.Add(otpd.DefaultWebhookRetryWindow), requireTime(t, d["give_up_at"]))
		for _, k := range []string{"last_attempt_at", "last_status_code", "last_error", "delivered_at"} {
			require.Nil(t, d[k], k)
		}
		delete(e, "attempts")
		require.Equal(t, byType["verification.approved"], e, "the list shows the same event, without attempts")
	})

	t.Run("attempts oldest first, delivery after them", func(t *testing.T) {
		t.Parallel()
		eid := byType["message.sent"]["id"].(string)
		at := b.clock.Now().Truncate(time.Millisecond)
		fail := otpd.EventDelivery{State: otpd.EventPending, Attempts: 1, NextAttemptAt: at.Add(time.Minute),
			Deadline: at.Add(time.Hour), LastAttemptAt: at, LastError: "connection refused"}
		require.NoError(t, b.store.RecordDeliveryAttempt(t.Context(),
			&otpd.DeliveryAttempt{EventID: eid, At: at, URL: hookURL, Error: "connection refused", Duration: 1500 * time.Microsecond}, fail))
		e := b.must(t, http.StatusOK, "GET", eventPath(f.sid, eid), f.key, nil)
		require.Equal(t, map[string]any{
			"status": "pending", "attempts": 1.0, "next_attempt_at": fmtTime(at.Add(time.Minute)),
			"last_attempt_at": fmtTime(at), "last_status_code": nil, "last_error": "connection refused",
			"delivered_at": nil, "give_up_at": fmtTime(at.Add(time.Hour)),
		}, e["delivery"])

		ok := otpd.EventDelivery{State: otpd.EventDelivered, Attempts: 2, LastAttemptAt: at.Add(time.Minute),
			LastStatusCode: 204, DeliveredAt: at.Add(time.Minute)}
		require.NoError(t, b.store.RecordDeliveryAttempt(t.Context(),
			&otpd.DeliveryAttempt{EventID: eid, At: at.Add(time.Minute), URL: hookURL, StatusCode: 204, Duration: 42 * time.Millisecond}, ok))
		e = b.must(t, http.StatusOK, "GET", eventPath(f.sid, eid), f.key, nil)
		require.Equal(t, []any{
			map[string]any{"at": fmtTime(at), "url": hookURL, "status_code": nil, "error": "connection refused", "duration_ms": 1.0},
			map[string]any{"at": fmtTime(at.Add(time.Minute)), "url": hookURL, "status_code": 204.0, "error": nil, "duration_ms": 42.0},
		}, e["attempts"])
		require.Equal(t, map[string]any{
			"status": "delivered", "attempts": 2.0, "next_attempt_at": nil,
			"last_attempt_at": fmtTime(at.Add(time.Minute)), "last_status_code": 204.0, "last_error": nil,
			"delivered_at": fmtTime(at.Add(time.Minute)), "give_up_at": nil,
		}, e["delivery"], "no schedule once it is delivered")

		// A receiver that answers with an error status.
		gaveUp := otpd.EventDelivery{State: otpd.EventGivenUp, Attempts: 3, LastAttemptAt: at.Add(time.Hour),
			LastStatusCode: 500, LastError: "HTTP 500"}
		require.NoError(t, b.store.RecordDeliveryAttempt(t.Context(),
			&otpd.DeliveryAttempt{EventID: eid, At: at.Add(time.Hour), URL: hookURL, StatusCode: 500, Error: "HTTP 500"}, gaveUp))
		e = b.must(t, http.StatusOK, "GET", eventPath(f.sid, eid), f.key, nil)
		require.Len(t, e["attempts"], 3)
		d := e["delivery"].(map[string]any)
		require.Equal(t, "failed", d["status"])
		require.Equal(t, 500.0, d["last_status_code"])
		require.Nil(t, d["next_attempt_at"])
		require.Nil(t, d["give_up_at"])
	})

	t.Run("disabled without a webhook_url", func(t *testing.T) {
		t.Parallel()
		sid := b.service(t, nil)
		vid := b.start(t, sid, adminToken, nil)
		evs := b.listAllEvents(t, sid, adminToken, nil)
		require.Len(t, evs, 1)
		require.Equal(t, vid, evs[0]["verification_id"])
		d := evs[0]["delivery"].(map[string]any)
		require.Equal(t, "disabled", d["status"])
		require.Nil(t, d["next_attempt_at"])
		require.Nil(t, d["give_up_at"])
	})
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func TestRedeliverEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("needs a webhook_url", func(t *testing.T) {
		t.Parallel()
		sid := b.service(t, nil)
		key := b.key(t, sid)
		b.start(t, sid, key, nil)
		eid := b.listAllEvents(t, sid, key, nil)[0]["id"].(string)
		p := requireProblem(t, b.do(t, "POST", eventPath(sid, eid, "redeliver"), key, nil), http.StatusConflict, "webhook_unavailable")
		require.Contains(t, p["detail"], "webhook_url")

		// Once one is set, an event written without it can be sent.
		b.must(t, http.StatusOK, "PATCH", "/v1/services/"+sid, adminToken, map[string]any{"webhook_url": hookURL})
		e := b.must(t, http.StatusAccepted, "POST", eventPath(sid, eid, "redeliver"), key, nil)
		require.Equal(t, "pending", e["delivery"].(map[string]any)["status"])
	})

	t.Run("queues it again with a new window and keeps its history", func(t *testing.T) {
		t.Parallel()
		f := b.eventsFixture(t)
		eid := f.events[0]["id"].(string)
		at := b.clock.Now().Truncate(time.Millisecond)
		require.NoError(t, b.store.RecordDeliveryAttempt(t.Context(),
			&otpd.DeliveryAttempt{EventID: eid, At: at, URL: hookURL, StatusCode: 200, Duration: time.Millisecond},
			otpd.EventDelivery{State: otpd.EventDelivered, Attempts: 1, LastAttemptAt: at, LastStatusCode: 200, DeliveredAt: at}))

		b.clock.Advance(time.Hour)
		r := b.do(t, "POST", eventPath(f.sid, eid, "redeliver"), f.key, nil)
		require.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
		e := r.JSON(t)
		require.NotContains(t, e, "attempts", "the event object, as in lists")
		require.Equal(t, f.events[0]["data"], e["data"], "the same event")
		d := e["delivery"].(map[string]any)
		require.Equal(t, "pending", d["status"])
		require.Equal(t, 1.0, d["attempts"], "its attempts stay")
		next := requireTime(t, d["next_attempt_at"])
		require.WithinDuration(t, at.Add(time.Hour), next, time.Second, "due at once")
		require.Equal(t, next.Add(otpd.DefaultWebhookRetryWindow), requireTime(t, d["give_up_at"]))

		got := b.must(t, http.StatusOK, "GET", eventPath(f.sid, eid), adminToken, nil)
		require.Len(t, got["attempts"], 1)
		require.Equal(t, d, got["delivery"])
	})

	t.Run("Idempotency-Key", func(t *testing.T) {
		t.Parallel()
		b := setup(t) // moves its own clock: the other subtests read theirs
		f := b.eventsFixture(t)
		eid := f.events[1]["id"].(string)
		first := b.do(t, "POST", eventPath(f.sid, eid, "redeliver"), f.key, nil, idemKey("redeliver-1"))
		require.Equal(t, http.StatusAccepted, first.Status, "%s", first.Body)
		b.clock.Advance(time.Minute)
		again := b.do(t, "POST", eventPath(f.sid, eid, "redeliver"), f.key, nil, idemKey("redeliver-1"))
		requireReplay(t, first, again)
		requireProblem(t, b.do(t, "POST", eventPath(f.sid, f.events[2]["id"].(string), "redeliver"), f.key, nil, idemKey("redeliver-1")),
			http.StatusConflict, "idempotency_conflict")
	})

	t.Run("body must be empty", func(t *testing.T) {
		t.Parallel()
		f := b.eventsFixture(t)
		eid := f.events[0]["id"].(string)
		b.must(t, http.StatusAccepted, "POST", eventPath(f.sid, eid, "redeliver"), f.key, map[string]any{})
		p := requireProblem(t, b.do(t, "POST", eventPath(f.sid, eid, "redeliver"), f.key, map[string]any{"at": "now"}), 400, "invalid_parameter")
		require.Equal(t, "at", p["param"])
	})
}

func TestEventData(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sid := b.service(t, map[string]any{"webhook_url": hookURL})
	vid := b.start(t, sid, adminToken, map[string]any{"to": "+447700900123", "reference": "<order & co>"})
	ctx := context.Background()

	// The verification as GET shows it, byte for byte (less the newline
	// that ends a response).
	r := b.do(t, "GET", vpath(sid, vid), adminToken, nil)
	require.Equal(t, http.StatusOK, r.Status)
	v, err := b.engine.GetVerification(ctx, sid, vid)
	require.NoError(t, err)
	data, err := httpapi.EventData(v, b.clock.Now())
	require.NoError(t, err)
	require.Equal(t, string(bytes.TrimSuffix(r.Body, []byte("\n"))), string(data))
	require.Contains(t, string(data), `"reference":"<order & co>"`, "no HTML escaping, like the API")

	// At a time past its expiry, it shows expired.
	data, err = httpapi.EventData(v, v.ExpiresAt.Add(time.Second))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	require.Equal(t, "expired", m["status"])
}

func TestEventBody(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.FixedZone("", 3600))
	e := &otpd.Event{
		ID: "evt_1", ServiceID: "svc_1", VerificationID: "ver_1", MessageID: "msg_1", Type: otpd.EventMessageSent, CreatedAt: at,
		Data:     []byte(`{"id": "ver_1", "reference": "<a&b>"}`),
		Delivery: otpd.EventDelivery{State: otpd.EventPending, Attempts: 3},
	}
	body, err := httpapi.EventBody(e)
	require.NoError(t, err)
	const want = `{"id":"evt_1","type":"message.sent","created_at":"2025-03-01T09:00:00.123Z","data":{"id":"ver_1","reference":"<a&b>"}}`
	require.Equal(t, want, string(body), "API time format, data compacted, nothing else")
	again, err := httpapi.EventBody(e)
	require.NoError(t, err)
	require.Equal(t, body, again, "deterministic")

	e.Data = []byte(`{"id":`)
	_, err = httpapi.EventBody(e)
	require.Error(t, err)
	e.Data = nil
	_, err = httpapi.EventBody(e)
	require.Error(t, err)

	// The body of a recorded event agrees with what the API shows of it.
	b := setup(t)
	f := b.eventsFixture(t)
	for _, shown := range f.events {
		ev, _, err := b.engine.GetEvent(context.Background(), f.sid, shown["id"].(string))
		require.NoError(t, err)
		body, err := httpapi.EventBody(ev)
		require.NoError(t, err)
		var got map[string]any
		require.NoError(t, json.Unmarshal(body, &got))
		require.Equal(t, map[string]any{
			"id": shown["id"], "type": shown["type"], "created_at": shown["created_at"], "data": shown["data"],
		}, got)
	}
}
