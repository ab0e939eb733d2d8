package twilio_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/sms"
	"github.com/otpd/otpd/sms/twilio"
)

// A Twilio route for North America next to other routes, and its status
// callbacks mounted where StatusCallbackURL points. recordReceipt stands
// for engine.RecordReceipt.
func Example() {
	var recordReceipt func(context.Context, otpd.Receipt) error
	route, err := twilio.New(twilio.Config{
		AccountSID:        "AC0123456789abcdef0123456789abcdef",
		AuthToken:         "from the console",
		From:              "+15005550006",
		StatusCallbackURL: "https://otp.example.com/v1/callbacks/twilio/twilio-us",
	})
	if err != nil {
		panic(err)
	}
	router, err := sms.NewRouter([]*sms.Route{{Name: "twilio-us", Prefixes: []string{"+1"}, Channel: route}})
	if err != nil {
		panic(err)
	}
	_ = router // the SMS channel

	record := func(ctx context.Context, r otpd.Receipt) error {
		err := recordReceipt(ctx, r)
		if errors.Is(err, otpd.ErrNotFound) {
			slog.InfoContext(ctx, "status callback for an unknown message", "route", "twilio-us")
		}
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/callbacks/twilio/twilio-us", route.CallbackHandler(record, "twilio-us"))
}
