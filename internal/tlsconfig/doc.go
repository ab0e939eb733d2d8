// Package tlsconfig holds otpd's TLS settings in one place, so that every
// connection gets the same, deliberate ones rather than each package's
// defaults:
//
//   - the API server's: a certificate and key loaded from files and
//     reloaded on SIGHUP without a restart (Certificate), TLS 1.2 at least
//     with forward-secret AEAD suites, HTTP/2 (Server);
//   - outbound connections' (SMTP, SMPP, HTTP providers, webhooks): the
//     system's roots plus any private CA the operator trusts (Roots), and
//     client configurations that verify the server against them (Client,
//     HTTPClient). Nothing here turns verification off.
package tlsconfig
