package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"time"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI document of the API, the one served at
// /openapi.json.
func OpenAPI() []byte { return bytes.Clone(openAPI) }

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}

// GET /healthz: the process is up and serving.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeResponse(w, jsonResponse(http.StatusOK, map[string]string{"status": "ok"}))
}

// readyTimeout bounds the readiness checks, so a hung dependency makes
// /readyz fail rather than hang the prober.
const readyTimeout = 5 * time.Second

type readiness struct {
	Status    string                 `json:"status"`               // "ok" or "unavailable"
	Checks    map[string]string      `json:"checks"`               // name → "ok" or why not
	Details   map[string]string      `json:"details,omitempty"`    // informational, same form
	SMSRoutes map[string]RouteHealth `json:"sms_routes,omitempty"` // informational, by route name
}

// RouteHealth is an SMS route's health as /readyz shows it under
// "sms_routes". It does not decide readiness: the SMS channel is ready
// while any of its routes is. Rates and latencies are over the route's
// last sends (RecentSends of them), so an operator sees whether a route is
// failing or slow now, not since the node started.
type RouteHealth struct {
	Status string `json:"status"` // "ok" or why the route cannot send, as in details
	// State is "bound" or "unbound" for an SMPP route (at least one bind
	// up, or none); for an HTTP provider, "reachable" (it answered the
	// last send), "unreachable" (the last send got no answer or a
	// temporary error) or "unknown" (nothing sent yet).
	State string `json:"state"`
	// Binds and BindsUp are an SMPP route's binds: configured, and up now.
	// Absent for HTTP providers.
	Binds   *int `json:"binds,omitempty"`
	BindsUp *int `json:"binds_up,omitempty"`
	// Sent and Failed count the route's sends since the node started.
	Sent   uint64 `json:"sent"`
	Failed uint64 `json:"failed"`
	// RecentSends is how many sends the figures below are over.
	RecentSends   int     `json:"recent_sends"`
	ErrorRate     float64 `json:"error_rate"` // 0 to 1
	LatencyMeanMS float64 `json:"latency_mean_ms"`
	LatencyP50MS  float64 `json:"latency_p50_ms"`
	LatencyP99MS  float64 `json:"latency_p99_ms"`
	// LastError is the error of the route's last failed send, and
	// LastErrorAt when it failed; absent when none has.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// GET /readyz: 200 when every check passes, else 503 naming the failures.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	out := readiness{Status: "ok", Checks: map[string]string{}}
	status := http.StatusOK
	for name, err := range s.ready(ctx) {
		if err == nil {
			out.Checks[name] = "ok"
			continue
		}
		out.Status, status = "unavailable", http.StatusServiceUnavailable
		out.Checks[name] = err.Error()
		s.log.LogAttrs(ctx, slog.LevelWarn, "not ready", slog.String("check", name), slog.Any("err", err))
	}
	if s.details != nil {
		out.Details = map[string]string{}
		for name, err := range s.details(ctx) {
			out.Details[name] = "ok"
			if err != nil {
				out.Details[name] = err.Error()
			}
		}
	}
	if s.smsRoutes != nil {
		out.SMSRoutes = s.smsRoutes(ctx)
	}
	writeResponse(w, jsonResponse(status, out))
}
