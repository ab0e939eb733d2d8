package fcm_test

import (
	"os"

	"github.com/otpd/otpd/push/fcm"
)

// A sender for the Firebase project of the service account's key file.
func Example() {
	sa, err := os.ReadFile("firebase-service-account.json")
	if err != nil {
		panic(err)
	}
	s, err := fcm.New(fcm.Config{ServiceAccountJSON: sa})
	if err != nil {
		panic(err)
	}
	_ = s // push.Config.Android
}
