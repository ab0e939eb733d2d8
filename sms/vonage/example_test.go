package vonage_test

import (
	"context"
	"net/http"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/sms"
	"github.com/otpd/otpd/sms/vonage"
)

// A Vonage route as the fallback for every number, with unsigned receipts
// authenticated by a token in the callback URL. recordReceipt stands for
// engine.RecordReceipt (log the errors wrapping otpd.ErrNotFound there).
func Example() {
	var recordReceipt func(context.Context, otpd.Receipt) error
	route, err := vonage.New(vonage.Config{
		APIKey:            "abcd1234",
		APISecret:         "from the dashboard",
		From:              "AcmeBank",
		StatusCallbackURL: "https://otp.example.com/v1/callbacks/vonage/vonage?t=Zx4pQ9rT2mL7vB1nK8sD",
	})
	if err != nil {
		panic(err)
	}
	router, err := sms.NewRouter([]*sms.Route{{Name: "vonage", Priority: 10, Channel: route}})
	if err != nil {
		panic(err)
	}
	_ = router

	mux := http.NewServeMux()
	mux.Handle("/v1/callbacks/vonage/vonage", route.CallbackHandler(recordReceipt, "vonage"))
}
