package rcs_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/rcs"
)

// An RCS channel for an RBM agent, and the agent's webhook mounted where
// the Developer Console points. recordReceipt stands for
// engine.RecordReceipt.
func Example() {
	var recordReceipt func(context.Context, otpd.Receipt) error
	key, err := os.ReadFile("/etc/otpd/rbm-service-account.json")
	if err != nil {
		return
	}
	ch, err := rcs.New(rcs.Config{
		ServiceAccountJSON: key,
		AgentID:            "acme-otp-agent@rbm.goog",
		ClientToken:        os.Getenv("OTPD_RBM_CLIENT_TOKEN"),
	})
	if err != nil {
		panic(err)
	}
	_ = otpd.Channel(ch) // the RCS channel

	record := func(ctx context.Context, r otpd.Receipt) error {
		err := recordReceipt(ctx, r)
		if errors.Is(err, otpd.ErrNotFound) {
			slog.InfoContext(ctx, "RBM event for an unknown message", "ref", r.Ref)
		}
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/callbacks/rcs", ch.Handler(record))
}

// What a send does when the phone cannot receive RCS: a permanent error,
// so the engine moves to the next channel without retrying.
func ExampleErrNotCapable() {
	var ch *rcs.Channel
	var msg *otpd.Outbound
	if ch == nil {
		return
	}
	_, err := ch.Send(context.Background(), msg)
	switch {
	case errors.Is(err, rcs.ErrNotCapable):
		// No RCS for this number: fall back (otpd.IsPermanent(err) is true).
	case otpd.IsPermanent(err):
		// Refused content or agent not allowed: fall back too.
	case err != nil:
		// Temporary: retried with backoff.
	}
}
