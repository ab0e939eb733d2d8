package client_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/otpd/otpd/client"
)

// fuzzClient returns a client whose every request is answered by resp,
// without a network. It does not retry, so a fuzzed Retry-After is read but
// never slept through.
func fuzzClient(resp func() *http.Response) *client.Client {
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		res := resp()
		res.Request = r
		return res, nil
	})}
	return client.New("http://otpd.test", token, client.WithHTTPClient(hc), client.WithMaxRetries(0))
}

func fuzzResponse(status int, header http.Header, body []byte) func() *http.Response {
	return func() *http.Response {
		return &http.Response{
			StatusCode: status, Header: header.Clone(),
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		}
	}
}

var delaySeconds = regexp.MustCompile(`^[0-9]{1,9}$`)

// FuzzErrorResponse answers a call with an arbitrary status, Content-Type,
// Retry-After and body. The client must not panic; a non-2xx answer is an
// *Error that keeps the status and (up to 64 KiB of) the body, whose wait is
// never negative, and which carries a code only when the body is JSON.
func FuzzErrorResponse(f *testing.F) {
	f.Add(400, "application/problem+json", "", []byte(`{"type":"https://otpd.dev/problems/invalid_parameter","title":"Invalid parameter","status":400,"detail":"to is required","code":"invalid_parameter","param":"to"}`))
	f.Add(429, "application/problem+json", "7", []byte(`{"code":"rate_limited","retry_after_seconds":7}`))
	f.Add(429, "application/problem+json", "", []byte(`{"code":"rate_limited","retry_after_seconds":-3}`))
	f.Add(503, "application/json; charset=utf-8", "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`{"status":"unavailable"}`))
	f.Add(502, "text/html", "soon", []byte("<html>\n<h1>502 Bad Gateway</h1>\n</html>"))
	f.Add(409, "application/problem+json", " 120 ", []byte(`{"code":"verification_closed","verification_status":"approved","detail":"is approved"}`))
	f.Add(500, "application/json", "99999999999999999999", []byte(`["oops"]`))
	f.Add(418, "", "", []byte(nil))
	f.Add(200, "application/json", "", []byte(`{"id":`))
	f.Add(302, "text/plain", "", []byte("moved"))
	f.Add(-1, "application/problem+json", "-1", []byte(`{"code":7}`))
	f.Fuzz(func(t *testing.T, status int, contentType, retryAfter string, body []byte) {
		h := http.Header{}
		h.Set("Content-Type", contentType)
		h.Set("Retry-After", retryAfter)
		_, err := fuzzClient(fuzzResponse(status, h, body)).GetService(t.Context(), "svc_1")
		if status >= 200 && status < 300 {
			return // decoded or not, as long as nothing panicked
		}
		var e *client.Error
		if !errors.As(err, &e) {
			t.Fatalf("status %d: %v is not an *Error", status, err)
		}
		if e.HTTPStatus != status || !bytes.Equal(e.Body, body[:min(len(body), 64<<10)]) {
			t.Fatalf("status %d body %q read as %d %q", status, body, e.HTTPStatus, e.Body)
		}
		notJSON := !strings.Contains(strings.ToLower(contentType), "json")
		msg := err.Error()
		if !strings.HasPrefix(msg, "otpd: "+strconv.Itoa(status)+" ") || (notJSON && strings.Contains(msg, "\n")) {
			// A non-problem body is shown as a one-line snippet.
			t.Fatalf("message %q", msg)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("Retry-After %q, body %q: negative wait %v", retryAfter, body, e.RetryAfter)
		}
		if delaySeconds.MatchString(retryAfter) {
			n, _ := strconv.Atoi(retryAfter)
			if e.RetryAfter != time.Duration(n)*time.Second {
				t.Fatalf("Retry-After %q read as %v", retryAfter, e.RetryAfter)
			}
		}
		if notJSON && (e.Code != "" || e.Param != "" || e.Detail != "") {
			t.Fatalf("a %q body gave a problem: %+v", contentType, e)
		}
		if e.Code != "" && !client.IsCode(err, e.Code) {
			t.Fatalf("IsCode(err, %q) is false", e.Code)
		}
	})
}

// FuzzProblemRoundTrip answers with a well-formed problem document: the
// client must hand back its code, param, detail and verification status
// exactly, and its wait from the header when there is one, else from
// retry_after_seconds.
func FuzzProblemRoundTrip(f *testing.F) {
	f.Add(400, "invalid_parameter", "to", "to is not a valid phone number", "", int64(0), "")
	f.Add(400, "invalid_parameter", "transaction.amount", "must be a string", "", int64(0), "")
	f.Add(409, "verification_closed", "", "the verification can no longer be checked", "max_attempts_reached", int64(0), "")
	f.Add(429, "rate_limited", "", "too many requests", "", int64(30), "30")
	f.Add(429, "rate_limited", "", "too many requests", "", int64(12), "")
	f.Add(429, "rate_limited", "", "resend past max_sends", "", int64(86400), "")
	f.Add(503, "internal_error", "", "", "", int64(0), "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(404, "", "", "", "", int64(-1), "")
	f.Fuzz(func(t *testing.T, status int, code, param, detail, vstatus string, retrySeconds int64, retryHeader string) {
		for _, s := range []string{code, param, detail, vstatus} {
			if !utf8.ValidString(s) {
				return // JSON cannot carry it unchanged
			}
		}
		status = 400 + abs(status%200) // every 4xx and 5xx; a 2xx or 3xx is not an error
		doc := map[string]any{
			"type": "https://otpd.dev/problems/" + code, "title": "Title", "status": status,
			"code": code, "param": param, "detail": detail, "verification_status": vstatus,
		}
		if retrySeconds != 0 {
			doc["retry_after_seconds"] = retrySeconds
		}
		body, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{"Content-Type": {"application/problem+json"}}
		if retryHeader != "" {
			h.Set("Retry-After", retryHeader)
		}
		_, err = fuzzClient(fuzzResponse(status, h, body)).GetService(t.Context(), "svc_1")
		var e *client.Error
		if !errors.As(err, &e) {
			t.Fatalf("%v is not an *Error", err)
		}
		if e.HTTPStatus != status || e.Code != code || e.Param != param || e.Detail != detail || e.VerificationStatus != vstatus {
			t.Fatalf("problem %s read as %+v", body, e)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("header %q, retry_after_seconds %d: negative wait %v", retryHeader, retrySeconds, e.RetryAfter)
		}
		if delaySeconds.MatchString(retryHeader) {
			n, _ := strconv.Atoi(retryHeader)
			if e.RetryAfter != time.Duration(n)*time.Second {
				t.Fatalf("header %q read as %v", retryHeader, e.RetryAfter)
			}
		} else if strings.TrimSpace(retryHeader) == "" && retrySeconds >= 0 {
			// Read exactly, or, beyond any sane wait, as at least the
			// cap the header has: never as a shorter wait than asked.
			want := time.Duration(min(retrySeconds, 1<<32)) * time.Second
			if e.RetryAfter != want && (retrySeconds <= 1<<32 || e.RetryAfter < want) {
				t.Fatalf("retry_after_seconds %d read as %v", retrySeconds, e.RetryAfter)
			}
		}
		msg := err.Error()
		if code != "" && !strings.Contains(msg, " "+code) {
			t.Fatalf("message %q does not name code %q", msg, code)
		}
		if param != "" && !strings.Contains(msg, "(param "+param+")") {
			t.Fatalf("message %q does not name param %q", msg, param)
		}
		if code != "" && !client.IsCode(err, code) {
			t.Fatalf("IsCode(err, %q) is false", code)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// FuzzVerifyWebhookSignature feeds the Otpd-Signature parser arbitrary
// headers, bodies and secrets. It must not panic; every error is one of
// the two sentinels (or the refusal of an empty secret); a request is
// accepted, or refused only for its time, only when the header really
// carries the body's HMAC for its t; and a fresh signature of the body
// verifies exactly when it is within the tolerance, and never for another
// body.
func FuzzVerifyWebhookSignature(f *testing.F) {
	f.Add("t=1740823200,v1="+goldenSig, []byte(goldenBody), hookSecret, int64(0))
	f.Add("t=1740823200,v1="+strings.Repeat("00", 32)+",v1="+goldenSig, []byte(goldenBody), hookSecret, int64(301))
	f.Add(" v1="+goldenSig+" , t=1740823200 ", []byte(goldenBody), hookSecret, int64(-300))
	f.Add("t=1740822000,v1="+goldenSig, []byte(goldenBody), hookSecret, int64(-301))
	f.Add("t=1740823200,t=1740823200,v1="+goldenSig, []byte(goldenBody), hookSecret, int64(1))
	f.Add("t=+1740823200,v1="+goldenSig, []byte(goldenBody), hookSecret, int64(0))
	f.Add("t=99999999999999999999,v1=", []byte{}, "s", int64(1<<62))
	f.Add("v1=zz,t=", []byte("{}"), "", int64(0))
	f.Add("t=1,v1=,,=,v0=1", []byte(nil), "k", int64(-1<<62))
	f.Add("", []byte("x"), "whsec_", int64(0))
	const tolerance = 5 * time.Minute
	now := goldenTime
	f.Fuzz(func(t *testing.T, header string, body []byte, secret string, skew int64) {
		err := client.VerifyWebhookSignature(secret, header, body, tolerance, now)
		if secret == "" {
			if err == nil || errors.Is(err, client.ErrWebhookSignature) || errors.Is(err, client.ErrWebhookTimestamp) {
				t.Fatalf("empty secret: %v", err)
			}
			return
		}
		timeErr := errors.Is(err, client.ErrWebhookTimestamp)
		if err != nil && !timeErr && !errors.Is(err, client.ErrWebhookSignature) {
			t.Fatalf("header %q: %v is neither sentinel", header, err)
		}
		if err == nil || timeErr {
			// Parse it again, naively: the one t, and a v1 that is the MAC.
			var ts []string
			var sigs []string
			for item := range strings.SplitSeq(header, ",") {
				k, v, _ := strings.Cut(strings.TrimSpace(item), "=")
				switch strings.TrimSpace(k) {
				case "t":
					ts = append(ts, strings.TrimSpace(v))
				case "v1":
					sigs = append(sigs, strings.ToLower(strings.TrimSpace(v)))
				}
			}
			if len(ts) != 1 {
				t.Fatalf("header %q with %d t accepted (%v)", header, len(ts), err)
			}
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write([]byte(ts[0] + "."))
			mac.Write(body)
			if !slices.Contains(sigs, hex.EncodeToString(mac.Sum(nil))) {
				t.Fatalf("header %q accepted (%v) without the body's MAC", header, err)
			}
			n, perr := strconv.ParseInt(ts[0], 10, 64)
			if perr != nil {
				t.Fatalf("header %q accepted with t %q", header, ts[0])
			}
			if off := now.Sub(time.Unix(n, 0)); (err == nil) != (off <= tolerance && off >= -tolerance) {
				t.Fatalf("header %q, %v from now: %v", header, off, err)
			}
		}

		skew %= 1 << 30 // seconds: decades either way, still after 1970
		at := now.Add(time.Duration(skew) * time.Second)
		fresh := client.SignWebhook(secret, at, body)
		err = client.VerifyWebhookSignature(secret, fresh, body, tolerance, now)
		within := skew >= -300 && skew <= 300
		if within && err != nil || !within && !errors.Is(err, client.ErrWebhookTimestamp) {
			t.Fatalf("signed %ds from now: %v", skew, err)
		}
		err = client.VerifyWebhookSignature(secret, fresh, append(slices.Clip(body), 'x'), tolerance, at)
		if !errors.Is(err, client.ErrWebhookSignature) {
			t.Fatalf("another body verified: %v", err)
		}
	})
}
