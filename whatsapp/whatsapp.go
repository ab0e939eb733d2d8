package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/otpd/otpd"
)

// Defaults for Config.
const (
	// DefaultBaseURL is Meta's Graph API host.
	DefaultBaseURL = "https://graph.facebook.com"
	// DefaultAPIVersion is the Graph API version requests name when
	// Config.APIVersion is empty. Graph API versions stay usable for about
	// two years after release; move it forward with Meta's changelog.
	DefaultAPIVersion = "v24.0"
	// DefaultLanguage is the template language when Config.Language is
	// empty.
	DefaultLanguage = "en"
	// DefaultTimeout bounds one request to the messages endpoint when
	// Config.Timeout is 0.
	DefaultTimeout = 10 * time.Second
	// DefaultTemplateTTL is the time-to-live Meta gives an authentication
	// template created since 23 October 2024 without
	// message_send_ttl_seconds (older ones keep 30 days).
	DefaultTemplateTTL = 10 * time.Minute
	// MinTemplateTTL and MaxTemplateTTL bound message_send_ttl_seconds for
	// authentication templates (30 to 900 seconds).
	MinTemplateTTL = 30 * time.Second
	MaxTemplateTTL = 15 * time.Minute
)

// maxResponse bounds how much of a response is read: a send's answer is a
// few hundred bytes.
const maxResponse = 1 << 20

// TemplateFunc returns the template a service's messages use instead of
// Config.Template and Config.Language. ok false, or an empty name, keeps
// the configured template; an empty lang maps the message's locale as for
// the configured template (see the package documentation), while a
// non-empty lang is sent as it is.
type TemplateFunc func(serviceID string) (name, lang string, ok bool)

// Config is how a channel reaches one WhatsApp business phone number
// through the Cloud API.
type Config struct {
	// PhoneNumberID is the business phone number's id (not the number
	// itself), from the app dashboard's WhatsApp > API Setup.
	PhoneNumberID string
	// AccessToken authenticates every request (Authorization: Bearer); a
	// system user token with the whatsapp_business_messaging permission.
	AccessToken string
	// AppSecret is the Meta app's secret, the key of the
	// X-Hub-Signature-256 every webhook notification carries. Without it
	// the Handler refuses every notification.
	AppSecret string
	// VerifyToken is the string entered as "Verify token" with the
	// callback URL in the app dashboard; the Handler answers Meta's
	// verification request only when it matches. Without it the Handler
	// refuses verification.
	VerifyToken string
	// APIVersion is the Graph API version, e.g. "v24.0";
	// DefaultAPIVersion when empty.
	APIVersion string
	// BaseURL is the API's scheme and host; DefaultBaseURL when empty.
	// Tests point it at a local server.
	BaseURL string
	// Template is the name of the approved authentication template with a
	// copy-code or one-tap button that messages use.
	Template string
	// Language is the template language used when a message's locale maps
	// to none of the template's languages; DefaultLanguage when empty.
	Language string
	// Languages lists the languages the template has approved
	// translations in (codes as WhatsApp spells them: en, en_US, pt_BR).
	// A message's locale is mapped to one of them. When empty, locales are
	// mapped to any language WhatsApp supports, and a translation the
	// template lacks costs one extra request (see the package
	// documentation).
	Languages []string
	// Templates, when set, gives per-service templates.
	Templates TemplateFunc
	// TemplateTTL is the message_send_ttl_seconds set on the template (and
	// on every per-service template): how long WhatsApp keeps trying to
	// deliver. DefaultTemplateTTL when 0. It cannot be set per message;
	// see CheckTemplateTTL.
	TemplateTTL time.Duration
	// HTTPClient sends the requests; a client of its own when nil.
	HTTPClient *http.Client
	// Timeout bounds each request; DefaultTimeout when 0.
	Timeout time.Duration
	// Logger receives debug records about webhook notifications for
	// messages otpd does not know; nothing is logged when nil.
	Logger *slog.Logger
}

// withDefaults returns c with the defaults filled in.
func (c Config) withDefaults() Config {
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.Language == "" {
		c.Language = DefaultLanguage
	}
	if c.TemplateTTL == 0 {
		c.TemplateTTL = DefaultTemplateTTL
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	return c
}

var (
	apiVersionRe = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)
	// Template names are lowercase letters, digits and underscores, at
	// most 512 characters.
	templateNameRe = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	// Template language codes: a language, optionally with a region, as
	// WhatsApp writes them (en, fil, en_US, prs_AF).
	languageRe = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)
)

// Validate reports the first problem with c, as New would. Error messages
// never contain the access token or the app secret.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.PhoneNumberID == "" || len(c.PhoneNumberID) > 32 || !allDigits(c.PhoneNumberID) {
		return errors.New("whatsapp: PhoneNumberID must be the phone number's numeric id")
	}
	if c.AccessToken == "" {
		return errors.New("whatsapp: AccessToken is required")
	}
	if !apiVersionRe.MatchString(c.APIVersion) {
		return fmt.Errorf("whatsapp: APIVersion %q: want a Graph API version such as %s", c.APIVersion, DefaultAPIVersion)
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("whatsapp: BaseURL must be a scheme and host such as https://graph.facebook.com")
	}
	if !templateNameRe.MatchString(c.Template) {
		return fmt.Errorf("whatsapp: Template %q: want a template name (lowercase letters, digits and underscores)", c.Template)
	}
	if !languageRe.MatchString(c.Language) {
		return fmt.Errorf("whatsapp: Language %q: want a WhatsApp language code such as en or pt_BR", c.Language)
	}
	for _, l := range c.Languages {
		if !languageRe.MatchString(l) {
			return fmt.Errorf("whatsapp: Languages: %q: want a WhatsApp language code such as en or pt_BR", l)
		}
	}
	if len(c.Languages) > 0 && !slices.Contains(c.Languages, c.Language) {
		return fmt.Errorf("whatsapp: Language %q must be one of Languages", c.Language)
	}
	if c.TemplateTTL < MinTemplateTTL || c.TemplateTTL > MaxTemplateTTL {
		return fmt.Errorf("whatsapp: TemplateTTL %v: an authentication template's time-to-live is %v to %v", c.TemplateTTL, MinTemplateTTL, MaxTemplateTTL)
	}
	if c.Timeout < 0 {
		return errors.New("whatsapp: Timeout must not be negative")
	}
	return nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Channel sends verification codes as WhatsApp authentication template
// messages over the Cloud API, and serves the webhook that reports what
// became of them (Handler). It is an otpd.Channel, safe for concurrent use.
type Channel struct {
	cfg       Config
	endpoint  string
	languages []string // what locales are mapped to
	now       func() time.Time
	// blocked holds the refusal that shows this account cannot send (bad
	// token, missing permission, locked account), for Ready; a later
	// successful send clears it.
	blocked atomic.Pointer[otpd.SendError]
}

var _ otpd.Channel = (*Channel)(nil)

// New returns a channel for cfg, with defaults filled in.
func New(cfg Config) (*Channel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.Languages = slices.Clone(cfg.Languages)
	langs := cfg.Languages
	if len(langs) == 0 {
		langs = supportedLanguages
	}
	endpoint := strings.TrimSuffix(cfg.BaseURL, "/") + "/" + cfg.APIVersion + "/" + cfg.PhoneNumberID + "/messages"
	return &Channel{cfg: cfg, endpoint: endpoint, languages: langs, now: time.Now}, nil
}

// Ready reports whether the channel can send. It does not call Meta (the
// Graph API counts every call against the app's hourly limit, error 4);
// instead it returns the last refusal that concerned the account rather
// than a message (an invalid or expired access token, a missing
// permission, a locked or unpaid account), until a send succeeds again.
func (c *Channel) Ready(context.Context) error {
	if se := c.blocked.Load(); se != nil {
		return fmt.Errorf("the account was refused at the last send: %w", se)
	}
	return nil
}

// CheckTemplateTTL reports whether the template's time-to-live
// (Config.TemplateTTL) fits codes that stay valid for codeTTL, as Meta
// recommends: a TTL longer than the code's lifetime lets WhatsApp deliver
// a message whose code is dead. The Cloud API takes no per-message TTL for
// template messages, so the wiring calls this with each service's code
// lifetime, and the fix is on the template (message_send_ttl_seconds).
func (c *Channel) CheckTemplateTTL(codeTTL time.Duration) error {
	if c.cfg.TemplateTTL > codeTTL {
		return fmt.Errorf("whatsapp: template time-to-live %v is longer than the code lifetime %v: set the template's message_send_ttl_seconds to at most %d",
			c.cfg.TemplateTTL, codeTTL, max(int64(codeTTL/time.Second), int64(MinTemplateTTL/time.Second)))
	}
	return nil
}

var _ otpd.ServiceChecker = (*Channel)(nil)

// CheckService implements otpd.ServiceChecker: a service that sends on
// WhatsApp (whatsapp among its channels, or a whatsapp_template of its own,
// which Config.TemplateTTL covers too) must keep its codes valid at least
// as long as WhatsApp may hold a message (CheckTemplateTTL), or a message
// delivered late would carry a dead code. The error names ttl_seconds,
// the setting the service can change; the template's own TTL is fixed on
// the template in Meta.
func (c *Channel) CheckService(svc *otpd.Service) error {
	if !slices.Contains(svc.Channels, otpd.ChannelWhatsApp) && svc.WhatsAppTemplate == "" {
		return nil
	}
	if c.CheckTemplateTTL(svc.Policy.TTL) == nil {
		return nil
	}
	return &otpd.Error{Kind: otpd.ErrInvalid, Param: "ttl_seconds", Detail: fmt.Sprintf(
		"must be at least %d for a service that sends on WhatsApp: WhatsApp may deliver a message for up to the template's time-to-live (message_send_ttl_seconds, whatsapp.template_ttl on this server), and a code must still work when it arrives",
		int64(c.cfg.TemplateTTL/time.Second))}
}

// Send sends msg.Code as an authentication template message to msg.To and
// returns the message's wamid, which its status notifications quote.
//
// The template is Config.Template, or the service's own (Config.Templates);
// its language is mapped from msg.Locale (see the package documentation).
// When WhatsApp answers that the template has no translation in a language
// mapped from the locale (error 132001), the message is sent once more in
// the fallback language, so a missing translation costs a request, not
// the message.
//
// The Cloud API has no idempotency key: a request that times out after
// Meta accepted it is retried by the delivery queue, and the person may
// get the message twice, with the same code.
func (c *Channel) Send(ctx context.Context, msg *otpd.Outbound) (otpd.SendResult, error) {
	to, ok := recipient(msg.To)
	if !ok {
		return otpd.SendResult{}, permanent("whatsapp: destination is not an E.164 number")
	}
	if msg.Code == "" {
		return otpd.SendResult{}, permanent("whatsapp: no code to send: an authentication template carries the code alone")
	}
	if !msg.ExpiresAt.IsZero() && !c.now().Before(msg.ExpiresAt) {
		return otpd.SendResult{}, permanent("whatsapp: not sent: the code expired")
	}
	name, lang, fallback := c.template(msg.ServiceID, msg.Locale)
	if !templateNameRe.MatchString(name) || !languageRe.MatchString(lang) {
		return otpd.SendResult{}, permanent(fmt.Sprintf("whatsapp: service template %q in %q is not a valid template name and language", name, lang))
	}
	res, err := c.send(ctx, to, name, lang, msg.Code)
	if fallback != "" && missingTranslation(err) {
		res, err = c.send(ctx, to, name, fallback, msg.Code)
	}
	return res, err
}

// template returns the template name and language for a message, and the
// language to fall back to when lang was mapped from the locale ("" when
// lang is already the fallback or was given explicitly).
func (c *Channel) template(serviceID, locale string) (name, lang, fallback string) {
	name, def := c.cfg.Template, c.cfg.Language
	if c.cfg.Templates != nil {
		if n, l, ok := c.cfg.Templates(serviceID); ok && n != "" {
			name = n
			if l != "" {
				return name, l, ""
			}
		}
	}
	if l, ok := matchLanguage(locale, c.languages); ok && l != def {
		return name, l, def
	}
	return name, def, ""
}

// recipient checks an E.164 number and returns it without '+', as the
// messages endpoint's "to" takes it.
func recipient(to string) (string, bool) {
	if !strings.HasPrefix(to, "+") || len(to) < 4 || len(to) > 16 || !allDigits(to[1:]) || to[1] == '0' {
		return "", false
	}
	return to[1:], true
}

// The request body of an authentication template message.
type (
	sendRequest struct {
		MessagingProduct string          `json:"messaging_product"`
		RecipientType    string          `json:"recipient_type"`
		To               string          `json:"to"`
		Type             string          `json:"type"`
		Template         templateMessage `json:"template"`
	}
	templateMessage struct {
		Name       string      `json:"name"`
		Language   language    `json:"language"`
		Components []component `json:"components"`
	}
	language struct {
		Code string `json:"code"`
	}
	component struct {
		Type       string      `json:"type"`
		SubType    string      `json:"sub_type,omitempty"`
		Index      string      `json:"index,omitempty"`
		Parameters []parameter `json:"parameters"`
	}
	parameter struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
)

// send makes one request to the messages endpoint.
func (c *Channel) send(ctx context.Context, to, name, lang, code string) (otpd.SendResult, error) {
	// The code goes twice: as the body's {{1}} and as the parameter of the
	// OTP button, which WhatsApp creates as a URL button at index 0 (copy
	// code and one-tap alike).
	body, err := json.Marshal(sendRequest{
		MessagingProduct: "whatsapp",
		RecipientType:    "individual",
		To:               to,
		Type:             "template",
		Template: templateMessage{
			Name:     name,
			Language: language{Code: lang},
			Components: []component{
				{Type: "body", Parameters: []parameter{{Type: "text", Text: code}}},
				{Type: "button", SubType: "url", Index: "0", Parameters: []parameter{{Type: "text", Text: code}}},
			},
		},
	})
	if err != nil {
		return otpd.SendResult{}, fmt.Errorf("whatsapp: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return otpd.SendResult{}, fmt.Errorf("whatsapp: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "otpd")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		// Timeouts and connection failures are retried: at least once.
		return otpd.SendResult{}, fmt.Errorf("whatsapp: send message: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return otpd.SendResult{}, fmt.Errorf("whatsapp: read response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		se, account := responseError(resp.StatusCode, raw)
		if account {
			c.blocked.Store(se)
		}
		return otpd.SendResult{}, se
	}
	var ok struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(raw, &ok); err != nil || len(ok.Messages) == 0 || ok.Messages[0].ID == "" {
		// A 2xx most likely created a message we cannot name; retrying
		// may send it twice, which beats not sending it.
		return otpd.SendResult{}, fmt.Errorf("whatsapp: HTTP %d without a message id", resp.StatusCode)
	}
	c.blocked.Store(nil)
	id := ok.Messages[0].ID
	return otpd.SendResult{ProviderID: id, Refs: []string{id}}, nil
}

func permanent(msg string) error {
	return &otpd.SendError{Permanent: true, Err: errors.New(msg)}
}
