package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/httpapi"
)

// conformance sends requests through the real server and validates each
// request and response against the served OpenAPI document. It also
// requires every status the server answers to be declared explicitly for
// the operation (not just covered by "default"), and records which
// operations were exercised.
type conformance struct {
	b         *testBundle
	v         validator.Validator
	strict    validator.Validator
	model     *v3.Document
	exercised map[string]bool // "METHOD /template"
}

func newConformance(t *testing.T, b *testBundle) *conformance {
	t.Helper()
	doc, err := libopenapi.NewDocument(httpapi.OpenAPI())
	require.NoError(t, err)
	model, err := doc.BuildV3Model()
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions(), config.WithContentAssertions())
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	require.True(t, ok, "the OpenAPI document is invalid: %s", formatValidation(verrs))
	// The API's bodies are checked strictly too: no member that the
	// document does not declare. (Strict mode misreads free-form maps, such
	// as /readyz's checks, so the operational endpoints are not.)
	strict, errs := validator.NewValidator(doc, config.WithFormatAssertions(), config.WithContentAssertions(),
		config.WithStrictMode(), config.WithStrictIgnoredHeadersExtra("X-Content-Type-Options", "Idempotent-Replayed"))
	require.Empty(t, errs)
	return &conformance{b: b, v: v, strict: strict, model: &model.Model, exercised: map[string]bool{}}
}

func formatErrors[E fmt.Stringer](errs []E) string {
	var sb strings.Builder
	for _, e := range errs {
		sb.WriteString("\n  - ")
		sb.WriteString(e.String())
	}
	return sb.String()
}

// validationError adapts the validator's errors for messages.
type validationError struct{ msg string }

func (e validationError) String() string { return e.msg }

// step is one request of the conformance run.
type step struct {
	op     string // "METHOD /template" as in the document
	path   string // the concrete path and query
	token  string
	body   any // nil, rawBody, or a value to encode
	opts   []reqOpt
	status int
	// badRequest marks a request that breaks the document on purpose (to
	// get a problem back): only its response is validated.
	badRequest bool
}

func (c *conformance) run(t *testing.T, s step) *res {
	t.Helper()
	data := encodeBody(t, s.body)
	send := c.b.newRequest(t, opMethod(s.op), s.path, s.token, rawBodyOrNil(data), s.opts...)
	r := c.b.send(t, send)
	require.Equal(t, s.status, r.Status, "%s %s: %s", opMethod(s.op), s.path, r.Body)
	c.exercised[s.op] = true

	v := c.v
	if strings.HasPrefix(opPath(s.op), "/v1/") {
		v = c.strict
	}
	check := c.b.newRequest(t, opMethod(s.op), s.path, s.token, rawBodyOrNil(data), s.opts...)
	if !s.badRequest {
		ok, errs := v.ValidateHttpRequestSync(check)
		require.True(t, ok, "request %s %s does not match the document: %s", check.Method, s.path, formatValidation(errs))
		check = c.b.newRequest(t, opMethod(s.op), s.path, s.token, rawBodyOrNil(data), s.opts...)
	}
	resp := &http.Response{
		StatusCode: r.Status, Header: r.Header, Request: check,
		Body: io.NopCloser(bytes.NewReader(r.Body)), ContentLength: int64(len(r.Body)),
	}
	ok, errs := v.ValidateHttpResponse(check, resp)
	require.True(t, ok, "response %d to %s %s does not match the document: %s\nbody: %s", r.Status, check.Method, s.path, formatValidation(errs), r.Body)
	c.requireDeclared(t, s.op, r.Status)
	return r
}

func rawBodyOrNil(data []byte) any {
	if data == nil {
		return nil
	}
	return rawBody(data)
}

func formatValidation[E interface{ Error() string }](errs []E) string {
	out := make([]validationError, 0, len(errs))
	for _, e := range errs {
		out = append(out, validationError{e.Error()})
	}
	return formatErrors(out)
}

func opMethod(op string) string { m, _, _ := strings.Cut(op, " "); return m }
func opPath(op string) string   { _, p, _ := strings.Cut(op, " "); return p }

func (c *conformance) operation(op string) *v3.Operation {
	item, ok := c.model.Paths.PathItems.Get(opPath(op))
	if !ok {
		return nil
	}
	return item.GetOperations().GetOrZero(strings.ToLower(opMethod(op)))
}

func (c *conformance) requireDeclared(t *testing.T, op string, status int) {
	t.Helper()
	o := c.operation(op)
	require.NotNil(t, o, "the document has no operation %s", op)
	_, ok := o.Responses.Codes.Get(strconv.Itoa(status))
	require.True(t, ok, "the document does not declare status %d for %s", status, op)
}

func TestOpenAPIConformance(t *testing.T) {
	t.Parallel()
	// /readyz with every part it can have, so the document must describe
	// them all.
	b := setup(t, func(o *setupOpts) {
		o.details = func(context.Context) map[string]error { return map[string]error{"sms_route:uk": nil} }
		o.smsRoutes = smsRoutesForTest
	})
	c := newConformance(t, b)
	run := func(s step) map[string]any {
		t.Helper()
		r := c.run(t, s)
		if len(r.Body) == 0 || !strings.Contains(r.Header.Get("Content-Type"), "json") {
			return nil
		}
		var m map[string]any
		if r.Body[0] == '{' {
			m = r.JSON(t)
		}
		return m
	}
	const (
		noSvc = "svc_01jd0000000000000000000000"
		noVer = "ver_01jd0000000000000000000000"
		noKey = "key_01jd0000000000000000000000"
		noEvt = "evt_01jd0000000000000000000000"
	)

	// Operations.
	run(step{op: "GET /healthz", path: "/healthz", status: 200})
	run(step{op: "GET /readyz", path: "/readyz", status: 200})
	b.ready.set(errNotReady)
	run(step{op: "GET /readyz", path: "/readyz", status: 503})
	b.ready.set(nil)
	run(step{op: "GET /openapi.json", path: "/openapi.json", status: 200})

	// Services.
	svc := run(step{op: "POST /v1/services", path: "/v1/services", token: adminToken, status: 201,
		body: map[string]any{"name": "Acme Bank", "channels": []string{"sms", "email"}, "resend_cooldown_seconds": 0,
			"max_sends": 3, "max_check_attempts": 2, "webhook_url": "https://acme.example/hooks", "app_hash": "FA+9qCX9VSu",
			"webotp_domain": "acme.example", "allowed_countries": []string{"GB", "DE"}, "max_ttl_seconds": 3600},
		opts: []reqOpt{idemKey("svc-1")}})
	sid := svc["id"].(string)
	other := run(step{op: "POST /v1/services", path: "/v1/services", token: adminToken, status: 201, body: map[string]any{"name": "Acme Bank"}})
	otherKey := b.key(t, other["id"].(string))
	run(step{op: "POST /v1/services", path: "/v1/services", token: adminToken, status: 409, body: map[string]any{"name": "Other"}, opts: []reqOpt{idemKey("svc-1")}})
	run(step{op: "POST /v1/services", path: "/v1/services", token: adminToken, status: 400, body: map[string]any{"name": "X", "code_length": 2}, badRequest: true})
	run(step{op: "POST /v1/services", path: "/v1/services", token: adminToken, status: 400, body: map[string]any{"name": "X", "code_alphabet": "hex"}, badRequest: true})
	run(step{op: "POST /v1/services", path: "/v1/services", token: adminToken, status: 400, body: map[string]any{"name": "X", "default_locale": "no such locale"}})
	run(step{op: "POST /v1/services", path: "/v1/services", token: "", status: 401, body: map[string]any{"name": "X"}, badRequest: true})
	run(step{op: "GET /v1/services", path: "/v1/services?limit=1", token: adminToken, status: 200})
	run(step{op: "GET /v1/services", path: "/v1/services", token: adminToken, status: 200})
	run(step{op: "GET /v1/services", path: "/v1/services?limit=501", token: adminToken, status: 400, badRequest: true})
	run(step{op: "GET /v1/services", path: "/v1/services?cursor=!!", token: adminToken, status: 400})
	run(step{op: "GET /v1/services", path: "/v1/services", token: "otpd_admin_wrong", status: 401})
	run(step{op: "GET /v1/services/{sid}", path: "/v1/services/" + sid, token: adminToken, status: 200})
	run(step{op: "GET /v1/services/{sid}", path: "/v1/services/" + noSvc, token: adminToken, status: 404})
	run(step{op: "PATCH /v1/services/{sid}", path: "/v1/services/" + sid, token: adminToken, status: 200,
		body: map[string]any{"name": "Acme", "webhook_url": nil, "app_hash": nil, "ttl_seconds": 900}})
	run(step{op: "PATCH /v1/services/{sid}", path: "/v1/services/" + sid, token: adminToken, status: 400, body: map[string]any{"max_sends": 11}, badRequest: true})
	run(step{op: "PATCH /v1/services/{sid}", path: "/v1/services/" + sid, token: adminToken, status: 400, body: map[string]any{"webhook_url": "ftp://x"}})
	run(step{op: "PATCH /v1/services/{sid}", path: "/v1/services/" + noSvc, token: adminToken, status: 404, body: map[string]any{"name": "X"}})

	// Keys.
	key := run(step{op: "POST /v1/services/{sid}/keys", path: "/v1/services/" + sid + "/keys", token: adminToken, status: 201,
		body: map[string]any{"name": "backend"}, opts: []reqOpt{idemKey("key-1")}})
	secret := key["secret"].(string)
	run(step{op: "POST /v1/services/{sid}/keys", path: "/v1/services/" + sid + "/keys", token: adminToken, status: 201,
		body: map[string]any{"name": "backend"}, opts: []reqOpt{idemKey("key-1")}})
	run(step{op: "POST /v1/services/{sid}/keys", path: "/v1/services/" + sid + "/keys", token: adminToken, status: 409,
		body: map[string]any{"name": "frontend"}, opts: []reqOpt{idemKey("key-1")}})
	run(step{op: "POST /v1/services/{sid}/keys", path: "/v1/services/" + sid + "/keys", token: adminToken, status: 400, body: map[string]any{"name": ""}, badRequest: true})
	run(step{op: "POST /v1/services/{sid}/keys", path: "/v1/services/" + sid + "/keys", token: secret, status: 401, body: map[string]any{"name": "x"}})
	run(step{op: "POST /v1/services/{sid}/keys", path: "/v1/services/" + noSvc + "/keys", token: adminToken, status: 404, body: map[string]any{"name": "x"}})
	run(step{op: "GET /v1/services/{sid}/keys", path: "/v1/services/" + sid + "/keys", token: adminToken, status: 200})
	run(step{op: "GET /v1/services/{sid}/keys", path: "/v1/services/" + sid + "/keys?limit=0", token: adminToken, status: 400, badRequest: true})
	run(step{op: "GET /v1/services/{sid}/keys", path: "/v1/services/" + noSvc + "/keys", token: adminToken, status: 404})
	run(step{op: "GET /v1/services/{sid}/keys", path: "/v1/services/" + noSvc + "/keys", token: secret, status: 404})
	spare := b.key(t, sid)
	doomed := b.must(t, http.StatusCreated, "POST", "/v1/services/"+sid+"/keys", adminToken, map[string]any{"name": "doomed"})["id"].(string)
	run(step{op: "DELETE /v1/services/{sid}/keys/{kid}", path: "/v1/services/" + sid + "/keys/" + doomed, token: adminToken, status: 204})
	run(step{op: "DELETE /v1/services/{sid}/keys/{kid}", path: "/v1/services/" + sid + "/keys/" + noKey, token: adminToken, status: 404})
	run(step{op: "DELETE /v1/services/{sid}/keys/{kid}", path: "/v1/services/" + sid + "/keys/" + noKey, token: spare, status: 401})

	// Audit log: what the steps above did as admin.
	audit := run(step{op: "GET /v1/audit", path: "/v1/audit?service_id=" + sid + "&limit=2", token: adminToken, status: 200})
	require.Len(t, audit["data"], 2)
	require.Equal(t, "admin", audit["data"].([]any)[0].(map[string]any)["actor"], "recorded under the request's principal")
	require.NotNil(t, audit["next_cursor"])
	run(step{op: "GET /v1/audit", path: "/v1/audit?cursor=" + audit["next_cursor"].(string), token: adminToken, status: 200})
	run(step{op: "GET /v1/audit", path: "/v1/audit?action=service.update&since=2020-01-01T00:00:00Z", token: adminToken, status: 200})
	run(step{op: "GET /v1/audit", path: "/v1/audit?action=Service", token: adminToken, status: 400, badRequest: true})
	run(step{op: "GET /v1/audit", path: "/v1/audit?since=yesterday", token: adminToken, status: 400, badRequest: true})
	run(step{op: "GET /v1/audit", path: "/v1/audit?service_id=" + sid, token: secret, status: 401})
	run(step{op: "GET /v1/audit", path: "/v1/audit", status: 401, badRequest: true})

	// Verifications.
	vpathS := func(rest ...string) string { return vpath(sid, rest...) }
	txn := map[string]any{"amount": "125.00", "currency": "EUR", "payee": "ACME Shop"}
	ver := run(step{op: "POST /v1/services/{sid}/verifications", path: vpathS(), token: secret, status: 201,
		body: map[string]any{"to": "+447700900123", "channel": "sms", "locale": "de", "purpose": "transaction", "transaction": txn,
			"ttl_seconds": 1200, "client_ip": "203.0.113.7", "reference": "order-8812"},
		opts: []reqOpt{idemKey("ver-1")}})
	vid := ver["id"].(string)
	run(step{op: "POST /v1/services/{sid}/verifications", path: vpathS(), token: secret, status: 201,
		body: map[string]any{"to": "+447700900123", "channel": "sms", "locale": "de", "purpose": "transaction", "transaction": txn,
			"ttl_seconds": 1200, "client_ip": "203.0.113.7", "reference": "order-8812"},
		opts: []reqOpt{idemKey("ver-1")}})
	run(step{op: "POST /v1/services/{sid}/verifications", path: vpathS(), token: secret, status: 409, body: map[string]any{"to": "+447700900124"}, opts: []reqOpt{idemKey("ver-1")}})
	plain := run(step{op: "POST /v1/services/{sid}/verifications", path: vpathS(), token: secret, status: 201, body: map[string]any{"to": "ana@example.com"}})
	run(step{op: "POST /v1/services/{sid}/verifications", path: vpathS(), token: secret, status: 400, body: map[string]any{"to": "nobody"}})
	run(step{op: "POST /v1/services/{sid}/verifications", path: vpathS(), token: secret, status: 400, body: map[string]any{"to": "+447700900123", "colour": "red"}, badRequest: true})
	run(step{op: "POST /v1/services/{sid}/verifications", path: vpathS(), token: secret, status: 403, body: map[string]any{"to": "+33612345678"}})
	run(step{op: "POST /v1/services/{sid}/verifications", path: vpathS(), token: secret, status: 422, body: map[string]any{"to": "+447700900123", "channel": "whatsapp"}})
	run(step{op: "POST /v1/services/{sid}/verifications", path: vpath(noSvc), token: adminToken, status: 404, body: map[string]any{"to": "+447700900123"}})
	run(step{op: "POST /v1/services/{sid}/verifications", path: vpath(noSvc), token: secret, status: 404, body: map[string]any{"to": "+447700900123"}})
	run(step{op: "POST /v1/services/{sid}/verifications", path: vpathS(), token: "", status: 401, body: map[string]any{"to": "+447700900123"}, badRequest: true})

	run(step{op: "GET /v1/services/{sid}/verifications/{vid}", path: vpathS(vid), token: secret, status: 200})
	run(step{op: "GET /v1/services/{sid}/verifications/{vid}", path: vpathS(noVer), token: secret, status: 404})
	run(step{op: "GET /v1/services/{sid}/verifications", path: vpathS() + "?status=pending&limit=1", token: secret, status: 200})
	run(step{op: "GET /v1/services/{sid}/verifications", path: vpathS() + "?to=%2B447700900123", token: secret, status: 200})
	run(step{op: "GET /v1/services/{sid}/verifications", path: vpathS() + "?status=nope", token: secret, status: 400, badRequest: true})
	run(step{op: "GET /v1/services/{sid}/verifications", path: vpathS() + "?cursor=!!", token: secret, status: 400})
	run(step{op: "GET /v1/services/{sid}/verifications", path: vpath(noSvc), token: secret, status: 404})

	code := b.code(t, sid, vid)
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/check", path: vpathS(vid, "check"), token: secret, status: 200,
		body: map[string]any{"code": wrongCode(code), "transaction": txn}})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/check", path: vpathS(vid, "check"), token: secret, status: 400, body: map[string]any{"code": ""}, badRequest: true})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/check", path: vpathS(vid, "check"), token: secret, status: 400,
		body: map[string]any{"code": code, "transaction": map[string]any{"amount": "1,5", "currency": "EUR", "payee": "X"}}, badRequest: true})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/check", path: vpathS(noVer, "check"), token: secret, status: 404, body: map[string]any{"code": code}})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/check", path: vpathS(vid, "check"), token: secret, status: 200,
		body: map[string]any{"code": code, "transaction": txn}, opts: []reqOpt{idemKey("check-1")}})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/check", path: vpathS(vid, "check"), token: secret, status: 409,
		body: map[string]any{"code": code, "transaction": txn}})

	plainID := plain["id"].(string)
	plainCode := b.code(t, sid, plainID)
	run(step{op: "POST /v1/services/{sid}/verification-checks", path: "/v1/services/" + sid + "/verification-checks", token: secret, status: 200,
		body: map[string]any{"to": "ana@example.com", "code": wrongCode(plainCode)}})
	run(step{op: "POST /v1/services/{sid}/verification-checks", path: "/v1/services/" + sid + "/verification-checks", token: secret, status: 200,
		body: map[string]any{"to": "ana@example.com", "code": wrongCode(plainCode)}})
	run(step{op: "POST /v1/services/{sid}/verification-checks", path: "/v1/services/" + sid + "/verification-checks", token: secret, status: 404,
		body: map[string]any{"to": "ana@example.com", "code": plainCode}})
	run(step{op: "POST /v1/services/{sid}/verification-checks", path: "/v1/services/" + sid + "/verification-checks", token: secret, status: 400,
		body: map[string]any{"to": "nobody", "code": "123456"}})
	run(step{op: "POST /v1/services/{sid}/verification-checks", path: "/v1/services/" + sid + "/verification-checks", token: secret, status: 400,
		body: map[string]any{"code": "123456"}, badRequest: true})
	run(step{op: "POST /v1/services/{sid}/verification-checks", path: "/v1/services/svc_01jd0000000000000000000000/verification-checks", token: secret, status: 404,
		body: map[string]any{"to": "ana@example.com", "code": "123456"}})
	// Checking one that ran out of attempts.
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/check", path: vpathS(plainID, "check"), token: secret, status: 409, body: map[string]any{"code": plainCode}})

	v2 := run(step{op: "POST /v1/services/{sid}/verifications", path: vpathS(), token: secret, status: 201, body: map[string]any{"to": "+447700900125"}})["id"].(string)
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/resend", path: vpathS(v2, "resend"), token: secret, status: 200})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/resend", path: vpathS(v2, "resend"), token: secret, status: 200, body: map[string]any{"channel": "sms"}, opts: []reqOpt{idemKey("r-1")}})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/resend", path: vpathS(v2, "resend"), token: secret, status: 200, body: map[string]any{"channel": "sms"}, opts: []reqOpt{idemKey("r-1")}})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/resend", path: vpathS(v2, "resend"), token: secret, status: 429})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/resend", path: vpathS(v2, "resend"), token: secret, status: 422, body: map[string]any{"channel": "email"}})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/resend", path: vpathS(v2, "resend"), token: secret, status: 400, body: map[string]any{"channel": "fax"}, badRequest: true})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/resend", path: vpathS(noVer, "resend"), token: secret, status: 404})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/resend", path: vpathS(vid, "resend"), token: secret, status: 409})

	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/cancel", path: vpathS(v2, "cancel"), token: secret, status: 200, body: map[string]any{}})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/cancel", path: vpathS(v2, "cancel"), token: secret, status: 409})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/cancel", path: vpathS(v2, "cancel"), token: secret, status: 400, body: map[string]any{"reason": "x"}, badRequest: true})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/cancel", path: vpathS(noVer, "cancel"), token: secret, status: 404})
	run(step{op: "POST /v1/services/{sid}/verifications/{vid}/cancel", path: vpathS(vid, "cancel"), token: "", status: 401, badRequest: true})

	// Events. The service's webhook_url was cleared above, so its events
	// so far are disabled and cannot be redelivered until one is set.
	epath := func(rest ...string) string { return eventPath(sid, rest...) }
	events := run(step{op: "GET /v1/services/{sid}/events", path: epath() + "?limit=2", token: secret, status: 200})
	require.Len(t, events["data"], 2)
	require.NotNil(t, events["next_cursor"])
	run(step{op: "GET /v1/services/{sid}/events", path: epath() + "?cursor=" + events["next_cursor"].(string), token: secret, status: 200})
	run(step{op: "GET /v1/services/{sid}/events", path: epath() + "?" + url.Values{"type": {"verification.approved"}, "verification_id": {vid},
		"since": {"2000-01-01T00:00:00+01:00"}}.Encode(), token: adminToken, status: 200})
	run(step{op: "GET /v1/services/{sid}/events", path: epath() + "?type=verification.done", token: secret, status: 400, badRequest: true})
	run(step{op: "GET /v1/services/{sid}/events", path: epath() + "?since=yesterday", token: secret, status: 400, badRequest: true})
	run(step{op: "GET /v1/services/{sid}/events", path: epath() + "?verification_id=" + noSvc, token: secret, status: 400, badRequest: true})
	run(step{op: "GET /v1/services/{sid}/events", path: epath() + "?cursor=!!", token: secret, status: 400})
	run(step{op: "GET /v1/services/{sid}/events", path: "/v1/services/" + noSvc + "/events", token: secret, status: 404})
	run(step{op: "GET /v1/services/{sid}/events", path: epath(), token: "", status: 401, badRequest: true})
	eid := events["data"].([]any)[0].(map[string]any)["id"].(string)
	// Two attempts, so that the document is checked against both shapes.
	at := b.clock.Now()
	require.NoError(t, b.store.RecordDeliveryAttempt(t.Context(),
		&otpd.DeliveryAttempt{EventID: eid, At: at, URL: "https://acme.example/hooks", Error: "dial tcp: connection refused", Duration: 3 * time.Millisecond},
		otpd.EventDelivery{State: otpd.EventPending, Attempts: 1, NextAttemptAt: at.Add(time.Minute), Deadline: at.Add(72 * time.Hour),
			LastAttemptAt: at, LastError: "dial tcp: connection refused"}))
	require.NoError(t, b.store.RecordDeliveryAttempt(t.Context(),
		&otpd.DeliveryAttempt{EventID: eid, At: at.Add(time.Minute), URL: "https://acme.example/hooks", StatusCode: 204, Duration: 41 * time.Millisecond},
		otpd.EventDelivery{State: otpd.EventDelivered, Attempts: 2, LastAttemptAt: at.Add(time.Minute), LastStatusCode: 204, DeliveredAt: at.Add(time.Minute)}))
	run(step{op: "GET /v1/services/{sid}/events/{eid}", path: epath(eid), token: secret, status: 200})
	run(step{op: "GET /v1/services/{sid}/events/{eid}", path: epath(noEvt), token: secret, status: 404})
	run(step{op: "GET /v1/services/{sid}/events/{eid}", path: epath(eid), token: otherKey, status: 404})
	run(step{op: "POST /v1/services/{sid}/events/{eid}/redeliver", path: epath(eid, "redeliver"), token: secret, status: 409})
	b.must(t, http.StatusOK, "PATCH", "/v1/services/"+sid, adminToken, map[string]any{"webhook_url": "https://acme.example/hooks"})
	run(step{op: "POST /v1/services/{sid}/events/{eid}/redeliver", path: epath(eid, "redeliver"), token: secret, status: 202, opts: []reqOpt{idemKey("redeliver-1")}})
	run(step{op: "POST /v1/services/{sid}/events/{eid}/redeliver", path: epath(eid, "redeliver"), token: secret, status: 202, opts: []reqOpt{idemKey("redeliver-1")}})
	run(step{op: "POST /v1/services/{sid}/events/{eid}/redeliver", path: epath(eid, "redeliver"), token: secret, status: 409, body: map[string]any{}, opts: []reqOpt{idemKey("redeliver-1")}})
	run(step{op: "POST /v1/services/{sid}/events/{eid}/redeliver", path: epath(eid, "redeliver"), token: secret, status: 400, body: map[string]any{"now": true}, badRequest: true})
	run(step{op: "POST /v1/services/{sid}/events/{eid}/redeliver", path: epath(noEvt, "redeliver"), token: secret, status: 404})
	run(step{op: "POST /v1/services/{sid}/events/{eid}/redeliver", path: epath(eid, "redeliver"), token: otherKey, status: 404})
	run(step{op: "GET /v1/services/{sid}/events/{eid}", path: epath(eid), token: adminToken, status: 200})

	// Push devices.
	dpath := func(rest ...string) string {
		return "/v1/services/" + sid + "/devices" + strings.Join(append([]string{""}, rest...), "/")
	}
	did := run(step{op: "POST /v1/services/{sid}/devices", path: dpath(), token: secret, status: 201,
		body: map[string]any{"platform": "ios", "token": "a1b2c3d4e5f6", "label": "user-42"}})["id"].(string)
	run(step{op: "POST /v1/services/{sid}/devices", path: dpath(), token: secret, status: 201, body: map[string]any{"platform": "android", "token": "fcm-token-1"}})
	run(step{op: "POST /v1/services/{sid}/devices", path: dpath(), token: secret, status: 400, body: map[string]any{"platform": "windows", "token": "x"}, badRequest: true})
	devs := run(step{op: "GET /v1/services/{sid}/devices", path: dpath() + "?limit=1", token: secret, status: 200})
	run(step{op: "GET /v1/services/{sid}/devices", path: dpath() + "?cursor=" + devs["next_cursor"].(string), token: secret, status: 200})
	require.NoError(t, b.engine.MarkDeviceDead(t.Context(), sid, did, "Unregistered"))
	got := run(step{op: "GET /v1/services/{sid}/devices/{did}", path: dpath(did), token: secret, status: 200})
	require.Equal(t, "dead", got["status"])
	require.NotContains(t, got, "token", "a device's token is never shown")
	run(step{op: "GET /v1/services/{sid}/devices/{did}", path: dpath(did), token: otherKey, status: 404})
	run(step{op: "DELETE /v1/services/{sid}/devices/{did}", path: dpath(did), token: secret, status: 204})
	run(step{op: "DELETE /v1/services/{sid}/devices/{did}", path: dpath(did), token: secret, status: 404})

	// Erasure of a destination.
	erase := func(to string) string { return "/v1/services/" + sid + "/destinations/" + url.PathEscape(to) }
	erased := run(step{op: "DELETE /v1/services/{sid}/destinations/{to}", path: erase("+447700900123"), token: secret, status: 200})
	require.Positive(t, erased["verifications"])
	run(step{op: "DELETE /v1/services/{sid}/destinations/{to}", path: "/v1/services/" + sid + "/destinations/%2B447700900123", token: adminToken, status: 200})
	run(step{op: "DELETE /v1/services/{sid}/destinations/{to}", path: erase("07700 900123"), token: secret, status: 400})
	run(step{op: "DELETE /v1/services/{sid}/destinations/{to}", path: erase("+447700900123"), token: otherKey, status: 404})
	run(step{op: "DELETE /v1/services/{sid}/destinations/{to}", path: erase("+447700900123"), token: "", status: 401, badRequest: true})
	// Fraud blocks (admin token only).
	bpath := func(rest ...string) string {
		return "/v1/services/" + sid + "/blocks" + strings.Join(append([]string{""}, rest...), "/")
	}
	const noBlk = "blk_01jd0000000000000000000000"
	blk := run(step{op: "POST /v1/services/{sid}/blocks", path: bpath(), token: adminToken, status: 201,
		body: map[string]any{"scope": "prefix", "key": "+4477009002", "duration_seconds": 3600, "reason": "ticket 42"}})
	bid := blk["id"].(string)
	run(step{op: "POST /v1/services/{sid}/blocks", path: bpath(), token: adminToken, status: 200,
		body: map[string]any{"scope": "prefix", "key": "+4477009002", "duration_seconds": 60}})
	run(step{op: "POST /v1/services/{sid}/blocks", path: bpath(), token: adminToken, status: 201,
		body: map[string]any{"scope": "country", "key": "LV", "duration_seconds": 60}, opts: []reqOpt{idemKey("blk-1")}})
	run(step{op: "POST /v1/services/{sid}/blocks", path: bpath(), token: adminToken, status: 409,
		body: map[string]any{"scope": "country", "key": "NG", "duration_seconds": 60}, opts: []reqOpt{idemKey("blk-1")}})
	run(step{op: "POST /v1/services/{sid}/blocks", path: bpath(), token: adminToken, status: 400,
		body: map[string]any{"scope": "region", "key": "LV", "duration_seconds": 60}, badRequest: true})
	run(step{op: "POST /v1/services/{sid}/blocks", path: bpath(), token: adminToken, status: 400,
		body: map[string]any{"scope": "prefix", "key": "3712512", "duration_seconds": 60}})
	run(step{op: "POST /v1/services/{sid}/blocks", path: bpath(), token: secret, status: 401,
		body: map[string]any{"scope": "prefix", "key": "+4477009002", "duration_seconds": 60}})
	run(step{op: "POST /v1/services/{sid}/blocks", path: bpath(), token: otherKey, status: 404,
		body: map[string]any{"scope": "prefix", "key": "+4477009002", "duration_seconds": 60}})
	// The block refuses starts to its range, naming the range only.
	refused := run(step{op: "POST /v1/services/{sid}/verifications", path: vpathS(), token: secret, status: 403, body: map[string]any{"to": "+447700900250"}})
	require.Equal(t, "destination_blocked", refused["code"])
	require.Contains(t, refused["detail"], "+4477009002…")
	require.NotContains(t, refused["detail"], "+447700900250")
	run(step{op: "POST /v1/services/{sid}/verifications", path: vpathS(), token: secret, status: 201, body: map[string]any{"to": "+447700900127"}})
	blocks := run(step{op: "GET /v1/services/{sid}/blocks", path: bpath() + "?limit=1", token: adminToken, status: 200})
	require.NotNil(t, blocks["next_cursor"])
	run(step{op: "GET /v1/services/{sid}/blocks", path: bpath() + "?state=all&cursor=" + blocks["next_cursor"].(string), token: adminToken, status: 200})
	run(step{op: "GET /v1/services/{sid}/blocks", path: bpath() + "?state=ended", token: adminToken, status: 400, badRequest: true})
	run(step{op: "GET /v1/services/{sid}/blocks", path: bpath(), token: otherKey, status: 404})
	run(step{op: "GET /v1/services/{sid}/blocks/{bid}", path: bpath(bid), token: adminToken, status: 200})
	run(step{op: "GET /v1/services/{sid}/blocks/{bid}", path: bpath(noBlk), token: adminToken, status: 404})
	lifted := run(step{op: "DELETE /v1/services/{sid}/blocks/{bid}", path: bpath(bid), token: adminToken, status: 200})
	require.Equal(t, "lifted", lifted["state"])
	require.Equal(t, "admin", lifted["lifted_by"])
	run(step{op: "DELETE /v1/services/{sid}/blocks/{bid}", path: bpath(bid), token: adminToken, status: 404})
	run(step{op: "DELETE /v1/services/{sid}/blocks/{bid}", path: bpath(bid), token: secret, status: 401})
	// Their events, with the block as data.
	fraudEvents := run(step{op: "GET /v1/services/{sid}/events", path: epath() + "?verification_id=" + bid, token: adminToken, status: 200})
	require.Len(t, fraudEvents["data"], 2)
	run(step{op: "GET /v1/services/{sid}/events", path: epath() + "?type=fraud.block_created", token: secret, status: 200})
	// Message templates (admin token).
	tp := func(rest ...string) string {
		return "/v1/services/" + sid + "/templates" + strings.Join(append([]string{""}, rest...), "/")
	}
	run(step{op: "PUT /v1/services/{sid}/templates/{channel}/{locale}", path: tp("sms", "de"), token: adminToken, status: 201,
		body: map[string]any{"text": "{brand}: {code} ({expiry})"}})
	run(step{op: "PUT /v1/services/{sid}/templates/{channel}/{locale}", path: tp("sms", "de"), token: adminToken, status: 200,
		body: map[string]any{"text": "{brand}: {code} ({expiry})"}})
	run(step{op: "PUT /v1/services/{sid}/templates/{channel}/{locale}", path: tp("email", "en") + "?purpose=transaction", token: adminToken, status: 201,
		body: map[string]any{"subject": "{brand}: confirm {amount}", "text": "Pay {amount} to {payee}?\n\n{code}"}})
	run(step{op: "PUT /v1/services/{sid}/templates/{channel}/{locale}", path: tp("sms", "de"), token: adminToken, status: 400,
		body: map[string]any{"text": "{brand}"}})
	run(step{op: "PUT /v1/services/{sid}/templates/{channel}/{locale}", path: tp("sms", "sv"), token: adminToken, status: 400,
		body: map[string]any{"text": "{code}"}})
	run(step{op: "PUT /v1/services/{sid}/templates/{channel}/{locale}", path: tp("fax", "de"), token: adminToken, status: 400,
		body: map[string]any{"text": "{code}"}, badRequest: true})
	run(step{op: "PUT /v1/services/{sid}/templates/{channel}/{locale}", path: tp("email", "en"), token: adminToken, status: 400,
		body: map[string]any{"text": "{code}", "subject": "x", "html": "<b>{code}</b>"}})
	run(step{op: "PUT /v1/services/{sid}/templates/{channel}/{locale}", path: tp("sms", "de"), token: secret, status: 401,
		body: map[string]any{"text": "{code}"}})
	run(step{op: "PUT /v1/services/{sid}/templates/{channel}/{locale}", path: "/v1/services/" + noSvc + "/templates/sms/de", token: adminToken, status: 404,
		body: map[string]any{"text": "{code}"}})
	run(step{op: "GET /v1/services/{sid}/templates/{channel}/{locale}", path: tp("sms", "de"), token: adminToken, status: 200})
	run(step{op: "GET /v1/services/{sid}/templates/{channel}/{locale}", path: tp("email", "en") + "?purpose=transaction", token: adminToken, status: 200})
	run(step{op: "GET /v1/services/{sid}/templates/{channel}/{locale}", path: tp("push", "de"), token: adminToken, status: 404})
	run(step{op: "GET /v1/services/{sid}/templates/{channel}/{locale}", path: tp("sms", "xx-!!"), token: adminToken, status: 400})
	run(step{op: "GET /v1/services/{sid}/templates/{channel}/{locale}", path: tp("sms", "de"), token: secret, status: 401})
	tl := run(step{op: "GET /v1/services/{sid}/templates", path: tp(), token: adminToken, status: 200})
	require.Len(t, tl["data"], 2)
	run(step{op: "GET /v1/services/{sid}/templates", path: tp(), token: otherKey, status: 404})
	run(step{op: "GET /v1/services/{sid}/templates", path: tp(), token: secret, status: 401})
	run(step{op: "DELETE /v1/services/{sid}/templates/{channel}/{locale}", path: tp("sms", "de"), token: adminToken, status: 204})
	run(step{op: "DELETE /v1/services/{sid}/templates/{channel}/{locale}", path: tp("sms", "de"), token: adminToken, status: 404})
	run(step{op: "DELETE /v1/services/{sid}/templates/{channel}/{locale}", path: tp("sms", "de") + "?purpose=signup", token: adminToken, status: 400, badRequest: true})
	run(step{op: "DELETE /v1/services/{sid}/templates/{channel}/{locale}", path: tp("sms", "de"), token: secret, status: 401})

	// Expiry at read time.
	v3id := run(step{op: "POST /v1/services/{sid}/verifications", path: vpathS(), token: secret, status: 201, body: map[string]any{"to": "+447700900126", "ttl_seconds": 60}})["id"].(string)
	b.clock.Advance(61 * time.Second)
	run(step{op: "GET /v1/services/{sid}/verifications/{vid}", path: vpathS(v3id), token: secret, status: 200})
	run(step{op: "GET /v1/services/{sid}/verifications", path: vpathS() + "?status=expired", token: secret, status: 200})

	run(step{op: "DELETE /v1/services/{sid}", path: "/v1/services/" + sid, token: secret, status: 401})
	run(step{op: "DELETE /v1/services/{sid}", path: "/v1/services/" + sid, token: adminToken, status: 204})
	run(step{op: "DELETE /v1/services/{sid}", path: "/v1/services/" + sid, token: adminToken, status: 404})

	// /metrics last, so that it has something to show.
	run(step{op: "GET /metrics", path: "/metrics", status: 200})

	// Every operation of the document was exercised, except the dev inbox,
	// which package devinbox serves and tests.
	var missing []string
	for path, item := range c.model.Paths.PathItems.FromOldest() {
		if strings.HasPrefix(path, "/dev/") {
			continue
		}
		for method := range item.GetOperations().FromOldest() {
			op := strings.ToUpper(method) + " " + path
			if !c.exercised[op] {
				missing = append(missing, op)
			}
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "operations the conformance run did not exercise")
}
