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
