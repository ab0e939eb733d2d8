package apns

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/push"
)

// How APNs refusals are classified (Apple's "Handling notification
// responses from APNs": the :status and the reason in the JSON body).
//
// Dead tokens: the token will never work for this app and environment.
// The send fails for good and the device is marked dead. BadDeviceToken
// is also what a sandbox token gets from the production server and the
// reverse, and DeviceTokenNotForTopic what every token gets when Topic is
// wrong: a misconfigured Sandbox or Topic marks every iOS device that is
// sent to dead, until its app registers again. Apple advises against
// retrying both either way.
//
// Temporary: 429 (too many pushes to this device, or provider tokens
// replaced too often), 5xx, IdleTimeout (the connection sat idle; a new
// one is made), and ExpiredProviderToken, after which a new provider
// token is signed for the retry.
//
// Everything else is permanent with Apple's reason: a bad key id or team
// id (InvalidProviderToken), a topic the key may not push to
// (TopicDisallowed, BadTopic), a payload too large, and so on. Retrying
// cannot help until the operator changes the configuration.
var deadReasons = map[string]bool{
	"BadDeviceToken":         true,
	"DeviceTokenNotForTopic": true,
	"Unregistered":           true,
	"ExpiredToken":           true,
}

var temporaryReasons = map[string]bool{
	"IdleTimeout":          true,
	"ExpiredProviderToken": true,
}

// descriptions are otpd's words for Apple's reasons, in stored errors.
var descriptions = map[string]string{
	"BadCollapseId":               "the apns-collapse-id is too long",
	"BadDeviceToken":              "the device token is malformed or for the other environment (sandbox/production)",
	"BadExpirationDate":           "the apns-expiration value is bad",
	"BadMessageId":                "the apns-id value is bad",
	"BadPriority":                 "the apns-priority value is bad",
	"BadTopic":                    "the apns-topic is invalid",
	"DeviceTokenNotForTopic":      "the device token is not for this topic (bundle id)",
	"DuplicateHeaders":            "a header was repeated",
	"IdleTimeout":                 "the connection was idle too long",
	"InvalidPushType":             "the apns-push-type is invalid",
	"MissingDeviceToken":          "the device token is missing from the path",
	"MissingTopic":                "the apns-topic header is missing",
	"PayloadEmpty":                "the payload is empty",
	"TopicDisallowed":             "pushing to this topic is not allowed",
	"BadCertificate":              "the certificate is bad",
	"BadCertificateEnvironment":   "the certificate is for the other environment",
	"ExpiredProviderToken":        "the provider token is stale; a new one is signed",
	"Forbidden":                   "the action is not allowed",
	"InvalidProviderToken":        "the provider token is invalid (check KeyID, TeamID and the key)",
	"MissingProviderToken":        "no provider token was sent",
	"UnrelatedKeyIdInToken":       "the key id in the provider token is not related to this topic",
	"BadPath":                     "the request path is bad",
	"MethodNotAllowed":            "the method is not POST",
	"ExpiredToken":                "the device token has expired",
	"Unregistered":                "the device token is no longer active for the topic",
	"PayloadTooLarge":             "the payload is too large",
	"TooManyProviderTokenUpdates": "the provider token was replaced too often",
	"TooManyRequests":             "too many pushes to this device token",
	"InternalServerError":         "APNs internal error",
	"ServiceUnavailable":          "APNs is unavailable",
	"Shutdown":                    "the APNs server is shutting down",
}

// errorBody is the JSON body of a refusal. timestamp (milliseconds since
// the epoch, with 410) says when APNs last confirmed the token invalid.
type errorBody struct {
	Reason    string `json:"reason"`
	Timestamp int64  `json:"timestamp"`
}

// parseError reads a refusal's body. A body that is not the documented
// JSON (a proxy's HTML page) gives an empty reason. The reason is
// cleaned for an error message.
func parseError(body []byte) errorBody {
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		return errorBody{}
	}
	e.Reason = printable(e.Reason, 64)
	return e
}

// responseError turns a refusal into an error for the delivery queue.
func responseError(status int, body []byte) error {
	e := parseError(body)
	code := e.Reason
	if code == "" {
		code = strconv.Itoa(status)
	}
	dead := deadReasons[e.Reason] || status == http.StatusGone
	temporary := !dead && (status == http.StatusTooManyRequests || status >= 500 || temporaryReasons[e.Reason])
	detail := descriptions[e.Reason]
	if detail == "" {
		detail = strings.ToLower(http.StatusText(status))
	}
	return &otpd.SendError{
		Permanent: !temporary,
		Code:      code,
		Err: &push.ProviderError{
			Provider:  "apns",
			Status:    status,
			Reason:    e.Reason,
			Detail:    detail,
			DeadToken: dead,
		},
	}
}

// printable shortens s to n bytes and replaces all but printable ASCII,
// for a value that ends up in an error message (Apple's reasons are
// ASCII identifiers).
func printable(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '?'
		}
		return r
	}, s)
}
