// Package metrics exports what the verification engine does as Prometheus
// metrics. Labels are channels, statuses, outcomes and SMS route names
// (which come from the configuration) only — never a service's
// destination, code or id — so cardinality stays small and no personal
// data reaches the metrics system.
package metrics

import (
	"sync/atomic"
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
	byRoute  *prometheus.HistogramVec
}

var _ otpd.RouteObserver = (*Observer)(nil)

// queueBuckets are the buckets of the time from API accept to a message's
// outcomes: a millisecond (a send on loopback) to five minutes (a slow
// receipt).
var queueBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

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
			Buckets: queueBuckets,
		}, []string{"channel", "status"}),
		// A histogram of its own rather than a route label on the one
		// above: that one's series and queries stay as they were, and
		// channels without routes do not carry an empty label.
		byRoute: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "otpd_sms_route_queue_seconds",
			Help:    "Time from an SMS being queued (API accept) to each of its outcomes, by the route that carried it and status: sent (the route took it: SMPP submit_sm_resp, or the provider's answer), delivered, undelivered and failed (receipts).",
			Buckets: queueBuckets,
		}, []string{"route", "status"}),
	}
	reg.MustRegister(o.started, o.checked, o.messages, o.retries, o.latency, o.byRoute)
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

// MessageDoneOnRoute records how long an SMS waited from API accept to
// an outcome on the route that carried it. Other channels have no routes
// and are not recorded.
func (o *Observer) MessageDoneOnRoute(ch otpd.ChannelName, route string, status otpd.MessageStatus, sinceQueued time.Duration) {
	if ch != otpd.ChannelSMS {
		return
	}
	o.byRoute.WithLabelValues(route, string(status)).Observe(sinceQueued.Seconds())
}

// MessageRetried counts a rescheduled send.
func (o *Observer) MessageRetried(ch otpd.ChannelName) {
	o.retries.WithLabelValues(string(ch)).Inc()
}

// Routes exports SMS route metrics: sends and their latency per route,
// as sms.Router reports them, and each route's state (WatchStates).
type Routes struct {
	sends    *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	receipts *prometheus.CounterVec
	states   *routeStates
}

// RouteState is one SMS route's state, as the route gauges show it.
type RouteState struct {
	Route string
	Up    bool // the route can take a message now
	// Binds and BindsUp are the binds a route with binds (SMPP) keeps and
	// how many are up; both zero for other routes, which get no binds
	// gauge.
	Binds, BindsUp int
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
	r.states = &routeStates{
		up: prometheus.NewDesc("otpd_sms_route_up",
			"Whether an SMS route can take a message now (SMPP: at least one bind up), by route: 1 or 0.",
			[]string{"route"}, nil),
		binds: prometheus.NewDesc("otpd_sms_route_binds",
			"SMPP binds of an SMS route, by route and state: bound (up now) and unbound (configured but down); their sum is the binds configured.",
			[]string{"route", "state"}, nil),
	}
	reg.MustRegister(r.sends, r.latency, r.receipts, r.states)
	return r
}

// WatchStates makes each scrape read every route's state from states,
// which must be quick and do no I/O (sms.Router.Health is). Until it is
// called the state gauges are absent.
func (r *Routes) WatchStates(states func() []RouteState) { r.states.fn.Store(&states) }

// routeStates collects the state gauges at scrape time, so they are never
// staler than the scrape and nothing has to poll the routes.
type routeStates struct {
	up, binds *prometheus.Desc
	fn        atomic.Pointer[func() []RouteState]
}

func (c *routeStates) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.binds
}

func (c *routeStates) Collect(ch chan<- prometheus.Metric) {
	fn := c.fn.Load()
	if fn == nil {
		return
	}
	for _, s := range (*fn)() {
		up := 0.0
		if s.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, s.Route)
		if s.Binds > 0 {
			ch <- prometheus.MustNewConstMetric(c.binds, prometheus.GaugeValue, float64(s.BindsUp), s.Route, "bound")
			ch <- prometheus.MustNewConstMetric(c.binds, prometheus.GaugeValue, float64(s.Binds-s.BindsUp), s.Route, "unbound")
		}
	}
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
