package rcs

import (
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/otpd/otpd"
)

// maxEventBody bounds a webhook request. Events are a few hundred bytes;
// a user's reply to the agent (also posted to the webhook) is at most a
// few kilobytes of text or a file reference.
const maxEventBody = 1 << 20

// Signature returns the X-Goog-Signature RBM sends with a webhook message
// whose decoded message.data is data: base64 of HMAC-SHA512 keyed with
// the webhook's clientToken.
func Signature(clientToken string, data []byte) string {
	mac := hmac.New(sha512.New, []byte(clientToken))
	mac.Write(data)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// validSignature reports in constant time whether sig (base64, standard
// or URL alphabet, padded or not) is data's signature.
func validSignature(clientToken string, data []byte, sig string) bool {
	if clientToken == "" || sig == "" {
		return false
	}
	got, err := decodeBase64(sig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha512.New, []byte(clientToken))
	mac.Write(data)
	return hmac.Equal(mac.Sum(nil), got)
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// webhookRequest is either of the two bodies RBM posts to a webhook: the
// verification request the Developer Console sends when the webhook is
// configured, {"clientToken":"...","secret":"..."}, or a message in the
// Pub/Sub push envelope, {"message":{"data":"<base64>",...},...}.
type webhookRequest struct {
	ClientToken string `json:"clientToken"`
	Secret      string `json:"secret"`
	Message     *struct {
		Data string `json:"data"`
	} `json:"message"`
}

// Handler serves the agent's webhook (set it as the agent webhook URL in
// the Business Communications Developer Console) and passes delivery
// reports to onReceipt, which is engine.RecordReceipt or a wrapper of it.
//
// Authenticity, as RBM documents it: every message carries
// X-Goog-Signature, base64(HMAC-SHA512(clientToken, decoded
// message.data)); a message without a valid one is refused with 403 and
// onReceipt is not called. Only message.data is signed, so nothing else
// in the envelope is read. The console's verification request is
// answered with its secret (as text/plain) when its clientToken is
// Config.ClientToken, compared in constant time, and refused with 403
// otherwise.
//
// Events, from message.data:
//
//   - UserEvent DELIVERED and READ: delivered.
//   - ServerEvent TTL_EXPIRATION_REVOKED (the ttl passed and RBM withdrew
//     the message) and TTL_EXPIRATION_REVOKE_FAILED (the ttl passed and
//     the withdrawal failed, so the phone may still get a dead code):
//     undelivered, since the ttl is the code's and the code did not reach
//     the person while it was valid.
//
// The receipt's Ref is the RBM messageId (see MessageID). Everything else
// (IS_TYPING, the user's replies, events of another agent on a partner
// webhook) is acknowledged and ignored.
//
// RBM treats any answer but 200 as a failure and retries with backoff for
// up to 7 days, so: 200 when the receipt was recorded or needs no
// recording, including when onReceipt returns an error wrapping
// otpd.ErrNotFound (a message otpd does not know: retrying cannot help);
// 500 for any other error from onReceipt, so RBM retries; 400 for a body
// that is not one of the two forms; 403 as above.
func (c *Channel) Handler(onReceipt func(context.Context, otpd.Receipt) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEventBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var req webhookRequest
		if err := json.Unmarshal(body, &req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		switch {
		case req.Message != nil:
		case req.ClientToken != "" && req.Secret != "":
			c.verify(w, req.ClientToken, req.Secret)
			return
		default:
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		data, err := decodeBase64(req.Message.Data)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if !validSignature(c.cfg.ClientToken, data, r.Header.Get("X-Goog-Signature")) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		receipt, ok := parseEvent(data, c.cfg.AgentID)
		if !ok {
			w.WriteHeader(http.StatusOK)
			return
		}
		if err := onReceipt(r.Context(), receipt); err != nil && !errors.Is(err, otpd.ErrNotFound) {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// verify answers the console's webhook verification request: 200 with the
// secret as the body, if the clientToken is ours.
func (c *Channel) verify(w http.ResponseWriter, clientToken, secret string) {
	if c.cfg.ClientToken == "" || subtle.ConstantTimeCompare([]byte(clientToken), []byte(c.cfg.ClientToken)) != 1 {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, secret)
}

// event is the union of the UserEvent and ServerEvent fields the handler
// reads (the phone number is in senderPhoneNumber or phoneNumber; neither
// is needed).
type event struct {
	AgentID   string `json:"agentId"`
	MessageID string `json:"messageId"`
	EventType string `json:"eventType"`
}

// parseEvent reads a decoded message.data; ok is false for anything that
// is not a final report about one of our agent's messages.
func parseEvent(data []byte, agentID string) (otpd.Receipt, bool) {
	var e event
	if err := json.Unmarshal(data, &e); err != nil {
		return otpd.Receipt{}, false
	}
	if e.MessageID == "" || len(e.MessageID) > 128 || !printableASCII(e.MessageID) {
		return otpd.Receipt{}, false
	}
	if e.AgentID != "" && !sameAgent(e.AgentID, agentID) {
		return otpd.Receipt{}, false
	}
	r := otpd.Receipt{Channel: otpd.ChannelRCS, Ref: strings.ToLower(e.MessageID)}
	switch e.EventType {
	case "DELIVERED", "READ":
		r.Status = otpd.MessageDelivered
	case "TTL_EXPIRATION_REVOKED":
		r.Status, r.Error = otpd.MessageUndelivered, "TTL_EXPIRATION_REVOKED (not delivered before the code expired; withdrawn)"
	case "TTL_EXPIRATION_REVOKE_FAILED":
		r.Status, r.Error = otpd.MessageUndelivered, "TTL_EXPIRATION_REVOKE_FAILED (not delivered before the code expired; withdrawal failed)"
	default:
		return otpd.Receipt{}, false
	}
	return r, true
}

// sameAgent compares an event's agentId with the configured one. Events
// may name the agent with its "@rbm.goog" domain where the configuration
// does not (or the other way round), so only the part before '@' must
// match. A partner webhook gets every agent's events: others' are not
// recorded (each unknown receipt would be kept by the engine for a while).
func sameAgent(a, b string) bool {
	local := func(s string) string {
		if i := strings.IndexByte(s, '@'); i >= 0 {
			return s[:i]
		}
		return s
	}
	return strings.EqualFold(local(a), local(b))
}
