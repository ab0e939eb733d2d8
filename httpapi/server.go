package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/otpd/otpd"
)

// Config is what a Server needs. Engine is required; everything else has a
// default.
type Config struct {
	Engine *otpd.Engine
	// Idempotency remembers responses to requests with an Idempotency-Key.
	// When nil, the engine's store is used if it implements
	// otpd.IdempotencyStore; otherwise the header is ignored.
	Idempotency otpd.IdempotencyStore
	// Logger gets one Debug line per request and the causes of 500s.
	Logger *slog.Logger
	// Registry receives the HTTP metrics and is served at /metrics. When
	// nil, a registry of the server's own is used.
	Registry *prometheus.Registry
	// Ready runs the readiness checks for /readyz: each name maps to nil
	// (ready) or the reason it is not. When nil, /readyz pings the store.
	Ready func(ctx context.Context) map[string]error
	// Details, when set, adds informational entries to /readyz (under
	// "details") that do not decide readiness: each SMS route, say.
	Details func(ctx context.Context) map[string]error
	// SMSRoutes, when set, adds each SMS route's health to /readyz (under
	// "sms_routes", by route name): informational like Details, which
	// keeps its "ok"-or-error entry per route for the clients that read
	// it.
	SMSRoutes func(ctx context.Context) map[string]RouteHealth
	// Mounts adds handlers by ServeMux pattern, e.g. {"/dev/": inbox} in
	// dev mode. They see the request unchanged (no prefix stripped) and no
	// authentication; without them their paths are 404. A pattern that
	// conflicts with an API route panics, as http.ServeMux.Handle does.
	Mounts map[string]http.Handler
	// Blocks serves the fraud blocks endpoints (package fraud's Guard).
	// When nil they answer 404: the guard is off.
	Blocks BlockAdmin
	// AdminMounts adds handlers as Mounts does, behind the admin token: a
	// request without it is answered 401 unauthorized, as the admin API
	// would. For operators' tools such as net/http/pprof.
	AdminMounts map[string]http.Handler
	// Now is the clock for idempotency records and read-time statuses;
	// the engine's clock when nil.
	Now func() time.Time
}

// Server serves the otpd HTTP API. It is an http.Handler.
type Server struct {
	engine    *otpd.Engine
	idem      otpd.IdempotencyStore
	log       *slog.Logger
	ready     func(ctx context.Context) map[string]error
	details   func(ctx context.Context) map[string]error
	smsRoutes func(ctx context.Context) map[string]RouteHealth
	now       func() time.Time
	mux       *http.ServeMux
	metrics   *metrics
	blocks    BlockAdmin
}

var _ http.Handler = (*Server)(nil)

// New returns a server for cfg. It panics when cfg.Engine is nil, which is
// a programming error.
func New(cfg Config) *Server {
	if cfg.Engine == nil {
		panic("httpapi: Config.Engine is required")
	}
	s := &Server{
		engine:    cfg.Engine,
		idem:      cfg.Idempotency,
		log:       cfg.Logger,
		ready:     cfg.Ready,
		details:   cfg.Details,
		smsRoutes: cfg.SMSRoutes,
		now:       cfg.Now,
		mux:       http.NewServeMux(),
		blocks:    cfg.Blocks,
	}
	if s.idem == nil {
		s.idem, _ = cfg.Engine.Store().(otpd.IdempotencyStore)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = cfg.Engine.Now
	}
	if s.ready == nil {
		store := cfg.Engine.Store()
		s.ready = func(ctx context.Context) map[string]error {
			return map[string]error{"store": store.Ping(ctx)}
		}
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(reg)
	s.routes(reg, cfg.Mounts)
	for pattern, h := range cfg.AdminMounts {
		if h != nil {
			s.mux.Handle(pattern, s.adminOnly(h))
		}
	}
	return s
}

func (s *Server) routes(reg *prometheus.Registry, mounts map[string]http.Handler) {
	m := s.mux
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	m.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	m.HandleFunc("GET /openapi.json", serveOpenAPI)

	m.Handle("POST /v1/services", s.api(adminOnly, s.createService))
	m.Handle("GET /v1/services", s.api(adminOnly, s.listServices))
	m.Handle("GET /v1/services/{sid}", s.api(adminService, s.getService))
	m.Handle("PATCH /v1/services/{sid}", s.api(adminService, s.updateService))
	m.Handle("DELETE /v1/services/{sid}", s.api(adminService, s.deleteService))
	m.Handle("POST /v1/services/{sid}/keys", s.api(adminService, s.createKey))
	m.Handle("GET /v1/services/{sid}/keys", s.api(adminService, s.listKeys))
	m.Handle("DELETE /v1/services/{sid}/keys/{kid}", s.api(adminService, s.revokeKey))

	m.Handle("GET /v1/services/{sid}/blocks", s.api(adminService, s.listBlocks))
	m.Handle("POST /v1/services/{sid}/blocks", s.api(adminService, s.createBlock))
	m.Handle("GET /v1/services/{sid}/blocks/{bid}", s.api(adminService, s.getBlock))
	m.Handle("DELETE /v1/services/{sid}/blocks/{bid}", s.api(adminService, s.liftBlock))

	m.Handle("POST /v1/services/{sid}/verifications", s.apiCreate(serviceScoped, s.startVerification))
	m.Handle("GET /v1/services/{sid}/verifications", s.api(serviceScoped, s.listVerifications))
	m.Handle("GET /v1/services/{sid}/verifications/{vid}", s.api(serviceScoped, s.getVerification))
	m.Handle("POST /v1/services/{sid}/verifications/{vid}/check", s.api(serviceScoped, s.checkVerification))
	m.Handle("POST /v1/services/{sid}/verifications/{vid}/resend", s.api(serviceScoped, s.resendVerification))
	m.Handle("POST /v1/services/{sid}/verifications/{vid}/cancel", s.api(serviceScoped, s.cancelVerification))
	m.Handle("POST /v1/services/{sid}/verification-checks", s.api(serviceScoped, s.checkDestination))
	m.Handle("DELETE /v1/services/{sid}/destinations/{to}", s.api(serviceScoped, s.eraseDestination))

	m.Handle("POST /v1/services/{sid}/devices", s.api(serviceScoped, s.registerDevice))
	m.Handle("GET /v1/services/{sid}/devices", s.api(serviceScoped, s.listDevices))
	m.Handle("GET /v1/services/{sid}/devices/{did}", s.api(serviceScoped, s.getDevice))
	m.Handle("DELETE /v1/services/{sid}/devices/{did}", s.api(serviceScoped, s.deleteDevice))

	m.Handle("GET /v1/services/{sid}/templates", s.api(adminService, s.listTemplates))
	m.Handle("GET /v1/services/{sid}/templates/{channel}/{locale}", s.api(adminService, s.getTemplate))
	m.Handle("PUT /v1/services/{sid}/templates/{channel}/{locale}", s.api(adminService, s.putTemplate))
	m.Handle("DELETE /v1/services/{sid}/templates/{channel}/{locale}", s.api(adminService, s.deleteTemplate))

	m.Handle("GET /v1/audit", s.api(adminOnly, s.listAudit))

	m.Handle("GET /v1/services/{sid}/events", s.api(serviceScoped, s.listEvents))
	m.Handle("GET /v1/services/{sid}/events/{eid}", s.api(serviceScoped, s.getEvent))
	m.Handle("POST /v1/services/{sid}/events/{eid}/redeliver", s.api(serviceScoped, s.redeliverEvent))

	for pattern, h := range mounts {
		if h != nil {
			m.Handle(pattern, h)
		}
	}
}

// adminOnly serves h to the admin token only, with the API's own
// authentication and problem documents.
func (s *Server) adminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.authorize(r, adminOnly); err != nil {
			writeResponse(w, s.errorResponse(r, err))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP routes the request, answering unknown routes and methods with
// problem documents, and records its metrics and log line.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")

	// Every body is bounded here, mounted handlers' (provider callbacks)
	// included, whatever each does itself; one announced as larger is
	// refused before any handler runs.
	if r.ContentLength > maxRequestBytes {
		writeResponse(sw, s.errorResponse(r, tooLarge(maxRequestBytes)))
	} else {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(sw, r.Body, maxRequestBytes)
		}
		if _, pattern := s.mux.Handler(r); pattern == "" {
			s.unrouted(sw, r)
		} else {
			s.mux.ServeHTTP(sw, r)
		}
	}

	route := r.Pattern // set by the mux; never the raw path, which holds ids
	if route == "" {
		route = "unmatched"
	}
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	d := time.Since(start)
	s.metrics.observe(route, r.Method, status, d)
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "http request",
		slog.String("method", r.Method), slog.String("route", route),
		slog.Int("status", status), slog.Duration("duration", d))
}

// unrouted answers a request no pattern matches: the mux's own 404 and 405
// are plain text, so they are turned into problem documents (405 keeps
// its Allow header). Anything else the mux does for such a request — a
// redirect to a cleaned path — passes through.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	probe := &probeWriter{header: http.Header{}}
	h.ServeHTTP(probe, r)
	switch probe.status {
	case http.StatusNotFound:
		writeResponse(w, problemResponse(http.StatusNotFound, codeNotFound, "no such endpoint: see /openapi.json", nil))
	case http.StatusMethodNotAllowed:
		res := problemResponse(http.StatusMethodNotAllowed, codeMethodNotAllowed,
			r.Method+" is not allowed here; allowed: "+probe.header.Get("Allow"), nil)
		res.header.Set("Allow", probe.header.Get("Allow"))
		writeResponse(w, res)
	default:
		for k, v := range probe.header {
			w.Header()[k] = v
		}
		w.WriteHeader(probe.status)
		_, _ = w.Write(probe.body)
	}
}

// probeWriter captures what a handler would answer.
type probeWriter struct {
	header http.Header
	status int
	body   []byte
}

func (p *probeWriter) Header() http.Header { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	p.body = append(p.body, b...)
	return len(b), nil
}
func (p *probeWriter) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}

// statusWriter remembers the status code for metrics and logs.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// metrics are the HTTP metrics. Labels are the route pattern, never the
// raw path (ids and destinations must not become label values), and the
// method folded to a fixed set so that clients cannot create series.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpd_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "otpd_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
	}
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	return m
}

// register registers c, or returns the collector already registered under
// its name, so two servers can share one registry.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("httpapi: registering metrics: " + err.Error())
	}
	return c
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
	default:
		method = "other"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}
