package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/httpapi"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/sqlite"
)

// The targets here send arbitrary request bodies and query strings through
// the whole server — authentication, body reading, decoding, the engine and
// a real SQLite store — and hold every answer to the API's contract: never
// a 5xx, and anything that is not a 2xx is a problem document whose code
// and status agree.

// fuzzStack is one server for a whole fuzz target. setup needs a
// *testing.T, which a target only has inside f.Fuzz, and a store per input
// would make every execution cost a new database; the fixtures are made
// through the engine for the same reason.
type fuzzStack struct {
	h    http.Handler
	sid  string   // a service with the sms and email channels
	key  string   // a key of sid
	vid  string   // a pending verification of sid, to +447700900123
	keys []string // key ids of sid, oldest first
	vids []string // verification ids of sid, oldest first
	sids []string // service ids, oldest first
	eids []string // event ids of sid (one verification.created per verification), newest first
}

func newFuzzStack(f *testing.F) *fuzzStack {
	f.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "otpd.db"))
	require.NoError(f, err)
	f.Cleanup(func() { _ = store.Close() })
	clk := &clock{t: time.Now().UTC()}
	sent := &recordingChannel{}
	engine, err := otpd.NewEngine(otpd.Config{
		Store:      store,
		Keyring:    otpd.NewKeyring(clk.Now()),
		Channels:   map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: sent, otpd.ChannelEmail: sent},
		Renderer:   message.New(),
		AdminToken: adminToken,
		Now:        clk.Now,
		EventData:  httpapi.EventData,
	})
	require.NoError(f, err)
	s := &fuzzStack{
		h: httpapi.New(httpapi.Config{
			Engine:      engine,
			Idempotency: store,
			Registry:    prometheus.NewRegistry(),
		}),
	}
	// Three of each, so that a limit of 1 or 2 leaves a next page.
	for range 3 {
		svc, err := engine.CreateService(ctx, &otpd.Service{
			Name: "Acme Bank", Policy: otpd.DefaultPolicy(),
			Channels: []otpd.ChannelName{otpd.ChannelSMS, otpd.ChannelEmail},
		})
		require.NoError(f, err)
		s.sids = append(s.sids, svc.ID)
	}
	s.sid = s.sids[0]
	for range 3 {
		k, secret, err := engine.CreateKey(ctx, s.sid, "backend")
		require.NoError(f, err)
		s.keys = append(s.keys, k.ID)
		s.key = secret
	}
	for range 3 {
		v, err := engine.Start(ctx, s.sid, otpd.StartRequest{To: "+447700900123"})
		require.NoError(f, err)
		s.vids = append(s.vids, v.ID)
	}
	s.vid = s.vids[len(s.vids)-1]
	evs, err := engine.ListEvents(ctx, otpd.EventFilter{ServiceID: s.sid})
	require.NoError(f, err)
	for _, e := range evs {
		s.eids = append(s.eids, e.ID)
	}
	return s
}

// serve sends one request straight to the server's handler: the same stack
// a listener would reach, without a loopback round trip per execution.
func (s *fuzzStack) serve(method, target, token string, body []byte) *res {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return &res{Status: rec.Code, Header: rec.Result().Header, Body: rec.Body.Bytes()}
}

// problemStatus is the status of every problem code a request may earn;
// internal_error is left out, as a 5xx is always a failure here.
var problemStatus = map[string]int{
	"invalid_parameter":    http.StatusBadRequest,
	"unauthorized":         http.StatusUnauthorized,
	"destination_blocked":  http.StatusForbidden,
	"not_found":            http.StatusNotFound,
	"method_not_allowed":   http.StatusMethodNotAllowed,
	"verification_closed":  http.StatusConflict,
	"idempotency_conflict": http.StatusConflict,
	"channel_unavailable":  http.StatusUnprocessableEntity,
	"rate_limited":         http.StatusTooManyRequests,
	"webhook_unavailable":  http.StatusConflict,
}

type fuzzProblem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Param  string `json:"param"`

	VerificationStatus string `json:"verification_status"`
	RetryAfterSeconds  int    `json:"retry_after_seconds"`
}

// requireAnswer checks that r is a success with status ok (and a JSON
// body) or a well-formed problem, which it returns. For a body that is
// one valid JSON object, a 400 must name the parameter at fault: the
// client cannot fix what it is not told about.
func requireAnswer(t *testing.T, r *res, ok int, body []byte) *fuzzProblem {
	t.Helper()
	if r.Status >= 500 {
		t.Fatalf("%d for body %q: %s", r.Status, body, r.Body)
	}
	if r.Status < 300 {
		if r.Status != ok {
			t.Fatalf("status %d, want %d or a problem; body %q: %s", r.Status, ok, body, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" || !json.Valid(r.Body) {
			t.Fatalf("success with Content-Type %q and body %s", ct, r.Body)
		}
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%d with Content-Type %q: %s", r.Status, ct, r.Body)
	}
	var p fuzzProblem
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%d: problem does not decode: %v: %s", r.Status, err, r.Body)
	}
	want, known := problemStatus[p.Code]
	switch {
	case !known:
		t.Fatalf("%d with unknown code %q: %s", r.Status, p.Code, r.Body)
	case want != r.Status || p.Status != r.Status:
		t.Fatalf("code %s with status %d (document says %d), want %d", p.Code, r.Status, p.Status, want)
	case p.Type != "https://otpd.dev/problems/"+p.Code || p.Title == "" || p.Detail == "":
		t.Fatalf("incomplete problem: %s", r.Body)
	case p.Code == "invalid_parameter" && p.Param != "" && !strings.HasPrefix(p.Detail, p.Param+" "):
		t.Fatalf("detail does not start with the param: %s", r.Body)
	case (p.Code == "verification_closed") != (p.VerificationStatus != ""):
		t.Fatalf("verification_status belongs to verification_closed: %s", r.Body)
	case p.Code == "rate_limited" && (p.RetryAfterSeconds <= 0 || r.Header.Get("Retry-After") != strconv.Itoa(p.RetryAfterSeconds)):
		t.Fatalf("rate_limited with Retry-After %q: %s", r.Header.Get("Retry-After"), r.Body)
	}
	if r.Status == http.StatusBadRequest && p.Param == "" && isJSONObject(body) {
		t.Fatalf("400 without a param for the JSON object %q: %s", body, r.Body)
	}
	return &p
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

func FuzzDecodeServiceRequest(f *testing.F) {
	s := newFuzzStack(f)
	for _, body := range []string{
		`{"name":"Acme Bank"}`,
		`{"name":"Acme","code_length":8,"code_alphabet":"alphanumeric","ttl_seconds":600,"max_ttl_seconds":3600}`,
		`{"name":"Acme","channels":["sms","email"],"allowed_countries":["gb","DE"],"default_locale":"de-AT"}`,
		`{"webhook_url":null,"app_hash":null,"webotp_domain":"example.com"}`,
		`{"max_check_attempts":21,"max_sends":0,"resend_cooldown_seconds":-1}`,
		`{"name":5}`, `{"code_length":"6"}`, `{"channels":[1]}`, `{"name":null}`,
		`{"ttl_seconds":1e30}`, `{"nope":1}`, `{"name":"a"} {}`, `[]`, `"x"`, `{`, ``, `null`,
	} {
		f.Add(false, []byte(body))
		f.Add(true, []byte(body))
	}
	f.Fuzz(func(t *testing.T, patch bool, body []byte) {
		method, path, ok := "POST", "/v1/services", http.StatusCreated
		if patch {
			method, path, ok = "PATCH", "/v1/services/"+s.sid, http.StatusOK
		}
		r := s.serve(method, path, adminToken, body)
		if requireAnswer(t, r, ok, body) != nil {
			return
		}
		// What the answer says was stored is what was stored.
		var got map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &got))
		delete(got, "webhook_secret")
		id, _ := got["id"].(string)
		if !otpd.HasPrefix(id, otpd.PrefixService) {
			t.Fatalf("service id %q: %s", id, r.Body)
		}
		again := s.serve("GET", "/v1/services/"+id, adminToken, nil)
		require.Equal(t, http.StatusOK, again.Status, "%s", again.Body)
		var stored map[string]any
		require.NoError(t, json.Unmarshal(again.Body, &stored))
		require.Equal(t, got, stored, "body %q", body)
	})
}

func FuzzDecodeStartRequest(f *testing.F) {
	s := newFuzzStack(f)
	for _, body := range []string{
		`{"to":"+447700900123"}`,
		`{"to":"ana@example.com","channel":"email","locale":"fr-CA","purpose":"password_reset"}`,
		`{"to":"+14155552671","channel":"auto","ttl_seconds":300,"client_ip":"2001:db8::1","reference":"order-1"}`,
		`{"to":"+447700900123","transaction":{"amount":"125.00","currency":"EUR","payee":"ACME Shop"}}`,
		`{"to":"+447700900123","fallback":["email"]}`,
		`{"to":"+447700900123","transaction":{"amount":125}}`,
		`{"to":"+447700900123","transaction":{"amount":"1","extra":true}}`,
		`{"to":"+4915101234567","channel":"whatsapp"}`,
		`{"to":"+447700900123","ttl_seconds":0}`, `{"to":"+447700900123","ttl_seconds":9223372036854775807}`,
		`{"to":7}`, `{"to":"+44"}`, `{"To":"+447700900123"}`, `{"to":"+447700900123","to":""}`,
		`{}`, `[]`, `{"transaction":[]}`, ` `, `{"to":"\ud800"}`,
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := s.serve("POST", "/v1/services/"+s.sid+"/verifications", s.key, body)
		if requireAnswer(t, r, http.StatusCreated, body) != nil {
			return
		}
		var v struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &v))
		if !otpd.HasPrefix(v.ID, otpd.PrefixVerification) || v.Status != "pending" {
			t.Fatalf("started %q with status %q: %s", v.ID, v.Status, r.Body)
		}
	})
}

func FuzzDecodeCheckRequest(f *testing.F) {
	s := newFuzzStack(f)
	for _, body := range []string{
		`{"code":"123456"}`, `{"code":"12-34 56"}`, `{"code":""}`, `{"code":123456}`,
		`{"code":"123456","transaction":{"amount":"125.00","currency":"EUR","payee":"ACME Shop"}}`,
		`{"code":"123456","transaction":{"amount":"x"}}`,
		`{"to":"+447700900123","code":"123456"}`, `{"to":"ana@example.com","code":"abc"}`,
		`{"to":"+447700900123"}`, `{"to":null,"code":null}`, `{"verification":"x"}`, `[]`, `{`,
	} {
		f.Add(false, []byte(body))
		f.Add(true, []byte(body))
	}
	f.Fuzz(func(t *testing.T, byDestination bool, body []byte) {
		path := "/v1/services/" + s.sid + "/verifications/" + s.vid + "/check"
		if byDestination {
			path = "/v1/services/" + s.sid + "/verification-checks"
		}
		r := s.serve("POST", path, s.key, body)
		if requireAnswer(t, r, http.StatusOK, body) != nil {
			return
		}
		var c struct {
			Valid        bool   `json:"valid"`
			Status       string `json:"status"`
			Verification struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"verification"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &c))
		if c.Valid || c.Status != c.Verification.Status || !otpd.HasPrefix(c.Verification.ID, otpd.PrefixVerification) {
			// A fuzzed code cannot know the derived one; valid would mean
			// the check compared nothing.
			t.Fatalf("check of %q: %s", body, r.Body)
		}
	})
}

// FuzzDecodeActionRequest covers the small bodies: a new key's, resend's,
// and cancel's and redeliver's (which must be empty or {}).
func FuzzDecodeActionRequest(f *testing.F) {
	s := newFuzzStack(f)
	for _, body := range []string{
		`{"name":"backend"}`, `{"name":""}`, `{"name":"  "}`, `{"channel":"email"}`, `{"channel":"auto"}`,
		`{"channel":"pigeon"}`, `{}`, ``, `{"reason":"x"}`, `{"name":["a"]}`, `null`, `{}{}`,
	} {
		for route := range uint8(4) {
			f.Add(route, []byte(body))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		var r *res
		switch route % 4 {
		case 0:
			r = s.serve("POST", "/v1/services/"+s.sid+"/keys", adminToken, body)
			requireAnswer(t, r, http.StatusCreated, body)
		case 1:
			r = s.serve("POST", "/v1/services/"+s.sid+"/verifications/"+s.vids[0]+"/resend", s.key, body)
			requireAnswer(t, r, http.StatusOK, body)
		case 2:
			r = s.serve("POST", "/v1/services/"+s.sid+"/verifications/"+s.vids[1]+"/cancel", s.key, body)
			requireAnswer(t, r, http.StatusOK, body)
		case 3:
			// The service has no webhook_url: a body that decodes gets 409.
			r = s.serve("POST", "/v1/services/"+s.sid+"/events/"+s.eids[0]+"/redeliver", s.key, body)
			if p := requireAnswer(t, r, http.StatusAccepted, body); p == nil || (p.Code != "invalid_parameter" && p.Code != "webhook_unavailable") {
				t.Fatalf("redeliver with body %q: %d %s", body, r.Status, r.Body)
			}
		}
	})
}

// FuzzListCursor sends arbitrary ?cursor= and ?limit= to the three lists. A
// bad limit is a 400 naming limit, a bad cursor one naming cursor; a good
// pair is a page no longer than the limit, after the cursor, whose
// next_cursor is itself accepted and leads past the page.
func FuzzListCursor(f *testing.F) {
	s := newFuzzStack(f)
	b64 := base64.RawURLEncoding.EncodeToString
	for route := range uint8(3) {
		for _, c := range []struct{ cursor, limit string }{
			{"", ""}, {"", "1"}, {"", "2"}, {"", "500"}, {"", "501"}, {"", "0"}, {"", "-1"}, {"", "+2"}, {"", " 1"},
			{"", "1e2"}, {"", "99999999999999999999"},
			{b64([]byte("svc_00000000000000000000000000")), "1"},
			{b64([]byte("key_00000000000000000000000000")), "1"},
			{b64([]byte("ver_zzzzzzzzzzzzzzzzzzzzzzzzzz")), ""},
			{b64([]byte("ver_")), ""}, {"c3ZjXw", ""}, {"c3ZjXw==", ""}, {"!!", "1"}, {"x", "x"},
		} {
			f.Add(route, c.cursor, c.limit)
		}
	}
	routes := []struct {
		path, token, prefix string
		ids                 []string // every id the list holds, in its order
		newestFirst         bool
	}{
		{"/v1/services", adminToken, otpd.PrefixService, s.sids, false},
		{"/v1/services/" + s.sid + "/keys", adminToken, otpd.PrefixKey, s.keys, false},
		{"/v1/services/" + s.sid + "/verifications", s.key, otpd.PrefixVerification, s.vids, true},
	}
	type page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
		NextCursor *string `json:"next_cursor"`
	}
	get := func(t *testing.T, path, token, cursor, limit string) (*res, page) {
		q := url.Values{"cursor": {cursor}, "limit": {limit}}
		r := s.serve("GET", path+"?"+q.Encode(), token, nil)
		p := requireAnswer(t, r, http.StatusOK, nil)
		var pg page
		if p == nil {
			require.NoError(t, json.Unmarshal(r.Body, &pg))
		}
		return r, pg
	}
	f.Fuzz(func(t *testing.T, route uint8, cursor, limit string) {
		rt := routes[int(route)%len(routes)]
		n := 50
		badLimit := false
		if limit != "" {
			var err error
			n, err = strconv.Atoi(limit)
			badLimit = err != nil || n < 1 || n > 500
		}
		badCursor := false
		if cursor != "" {
			id, err := base64.RawURLEncoding.DecodeString(cursor)
			badCursor = err != nil || !otpd.HasPrefix(string(id), rt.prefix)
		}
		r, pg := get(t, rt.path, rt.token, cursor, limit)
		var wantParam string
		switch {
		case badLimit:
			wantParam = "limit"
		case badCursor:
			wantParam = "cursor"
		}
		if wantParam != "" {
			var p fuzzProblem
			require.Equal(t, http.StatusBadRequest, r.Status, "cursor %q limit %q: %s", cursor, limit, r.Body)
			require.NoError(t, json.Unmarshal(r.Body, &p))
			require.Equal(t, wantParam, p.Param, "cursor %q limit %q: %s", cursor, limit, r.Body)
			return
		}
		require.Equal(t, http.StatusOK, r.Status, "cursor %q limit %q: %s", cursor, limit, r.Body)

		// The page is the part of the list after the cursor, in list order.
		var after string
		if cursor != "" {
			b, _ := base64.RawURLEncoding.DecodeString(cursor)
			after = string(b)
		}
		var want []string
		for _, id := range rt.ids {
			if after == "" || (!rt.newestFirst && id > after) || (rt.newestFirst && id < after) {
				want = append(want, id)
			}
		}
		if rt.newestFirst {
			want = reversed(want)
		}
		var got []string
		for _, d := range pg.Data {
			got = append(got, d.ID)
		}
		require.Equal(t, want[:min(len(want), n)], got, "cursor %q (%q) limit %q", cursor, after, limit)
		if len(want) <= n {
			require.Nil(t, pg.NextCursor, "a last page has no next_cursor")
			return
		}
		require.NotNil(t, pg.NextCursor, "a page of %d of %d has a next_cursor", n, len(want))
		r2, pg2 := get(t, rt.path, rt.token, *pg.NextCursor, limit)
		require.Equal(t, http.StatusOK, r2.Status, "next_cursor %q refused: %s", *pg.NextCursor, r2.Body)
		require.NotEmpty(t, pg2.Data)
		require.Equal(t, want[n], pg2.Data[0].ID, "the next page starts where this one ended")
	})
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// FuzzListEvents sends arbitrary filters to the events list. Each bad
// parameter is a 400 naming one of the parameters given; otherwise every
// event shown matches every filter, and there are no more than the limit.
func FuzzListEvents(f *testing.F) {
	s := newFuzzStack(f)
	b64 := base64.RawURLEncoding.EncodeToString
	for _, c := range []struct{ typ, since, vid, limit, cursor string }{
		{"", "", "", "", ""},
		{"verification.created", "", "", "1", ""},
		{"message.sent", "2000-01-01T00:00:00Z", "", "", ""},
		{"", "2000-01-01T00:00:00.5+02:00", s.vids[0], "2", ""},
		{"", "", s.vids[1], "", b64([]byte(s.eids[0]))},
		{"", "", "", "1", b64([]byte(s.eids[1]))},
		{"verification.nope", "", "", "", ""},
		{"", "2025-13-01T00:00:00Z", "", "", ""},
		{"", "2025-03-01 10:00:00", "", "", ""},
		{"", "", "ver_", "", ""},
		{"", "", s.sid, "", ""},
		{"", "", "", "0", ""},
		{"", "", "", "", b64([]byte(s.vids[0]))},
		{"", "", "", "", "%%"},
	} {
		f.Add(c.typ, c.since, c.vid, c.limit, c.cursor)
	}
	type page struct {
		Data []struct {
			ID             string `json:"id"`
			Type           string `json:"type"`
			CreatedAt      string `json:"created_at"`
			VerificationID string `json:"verification_id"`
		} `json:"data"`
	}
	f.Fuzz(func(t *testing.T, typ, since, vid, limit, cursor string) {
		q := url.Values{"type": {typ}, "since": {since}, "verification_id": {vid}, "limit": {limit}, "cursor": {cursor}}
		r := s.serve("GET", "/v1/services/"+s.sid+"/events?"+q.Encode(), s.key, nil)
		if p := requireAnswer(t, r, http.StatusOK, nil); p != nil {
			if r.Status != http.StatusBadRequest || q.Get(p.Param) == "" {
				t.Fatalf("%v: %d naming %q: %s", q, r.Status, p.Param, r.Body)
			}
			return
		}
		var pg page
		require.NoError(t, json.Unmarshal(r.Body, &pg))
		n := 50
		if limit != "" {
			n, _ = strconv.Atoi(limit)
		}
		var from time.Time
		if since != "" {
			var err error
			from, err = time.Parse(time.RFC3339Nano, since)
			require.NoError(t, err, "accepted since %q", since)
		}
		if len(pg.Data) > n {
			t.Fatalf("%d events for limit %q", len(pg.Data), limit)
		}
		for _, e := range pg.Data {
			at, err := time.Parse(time.RFC3339Nano, e.CreatedAt)
			require.NoError(t, err)
			if (typ != "" && e.Type != typ) || (vid != "" && e.VerificationID != vid) || at.Before(from.Truncate(time.Millisecond)) {
				t.Fatalf("%v: event %+v does not match", q, e)
			}
		}
	})
}
