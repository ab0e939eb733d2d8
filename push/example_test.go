package push_test

import (
	"context"
	"log/slog"
	"os"

	"github.com/otpd/otpd/push"
	"github.com/otpd/otpd/push/apns"
	"github.com/otpd/otpd/push/fcm"
)

// The push channel with both providers. devices stands for the store,
// which implements push.Devices; the key files come from the Firebase
// console (a service account of the project) and Apple's developer
// account (an APNs key).
func Example() {
	var devices push.Devices

	sa, err := os.ReadFile("/etc/otpd/firebase-service-account.json")
	if err != nil {
		panic(err)
	}
	android, err := fcm.New(fcm.Config{ServiceAccountJSON: sa})
	if err != nil {
		panic(err)
	}
	p8, err := os.ReadFile("/etc/otpd/AuthKey_ABC123DEFG.p8")
	if err != nil {
		panic(err)
	}
	ios, err := apns.New(apns.Config{
		KeyID:  "ABC123DEFG",
		TeamID: "DEF123GHIJ",
		Key:    p8,
		Topic:  "com.example.bank",
	})
	if err != nil {
		panic(err)
	}
	ch, err := push.New(push.Config{Devices: devices, Android: android, IOS: ios})
	if err != nil {
		panic(err)
	}
	// ch is the engine's otpd.ChannelPush; each platform's state for
	// /readyz details:
	for platform, err := range ch.Readiness(context.Background()) {
		slog.Info("push platform", "platform", platform, "err", err)
	}
}

// A node that serves Android devices only: iOS devices' verifications
// fail at once with push.ErrPlatformNotConfigured, and the channel is
// ready.
func Example_androidOnly() {
	var devices push.Devices
	var serviceAccountJSON []byte
	android, err := fcm.New(fcm.Config{ServiceAccountJSON: serviceAccountJSON, ProjectID: "acme-otp"})
	if err != nil {
		panic(err)
	}
	ch, err := push.New(push.Config{Devices: devices, Android: android})
	if err != nil {
		panic(err)
	}
	_ = ch
}
