package twilio

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/otpd/otpd"
)

// maxCallbackBody bounds a status callback: Twilio sends a few hundred
// bytes of form fields.
const maxCallbackBody = 64 << 10

// Signature returns the X-Twilio-Signature of a form-encoded request to
// rawURL with the POST parameters params, as Twilio documents it: the full
// URL (scheme, host, path, query) followed by every parameter name and
// value, in the order of the names, HMAC-SHA1 keyed with the auth token,
// in standard base64. A name repeated with several values contributes each
// distinct value once, in sorted order, as Twilio's own libraries do.
func Signature(authToken, rawURL string, params url.Values) string {
	var b strings.Builder
	b.WriteString(rawURL)
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		values := slices.Clone(params[name])
		slices.Sort(values)
		for _, v := range slices.Compact(values) {
			b.WriteString(name)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// validSignature reports in constant time whether sig signs params for
// rawURL. Like Twilio's libraries it also accepts the URL with the
// scheme's default port added or removed, because Twilio has signed both
// forms.
func validSignature(authToken, rawURL, sig string, params url.Values) bool {
	if sig == "" {
		return false
	}
	ok := 0
	for _, u := range urlForms(rawURL) {
		want := Signature(authToken, u, params)
		ok |= subtle.ConstantTimeCompare([]byte(want), []byte(sig))
	}
	return ok == 1
}

// urlForms returns rawURL as it is, with the default port for its scheme,
// and without a port.
func urlForms(rawURL string) []string {
	forms := []string{rawURL}
	u, err := url.Parse(rawURL)
	if err != nil {
		return forms
	}
	host, port := u.Hostname(), u.Port()
	withPort, noPort := *u, *u
	if port == "" {
		p := "443"
		if u.Scheme == "http" {
			p = "80"
		}
		withPort.Host = net.JoinHostPort(host, p)
		forms = append(forms, withPort.String())
	} else {
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		noPort.Host = host
		forms = append(forms, noPort.String())
	}
	return forms
}

// CallbackHandler serves the status callbacks of messages this route sent
// (Config.StatusCallbackURL must be where it is mounted).
//
// Every request must carry a valid X-Twilio-Signature for
// StatusCallbackURL and its POST parameters, or it is refused with 403 and
// no detail; record is never called for it. Requests signed under a
// Webhooks Rule (X-Twilio-Webhooks-Signature-Settings, a shared key rather
// than the auth token) are refused too: otpd does not configure them. A
// body over 64 KiB is refused with 413 before anything else.
//
// Final statuses are recorded as a receipt with Ref routeName+":"+MessageSid:
// delivered (and read) as delivered, undelivered as undelivered, failed and
// canceled as failed, with the ErrorCode Twilio gives. Other statuses
// (queued, sending, sent, accepted, scheduled, ...) are acknowledged and
// ignored. The reply is 204 No Content when the receipt was recorded or
// needs no recording, including when record returns an error wrapping
// otpd.ErrNotFound (a message otpd does not know: retrying cannot help,
// so it is acknowledged; record is where the caller logs it). Any other
// error from record is a 500, so Twilio retries.
func (r *Route) CallbackHandler(record func(context.Context, otpd.Receipt) error, routeName string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		req.Body = http.MaxBytesReader(w, req.Body, maxCallbackBody)
		if err := req.ParseForm(); err != nil {
			if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		sig := req.Header.Get("X-Twilio-Signature")
		if r.cfg.StatusCallbackURL == "" || req.Header.Get("X-Twilio-Webhooks-Signature-Settings") != "" ||
			!validSignature(r.cfg.AuthToken, r.cfg.StatusCallbackURL, sig, req.PostForm) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		receipt, ok := parseStatus(req.PostForm)
		if !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		receipt.Ref = routeName + ":" + receipt.Ref
		if err := record(req.Context(), receipt); err != nil && !errors.Is(err, otpd.ErrNotFound) {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// parseStatus reads a status callback; ok is false for a status that is
// not final or a callback without a message sid. Ref is the bare sid.
func parseStatus(form url.Values) (r otpd.Receipt, ok bool) {
	sid := form.Get("MessageSid")
	if sid == "" {
		sid = form.Get("SmsSid") // the older name, still sent
	}
	status := form.Get("MessageStatus")
	if status == "" {
		status = form.Get("SmsStatus")
	}
	if sid == "" {
		return otpd.Receipt{}, false
	}
	switch status {
	case "delivered", "read":
		r.Status = otpd.MessageDelivered
	case "undelivered":
		r.Status = otpd.MessageUndelivered
	case "failed", "canceled":
		r.Status = otpd.MessageFailed
	default:
		return otpd.Receipt{}, false
	}
	r.Channel, r.Ref = otpd.ChannelSMS, sid
	if r.Status != otpd.MessageDelivered {
		r.Error = status
		if code := form.Get("ErrorCode"); code != "" {
			r.Error += " (" + sanitizeCode(code)
			if what := describe(code); what != "" {
				r.Error += " " + what
			}
			r.Error += ")"
		}
	}
	return r, true
}

// sanitizeCode keeps an error code short and printable: it is stored.
func sanitizeCode(s string) string {
	if len(s) > 12 {
		s = s[:12]
	}
	return strings.Map(func(r rune) rune {
		if r < '!' || r > '~' {
			return '?'
		}
		return r
	}, s)
}
