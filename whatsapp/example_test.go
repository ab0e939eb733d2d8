package whatsapp_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/whatsapp"
)

// A WhatsApp channel with a template translated into three languages, one
// service with its own template, and the webhook mounted where the app
// dashboard's callback URL points. recordReceipt stands for
// engine.RecordReceipt.
func Example() {
	var recordReceipt func(context.Context, otpd.Receipt) error
	ch, err := whatsapp.New(whatsapp.Config{
		PhoneNumberID: "106540352242922",
		AccessToken:   "from a system user",
		AppSecret:     "the app's secret",
		VerifyToken:   "the verify token entered with the callback URL",
		Template:      "otp_copy_code",
		Language:      "en",
		Languages:     []string{"en", "en_US", "pt_BR"},
		TemplateTTL:   5 * time.Minute, // the template's message_send_ttl_seconds
		Templates: func(serviceID string) (string, string, bool) {
			if serviceID == "svc_acme_de" {
				return "acme_otp", "de", true
			}
			return "", "", false
		},
		Logger: slog.Default(),
	})
	if err != nil {
		panic(err)
	}
	// Services whose codes live shorter than the template's TTL risk
	// delivering dead codes.
	fmt.Println(ch.CheckTemplateTTL(10*time.Minute) == nil, ch.CheckTemplateTTL(2*time.Minute) != nil)

	// GET for Meta's verification of the callback URL, POST for
	// notifications. Statuses of messages otpd does not know
	// (otpd.ErrNotFound) are logged at debug level and acknowledged.
	mux := http.NewServeMux()
	mux.Handle("/v1/callbacks/whatsapp", ch.Handler(recordReceipt))
	// Output: true true
}
