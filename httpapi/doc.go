// Package httpapi is otpd's HTTP transport: the v1 JSON API described in
// API.md (and by the OpenAPI document served at /openapi.json), problem
// documents for errors, bearer authentication, Idempotency-Key handling,
// and the operational endpoints /healthz, /readyz and /metrics.
//
// It also defines the JSON of webhook events, for the sender that lives
// elsewhere: [EventData] encodes a verification as an event's data (the
// engine's Config.EventData), and [EventBody] builds the exact bytes a
// webhook request carries and its signature covers.
//
// # Who may call what
//
// Every /v1 request carries "Authorization: Bearer <token>"; a missing or
// unknown token is 401 unauthorized before anything else is looked at.
//
//   - The admin token may call every endpoint.
//   - A service key may call the verification and event endpoints of its
//     own service only. Naming another service — in any endpoint,
//     including the admin-only ones under /v1/services/{sid} — is 404
//     not_found, exactly as if the service did not exist, so a key cannot
//     probe for other tenants. 403 is never used for this.
//   - A service key calling an admin-only endpoint that reveals nothing
//     about other tenants — POST/GET /v1/services, or
//     GET/PATCH/DELETE /v1/services/{sid} and its keys for its own service —
//     is 401 unauthorized with the detail "requires the admin token": the
//     credentials are valid but not the ones this endpoint needs.
//
// # Idempotency
//
// Every POST honours an Idempotency-Key header (at most 255 characters).
// The key is scoped to whoever asked — the admin, or a service (any key of
// it, so a client may rotate keys between retries) — and bound to a
// SHA-256 of the method, path and body. A retry with the same key and body
// within 24 hours gets the first response again, byte for byte, with
// "Idempotent-Replayed: true", and creates nothing. The same key with
// another body, or while the first request is still running, is 409
// idempotency_conflict. Server errors (5xx) and rate limiting (429) are not
// remembered: both mean "try again", and a remembered 429 would turn a
// cooldown into a 24-hour refusal.
//
// Most endpoints reserve the key in a write of its own, run, and complete
// the record in another. Starting a verification, the hottest write, does
// it in one (apiCreate, otpd.IdempotentWrite): the record is only read
// first, and the store writes it, complete, in the transaction that
// creates the verification. Of two requests with one key at once, the
// store lets one write; the other, having written nothing, is answered
// with the first's response instead of 409.
//
// # Errors
//
// Errors are RFC 9457 problem documents (application/problem+json) with a
// stable "code". The domain's error kinds map as follows:
//
//	otpd.ErrInvalid             400 invalid_parameter (with "param")
//	otpd.ErrUnauthorized        401 unauthorized (with WWW-Authenticate: Bearer)
//	otpd.ErrDestinationBlocked  403 destination_blocked
//	otpd.ErrNotFound            404 not_found
//	otpd.ErrClosed              409 verification_closed (with "verification_status")
//	otpd.ErrConflict            409 idempotency_conflict
//	otpd.ErrWebhookUnavailable  409 webhook_unavailable
//	otpd.ErrChannelUnavailable  422 channel_unavailable
//	otpd.ErrRateLimited         429 rate_limited (with Retry-After and "retry_after_seconds")
//	otpd.ErrOverloaded          503 overloaded (with Retry-After and "retry_after_seconds")
//	anything else               500 internal_error (logged, never shown)
//
// RFC 9457 reserves "status" for the HTTP status, so the verification's
// status that API.md asks a verification_closed problem to carry is in
// "verification_status" (and named in "detail").
package httpapi
