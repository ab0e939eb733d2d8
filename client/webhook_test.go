package client_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

const (
	hookSecret = "whsec_test"
	// goldenBody signed with hookSecret at goldenTime, computed outside Go:
	// python3 -c 'import hmac,hashlib; print(hmac.new(b"whsec_test",
	//   b"1740823200." + body, hashlib.sha256).hexdigest())'
	goldenBody = `{"id":"evt_1","type":"verification.approved"}`
	goldenSig  = "d6dbe15a14ad5f54b87e2cdeebdb9ae15d2a908656c006131eb37d22d10cba5e"
)

var goldenTime = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC) // 1740823200

func TestSignWebhook(t *testing.T) {
	t.Parallel()
	require.Equal(t, "t=1740823200,v1="+goldenSig, client.SignWebhook(hookSecret, goldenTime, []byte(goldenBody)))
	require.Equal(t, "t=1740823200,v1="+goldenSig, client.SignWebhook(hookSecret, goldenTime.Add(999*time.Millisecond), []byte(goldenBody)),
		"whole seconds")
}

func TestVerifyWebhookSignature(t *testing.T) {
	t.Parallel()
	body := []byte(goldenBody)
	other := strings.Repeat("ab", 32)
	sig := func(ts string, v1 ...string) string {
		h := "t=" + ts
		for _, v := range v1 {
			h += ",v1=" + v
		}
		return h
	}
	tests := []struct {
		name      string
		secret    string
		header    string
		body      string
		tolerance time.Duration
		now       time.Time
		want      error // nil, a sentinel, or errOther
	}{
		{name: "golden", header: sig("1740823200", goldenSig)},
		{name: "upper-case hex", header: sig("1740823200", strings.ToUpper(goldenSig))},
		{name: "v1 first, spaces", header: " v1=" + goldenSig + " , t=1740823200 "},
		{name: "rotation: the second v1 matches", header: sig("1740823200", other, goldenSig)},
		{name: "rotation: the first v1 matches", header: sig("1740823200", goldenSig, other)},
		{name: "other schemes are ignored", header: "t=1740823200,v0=xyz,v2=" + other + ",v1=" + goldenSig},
		{name: "a malformed v1 beside a good one", header: sig("1740823200", "zz", goldenSig[:10], goldenSig)},
		{name: "empty items", header: ",t=1740823200,,v1=" + goldenSig + ","},
		{name: "t is signed as sent: a leading zero changes it", header: sig("01740823200", goldenSig), want: client.ErrWebhookSignature},
		{name: "4m59s late", header: sig("1740823200", goldenSig), now: goldenTime.Add(4*time.Minute + 59*time.Second)},
		{name: "5m late, the edge", header: sig("1740823200", goldenSig), now: goldenTime.Add(5 * time.Minute)},
		{name: "5m1s late", header: sig("1740823200", goldenSig), now: goldenTime.Add(5*time.Minute + time.Second), want: client.ErrWebhookTimestamp},
		{name: "5m1s early (clock skew)", header: sig("1740823200", goldenSig), now: goldenTime.Add(-5*time.Minute - time.Second), want: client.ErrWebhookTimestamp},
		{name: "a day late with a day's tolerance", header: sig("1740823200", goldenSig), now: goldenTime.Add(24 * time.Hour), tolerance: 24 * time.Hour},
		{name: "a minute late with 30s tolerance", header: sig("1740823200", goldenSig), now: goldenTime.Add(time.Minute), tolerance: 30 * time.Second, want: client.ErrWebhookTimestamp},
		{name: "negative tolerance is the default", header: sig("1740823200", goldenSig), now: goldenTime.Add(time.Hour), tolerance: -1, want: client.ErrWebhookTimestamp},
		{name: "stale and forged is a signature error", header: sig("1740823200", other), now: goldenTime.Add(time.Hour), want: client.ErrWebhookSignature},
		{name: "body changed", header: sig("1740823200", goldenSig), body: goldenBody + " ", want: client.ErrWebhookSignature},
		{name: "timestamp changed", header: sig("1740823201", goldenSig), want: client.ErrWebhookSignature},
		{name: "other secret", secret: "whsec_other", header: sig("1740823200", goldenSig), want: client.ErrWebhookSignature},
		{name: "no header", header: "", want: client.ErrWebhookSignature},
		{name: "blank header", header: " , ", want: client.ErrWebhookSignature},
		{name: "no t", header: "v1=" + goldenSig, want: client.ErrWebhookSignature},
		{name: "two t", header: "t=1740823200,t=1740823200,v1=" + goldenSig, want: client.ErrWebhookSignature},
		{name: "signed t", header: sig("+1740823200", goldenSig), want: client.ErrWebhookSignature},
		{name: "negative t", header: sig("-1", goldenSig), want: client.ErrWebhookSignature},
		{name: "t not a number", header: sig("soon", goldenSig), want: client.ErrWebhookSignature},
		{name: "t overflows", header: sig("99999999999999999999", goldenSig), want: client.ErrWebhookSignature},
		{name: "no v1", header: "t=1740823200", want: client.ErrWebhookSignature},
		{name: "only a short v1", header: sig("1740823200", goldenSig[:62]), want: client.ErrWebhookSignature},
		{name: "not key=value", header: "t=1740823200,v1=" + goldenSig + ",junk", want: client.ErrWebhookSignature},
		{name: "Stripe-style prefix is not ours", header: "t=1740823200,v1=sha256=" + goldenSig, want: client.ErrWebhookSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			secret, b, now := tt.secret, body, tt.now
			if secret == "" {
				secret = hookSecret
			}
			if tt.body != "" {
				b = []byte(tt.body)
			}
			if now.IsZero() {
				now = goldenTime
			}
			err := client.VerifyWebhookSignature(secret, tt.header, b, tt.tolerance, now)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			other := client.ErrWebhookSignature
			if tt.want == other {
				other = client.ErrWebhookTimestamp
			}
			require.NotErrorIs(t, err, other)
			require.True(t, strings.HasPrefix(err.Error(), tt.want.Error()+": "), "a reason follows: %v", err)
		})
	}

	t.Run("empty secret", func(t *testing.T) {
		t.Parallel()
		h := client.SignWebhook("", goldenTime, body)
		err := client.VerifyWebhookSignature("", h, body, 0, goldenTime)
		require.Error(t, err, "never verify against no secret")
		require.NotErrorIs(t, err, client.ErrWebhookSignature)
	})
}

// hookRequest is a webhook request as otpd sends it.
func hookRequest(secret string, at time.Time, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/otpd/events", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(client.WebhookSignatureHeader, client.SignWebhook(secret, at, body))
	r.Header.Set(client.WebhookEventIDHeader, "evt_1")
	r.Header.Set(client.WebhookEventTypeHeader, client.EventVerificationApproved)
	return r
}

func TestParseWebhook(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_1","type":"verification.approved","created_at":"2025-03-01T10:00:00.000Z","data":` + verificationJSON + `}`)

	t.Run("genuine", func(t *testing.T) {
		t.Parallel()
		r := hookRequest(hookSecret, time.Now(), body)
		ev, err := client.ParseWebhook(hookSecret, r, 0)
		require.NoError(t, err)
		require.Equal(t, &client.WebhookEvent{
			ID: "evt_1", Type: client.EventVerificationApproved, CreatedAt: t0, Data: *wantVerification(),
		}, ev)
		again, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		require.Equal(t, body, again, "the body can be read again")
	})

	tests := []struct {
		name string
		req  func() *http.Request
		want error // a sentinel, or nil for another error
	}{
		{"wrong secret", func() *http.Request { return hookRequest("whsec_other", time.Now(), body) }, client.ErrWebhookSignature},
		{"no signature", func() *http.Request {
			r := hookRequest(hookSecret, time.Now(), body)
			r.Header.Del(client.WebhookSignatureHeader)
			return r
		}, client.ErrWebhookSignature},
		{"replayed an hour later", func() *http.Request { return hookRequest(hookSecret, time.Now().Add(-time.Hour), body) }, client.ErrWebhookTimestamp},
		{"body swapped", func() *http.Request {
			r := hookRequest(hookSecret, time.Now(), body)
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(string(body), "approved", "canceled", 1)))
			return r
		}, client.ErrWebhookSignature},
		{"genuine but not an event", func() *http.Request { return hookRequest(hookSecret, time.Now(), []byte(`{"hello":1}`)) }, nil},
		{"genuine but not JSON", func() *http.Request { return hookRequest(hookSecret, time.Now(), []byte(`{"id":`)) }, nil},
		{"over 1 MiB", func() *http.Request {
			big := append(bytes.Repeat([]byte(" "), client.MaxWebhookBody), body...)
			return hookRequest(hookSecret, time.Now(), big)
		}, nil},
		{"unreadable body", func() *http.Request {
			r := hookRequest(hookSecret, time.Now(), body)
			r.Body = io.NopCloser(io.MultiReader(strings.NewReader("{"), errReader{}))
			return r
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := client.ParseWebhook(hookSecret, tt.req(), client.DefaultWebhookTolerance)
			require.Error(t, err)
			require.Nil(t, ev)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				return
			}
			require.NotErrorIs(t, err, client.ErrWebhookSignature)
			require.NotErrorIs(t, err, client.ErrWebhookTimestamp)
		})
	}

	t.Run("exactly 1 MiB is read", func(t *testing.T) {
		t.Parallel()
		big := append(bytes.Repeat([]byte(" "), client.MaxWebhookBody-len(body)), body...)
		ev, err := client.ParseWebhook(hookSecret, hookRequest(hookSecret, time.Now(), big), 0)
		require.NoError(t, err)
		require.Equal(t, "evt_1", ev.ID)
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
