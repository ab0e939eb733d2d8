// Package securitytest is otpd's security suite: black-box tests that run
// the built binary and attack it through its public API the way the threat
// model in docs/SECURITY.md says attackers do — guessing codes, flooding
// destinations, probing other tenants — and then look where secrets must
// not be: the database files and the logs.
//
// The tests need the go command (to build the binary) and, for the
// PostgreSQL cases, a server at 127.0.0.1:5432 (OTPD_TEST_POSTGRES_DSN to
// use another); without one they skip, or fail when CI=true.
package securitytest
