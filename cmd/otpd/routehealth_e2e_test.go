package main_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
	"github.com/otpd/otpd/httpapi"
)

type readyzJSON struct {
	Status    string                         `json:"status"`
	Details   map[string]string              `json:"details"`
	SMSRoutes map[string]httpapi.RouteHealth `json:"sms_routes"`
}

// metricsText returns the server's /metrics.
func metricsText(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(body)
}

// A route whose SMSC is down shows unbound, with none of its binds up, in
// /readyz and /metrics, and bound once its SMSC comes up; a route that
// refuses messages shows its error rate; a message's time from API accept
// to submit_sm_resp and to its receipt is recorded under its route.
func TestServeRouteHealth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	downAddr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens here until the test starts an SMSC on it
	const refused = "+447700900999"
	backup, _ := startSMSCAddr(t, "--dlr-delay", "20ms", "--fail-prefix", refused+"=0x0B")

	conf := filepath.Join(t.TempDir(), "otpd.yaml")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, `
admin_token: a-fixed-admin-token-0123
sms:
  routes:
    - name: primary
      smpp: smpp://otpd:pw@%s?binds=2
      prefixes: ["+44"]
      priority: 1
    - name: backup
      smpp: smpp://otpd:pw@%s
      prefixes: ["+44"]
      priority: 2
`, downAddr, backup.smpp), 0o600))
	srv := startServerArgs(t, t.TempDir(), "--config", conf)
	admin := client.New(srv.url, "a-fixed-admin-token-0123")

	var ready readyzJSON
	// Readiness and the routes' health are read separately: poll until
	// both show the backup bound.
	require.Eventually(t, func() bool {
		ready = getJSON[readyzJSON](t, srv.url+"/readyz")
		return ready.SMSRoutes["backup"].State == "bound" && ready.Status == "ok"
	}, 10*time.Second, 20*time.Millisecond, "the backup route binds, and one route bound is enough to be ready")
	primary := ready.SMSRoutes["primary"]
	require.Equal(t, "unbound", primary.State)
	require.Equal(t, 2, *primary.Binds)
	require.Equal(t, 0, *primary.BindsUp)
	require.NotEqual(t, "ok", primary.Status, "why it cannot send")
	require.Equal(t, primary.Status, ready.Details["sms_route:primary"], "details keeps its entry per route")
	require.Equal(t, "ok", ready.Details["sms_route:backup"])
	m := metricsText(t, srv.url)
	require.Contains(t, m, `otpd_sms_route_binds{route="primary",state="bound"} 0`)
	require.Contains(t, m, `otpd_sms_route_binds{route="primary",state="unbound"} 2`)
	require.Contains(t, m, `otpd_sms_route_up{route="primary"} 0`)
	require.Contains(t, m, `otpd_sms_route_binds{route="backup",state="bound"} 1`)
	require.Contains(t, m, `otpd_sms_route_up{route="backup"} 1`)

	// One message the backup route delivers, one it refuses for good.
	svc, err := admin.CreateService(ctx, client.CreateServiceParams{Name: "Acme"})
	require.NoError(t, err)
	good, err := admin.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900123"})
	require.NoError(t, err)
	bad, err := admin.StartVerification(ctx, svc.ID, client.StartParams{To: refused})
	require.NoError(t, err)
	messageStatus := func(id string) string {
		v, err := admin.GetVerification(ctx, svc.ID, id)
		require.NoError(t, err)
		return v.Messages[0].Status
	}
	require.Eventually(t, func() bool {
		return messageStatus(good.ID) == client.MessageDelivered && messageStatus(bad.ID) == client.MessageFailed
	}, 15*time.Second, 20*time.Millisecond, "one delivered, one refused")

	ready = getJSON[readyzJSON](t, srv.url+"/readyz")
	b := ready.SMSRoutes["backup"]
	require.Equal(t, uint64(1), b.Sent)
	require.Equal(t, uint64(1), b.Failed)
	require.Equal(t, 2, b.RecentSends)
	require.InDelta(t, 0.5, b.ErrorRate, 1e-9, "the refusal counts against the route")
	require.Contains(t, b.LastError, "0x0000000B")
	require.Positive(t, b.LatencyP99MS)
	require.LessOrEqual(t, b.LatencyP50MS, b.LatencyP99MS)
	require.Zero(t, ready.SMSRoutes["primary"].RecentSends, "a route that is down is not tried")
	m = metricsText(t, srv.url)
	require.Contains(t, m, `otpd_sms_route_queue_seconds_count{route="backup",status="sent"} 1`)
	require.Contains(t, m, `otpd_sms_route_queue_seconds_count{route="backup",status="delivered"} 1`)
	require.NotContains(t, m, `otpd_sms_route_queue_seconds_count{route="primary"`)

	// The primary's SMSC comes up: both its binds are made (after the
	// transmitter's rebind backoff, a few seconds at most by now).
	startSMSC(t, "--smpp-addr", downAddr)
	require.Eventually(t, func() bool {
		ready = getJSON[readyzJSON](t, srv.url+"/readyz")
		return *ready.SMSRoutes["primary"].BindsUp == 2
	}, 40*time.Second, 50*time.Millisecond, "the primary route binds when its SMSC is up")
	require.Equal(t, "bound", ready.SMSRoutes["primary"].State)
	require.Equal(t, "ok", ready.SMSRoutes["primary"].Status)
	require.Equal(t, "ok", ready.Details["sms_route:primary"])
	m = metricsText(t, srv.url)
	require.Contains(t, m, `otpd_sms_route_binds{route="primary",state="bound"} 2`)
	require.Contains(t, m, `otpd_sms_route_binds{route="primary",state="unbound"} 0`)
	require.Contains(t, m, `otpd_sms_route_up{route="primary"} 1`)
	require.Contains(t, m, `otpd_message_queue_seconds_count{channel="sms",status="delivered"} 1`, "the per-channel histogram stays")
	srv.stop(t)
}
