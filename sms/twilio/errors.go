package twilio

// How Twilio's refusals are classified (https://www.twilio.com/docs/api/errors).
//
// Permanent means no retry and no other route: the router stops at a
// permanent error, so only refusals about the destination or the text
// itself are permanent, where another route would fail too (or, for an
// opt-out, must not be used to get around the person's STOP).
//
// Everything about this account or route is temporary, even though
// retrying against Twilio alone cannot fix it: bad credentials (20003), a
// country not enabled (21408), a sender Twilio will not use for that
// destination (21606, 21612), a trial account's unverified numbers (21608).
// A temporary error sends the message to the next route at once and keeps
// it queued while the operator fixes the account, within the bounded
// retries of the delivery queue (never past the code's expiry); a
// permanent one would fail the message on every route for a configuration
// problem on one. Codes not listed here are temporary for the same reason.
var permanentCodes = map[string]bool{
	"21211": true, // invalid 'To' phone number
	"21602": true, // message body is required
	"21604": true, // 'To' phone number is required
	"21610": true, // recipient unsubscribed (replied STOP)
	"21614": true, // 'To' is not a valid mobile number
	"21617": true, // body exceeds the 1600 character limit
	"21635": true, // 'To' is a landline
}

// descriptions name the codes otpd may meet when creating messages and in
// status callbacks, for stored message errors (Twilio's own message texts
// are not kept: they may quote the destination).
var descriptions = map[string]string{
	"20003": "authentication failed (check AccountSID and AuthToken)",
	"20404": "resource not found (check AccountSID)",
	"20429": "too many requests",
	"21211": "invalid To number",
	"21212": "invalid From number",
	"21408": "sending to this region is not enabled on the account",
	"21602": "message body is required",
	"21604": "To number is required",
	"21606": "From is not a valid message-capable sender for this destination",
	"21608": "trial account: To number is not verified",
	"21610": "recipient has unsubscribed (STOP)",
	"21612": "To number is not reachable from this sender",
	"21614": "To number is not a valid mobile number",
	"21617": "message body exceeds 1600 characters",
	"21624": "invalid validity period",
	"21635": "To number is a landline",
	"30001": "queue overflow",
	"30002": "account suspended",
	"30003": "unreachable destination handset",
	"30004": "message blocked",
	"30005": "unknown destination handset",
	"30006": "landline or unreachable carrier",
	"30007": "message filtered by the carrier",
	"30008": "unknown error",
	"30034": "message from an unregistered number",
	"30036": "validity period expired",
	"429":   "too many requests",
	"500":   "server error",
	"502":   "bad gateway",
	"503":   "service unavailable",
	"504":   "gateway timeout",
}

func describe(code string) string { return descriptions[code] }
