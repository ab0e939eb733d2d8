package vonage_test

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/sms/vonage"
)

// docSignature follows "Signing messages", step by step, independently of
// the package: drop sig; sort by name; replace '&' and '=' in each value
// with '_'; build "&name=value..." with a leading '&'; MD5 hash: append
// the secret and MD5 it; HMAC: HMAC it keyed with the secret; hex. HMACs
// are upper case, as Vonage's libraries send them.
func docSignature(m vonage.SignatureMethod, secret string, params url.Values) string {
	var names []string
	for k := range params {
		if k != "sig" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	s := ""
	for _, k := range names {
		v := strings.ReplaceAll(strings.ReplaceAll(params.Get(k), "&", "_"), "=", "_")
		s += "&" + k + "=" + v
	}
	if m == vonage.MD5Hash {
		sum := md5.Sum([]byte(s + secret))
		return hex.EncodeToString(sum[:])
	}
	var h func() hash.Hash
	switch m {
	case vonage.HMACMD5:
		h = md5.New
	case vonage.HMACSHA1:
		h = sha1.New
	case vonage.HMACSHA256:
		h = sha256.New
	case vonage.HMACSHA512:
		h = sha512.New
	}
	mac := hmac.New(h, []byte(secret))
	mac.Write([]byte(s))
	return strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))
}

func values(m map[string]string) url.Values {
	v := url.Values{}
	for k, s := range m {
		v.Set(k, s)
	}
	return v
}

// Published vectors: the example in Vonage's Python, Ruby and Node
// libraries' tests (MD5 hash), and the PHP library's vectors for every
// method, some taken from real inbound webhooks (one with '&' and '=' in
// the text).
func TestSignatureVectors(t *testing.T) {
	t.Parallel()
	inbound := map[string]string{
		"message-timestamp": "2013-11-21 15:27:30",
		"messageId":         "020000001B0FE827",
		"msisdn":            "14843472194",
		"text":              "Test again",
		"timestamp":         "1385047698",
		"to":                "13239877404",
		"type":              "text",
	}
	outbound := map[string]string{
		"api_key":   "fake_api_key",
		"to":        "14155550100",
		"from":      "AcmeInc",
		"text":      "Test From Nexmo",
		"type":      "text",
		"timestamp": "1540924779",
	}
	tests := []struct {
		name   string
		method vonage.SignatureMethod
		secret string
		params map[string]string
		want   string
	}{
		{"md5hash, libraries' example", vonage.MD5Hash, "secret", map[string]string{"a": "1", "b": "2", "timestamp": "1461605396"}, "6af838ef94998832dbfc29020b564830"},
		{"md5hash, inbound", vonage.MD5Hash, "my_secret_key_for_testing", inbound, "d2e7b1dc968737c5998ad624e02f90b7"},
		{"hmac md5, inbound", vonage.HMACMD5, "my_secret_key_for_testing", inbound, "DDEBD46008C2D4E93CCE578A332A52D5"},
		{"hmac sha1, inbound", vonage.HMACSHA1, "my_secret_key_for_testing", inbound, "27D0D05C2876C7CB1720DBCDBA4D492E1E55C09A"},
		{"hmac sha256, inbound", vonage.HMACSHA256, "my_secret_key_for_testing", inbound, "DDB8397C2B90AAC7F3882D306475C9A5058C92322EEF43C92B298B6E0FC0D330"},
		{"hmac sha512, inbound", vonage.HMACSHA512, "my_secret_key_for_testing", inbound, "E0D3C650F8C9D1A5C174D10DDDBFB003E561F59B265616208B0487C5D819481CD3C311D59CF6165ECD1139622D5BA3A256C0D763AC4A9AD9144B5A426B94FE82"},
		{"md5hash, & and = in the text, sig ignored", vonage.MD5Hash, "my_secret_key_for_testing", map[string]string{
			"keyword": "TEST", "message-timestamp": "2017-04-04 22:57:47", "messageId": "0B00000042AC53BD",
			"msisdn": "14843472194", "nonce": "929d6744-bd28-42c8-b6cf-31d5b4f43732", "sig": "e06d9763e3fd0b9c31beb5fc2fcb011c",
			"text": "Test with & and =", "timestamp": "1491346667", "to": "12192259404", "type": "text",
		}, "e06d9763e3fd0b9c31beb5fc2fcb011c"},
		{"hmac md5, outbound", vonage.HMACMD5, sigSecret, outbound, "51CDAFEBB4BBCE9525B195C1617CB8D2"},
		{"hmac sha1, outbound", vonage.HMACSHA1, sigSecret, outbound, "0162AEC64BC183B2E1256545951FE5639DC98020"},
		{"hmac sha256, outbound", vonage.HMACSHA256, sigSecret, outbound, "9FEC5EF6D0F2B3D2BB7558B6E4042569823CAB9EA0DD30503472B7B304601975"},
		{"hmac sha512, outbound", vonage.HMACSHA512, sigSecret, outbound, "40BD12B9A4B6000AD1138EEFD24FFE9FBD72AEE13C3FA04B32BB69DBC256AD0A04A463B1A9AF6660D10F6E1E769EE14B9CFF6A635502E93AFCD0BFAB29F38F87"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := values(tt.params)
			require.Equal(t, tt.want, docSignature(tt.method, tt.secret, p), "the documented steps")
			got, err := vonage.Signature(tt.method, tt.secret, p)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	_, err := vonage.Signature("sha3", "s", nil)
	require.Error(t, err)
}

type receipts struct {
	mu  sync.Mutex
	got []otpd.Receipt
	err error
}

func (r *receipts) record(_ context.Context, rc otpd.Receipt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rc)
	return r.err
}

func (r *receipts) all() []otpd.Receipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]otpd.Receipt(nil), r.got...)
}

// dlr is a delivery receipt as the SMS API reference shows it.
func dlr(status, errCode string) url.Values {
	return url.Values{
		"msisdn":            {"447700900123"},
		"to":                {"AcmeBank"},
		"network-code":      {"23410"},
		"messageId":         {"0A0000000123ABCD1"},
		"price":             {"0.03330000"},
		"status":            {status},
		"scts":              {"2001011400"},
		"err-code":          {errCode},
		"api-key":           {apiKey},
		"client-ref":        {"msg_01hzy8k6d2a9xq3m4n5p6r7s8t"},
		"message-timestamp": {"2020-01-01 12:00:00"},
	}
}

// sign adds the fields Vonage adds to a signed webhook.
func sign(m vonage.SignatureMethod, p url.Values) url.Values {
	p = cloneValues(p)
	p.Set("timestamp", "1582650446")
	p.Set("nonce", "ec11dd3e-1e7f-4db5-9467-82b02cd223b9")
	p.Set("sig", docSignature(m, sigSecret, p))
	return p
}

func cloneValues(p url.Values) url.Values {
	c := url.Values{}
	for k, vs := range p {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// callbackServer serves a route's handler on 127.0.0.1, with
// StatusCallbackURL pointing at it (plus query, the route's token).
func callbackServer(t *testing.T, rec *receipts, query string, edit func(*vonage.Config)) string {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cb := srv.URL + "/cb" + query
	cfg := vonage.Config{APIKey: apiKey, APISecret: apiSecret, From: "AcmeBank", StatusCallbackURL: cb}
	if edit != nil {
		edit(&cfg)
	}
	route, err := vonage.New(cfg)
	require.NoError(t, err)
	h = route.CallbackHandler(rec.record, "vonage-a")
	return cb
}

// deliver sends p to cb as the dashboard's method says: GET, POST or
// POST-JSON.
func deliver(t *testing.T, method, cb string, p url.Values) int {
	t.Helper()
	var req *http.Request
	var err error
	switch method {
	case "GET":
		u, _ := url.Parse(cb)
		q := u.Query()
		for k, vs := range p {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
		req, err = http.NewRequest(http.MethodGet, u.String(), nil)
	case "POST":
		req, err = http.NewRequest(http.MethodPost, cb, strings.NewReader(p.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	case "POST-JSON":
		obj := map[string]string{}
		for k := range p {
			obj[k] = p.Get(k)
		}
		b, _ := json.Marshal(obj)
		req, err = http.NewRequest(http.MethodPost, cb, strings.NewReader(string(b)))
		if err == nil {
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
		}
	}
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var one [1]byte
	n, _ := resp.Body.Read(one[:])
	require.Zero(t, n, "no body, no detail")
	return resp.StatusCode
}

var methods = []string{"GET", "POST", "POST-JSON"}

func TestCallbackStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status, errCode string
		want            *otpd.Receipt
	}{
		{"delivered", "0", &otpd.Receipt{Status: otpd.MessageDelivered}},
		{"expired", "1", &otpd.Receipt{Status: otpd.MessageUndelivered, Error: "expired (err-code 1: unknown)"}},
		{"failed", "3", &otpd.Receipt{Status: otpd.MessageUndelivered, Error: "failed (err-code 3: absent subscriber - permanent)"}},
		{"failed", "6", &otpd.Receipt{Status: otpd.MessageUndelivered, Error: "failed (err-code 6: anti-spam rejection)"}},
		{"rejected", "9", &otpd.Receipt{Status: otpd.MessageFailed, Error: "rejected (err-code 9: illegal number)"}},
		{"rejected", "77", &otpd.Receipt{Status: otpd.MessageFailed, Error: "rejected (err-code 77)"}},
		{"unknown", "8", &otpd.Receipt{Status: otpd.MessageUndelivered, Error: "unknown (err-code 8: network error)"}},
		{"unknown", "0", nil},
		{"accepted", "0", nil},
		{"buffered", "0", nil},
		{"something-new", "0", nil},
	}
	for _, method := range methods {
		for _, tt := range tests {
			t.Run(method+"/"+tt.status+"/"+tt.errCode, func(t *testing.T) {
				t.Parallel()
				rec := &receipts{}
				cb := callbackServer(t, rec, "", func(c *vonage.Config) {
					c.SignatureSecret, c.SignatureMethod = sigSecret, vonage.HMACSHA256
				})
				require.Equal(t, http.StatusNoContent, deliver(t, method, cb, sign(vonage.HMACSHA256, dlr(tt.status, tt.errCode))))
				if tt.want == nil {
					require.Empty(t, rec.all())
					return
				}
				want := *tt.want
				want.Channel, want.Ref = otpd.ChannelSMS, "vonage-a:0A0000000123ABCD1"
				require.Equal(t, []otpd.Receipt{want}, rec.all())
			})
		}
	}
}

func TestCallbackSigned(t *testing.T) {
	t.Parallel()
	signed := sign(vonage.HMACSHA512, dlr("delivered", "0"))
	tests := []struct {
		name   string
		params url.Values
		want   int
	}{
		{"valid", signed, http.StatusNoContent},
		{"valid, lower-case hex", func() url.Values {
			p := cloneValues(signed)
			p.Set("sig", strings.ToLower(p.Get("sig")))
			return p
		}(), http.StatusNoContent},
		{"missing", func() url.Values {
			p := cloneValues(signed)
			p.Del("sig")
			return p
		}(), http.StatusForbidden},
		{"another method", sign(vonage.MD5Hash, dlr("delivered", "0")), http.StatusForbidden},
		{"tampered status", func() url.Values {
			p := cloneValues(signed)
			p.Set("status", "failed")
			return p
		}(), http.StatusForbidden},
		{"tampered message id", func() url.Values {
			p := cloneValues(signed)
			p.Set("messageId", "0A0000000123ABCD2")
			return p
		}(), http.StatusForbidden},
		{"another secret", func() url.Values {
			p := cloneValues(signed)
			p.Set("sig", docSignature(vonage.HMACSHA512, "not the secret", p))
			return p
		}(), http.StatusForbidden},
	}
	for _, method := range methods {
		for _, tt := range tests {
			t.Run(method+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				rec := &receipts{}
				// The route's token in the URL too: it is not part of
				// what Vonage signs.
				cb := callbackServer(t, rec, "?t="+token, func(c *vonage.Config) {
					c.SignatureSecret, c.SignatureMethod = sigSecret, vonage.HMACSHA512
				})
				require.Equal(t, tt.want, deliver(t, method, cb, tt.params))
				if tt.want != http.StatusNoContent {
					require.Empty(t, rec.all(), "nothing is recorded without a valid signature")
				} else {
					require.Len(t, rec.all(), 1)
				}
			})
		}
	}
}

func TestCallbackToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query string // the query the request is sent with
		want        int
	}{
		{"right token", "?t=" + token, http.StatusNoContent},
		{"no token", "", http.StatusForbidden},
		{"wrong token", "?t=" + strings.ToLower(token), http.StatusForbidden},
		{"token twice", "?t=" + token + "&t=" + token, http.StatusForbidden},
		{"token under another name", "?x=" + token, http.StatusForbidden},
	}
	for _, method := range methods {
		for _, tt := range tests {
			t.Run(method+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				rec := &receipts{}
				cb := callbackServer(t, rec, "?t="+token, nil)
				target := strings.TrimSuffix(cb, "?t="+token) + tt.query
				require.Equal(t, tt.want, deliver(t, method, target, dlr("delivered", "0")))
				if tt.want != http.StatusNoContent {
					require.Empty(t, rec.all())
				} else {
					require.Equal(t, []otpd.Receipt{{Channel: otpd.ChannelSMS, Ref: "vonage-a:0A0000000123ABCD1", Status: otpd.MessageDelivered}}, rec.all())
				}
			})
		}
	}
}

// With neither a signature secret nor a token there is nothing to check a
// receipt against, so none is accepted.
func TestCallbackUnauthenticatedConfiguration(t *testing.T) {
	t.Parallel()
	rec := &receipts{}
	route, err := vonage.New(vonage.Config{APIKey: apiKey, APISecret: apiSecret, From: "AcmeBank"})
	require.NoError(t, err)
	srv := httptest.NewServer(route.CallbackHandler(rec.record, "vonage-a"))
	t.Cleanup(srv.Close)
	for _, method := range methods {
		require.Equal(t, http.StatusForbidden, deliver(t, method, srv.URL, dlr("delivered", "0")), method)
	}
	require.Empty(t, rec.all())
}

func TestCallbackRecordErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"unknown message: acknowledged, Vonage must not retry", fmt.Errorf("receipt for sms ref: %w", otpd.ErrNotFound), http.StatusNoContent},
		{"store failure: Vonage retries", errors.New("database is locked"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &receipts{err: tt.err}
			cb := callbackServer(t, rec, "?t="+token, nil)
			require.Equal(t, tt.want, deliver(t, "POST", cb, dlr("delivered", "0")))
			require.Len(t, rec.all(), 1)
		})
	}
}

func TestCallbackMalformed(t *testing.T) {
	t.Parallel()
	rec := &receipts{}
	cb := callbackServer(t, rec, "?t="+token, nil)
	tests := []struct {
		name, method, contentType, body string
		want                            int
	}{
		{"PUT", http.MethodPut, "application/json", `{}`, http.StatusMethodNotAllowed},
		{"broken JSON", http.MethodPost, "application/json", `{"messageId":`, http.StatusBadRequest},
		{"JSON array", http.MethodPost, "application/json", `[1,2]`, http.StatusBadRequest},
		{"nested JSON", http.MethodPost, "application/json", `{"messageId": {"a": 1}}`, http.StatusBadRequest},
		{"two JSON objects", http.MethodPost, "application/json", `{"messageId": "a"} {}`, http.StatusBadRequest},
		{"broken form", http.MethodPost, "application/x-www-form-urlencoded", `messageId=%zz`, http.StatusBadRequest},
		{"too big", http.MethodPost, "application/x-www-form-urlencoded", "text=" + strings.Repeat("x", 128<<10), http.StatusRequestEntityTooLarge},
		{"too big JSON", http.MethodPost, "application/json", `{"text": "` + strings.Repeat("x", 128<<10) + `"}`, http.StatusRequestEntityTooLarge},
		{"no message id", http.MethodPost, "application/json", `{"status": "delivered"}`, http.StatusNoContent},
		{"numbers in JSON", http.MethodPost, "application/json", `{"messageId": "0A1", "status": "rejected", "err-code": 4, "null": null, "flag": true}`, http.StatusNoContent},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, cb, strings.NewReader(tt.body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", tt.contentType)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, tt.want, resp.StatusCode, tt.name)
	}
	require.Equal(t, []otpd.Receipt{{Channel: otpd.ChannelSMS, Ref: "vonage-a:0A1", Status: otpd.MessageFailed,
		Error: "rejected (err-code 4: call barred by user)"}}, rec.all())
}
