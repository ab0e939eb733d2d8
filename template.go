package otpd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// TemplateKey names one of a service's message templates: the channel it
// is sent on, the purpose whose wording it replaces and the locale it is
// written in. Purpose and Locale are as the Renderer names them (package
// message: "login", "transaction", "password_reset", "delivery"; "en",
// "pt-BR", "zh-Hant"), so that a key read back from the store is the one
// the renderer looks up.
type TemplateKey struct {
	Channel ChannelName
	Purpose string
	Locale  string
}

// MessageTemplate is a service's own wording for one kind of message,
// used instead of the renderer's built-in text. It is wording only: the
// placeholders ({brand}, {code}, {expiry}, {amount}, {payee}) are filled
// with values at send time, and values are never read as template text.
type MessageTemplate struct {
	ServiceID string
	TemplateKey
	Subject string // e-mail only
	Text    string // the whole text; for e-mail the body, from which the HTML part is made
	// CreatedAt is when the key was first set; UpdatedAt when its text
	// last changed.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TemplateChecker is implemented by a Renderer that renders services' own
// templates (package message does). The engine refuses templates when its
// renderer does not implement it.
type TemplateChecker interface {
	// CanonicalTemplateKey returns k in the renderer's canonical form
	// (locale and purpose as it names them, "" purpose as its default),
	// or an *Error of kind ErrInvalid naming the bad part ("channel",
	// "purpose" or "locale") when no template can have that key.
	CanonicalTemplateKey(k TemplateKey) (TemplateKey, error)
	// CheckTemplate validates t (whose key is canonical) for svc: its
	// syntax, its placeholders, and that the message it makes in the worst
	// case still fits its channel. It returns an *Error of kind ErrInvalid
	// naming the offending member ("text", "subject", ...).
	CheckTemplate(svc *Service, t *MessageTemplate) error
}

// TemplateCacheTTL is how long a node keeps a service's templates in memory
// for rendering. A change made on this node applies to its next send; one
// made on another node sharing the store applies here within this time.
const TemplateCacheTTL = 30 * time.Second

// templateCache keeps each service's templates for TemplateCacheTTL: a
// message is rendered per send, and templates change rarely.
type templateCache struct {
	mu      sync.Mutex
	entries map[string]cachedTemplates
}

type cachedTemplates struct {
	list []MessageTemplate
	at   time.Time
}

// checker returns the renderer's TemplateChecker, or an error when the
// renderer cannot render services' own templates.
func (e *Engine) checker() (TemplateChecker, error) {
	tc, ok := e.renderer.(TemplateChecker)
	if !ok {
		return nil, &Error{Kind: ErrInvalid, Param: "channel", Detail: "this server's renderer does not support message templates"}
	}
	return tc, nil
}

// canonicalKey checks the service exists and brings k to canonical form.
func (e *Engine) canonicalKey(ctx context.Context, serviceID string, k TemplateKey) (*Service, TemplateKey, error) {
	tc, err := e.checker()
	if err != nil {
		return nil, k, err
	}
	svc, err := e.service(ctx, serviceID)
	if err != nil {
		return nil, k, err
	}
	k, err = tc.CanonicalTemplateKey(k)
	return svc, k, err
}

// SetTemplate validates t and stores it as the service's template for its
// key, replacing any earlier one; created reports that there was none.
func (e *Engine) SetTemplate(ctx context.Context, serviceID string, t *MessageTemplate) (out *MessageTemplate, created bool, err error) {
	svc, k, err := e.canonicalKey(ctx, serviceID, t.TemplateKey)
	if err != nil {
		return nil, false, err
	}
	t.ServiceID, t.TemplateKey = svc.ID, k
	tc, _ := e.checker()
	if err := tc.CheckTemplate(svc, t); err != nil {
		return nil, false, err
	}
	now := e.Now()
	t.CreatedAt, t.UpdatedAt = now, now
	if created, err = e.store.PutTemplate(ctx, t); err != nil {
		return nil, false, fmt.Errorf("set template: %w", err)
	}
	e.forgetTemplates(serviceID)
	action := AuditTemplateUpdate
	if created {
		action = AuditTemplateCreate
	}
	e.audit(ctx, action, svc.ID, templateTarget(k), nil)
	return t, created, nil
}

// Template returns one of the service's templates.
func (e *Engine) Template(ctx context.Context, serviceID string, k TemplateKey) (*MessageTemplate, error) {
	_, k, err := e.canonicalKey(ctx, serviceID, k)
	if err != nil {
		return nil, err
	}
	return e.store.GetTemplate(ctx, serviceID, k)
}

// Templates returns the service's templates, ordered by channel, purpose
// and locale.
func (e *Engine) Templates(ctx context.Context, serviceID string) ([]*MessageTemplate, error) {
	if _, err := e.service(ctx, serviceID); err != nil {
		return nil, err
	}
	return e.store.ListTemplates(ctx, serviceID)
}

// DeleteTemplate removes one of the service's templates: its messages go
// back to the built-in wording.
func (e *Engine) DeleteTemplate(ctx context.Context, serviceID string, k TemplateKey) error {
	_, k, err := e.canonicalKey(ctx, serviceID, k)
	if err != nil {
		return err
	}
	if err := e.store.DeleteTemplate(ctx, serviceID, k); err != nil {
		return err
	}
	e.forgetTemplates(serviceID)
	e.audit(ctx, AuditTemplateDelete, serviceID, templateTarget(k), nil)
	return nil
}

// serviceTemplates returns the service's templates for rendering, from
// the cache when it has them from less than TemplateCacheTTL ago.
func (e *Engine) serviceTemplates(ctx context.Context, serviceID string) ([]MessageTemplate, error) {
	if _, ok := e.renderer.(TemplateChecker); !ok {
		return nil, nil
	}
	now := e.Now()
	c := &e.templates
	c.mu.Lock()
	hit, ok := c.entries[serviceID]
	c.mu.Unlock()
	if ok && now.Sub(hit.at) < TemplateCacheTTL && !now.Before(hit.at) {
		return hit.list, nil
	}
	ts, err := e.store.ListTemplates(ctx, serviceID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("templates of %s: %w", serviceID, err)
	}
	list := make([]MessageTemplate, len(ts))
	for i, t := range ts {
		list[i] = *t
	}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]cachedTemplates{}
	}
	// Drop what has gone stale, so services no longer sending do not stay.
	for id, en := range c.entries {
		if now.Sub(en.at) >= TemplateCacheTTL {
			delete(c.entries, id)
		}
	}
	c.entries[serviceID] = cachedTemplates{list: list, at: now}
	c.mu.Unlock()
	return list, nil
}

// forgetTemplates drops the service's cached templates after a change on
// this node, so its next send here uses the change.
func (e *Engine) forgetTemplates(serviceID string) {
	e.templates.mu.Lock()
	delete(e.templates.entries, serviceID)
	e.templates.mu.Unlock()
}

// CompareTemplateKeys orders template keys by channel, purpose and
// locale, the order of Store.ListTemplates.
func CompareTemplateKeys(a, b TemplateKey) int {
	return cmp.Or(strings.Compare(string(a.Channel), string(b.Channel)),
		strings.Compare(a.Purpose, b.Purpose), strings.Compare(a.Locale, b.Locale))
}
