package vonage

// How the SMS API's per-message status codes are classified (the
// "x-errors" of Vonage's SMS API definition; 0 is success).
//
// Permanent means no retry and no other route: the router stops at a
// permanent error, so only refusals about the destination or the text are
// permanent, where another route would fail too.
//
// Refusals that concern this account or its configuration are temporary,
// although retrying against Vonage alone cannot fix them: invalid
// credentials (4) or signature (14, 32), a suspended or empty account (8,
// 9), an account not enabled for HTTP (11), a sender id not allowed (15),
// demo-mode destinations (29), a bad callback URL (23). A temporary error
// sends the message to the next route at once and keeps it queued while
// the operator fixes the account, within the delivery queue's bounded
// retries (never past the code's expiry); a permanent one would fail the
// message on every route for one route's configuration. Unknown codes are
// temporary for the same reason.
var permanentStatus = map[string]bool{
	"2":  true, // missing parameters: otpd always sends them, so the text or number was empty
	"3":  true, // invalid parameters (the to number, say)
	"6":  true, // invalid message, e.g. an unrecognised number prefix
	"7":  true, // number barred
	"12": true, // message too long
	"33": true, // number de-activated
}

// statusText describes the SMS API's status codes, for stored message
// errors. Vonage's error-text is not kept: it may quote the number.
var statusText = map[string]string{
	"1":  "throttled",
	"2":  "missing parameters",
	"3":  "invalid parameters",
	"4":  "invalid credentials",
	"5":  "internal error",
	"6":  "invalid message",
	"7":  "number barred",
	"8":  "partner account barred",
	"9":  "partner quota violation (insufficient credit)",
	"10": "too many existing binds",
	"11": "account not enabled for HTTP",
	"12": "message too long",
	"14": "invalid signature",
	"15": "invalid sender address",
	"22": "invalid network code",
	"23": "invalid callback URL",
	"29": "non-whitelisted destination (demo account)",
	"32": "signature and API secret disallowed",
	"33": "number de-activated",
}

// dlrErrText describes the err-code of a delivery receipt (Vonage's "SMS
// Delivery Error Codes"); any code but 0 means the SMS did not arrive.
var dlrErrText = map[string]string{
	"0":  "delivered",
	"1":  "unknown",
	"2":  "absent subscriber - temporary",
	"3":  "absent subscriber - permanent",
	"4":  "call barred by user",
	"5":  "portability error",
	"6":  "anti-spam rejection",
	"7":  "handset busy",
	"8":  "network error",
	"9":  "illegal number",
	"10": "illegal message",
	"11": "unroutable",
	"12": "destination unreachable",
	"13": "subscriber age restriction",
	"14": "number blocked by carrier",
}
