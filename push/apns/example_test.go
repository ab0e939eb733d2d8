package apns_test

import (
	"os"

	"github.com/otpd/otpd/push/apns"
)

// A sender for a development build of the app: the sandbox server, and
// the ordinary interruption level for an app without the Time Sensitive
// Notifications capability.
func Example() {
	p8, err := os.ReadFile("AuthKey_ABC123DEFG.p8")
	if err != nil {
		panic(err)
	}
	s, err := apns.New(apns.Config{
		KeyID:             "ABC123DEFG",
		TeamID:            "DEF123GHIJ",
		Key:               p8,
		Topic:             "com.example.bank",
		Sandbox:           true,
		InterruptionLevel: apns.Active,
	})
	if err != nil {
		panic(err)
	}
	_ = s // push.Config.IOS
}
