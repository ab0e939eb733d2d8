package main_test

import (
	"context"
	"net"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// webhookReceiver is a business's webhook endpoint: it verifies each
// request's signature and records the events in the order they came.
type webhookReceiver struct {
	secret string
	mu     sync.Mutex
	got    []client.WebhookEvent
	bad    int // requests whose signature did not verify
}

func (wr *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev, err := client.ParseWebhook(wr.secret, r, 5*time.Minute)
	wr.mu.Lock()
	defer wr.mu.Unlock()
	if err != nil {
		wr.bad++
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	wr.got = append(wr.got, *ev)
	w.WriteHeader(http.StatusNoContent)
}

// received returns, per verification, the ids of the events received, in
// the order they first came (a repeat is at-least-once delivery).
func (wr *webhookReceiver) received() (map[string][]string, int) {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	out := map[string][]string{}
	seen := map[string]bool{}
	for _, ev := range wr.got {
		if !seen[ev.ID] {
			seen[ev.ID] = true
			out[ev.Data.ID] = append(out[ev.Data.ID], ev.ID)
		}
	}
	return out, wr.bad
}

// TestWebhooksSurviveReceiverDowntimeAndCrash: while the receiver is down,
// verifications produce events and the server is killed with SIGKILL; after
// a restart and the receiver coming up, every event arrives, signed, and in
// order per verification.
func TestWebhooksSurviveReceiverDowntimeAndCrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const token = "a-fixed-admin-token-0123"

	// Reserve the receiver's address; nothing listens there yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hookAddr := ln.Addr().String()
	require.NoError(t, ln.Close())

	dataDir := t.TempDir()
	srv := startServerArgs(t, dataDir, "--dev", "--admin-token", token)
	c := client.New(srv.url, token)
	svc, err := c.CreateService(ctx, client.CreateServiceParams{Name: "Acme", WebhookURL: "http://" + hookAddr + "/otpd"})
	require.NoError(t, err)
	require.NotEmpty(t, svc.WebhookSecret)

	var vids []string
	for i := range 6 {
		to := "+4477009001" + string(rune('0'+i))
		v, err := c.StartVerification(ctx, svc.ID, client.StartParams{To: to, Channel: "sms"})
		require.NoError(t, err)
		vids = append(vids, v.ID)
		code := codeFor(t, c, to, v.ID)
		if i%2 == 0 {
			res, err := c.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code})
			require.NoError(t, err)
			require.True(t, res.Valid)
		} else {
			_, err := c.CancelVerification(ctx, svc.ID, v.ID)
			require.NoError(t, err)
		}
	}
	// Some delivery attempts have failed by now: the receiver is down.
	require.Eventually(t, func() bool {
		evs, err := c.ListEvents(ctx, svc.ID, client.EventListParams{Limit: 500})
		require.NoError(t, err)
		return len(evs.Data) > 0 && evs.Data[len(evs.Data)-1].Delivery.Attempts > 0
	}, 20*time.Second, 20*time.Millisecond)

	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
	<-srv.done
	srv = startServerArgs(t, dataDir, "--dev", "--admin-token", token)
	c = client.New(srv.url, token)

	recv := &webhookReceiver{secret: svc.WebhookSecret}
	hook := &http.Server{Handler: recv, ReadHeaderTimeout: 5 * time.Second}
	hl, err := net.Listen("tcp", hookAddr)
	require.NoError(t, err)
	go func() { _ = hook.Serve(hl) }()
	t.Cleanup(func() { _ = hook.Close() })

	// What the server recorded, per verification, oldest first: the order
	// the receiver must see.
	want := map[string][]string{}
	all, err := c.ListEvents(ctx, svc.ID, client.EventListParams{Limit: 500})
	require.NoError(t, err)
	for _, ev := range slices.Backward(all.Data) {
		want[ev.VerificationID] = append(want[ev.VerificationID], ev.ID)
	}
	require.Len(t, want, len(vids))
	for _, vid := range vids {
		// created, sent, then approved or canceled, and delivered (the dev
		// SMSC's receipt) somewhere after sent.
		require.GreaterOrEqual(t, len(want[vid]), 3, vid)
	}

	// Retries back off from 5 s doubling: everything arrives within a
	// minute of the receiver coming up.
	require.Eventually(t, func() bool {
		got, _ := recv.received()
		for vid, ids := range want {
			if len(got[vid]) < len(ids) {
				return false
			}
		}
		return true
	}, 90*time.Second, 100*time.Millisecond, "every event arrives")
	got, bad := recv.received()
	require.Zero(t, bad, "every request is signed with the service's secret")
	for vid, ids := range want {
		require.Equal(t, ids, got[vid], "events of %s arrive in order", vid)
	}

	// The server's view agrees: every event delivered, with its attempts.
	require.Eventually(t, func() bool {
		evs, err := c.ListEvents(ctx, svc.ID, client.EventListParams{Limit: 500})
		require.NoError(t, err)
		for _, ev := range evs.Data {
			if ev.Delivery.Status != "delivered" {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond)
	first := all.Data[len(all.Data)-1]
	detail, err := c.GetEvent(ctx, svc.ID, first.ID)
	require.NoError(t, err)
	require.Greater(t, len(detail.Attempts), 1, "the first event failed while the receiver was down")
	require.Equal(t, 204, *detail.Attempts[len(detail.Attempts)-1].StatusCode)
	t.Logf("%d events of %d verifications arrived in order; the first took %d attempts", len(all.Data), len(vids), len(detail.Attempts))
	srv.stop(t)
}
