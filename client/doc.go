// Package client is the Go client of the otpd HTTP API v1: services and
// their keys, verifications (start, check, resend, cancel), their events
// and webhook deliveries, the operational endpoints and, on a server
// started with --dev, the dev inbox; and the receiving side of webhooks.
// It uses only the standard library.
//
// # Usage
//
// A business backend holds a service key and starts and checks
// verifications:
//
//	c := client.New("https://otpd.example.com", os.Getenv("OTPD_KEY"))
//
//	v, err := c.StartVerification(ctx, "svc_…", client.StartParams{
//		To:      "+447700900123",
//		Purpose: "login",
//	})
//	if err != nil {
//		return err
//	}
//	// ... later, with the code the user typed:
//	res, err := c.CheckVerification(ctx, v.ServiceID, v.ID, client.CheckParams{Code: code})
//	switch {
//	case client.IsCode(err, client.CodeVerificationClosed):
//		return errors.New("this code can no longer be used; ask for a new one")
//	case err != nil:
//		return err
//	case !res.Valid:
//		return fmt.Errorf("wrong code, %d attempts left", res.AttemptsRemaining)
//	}
//
// An operator with the admin token creates the service and its key:
//
//	admin := client.New(baseURL, adminToken)
//	svc, err := admin.CreateService(ctx, client.CreateServiceParams{
//		Name:     "Acme Bank",
//		Channels: []string{client.ChannelSMS, client.ChannelEmail},
//	})
//	key, err := admin.CreateKey(ctx, svc.ID, "backend")
//	// svc.WebhookSecret and key.Secret are shown only in these results.
//
// # Errors
//
// A non-2xx answer is an [*Error]. Its Code is the API's stable problem
// code (the Code constants); branch on it with [IsCode] or errors.As:
//
//	var e *client.Error
//	if errors.As(err, &e) && e.Code == client.CodeInvalidParameter {
//		log.Printf("bad %s: %s", e.Param, e.Detail)
//	}
//
// Transport failures are returned wrapped, and a canceled context as an
// error that matches context.Canceled or context.DeadlineExceeded.
//
// # Retries and idempotency
//
// Every call that creates something — CreateService, CreateKey,
// StartVerification and ResendVerification — and RedeliverEvent send an
// Idempotency-Key header, 128 random bits made for that call and reused by
// each of its retries, so that a retry never acts twice: the server
// answers a repeated key with the first response. Set the params' IdempotencyKey (or
// use [ContextWithIdempotencyKey]) to choose the key yourself, for example
// to carry it across process restarts.
//
// A call is retried, up to [WithMaxRetries] times (default 3):
//   - after 429 rate_limited, always, since the server did nothing: the
//     client waits for Retry-After, unless that is over a minute, in which
//     case the error is returned at once with RetryAfter set;
//   - after a transport error or 502, 503 or 504, only when repeating it is
//     safe: GET, DELETE, PATCH, and POSTs that carry an Idempotency-Key.
//     The wait grows from 100 ms with jitter, or is the server's
//     Retry-After.
//
// Waits end early when the context is done; a wait that would outlast the
// context's deadline is not started, and the last answer is returned.
// Healthz and Readyz are never retried.
//
// # Webhooks
//
// A service with a webhook_url gets every event of its verifications
// POSTed there, signed with its webhook_secret (shown once, by
// CreateService). A receiver verifies and decodes a request with
// [ParseWebhook]:
//
//	ev, err := client.ParseWebhook(secret, r, client.DefaultWebhookTolerance)
//	if err != nil {
//		http.Error(w, "invalid webhook", http.StatusBadRequest)
//		return
//	}
//
// Delivery is at least once and in order per verification: a non-2xx
// answer is retried with backoff (for 72 hours by default), so answer 2xx
// quickly, and skip an event whose ID was handled before. ListEvents,
// GetEvent and RedeliverEvent show what was sent and send it again.
package client
