package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Purposes with their own wording, for message templates. Verifications of
// any other purpose use PurposeLogin's; those with a transaction use
// PurposeTransaction's.
const (
	PurposeLogin         = "login"
	PurposeTransaction   = "transaction"
	PurposePasswordReset = "password_reset"
	PurposeDelivery      = "delivery"
)

// TemplateKey names one of a service's message templates.
type TemplateKey struct {
	Channel string // ChannelSMS, ChannelWhatsApp, ChannelRCS, ChannelPush or ChannelEmail
	Locale  string // a built-in locale: "en", "pt-BR", "zh-Hant", ...
	Purpose string // PurposeLogin when empty
}

// Template is a service's own message text, used instead of the built-in
// one for its channel, purpose and locale.
type Template struct {
	Channel   string    `json:"channel"`
	Purpose   string    `json:"purpose"`
	Locale    string    `json:"locale"`  // canonical: "pt-BR"
	Subject   *string   `json:"subject"` // e-mail only
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SetTemplateParams is a message text: placeholders {brand}, {code}
// (required, once), {expiry}, and {amount} and {payee} for transactions.
type SetTemplateParams struct {
	Subject string `json:"subject,omitempty"` // e-mail only, and required there
	Text    string `json:"text"`
}

// TemplateList is all of a service's templates.
type TemplateList struct {
	Data []Template `json:"data"`
}

func templatePath(sid string, k TemplateKey) (string, url.Values) {
	var q url.Values
	if k.Purpose != "" {
		q = url.Values{"purpose": {k.Purpose}}
	}
	return servicePath(sid) + "/templates/" + url.PathEscape(k.Channel) + "/" + url.PathEscape(k.Locale), q
}

// SetTemplate sets the service's text for k (admin token), replacing any
// earlier one; created reports that there was none. It is idempotent.
func (c *Client) SetTemplate(ctx context.Context, sid string, k TemplateKey, p SetTemplateParams) (t *Template, created bool, err error) {
	path, q := templatePath(sid, k)
	var out Template
	var status int
	if err := c.do(ctx, request{method: http.MethodPut, path: path, query: q, body: p, status: &status}, &out); err != nil {
		return nil, false, err
	}
	return &out, status == http.StatusCreated, nil
}

// GetTemplate returns the service's text for k; an error with status 404
// when the service uses the built-in one.
func (c *Client) GetTemplate(ctx context.Context, sid string, k TemplateKey) (*Template, error) {
	path, q := templatePath(sid, k)
	var out Template
	if err := c.do(ctx, request{method: http.MethodGet, path: path, query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTemplates returns all of the service's templates, by channel,
// purpose and locale.
func (c *Client) ListTemplates(ctx context.Context, sid string) (*TemplateList, error) {
	var out TemplateList
	if err := c.do(ctx, request{method: http.MethodGet, path: servicePath(sid) + "/templates"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteTemplate deletes the service's text for k: its messages go back
// to the built-in one.
func (c *Client) DeleteTemplate(ctx context.Context, sid string, k TemplateKey) error {
	path, q := templatePath(sid, k)
	return c.do(ctx, request{method: http.MethodDelete, path: path, query: q}, nil)
}
