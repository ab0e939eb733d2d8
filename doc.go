// Package otpd is the domain of the otpd one-time-password verification
// platform: services (tenants) and their policy, verifications and their
// status machine, code derivation and hashing, and the interfaces that
// stores and delivery channels implement.
//
// The package knows nothing of HTTP or SQL. Transports (package httpapi),
// stores (package sqlite) and channels (package devinbox and the channel
// packages) depend on it, never the reverse.
//
// # Codes
//
// A verification's code is never stored. It is derived on demand from a
// server key (see [Keyring]), the verification's id and a random salt, with
// HMAC-SHA-256 and rejection sampling so that every code is equally likely.
// What is stored is a keyed hash of the code bound to the verification and
// to its transaction (amount, currency, payee), so a check compares hashes in
// constant time and a code for one transaction is useless for another.
// Deriving rather than drawing a fresh code lets a resend, or a send on
// another channel, carry the same code, so a late SMS still works.
package otpd
