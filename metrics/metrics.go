// Package metrics exports what the verification engine does as Prometheus
// metrics. Labels are channels, statuses and outcomes only — never a
// service's destination, code or id — so cardinality stays small and no
// personal data reaches the metrics system.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/otpd/otpd"
)

// Observer implements otpd.Observer with Prometheus collectors.
type Observer struct {
	started  *prometheus.CounterVec
	checked  *prometheus.CounterVec
	messages *prometheus.CounterVec
	retries  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

var _ otpd.Observer = (*Observer)(nil)

// New registers the engine's metrics with reg and returns their observer.
func New(reg prometheus.Registerer) *Observer {
	o := &Observer{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpd_verifications_started_total",
			Help: "Verifications started, by channel.",
		}, []string{"channel"}),
		checked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpd_verification_checks_total",
			Help: "Checks of verifications, by outcome (approved, wrong_code, max_attempts_reached, closed).",
		}, []string{"outcome"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpd_messages_total",
			Help: "Message outcomes, by channel and status: sent (handed to the channel), delivered and undelivered (receipts), failed.",
		}, []string{"channel", "status"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpd_message_retries_total",
			Help: "Send attempts that failed temporarily and were rescheduled, by channel.",
		}, []string{"channel"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "otpd_message_queue_seconds",
			Help:    "Time from a message being queued (API accept) to each of its outcomes, by channel and status: sent (the channel took it, e.g. submit_sm_resp), delivered and undelivered (receipts), failed.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"channel", "status"}),
	}
	reg.MustRegister(o.started, o.checked, o.messages, o.retries, o.latency)
	return o
}

// VerificationStarted counts a started verification.
func (o *Observer) VerificationStarted(ch otpd.ChannelName) {
	o.started.WithLabelValues(string(ch)).Inc()
}

// VerificationChecked counts a check by outcome.
func (o *Observer) VerificationChecked(outcome otpd.CheckOutcome) {
	o.checked.WithLabelValues(string(outcome)).Inc()
}

// MessageDone counts a message leaving the queue and records how long it waited.
func (o *Observer) MessageDone(ch otpd.ChannelName, status otpd.MessageStatus, sinceQueued time.Duration) {
	o.messages.WithLabelValues(string(ch), string(status)).Inc()
	o.latency.WithLabelValues(string(ch), string(status)).Observe(sinceQueued.Seconds())
}

// MessageRetried counts a rescheduled send.
func (o *Observer) MessageRetried(ch otpd.ChannelName) {
	o.retries.WithLabelValues(string(ch)).Inc()
}

// Routes exports SMS route metrics: sends and their latency per route,
// as sms.Router reports them.
type Routes struct {
	sends    *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	receipts *prometheus.CounterVec
}

// NewRoutes registers the route metrics with reg.
func NewRoutes(reg prometheus.Registerer) *Routes {
	r := &Routes{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpd_sms_route_sends_total",
			Help: "Messages handed to an SMS route, by route and result (ok, temporary, permanent).",
		}, []string{"route", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "otpd_sms_route_send_seconds",
			Help:    "Time for an SMS route to accept a message (SMPP: all parts' submit_sm to submit_sm_resp), by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route"}),
		receipts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpd_sms_route_receipts_total",
			Help: "Final delivery receipts from an SMS route, by route and status: delivered, undelivered, failed, or unknown (for a message id otpd has not recorded: kept an hour in case its send's outcome is still being written).",
		}, []string{"route", "status"}),
	}
	reg.MustRegister(r.sends, r.latency, r.receipts)
	return r
}

// RouteReceipt counts a final delivery receipt from a route. It is safe to
// call on a nil *Routes (no metrics).
func (r *Routes) RouteReceipt(route, status string) {
	if r == nil {
		return
	}
	r.receipts.WithLabelValues(route, status).Inc()
}

// RouteSend records one send on a route.
func (r *Routes) RouteSend(route string, d time.Duration, err error) {
	result := "ok"
	switch {
	case otpd.IsPermanent(err):
		result = "permanent"
	case err != nil:
		result = "temporary"
	}
	r.sends.WithLabelValues(route, result).Inc()
	r.latency.WithLabelValues(route).Observe(d.Seconds())
}

// Webhooks exports webhook delivery metrics, as webhook.Sender reports
// them.
type Webhooks struct {
	attempts *prometheus.CounterVec
	latency  prometheus.Histogram
}

// NewWebhooks registers the webhook metrics with reg.
func NewWebhooks(reg prometheus.Registerer) *Webhooks {
	w := &Webhooks{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpd_webhook_attempts_total",
			Help: "Webhook delivery attempts, by outcome: delivered, retry (failed, tried again later), failed (given up after the retry window), disabled (the service has no webhook_url).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "otpd_webhook_attempt_seconds",
			Help:    "Duration of webhook delivery attempts, the receiver's answer included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	reg.MustRegister(w.attempts, w.latency)
	return w
}

// WebhookAttempt counts an attempt and records its duration.
func (w *Webhooks) WebhookAttempt(outcome string, took time.Duration) {
	w.attempts.WithLabelValues(outcome).Inc()
	if outcome != "disabled" {
		w.latency.Observe(took.Seconds())
	}
}

// Fraud exports the fraud guard's metrics, as fraud.Guard reports them.
type Fraud struct {
	blocks *prometheus.CounterVec
	active prometheus.Gauge
}

// NewFraud registers the fraud guard's metrics with reg.
func NewFraud(reg prometheus.Registerer) *Fraud {
	f := &Fraud{
		blocks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpd_fraud_blocks_total",
			Help: "Fraud blocks made by this node (by the conversion-rate guard or an admin), by scope: prefix or country.",
		}, []string{"scope"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "otpd_fraud_blocks_active",
			Help: "Fraud blocks active across the store, as of this node's last refresh.",
		}),
	}
	reg.MustRegister(f.blocks, f.active)
	return f
}

// BlockCreated counts a block.
func (f *Fraud) BlockCreated(scope otpd.BlockScope) { f.blocks.WithLabelValues(string(scope)).Inc() }

// ActiveBlocks sets the number of active blocks.
func (f *Fraud) ActiveBlocks(n int) { f.active.Set(float64(n)) }
