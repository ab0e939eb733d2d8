package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
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

// A receiver's webhook handler: verify the request, skip events already
// handled (delivery is at least once), act, and answer 2xx quickly — any
// other answer is retried. Here it is fed a request signed with
// SignWebhook, as a receiver's own tests would, then the same request
// again, and one that is forged.
func ExampleParseWebhook() {
	const secret = "whsec_…" // the service's webhook_secret, shown once by CreateService
	handled := map[string]bool{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := client.ParseWebhook(secret, r, client.DefaultWebhookTolerance)
		switch {
		case errors.Is(err, client.ErrWebhookSignature), errors.Is(err, client.ErrWebhookTimestamp):
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if handled[ev.ID] { // keep these in your database, with the work they record
			w.WriteHeader(http.StatusNoContent)
			return
		}
		handled[ev.ID] = true
		if ev.Type == client.EventVerificationApproved {
			fmt.Println("approved:", *ev.Data.Reference)
		}
		w.WriteHeader(http.StatusNoContent)
	})

	body := []byte(`{"id":"evt_06h1e…","type":"verification.approved","created_at":"2025-03-01T10:00:00.000Z",
		"data":{"id":"ver_06h1e…","service_id":"svc_06h1e…","status":"approved","reference":"order-8812"}}`)
	send := func(signature string) {
		r := httptest.NewRequest(http.MethodPost, "/otpd/events", bytes.NewReader(body))
		r.Header.Set(client.WebhookSignatureHeader, signature)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(w.Code)
	}
	send(client.SignWebhook(secret, time.Now(), body))
	send(client.SignWebhook(secret, time.Now(), body))
	send(client.SignWebhook("a guess", time.Now(), body))
	// Output:
	// approved: order-8812
	// 204
	// 204
	// 401
}

// Events whose delivery failed (the receiver was down for longer than the
// retry window) are sent again once it is back.
func ExampleClient_RedeliverEvent() {
	ctx := context.Background()
	c := client.New("http://127.0.0.1:8080", "otpd_sk_…")
	p := client.EventListParams{Since: time.Now().Add(-7 * 24 * time.Hour), Limit: 500}
	for {
		page, err := c.ListEvents(ctx, "svc_…", p)
		if err != nil {
			log.Fatal(err)
		}
		for _, ev := range page.Data {
			if ev.Delivery.Status == client.DeliveryFailed {
				if _, err := c.RedeliverEvent(ctx, "svc_…", ev.ID); err != nil {
					log.Fatal(err)
				}
			}
		}
		if page.NextCursor == "" {
			break
		}
		p.Cursor = page.NextCursor
	}
}
