package loadtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/otpd/otpd/client"
)

// EchoHandler is the baseline's server: it answers every request with the
// JSON it was sent (a JSON body is decoded and encoded again, as any JSON
// API does) and 201 for a POST. It does nothing else, so the requests per
// second a machine serves through it bound what any HTTP+JSON server in Go
// can do there, and otpd's rates are reported as shares of it.
func EchoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v any
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err == nil && len(body) > 0 {
			err = json.Unmarshal(body, &v)
		}
		if err != nil {
			http.Error(w, `{"code":"invalid_parameter"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		_ = json.NewEncoder(w).Encode(v)
	})
}

// echoCode is the code the baseline "sends".
const echoCode = "123456"

// Echo is the Target of the baseline: the same client calls as OTPD makes
// (start and check through the Go client, JSON both ways), answered by an
// EchoHandler; its code is known at once.
type Echo struct {
	Client *client.Client
}

var _ Target = (*Echo)(nil)

// Start implements Target.
func (e *Echo) Start(ctx context.Context, to string) (string, time.Time, error) {
	_, err := e.Client.StartVerification(ctx, "svc_echo", client.StartParams{To: to, Purpose: "login"})
	return "ver_echo", time.Time{}, err
}

// Code implements Target.
func (e *Echo) Code(context.Context, string) (string, time.Time, error) {
	return echoCode, time.Time{}, nil
}

// Check implements Target: the echo cannot judge a code, so the answer is
// worked out here, as the run expects.
func (e *Echo) Check(ctx context.Context, id, code string) (bool, error) {
	_, err := e.Client.CheckVerification(ctx, "svc_echo", id, client.CheckParams{Code: code})
	return code == echoCode, err
}
