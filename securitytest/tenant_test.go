package securitytest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// TestTenantIsolationOnEveryEndpoint calls every operation of the served
// OpenAPI document that belongs to a service — so new endpoints are
// covered as they are documented — with another service's key: on the
// service's own paths, and on the other service's paths naming this
// service's resources. Every answer is 404, as for things that do not
// exist, and nothing of the service changes.
func TestTenantIsolationOnEveryEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, client.CreateServiceParams{})
	ctx := t.Context()
	// With a webhook_url, so that redelivery gets as far as looking the
	// event up (a closed loopback port: nothing is delivered anywhere).
	otherSvc, err := b.admin.CreateService(ctx, client.CreateServiceParams{Name: "Other", WebhookURL: "http://127.0.0.1:9/otpd"})
	require.NoError(t, err)
	intruderSecret := b.newKey(t, otherSvc.ID)

	// One of every resource of the victim.
	const to = "+447700900321"
	v, err := b.key.StartVerification(ctx, b.svc.ID, client.StartParams{To: to})
	require.NoError(t, err)
	dev, err := b.key.RegisterDevice(ctx, b.svc.ID, client.RegisterDeviceParams{Platform: "android", Token: "victim-token"})
	require.NoError(t, err)
	events, err := b.key.ListEvents(ctx, b.svc.ID, client.EventListParams{})
	require.NoError(t, err)
	require.NotEmpty(t, events.Data)
	keys, err := b.admin.ListKeys(ctx, b.svc.ID, client.ListOptions{})
	require.NoError(t, err)
	ids := map[string]string{
		"vid": v.ID, "did": dev.ID, "eid": events.Data[0].ID, "kid": keys.Data[0].ID,
		"bid": "blk_01jd0000000000000000000000", "to": to, "channel": "sms", "locale": "en",
	}

	ops := serviceOperations(t, b.srv.URL)
	require.GreaterOrEqual(t, len(ops), 20, "the document lists the service endpoints")
	paramRe := regexp.MustCompile(`\{([a-z]+)\}`)
	fill := func(path, sid string) string {
		return paramRe.ReplaceAllStringFunc(path, func(m string) string {
			name := m[1 : len(m)-1]
			if name == "sid" {
				return sid
			}
			val, ok := ids[name]
			require.True(t, ok, "no value for path parameter %s of %s: add one", name, path)
			return url.PathEscape(val)
		})
	}
	for _, op := range ops {
		// The victim's paths with the intruder's key.
		status, body := call(t, op.method, b.srv.URL+fill(op.path, b.svc.ID), intruderSecret)
		require.Equal(t, http.StatusNotFound, status, "%s %s on another service: %s", op.method, op.path, body)

		// The intruder's own paths naming the victim's resources.
		if paramRe.FindAllString(op.path, -1)[len(paramRe.FindAllString(op.path, -1))-1] == "{sid}" ||
			strings.Contains(op.path, "{to}") || strings.Contains(op.path, "{channel}") {
			continue // no resource id of the victim's in the path
		}
		// 401 where a service key may not call the endpoint at all (key
		// management is the admin's), which says nothing of the resource.
		status, body = call(t, op.method, b.srv.URL+fill(op.path, otherSvc.ID), intruderSecret)
		require.Contains(t, []int{http.StatusNotFound, http.StatusUnauthorized}, status,
			"%s %s naming another service's resource: %s", op.method, op.path, body)
		if status == http.StatusUnauthorized {
			require.Contains(t, body, "requires the admin token")
		}
	}

	// Nothing of the victim changed.
	got, err := b.key.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, "pending", got.Status)
	require.Equal(t, to, got.To)
	_, err = b.key.GetDevice(ctx, b.svc.ID, dev.ID)
	require.NoError(t, err)
	svc, err := b.admin.GetService(ctx, b.svc.ID)
	require.NoError(t, err)
	require.Equal(t, b.svc.Name, svc.Name)
}

type operation struct{ method, path string }

// serviceOperations reads the served OpenAPI document and returns its
// operations under /v1/services/{sid}.
func serviceOperations(t *testing.T, base string) []operation {
	t.Helper()
	res, err := http.Get(base + "/openapi.json")
	require.NoError(t, err)
	defer res.Body.Close()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&doc))
	var ops []operation
	for path, item := range doc.Paths {
		if !strings.HasPrefix(path, "/v1/services/{sid}") {
			continue
		}
		for method := range item {
			switch method {
			case "get", "post", "put", "patch", "delete":
				ops = append(ops, operation{strings.ToUpper(method), path})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}

// call sends a request with a plausible JSON body (so that a body check
// cannot answer before the access check) and returns the status and body.
func call(t *testing.T, method, u, token string) (int, string) {
	t.Helper()
	var body io.Reader
	if method != http.MethodGet && method != http.MethodDelete {
		body = bytes.NewReader([]byte(`{"code":"123456"}`))
		if !strings.HasSuffix(u, "/check") && !strings.HasSuffix(u, "/verification-checks") {
			body = bytes.NewReader([]byte(`{}`))
		}
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
