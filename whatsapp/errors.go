package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/otpd/otpd"
)

// How the Cloud API's refusals are classified. The Cloud API answers with
// a Graph API error object,
//
//	{"error": {"message": "(#131030) Recipient phone number not in allowed list",
//	           "type": "OAuthException", "code": 131030, "error_subcode": 2655007,
//	           "error_data": {"messaging_product": "whatsapp", "details": "..."},
//	           "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}}
//
// and Meta asks integrators to branch on code, not on the HTTP status or
// the title inside message
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes):
// throttling, for one, is a 400 with code 4, 80007 or 130429 as often as a
// 429.
//
// A kind says what the delivery queue does with a refusal:
//   - temporary: retried with backoff, within the code's lifetime;
//   - permanent: the message fails at once, and the verification falls
//     back to its next channel;
//   - account: permanent too, and Ready fails until a send succeeds,
//     because no message can go until the operator fixes the account
//     (token, permissions, payment, a locked or unregistered number).
//     Retrying within a code's few minutes cannot fix these, and failing
//     fast lets the fallback channel deliver the code.
//
// Codes not listed are temporary, except 200 to 299 (permissions: account)
// and 132000 to 132099 (template errors: permanent); so are refusals
// without a Graph error object, except 401 and 403 (account).
type kind int

const (
	temporary kind = iota
	permanentKind
	account
)

type codeInfo struct {
	kind kind
	what string // otpd's description, stored with the message
}

// codes are the Cloud API error codes otpd may meet when sending and in
// status notifications. Titles follow Meta's error code reference; the
// descriptions are ours, because Meta's message and details texts may
// quote the recipient.
var codes = map[string]codeInfo{
	// Authorization.
	"0":   {account, "authentication failed (check AccessToken)"},
	"3":   {account, "capability or permission missing (check the token's permissions)"},
	"10":  {account, "permission denied (check the token's permissions)"},
	"190": {account, "access token expired or invalid"},
	// Throttling.
	"4":      {temporary, "app API call rate limit reached"},
	"80007":  {temporary, "WhatsApp Business Account rate limit reached"},
	"130429": {temporary, "Cloud API message throughput reached"},
	"131048": {temporary, "spam rate limit hit: messages from this number are restricted"},
	"131056": {temporary, "pair rate limit hit: too many messages to this recipient"},
	// Integrity and account.
	"368":    {account, "temporarily blocked for policy violations"},
	"131031": {account, "business account locked"},
	"131042": {account, "business eligibility: payment issue"},
	"131045": {account, "incorrect certificate: the phone number is not registered properly"},
	"133010": {account, "phone number not registered on the Cloud API"},
	// Server side.
	"1":      {temporary, "API unknown error"},
	"2":      {temporary, "API service temporarily unavailable"},
	"131000": {temporary, "something went wrong"},
	"131016": {temporary, "service unavailable"},
	"133004": {temporary, "server temporarily unavailable"},
	// The request or the recipient.
	"100":    {permanentKind, "invalid parameter (or not a WhatsApp number)"},
	"131008": {permanentKind, "required parameter missing"},
	"131009": {permanentKind, "parameter value not valid"},
	"131021": {permanentKind, "recipient cannot be the sender"},
	"131026": {permanentKind, "message undeliverable (not on WhatsApp, old client or terms not accepted)"},
	"131030": {permanentKind, "recipient not in the test number's allowed list"},
	"131047": {permanentKind, "re-engagement message: more than 24 hours since the person last wrote"},
	"131049": {permanentKind, "not delivered to maintain healthy ecosystem engagement"},
	"131050": {permanentKind, "the person stopped marketing messages"},
	"131051": {permanentKind, "unsupported message type"},
	// Templates.
	"132000": {permanentKind, "template parameter count mismatch"},
	"132001": {permanentKind, "template does not exist in this language or is not approved"},
	"132005": {permanentKind, "template text too long with its parameters"},
	"132007": {permanentKind, "template format character policy violated"},
	"132012": {permanentKind, "template parameter format mismatch"},
	"132015": {permanentKind, "template paused for low quality"},
	"132016": {permanentKind, "template disabled"},
}

// classify returns what a refusal with this code (empty when the answer
// had no Graph error object) and HTTP status means.
func classify(code string, status int) codeInfo {
	if info, ok := codes[code]; ok {
		return info
	}
	if n, err := strconv.Atoi(code); err == nil {
		switch {
		case n >= 200 && n <= 299:
			return codeInfo{account, "API permission missing (check the token's permissions)"}
		case n >= 132000 && n <= 132099:
			return codeInfo{permanentKind, "template error"}
		}
	}
	if code == "" {
		switch status {
		case http.StatusUnauthorized:
			return codeInfo{account, "unauthorized (check AccessToken)"}
		case http.StatusForbidden:
			return codeInfo{account, "forbidden (check the token's permissions)"}
		case http.StatusTooManyRequests:
			return codeInfo{temporary, "too many requests"}
		}
	}
	return codeInfo{temporary, ""}
}

// describe returns otpd's description of a code, or "".
func describe(code string) string { return codes[code].what }

// graphError is the Graph API error object.
type graphError struct {
	Error struct {
		Type      string      `json:"type"`
		Code      json.Number `json:"code"`
		Subcode   json.Number `json:"error_subcode"`
		FBTraceID string      `json:"fbtrace_id"`
	} `json:"error"`
}

// responseError turns a refusal into an error for the delivery queue, and
// reports whether it concerns the account (see kind). The error carries
// the code, otpd's description, the subcode and Meta's fbtrace_id (for a
// support ticket), never Meta's message texts, which may quote the
// recipient.
func responseError(status int, body []byte) (*otpd.SendError, bool) {
	var e graphError
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	_ = dec.Decode(&e)
	code := sanitizeCode(e.Error.Code.String())
	info := classify(code, status)
	what := info.what
	if what == "" {
		what = "refused"
		if t := sanitizeText(e.Error.Type, 40); t != "" {
			what += " (" + t + ")"
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "whatsapp: HTTP %d: %s", status, what)
	if sub := sanitizeCode(e.Error.Subcode.String()); sub != "" {
		fmt.Fprintf(&b, ", subcode %s", sub)
	}
	if id := sanitizeText(e.Error.FBTraceID, 64); id != "" {
		fmt.Fprintf(&b, ", fbtrace_id %s", id)
	}
	if code == "" {
		code = strconv.Itoa(status)
	}
	return &otpd.SendError{
		Permanent: info.kind != temporary,
		Code:      code,
		Err:       errors.New(b.String()),
	}, info.kind == account
}

// missingTranslation reports whether err says the template does not exist
// in the language asked for.
func missingTranslation(err error) bool {
	var se *otpd.SendError
	return errors.As(err, &se) && se.Code == "132001"
}

// sanitizeCode returns s when it is a short decimal code, else "".
func sanitizeCode(s string) string {
	if len(s) > 12 || !allDigits(s) {
		return ""
	}
	return s
}

// sanitizeText keeps at most n runes of s, with control characters
// replaced: it is stored and shown.
func sanitizeText(s string, n int) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		if n == 0 {
			break
		}
		n--
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\uFFFD' {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
