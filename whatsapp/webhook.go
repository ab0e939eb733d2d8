package whatsapp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/otpd/otpd"
)

// maxWebhookBody bounds a notification. Meta batches several changes in
// one, but a batch of statuses is a few kilobytes.
const maxWebhookBody = 1 << 20

// maxRefLen bounds a wamid taken from a notification (they are about 60
// characters): anything longer is not one of ours.
const maxRefLen = 256

// signaturePrefix starts every X-Hub-Signature-256 value.
const signaturePrefix = "sha256="

// Signature returns the X-Hub-Signature-256 value Meta sends with a
// notification body: "sha256=" and the lowercase hex HMAC-SHA256 of the
// raw body, keyed with the app secret.
func Signature(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports in constant time whether header, an
// X-Hub-Signature-256 value, signs body with appSecret. The hex digits
// may be in either case; an empty secret verifies nothing.
func VerifySignature(appSecret string, body []byte, header string) bool {
	got, ok := parseSignature(header)
	if !ok || appSecret == "" {
		return false
	}
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// parseSignature returns the digest in "sha256=<64 hex digits>".
func parseSignature(header string) ([]byte, bool) {
	h := strings.TrimSpace(header)
	if len(h) != len(signaturePrefix)+2*sha256.Size || !strings.EqualFold(h[:len(signaturePrefix)], signaturePrefix) {
		return nil, false
	}
	sum, err := hex.DecodeString(h[len(signaturePrefix):])
	if err != nil {
		return nil, false
	}
	return sum, true
}

// Handler serves the webhook Meta calls for this app (the callback URL
// in the app dashboard, subscribed to the messages field), with onReceipt
// recording what became of each message (engine.RecordReceipt).
//
// GET is Meta's verification request: with hub.mode=subscribe and a
// hub.verify_token equal to Config.VerifyToken, the answer is 200 with
// hub.challenge as plain text; anything else is 403.
//
// POST is a notification. Without an X-Hub-Signature-256 header it is
// refused with 401, with a signature that does not match the raw body
// under Config.AppSecret (or without an AppSecret) with 403, over 1 MiB
// with 413; onReceipt is not called. Each status in
// entry[].changes[].value.statuses[] with a final status becomes a
// receipt with Ref the wamid: delivered and read are delivered (Meta may
// send read without delivered), failed is failed with the first error's
// code and title. sent and other statuses, incoming messages and unknown
// fields are acknowledged and ignored. The answer is 200, also when
// onReceipt returns an error wrapping otpd.ErrNotFound (a message otpd
// does not know, or whose send is not recorded yet: logged at debug
// level); any other error from onReceipt is a 500, so that Meta retries
// the notification (receipts for messages already final are ignored).
// A signed body that is not JSON is a 400.
func (c *Channel) Handler(onReceipt func(context.Context, otpd.Receipt) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			c.verifySubscription(w, r)
		case http.MethodPost:
			c.notification(w, r, onReceipt)
		default:
			w.Header().Set("Allow", "GET, POST")
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
}

// verifySubscription answers Meta's GET verification request.
func (c *Channel) verifySubscription(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	challenge := q.Get("hub.challenge")
	if c.cfg.VerifyToken == "" || q.Get("hub.mode") != "subscribe" || challenge == "" ||
		subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(c.cfg.VerifyToken)) != 1 {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = io.WriteString(w, challenge)
}

// notification verifies and records one POSTed notification.
func (c *Channel) notification(w http.ResponseWriter, r *http.Request, onReceipt func(context.Context, otpd.Receipt) error) {
	sig := r.Header.Get("X-Hub-Signature-256")
	if sig == "" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if !VerifySignature(c.cfg.AppSecret, body, sig) {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	receipts, err := parseNotification(body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	failed := false
	for _, rc := range receipts {
		err := onReceipt(ctx, rc)
		switch {
		case err == nil:
		case errors.Is(err, otpd.ErrNotFound):
			if c.cfg.Logger != nil {
				c.cfg.Logger.DebugContext(ctx, "whatsapp: status for an unknown message", "ref", rc.Ref, "status", string(rc.Status))
			}
		default:
			// Keep going: the rest may be recorded now, and those
			// recorded are ignored when Meta sends the batch again.
			failed = true
		}
	}
	if failed {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// notificationBody is the part of a messages webhook otpd reads
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status/).
type notificationBody struct {
	Entry []struct {
		Changes []struct {
			Value struct {
				Statuses []struct {
					ID     string `json:"id"`
					Status string `json:"status"`
					Errors []struct {
						Code  json.RawMessage `json:"code"`
						Title string          `json:"title"`
					} `json:"errors"`
				} `json:"statuses"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

// parseNotification returns the receipts in a messages webhook body, in
// their order. It fails only for a body that is not a JSON object of the
// documented shape.
func parseNotification(body []byte) ([]otpd.Receipt, error) {
	var n notificationBody
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, err
	}
	var out []otpd.Receipt
	for _, e := range n.Entry {
		for _, ch := range e.Changes {
			for _, s := range ch.Value.Statuses {
				if s.ID == "" || len(s.ID) > maxRefLen {
					continue
				}
				r := otpd.Receipt{Channel: otpd.ChannelWhatsApp, Ref: s.ID}
				switch s.Status {
				case "delivered", "read":
					r.Status = otpd.MessageDelivered
				case "failed":
					r.Status = otpd.MessageFailed
					r.Error = "failed"
					if len(s.Errors) > 0 {
						r.Error += " (" + errorSummary(rawCode(s.Errors[0].Code), s.Errors[0].Title) + ")"
					}
				default: // sent, and statuses otpd has no use for
					continue
				}
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// errorSummary is "code title" for a failed status: Meta's title, which
// names the error without quoting the recipient, or otpd's description.
func errorSummary(code, title string) string {
	title = sanitizeText(title, 100)
	if title == "" {
		title = describe(code)
	}
	switch {
	case code == "":
		if title == "" {
			return "no error code"
		}
		return title
	case title == "":
		return code
	}
	return code + " " + title
}

// rawCode reads an error code given as a JSON number or string; "" when
// it is neither a short decimal.
func rawCode(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return sanitizeCode(s)
}
