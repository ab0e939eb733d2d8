// Package email is the e-mail channel: a [Sender] delivers otpd's messages
// through an SMTP submission server (a mail provider's, or the
// organisation's own relay) and is an otpd.Channel.
//
// # Configuration
//
// A [Config] names the server, the TLS mode, the login and the sender
// address; [ParseURL] reads one from a URL:
//
//	smtp://user:password@smtp.example.com:587?from=otp@acme.example     STARTTLS
//	smtps://user:password@smtp.example.com:465?from=otp@acme.example    implicit TLS
//	smtp://127.0.0.1:1025?tls=none&from=otp@acme.example                loopback only
//
// TLS is always required, and the certificate always verified against the
// host name (with Config.RootCAs for a private CA), except for a server on
// the same machine with tls=none: a local relay, or a development mail
// catcher. The login is AUTH PLAIN or LOGIN, whichever the server offers
// unless Config.Auth picks one; both need the TLS around them.
//
// # Messages
//
// Package message renders the subject, the plain text and the HTML (the
// code large, the brand, the expiry, the "didn't request this?" line) in
// the person's language; this package turns them into MIME with
// github.com/wneessen/go-mail, never by hand:
//
//	From: Acme Bank <otp@acme.example>          the service's brand, encoded as needed
//	To: <ana@example.com>
//	Subject: =?UTF-8?q?Ihr_Best=C3=A4tigungscode...?=
//	Message-ID: <msg_01j9...@acme.example>      from otpd's message id: the same on a resend
//	Date: Mon, 06 Jan 2025 10:00:00 +0000
//	Content-Language: de
//	Auto-Submitted: auto-generated              no vacation replies
//	X-Otpd-Message-Id: msg_01j9...
//	Content-Type: multipart/alternative         text/plain, then text/html; UTF-8, quoted-printable
//
// Because the Message-ID is derived from otpd's message id, a message sent
// again after a crash or a lost reply carries the same one, and mail
// systems that deduplicate by Message-ID (Gmail does) show it once. The Message-ID is the send's provider
// id. SMTP reports no delivery, so e-mail messages stay "sent"; a bounce
// comes later by mail to the envelope sender, Config.From.
//
// # Connections
//
// A Sender keeps up to Config.MaxConns connections open and logged in,
// reuses them message after message, and closes one that has been idle
// for half a minute. A connection the server has closed meanwhile is
// noticed at MAIL FROM, before anything of the message was sent, and the
// message goes over a new one. Context deadlines and cancellation cut a
// Send short at any step, not only while connecting.
//
// # Errors
//
// Only a 5xx reply to the recipient (550 user unknown) or to the message
// itself (554 rejected as spam) is a permanent *otpd.SendError: retrying
// cannot help. 4xx replies, broken connections, timeouts, untrusted
// certificates, a refused login and a refused sender address are
// temporary, so messages wait while the operator fixes the cause; [ErrAuth]
// marks a refused login. Errors carry the server's reply code and text,
// with the recipient's address masked, and never the password. Ready
// reports the last failure to connect or log in for a minute after it,
// without connecting itself.
package email
