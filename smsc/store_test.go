package smsc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/smsc"
)

// A full store drops its oldest message for each new one, in place; what
// is kept, and the order Messages, GET /messages and WaitFor see it in,
// must be those of the newest Capacity messages, on either side of the
// boundary and after the ring has wrapped round several times.
func TestStoreKeepsTheNewestAtCapacity(t *testing.T) {
	t.Parallel()
	const (
		capacity = 3
		other    = "447700900999"
	)
	for _, n := range []int{0, 1, capacity - 1, capacity, capacity + 1, 2*capacity - 1, 2 * capacity, 5*capacity + 2} {
		t.Run(fmt.Sprintf("%d messages", n), func(t *testing.T) {
			t.Parallel()
			b := setup(t, smsc.Config{Capacity: capacity, Faults: smsc.Faults{NoReceipts: true}})
			c := b.bound(t, asTransceiver, "otpd")
			var sent []smsc.Message // To and Text of every message, oldest first
			for i := range n {
				to := testTo
				if i%3 == 1 {
					to = other
				}
				text := fmt.Sprintf("message %d", i)
				st, _ := c.submit(sms(to, text))
				require.Equal(t, smpp.StatusOK, st)
				sent = append(sent, smsc.Message{To: "+" + to, Text: text})
			}
			kept := sent[max(0, n-capacity):]
			keptTo := func(to string) []string {
				out := []string{}
				for _, m := range kept {
					if m.To == "+"+to {
						out = append(out, m.Text)
					}
				}
				return out
			}

			require.Equal(t, keptTo(testTo), texts(b.srv.Messages(testTo)))
			require.Equal(t, keptTo(other), texts(b.srv.Messages(other)))
			all := []string{}
			for _, m := range kept {
				all = append(all, m.Text)
			}
			require.Equal(t, all, texts(b.srv.Messages("")))
			require.Equal(t, n, b.srv.Stats().Messages, "every message is counted, kept or not")

			h := httptest.NewServer(b.srv.Handler())
			t.Cleanup(h.Close)
			for _, to := range []string{testTo, other, ""} {
				require.Equal(t, texts(b.srv.Messages(to)), httpTexts(t, h.URL+"/messages?to="+url.QueryEscape(to)), "GET /messages?to=%s", to)
			}

			// WaitFor finds the oldest message kept, not one dropped.
			if want := keptTo(testTo); len(want) > 0 {
				m, err := b.srv.WaitFor(ctxTimeout(t), smsc.To(testTo))
				require.NoError(t, err)
				require.Equal(t, want[0], m.Text)
			}
			if n > capacity {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				defer cancel()
				_, err := b.srv.WaitFor(ctx, func(m smsc.Message) bool { return m.Text == "message 0" })
				require.ErrorIs(t, err, context.DeadlineExceeded, "message 0 was dropped")
			}
			// And one still to come, after the ring has wrapped.
			got := make(chan smsc.Message, 1)
			go func() {
				m, _ := b.srv.WaitFor(ctxTimeout(t), func(m smsc.Message) bool { return m.Text == "the next one" })
				got <- m
			}()
			st, _ := c.submit(sms(other, "the next one"))
			require.Equal(t, smpp.StatusOK, st)
			select {
			case m := <-got:
				require.Equal(t, "+"+other, m.To)
			case <-time.After(waitTimeout):
				t.Fatal("WaitFor missed a message stored after the ring wrapped")
			}
			require.Len(t, b.srv.Messages(""), min(n+1, capacity))
		})
	}
}

// A message stops counting towards duplicates once it is dropped.
func TestStoreForgetsDroppedMessagesForDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{Capacity: 2, Faults: smsc.Faults{NoReceipts: true}})
	c := b.bound(t, asTransceiver, "otpd")
	for i, tc := range []struct {
		text string
		dup  bool
	}{
		{"A", false},
		{"B", false},
		{"A", true},  // the first A is still kept
		{"C", false}, // drops the first A; the second is kept
		{"A", true},  // drops B
		{"D", false}, // drops the second A; the third is kept
		{"E", false}, // drops the third A: none is left
		{"A", false},
	} {
		st, _ := c.submit(sms(testTo, tc.text))
		require.Equal(t, smpp.StatusOK, st)
		msgs := b.srv.Messages(testTo)
		last := msgs[len(msgs)-1]
		require.Equal(t, tc.text, last.Text, "submit %d", i)
		require.Equal(t, tc.dup, last.Duplicate, "submit %d: %s", i, tc.text)
	}
}

func texts(msgs []smsc.Message) []string {
	out := []string{}
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return out
}

// httpTexts returns the texts GET url lists, in its order.
func httpTexts(t *testing.T, url string) []string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	var got []struct {
		Text string `json:"text"`
	}
	require.NoError(t, json.Unmarshal(body, &got))
	out := []string{}
	for _, m := range got {
		out = append(out, m.Text)
	}
	return out
}
