package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/otpd/otpd/client"
)

// A backend starts a verification and checks the code the user typed.
func ExampleClient_StartVerification() {
	ctx := context.Background()
	c := client.New("http://127.0.0.1:8080", "otpd_sk_…")

	v, err := c.StartVerification(ctx, "svc_…", client.StartParams{
		To:      "+447700900123",
		Purpose: "login",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sent on", v.Channel, "until", v.ExpiresAt.Format(time.Kitchen))

	res, err := c.CheckVerification(ctx, v.ServiceID, v.ID, client.CheckParams{Code: "123456"})
	closed, isClosed := errors.AsType[*client.Error](err)
	switch {
	case isClosed && closed.Code == client.CodeVerificationClosed:
		fmt.Println("no longer pending:", closed.VerificationStatus) // expired, canceled, ...
	case err != nil:
		log.Fatal(err)
	case res.Valid:
		fmt.Println("approved")
	default:
		fmt.Println("wrong code;", res.AttemptsRemaining, "attempts left")
	}
}

// An operator creates a service and a key for its backend. Both secrets
// are shown only in these results.
func ExampleClient_CreateService() {
	ctx := context.Background()
	admin := client.New("http://127.0.0.1:8080", "otpd_admin_…")

	svc, err := admin.CreateService(ctx, client.CreateServiceParams{
		Name:                  "Acme Bank",
		Channels:              []string{client.ChannelSMS, client.ChannelEmail},
		ResendCooldownSeconds: new(0), // a pointer: 0 is not "unset"
	})
	if err != nil {
		log.Fatal(err)
	}
	key, err := admin.CreateKey(ctx, svc.ID, "backend")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(svc.ID, svc.WebhookSecret, key.Secret)
}

// PATCH changes only what is set: here it clears the webhook and allows
// every country.
func ExampleClient_UpdateService() {
	admin := client.New("http://127.0.0.1:8080", "otpd_admin_…")
	_, err := admin.UpdateService(context.Background(), "svc_…", client.UpdateServiceParams{
		WebhookURL:       new(""),    // sent as null
		AllowedCountries: []string{}, // sent as []
	})
	if err != nil {
		log.Fatal(err)
	}
}

// Pages are fetched until NextCursor is empty.
func ExampleClient_ListVerifications() {
	ctx := context.Background()
	c := client.New("http://127.0.0.1:8080", "otpd_sk_…")
	opts := client.ListVerificationsOptions{Status: client.StatusPending, Limit: 100}
	for {
		page, err := c.ListVerifications(ctx, "svc_…", opts)
		if err != nil {
			log.Fatal(err)
		}
		for _, v := range page.Data {
			fmt.Println(v.ID, v.To)
		}
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
}

// Problem details are in the *client.Error.
func ExampleError() {
	c := client.New("http://127.0.0.1:8080", "otpd_sk_…")
	_, err := c.StartVerification(context.Background(), "svc_…", client.StartParams{To: "not a number"})
	if e, ok := errors.AsType[*client.Error](err); ok && e.Code == client.CodeInvalidParameter {
		fmt.Printf("fix %s: %s\n", e.Param, e.Detail)
	}
}

// An Idempotency-Key that survives a restart of the caller: a retry after
// the crash replays the first answer rather than sending a second code.
func ExampleContextWithIdempotencyKey() {
	c := client.New("http://127.0.0.1:8080", "otpd_sk_…")
	ctx := client.ContextWithIdempotencyKey(context.Background(), "resend-order-8812-1")
	if _, err := c.ResendVerification(ctx, "svc_…", "ver_…", client.ChannelWhatsApp); err != nil {
		log.Fatal(err)
	}
}
