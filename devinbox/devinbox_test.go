package devinbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/devinbox"
	"github.com/otpd/otpd/internal/htmlpage"
)

func send(t *testing.T, i *devinbox.Inbox, id, to, text string) {
	t.Helper()
	res, err := i.Send(context.Background(), &otpd.Outbound{MessageID: "msg_" + id, VerificationID: "ver_" + id, Channel: otpd.ChannelSMS, To: to, Rendered: otpd.Rendered{Text: text}})
	require.NoError(t, err)
	require.True(t, res.Delivered)
	require.Equal(t, "dev-msg_"+id, res.ProviderID)
}

func TestInboxFiltersAndPrints(t *testing.T) {
	t.Parallel()
	var console bytes.Buffer
	i := devinbox.New(devinbox.WithConsole(&console), devinbox.WithCapacity(2))
	send(t, i, "1", "+447700900001", "one")
	send(t, i, "2", "+447700900002", "two\nline")
	send(t, i, "3", "+447700900001", "three")
	require.Len(t, i.Messages(""), 2, "the oldest is dropped past capacity")
	got := i.Messages("+447700900001")
	require.Len(t, got, 1)
	require.Equal(t, "three", got[0].Text)
	require.Contains(t, console.String(), "[dev inbox] sms to +447700900002: two / line\n")
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	i := devinbox.New()
	send(t, i, "1", "+447700900001", "one")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := i.WaitFor(ctx, devinbox.ForVerification("ver_1"))
	require.NoError(t, err, "a message already there is found")
	require.Equal(t, "one", m.Text)

	go send(t, i, "2", "+447700900002", "two")
	m, err = i.WaitFor(ctx, devinbox.ForVerification("ver_2"))
	require.NoError(t, err, "a message still to come is waited for")
	require.Equal(t, "two", m.Text)

	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	_, err = i.WaitFor(short, devinbox.ForVerification("ver_9"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestHandler(t *testing.T) {
	t.Parallel()
	i := devinbox.New()
	send(t, i, "1", "+447700900001", "<script>alert(1)</script> code 123456")
	send(t, i, "2", "+447700900002", "other")
	srv := httptest.NewServer(i.Handler())
	defer srv.Close()

	res, err := http.Get(srv.URL + "/dev/messages?to=%2B447700900001")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, "application/json", res.Header.Get("Content-Type"))
	var msgs []map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&msgs))
	require.Len(t, msgs, 1)
	require.Equal(t, "+447700900001", msgs[0]["to"])
	require.Equal(t, "sms", msgs[0]["channel"])
	require.Contains(t, msgs[0]["text"], "123456")
	_, err = time.Parse(time.RFC3339, msgs[0]["created_at"].(string))
	require.NoError(t, err)

	res, err = http.Get(srv.URL + "/dev/inbox")
	require.NoError(t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(body), `http-equiv="refresh"`)
	require.Contains(t, string(body), "&lt;script&gt;")
	require.NotContains(t, string(body), "<script>")
	require.NoError(t, htmlpage.Check(res.Header, body), "security headers, and a CSP that allows the page's own style and nothing else")
}
