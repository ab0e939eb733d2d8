package metrics_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/metrics"
)

func TestObserver(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	o := metrics.New(reg)
	o.VerificationStarted(otpd.ChannelSMS)
	o.VerificationStarted(otpd.ChannelSMS)
	o.VerificationChecked(otpd.CheckApproved)
	o.MessageDone(otpd.ChannelSMS, otpd.MessageDelivered, 3*time.Millisecond)
	o.MessageRetried(otpd.ChannelEmail)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP otpd_verifications_started_total Verifications started, by channel.
# TYPE otpd_verifications_started_total counter
otpd_verifications_started_total{channel="sms"} 2
# HELP otpd_verification_checks_total Checks of verifications, by outcome (approved, wrong_code, max_attempts_reached, closed).
# TYPE otpd_verification_checks_total counter
otpd_verification_checks_total{outcome="approved"} 1
# HELP otpd_messages_total Message outcomes, by channel and status: sent (handed to the channel), delivered and undelivered (receipts), failed.
# TYPE otpd_messages_total counter
otpd_messages_total{channel="sms",status="delivered"} 1
# HELP otpd_message_retries_total Send attempts that failed temporarily and were rescheduled, by channel.
# TYPE otpd_message_retries_total counter
otpd_message_retries_total{channel="email"} 1
`), "otpd_verifications_started_total", "otpd_verification_checks_total", "otpd_messages_total", "otpd_message_retries_total"))
	require.Equal(t, 1, testutil.CollectAndCount(reg, "otpd_message_queue_seconds"))
}

// The per-route queue histogram has a series per SMS route and status, and
// none for channels without routes.
func TestObserverByRoute(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	o := metrics.New(reg)
	o.MessageDoneOnRoute(otpd.ChannelSMS, "uk", otpd.MessageSent, 3*time.Millisecond)
	o.MessageDoneOnRoute(otpd.ChannelSMS, "uk", otpd.MessageSent, 4*time.Millisecond)
	o.MessageDoneOnRoute(otpd.ChannelSMS, "uk", otpd.MessageDelivered, 2*time.Second)
	o.MessageDoneOnRoute(otpd.ChannelSMS, "us", otpd.MessageSent, 30*time.Millisecond)
	o.MessageDoneOnRoute(otpd.ChannelEmail, "smtp", otpd.MessageSent, time.Millisecond)
	require.Equal(t, 3, testutil.CollectAndCount(reg, "otpd_sms_route_queue_seconds"))
	require.Zero(t, testutil.CollectAndCount(reg, "otpd_message_queue_seconds"), "the per-channel histogram is the engine's other call")
	got, err := reg.Gather()
	require.NoError(t, err)
	counts := map[string]uint64{}
	for _, mf := range got {
		if mf.GetName() != "otpd_sms_route_queue_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			counts[labels["route"]+"/"+labels["status"]] = m.GetHistogram().GetSampleCount()
		}
	}
	require.Equal(t, map[string]uint64{"uk/sent": 2, "uk/delivered": 1, "us/sent": 1}, counts)
}

// The route gauges are read from the routes at each scrape, and a route
// without binds has no binds gauge.
func TestRouteStates(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	r := metrics.NewRoutes(reg)
	require.Zero(t, testutil.CollectAndCount(reg, "otpd_sms_route_up", "otpd_sms_route_binds"), "nothing before WatchStates")
	var states []metrics.RouteState
	r.WatchStates(func() []metrics.RouteState { return states })
	const (
		bindsHead = "# HELP otpd_sms_route_binds SMPP binds of an SMS route, by route and state: bound (up now) and unbound (configured but down); their sum is the binds configured.\n# TYPE otpd_sms_route_binds gauge\n"
		upHead    = "# HELP otpd_sms_route_up Whether an SMS route can take a message now (SMPP: at least one bind up), by route: 1 or 0.\n# TYPE otpd_sms_route_up gauge\n"
	)
	for _, tc := range []struct {
		name   string
		states []metrics.RouteState
		want   string
	}{{
		name: "one smpp bind of two down, an http route",
		states: []metrics.RouteState{
			{Route: "uk", Up: true, Binds: 2, BindsUp: 1},
			{Route: "us", Up: true},
		},
		want: bindsHead + `otpd_sms_route_binds{route="uk",state="bound"} 1
otpd_sms_route_binds{route="uk",state="unbound"} 1
` + upHead + `otpd_sms_route_up{route="uk"} 1
otpd_sms_route_up{route="us"} 1
`,
	}, {
		name:   "every bind down",
		states: []metrics.RouteState{{Route: "uk", Binds: 2}},
		want: bindsHead + `otpd_sms_route_binds{route="uk",state="bound"} 0
otpd_sms_route_binds{route="uk",state="unbound"} 2
` + upHead + `otpd_sms_route_up{route="uk"} 0
`,
	}} {
		// Not parallel: each case changes what the one registry reads.
		states = tc.states
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(tc.want), "otpd_sms_route_up", "otpd_sms_route_binds"), tc.name)
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	r := metrics.NewRoutes(reg)
	r.RouteSend("smsc1", time.Millisecond, nil)
	r.RouteSend("smsc1", time.Millisecond, errors.New("throttled"))
	r.RouteSend("smsc1", time.Millisecond, &otpd.SendError{Permanent: true, Err: errors.New("invalid destination")})
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP otpd_sms_route_sends_total Messages handed to an SMS route, by route and result (ok, temporary, permanent).
# TYPE otpd_sms_route_sends_total counter
otpd_sms_route_sends_total{result="ok",route="smsc1"} 1
otpd_sms_route_sends_total{result="permanent",route="smsc1"} 1
otpd_sms_route_sends_total{result="temporary",route="smsc1"} 1
`), "otpd_sms_route_sends_total"))
	require.Equal(t, 1, testutil.CollectAndCount(reg, "otpd_sms_route_send_seconds"))
}

func TestFraud(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	f := metrics.NewFraud(reg)
	f.BlockCreated(otpd.ScopePrefix)
	f.BlockCreated(otpd.ScopePrefix)
	f.BlockCreated(otpd.ScopeCountry)
	f.ActiveBlocks(3)
	f.ActiveBlocks(2)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP otpd_fraud_blocks_total Fraud blocks made by this node (by the conversion-rate guard or an admin), by scope: prefix or country.
# TYPE otpd_fraud_blocks_total counter
otpd_fraud_blocks_total{scope="country"} 1
otpd_fraud_blocks_total{scope="prefix"} 2
# HELP otpd_fraud_blocks_active Fraud blocks active across the store, as of this node's last refresh.
# TYPE otpd_fraud_blocks_active gauge
otpd_fraud_blocks_active 2
`), "otpd_fraud_blocks_total", "otpd_fraud_blocks_active"))
}
