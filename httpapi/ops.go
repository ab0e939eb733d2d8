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
	Status  string            `json:"status"`            // "ok" or "unavailable"
	Checks  map[string]string `json:"checks"`            // name → "ok" or why not
	Details map[string]string `json:"details,omitempty"` // informational, same form
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
	writeResponse(w, jsonResponse(status, out))
}
