package otpd

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// PrefixAudit is the prefix of audit entry ids.
const PrefixAudit = "aud_"

// AuditEntry is one record of the audit log: an administrative action,
// who took it and on what. The log is append-only: entries are never
// changed or deleted (on PostgreSQL the database refuses it too).
//
// Details must never hold a secret — no token, key secret, webhook secret,
// code or destination: name what changed, not what it changed to.
type AuditEntry struct {
	ID string
	At time.Time
	// Actor is who acted: ActorAdmin, a service key's id (key_…), or
	// ActorSystem for what otpd did by itself (a fraud rule's block, say).
	// Never a token.
	Actor string
	// Action is what was done, as "<object>.<verb>": the AuditService…
	// and AuditKey… constants, or others' own (template.update,
	// fraud.block, …).
	Action string
	// ServiceID is the service acted on or in; "" for actions outside
	// any one service.
	ServiceID string
	// Target is the id or name of the thing acted on (the service, the
	// key, the template, the blocked range); may be "".
	Target string
	// Details are facts about the action, stored as JSON: for an update,
	// "fields" lists the names of the fields it changed.
	Details map[string]any
}

// Actors that are not a service key.
const (
	ActorAdmin  = "admin"
	ActorSystem = "system"
)

// Audited actions that the engine records itself.
const (
	AuditServiceCreate = "service.create"
	AuditServiceUpdate = "service.update"
	AuditServiceDelete = "service.delete"
	AuditKeyCreate     = "key.create"
	AuditKeyRevoke     = "key.revoke"
	// Template changes; the target is the canonical template key,
	// "<channel>/<purpose>/<locale>" ("sms/login/en").
	AuditTemplateCreate = "template.create"
	AuditTemplateUpdate = "template.update"
	AuditTemplateDelete = "template.delete"
)

// templateTarget names a template in the audit log.
func templateTarget(k TemplateKey) string {
	return string(k.Channel) + "/" + k.Purpose + "/" + k.Locale
}

var auditActionRe = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// ValidAuditAction reports whether a is shaped as an action: dot-separated
// lower-case words, at least two ("service.update").
func ValidAuditAction(a string) bool { return len(a) <= 64 && auditActionRe.MatchString(a) }

// AuditFilter selects audit entries for Store.ListAudit.
type AuditFilter struct {
	ServiceID string    // when set, only entries of this service
	Action    string    // when set, only this action
	Since     time.Time // when set, only entries at or after it
	Before    string    // cursor: only entries older than this entry id
	Limit     int       // at most this many; <= 0: all
}

type principalKey struct{}

// WithPrincipal returns a context that carries who a request acts for, so
// that what the engine does for it is recorded in the audit log under the
// right actor. The HTTP API sets it for every authenticated request.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal WithPrincipal stored in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// actor names the principal of ctx for the audit log: ActorAdmin, the key
// id, or ActorSystem when the engine was called for no one (a command,
// a background job).
func actor(ctx context.Context) string {
	p, ok := PrincipalFrom(ctx)
	switch {
	case ok && p.Admin:
		return ActorAdmin
	case ok && p.KeyID != "":
		return p.KeyID
	}
	return ActorSystem
}

// Audit appends an entry to the audit log. It is the hook for changes the
// engine does not make itself — templates, fraud blocks: the caller sets
// Action, ServiceID, Target and Details; ID and At are filled in, and so is
// Actor, from the context (WithPrincipal), when empty. The engine records
// its own admin actions (services and keys) the same way.
func (e *Engine) Audit(ctx context.Context, entry AuditEntry) error {
	if !ValidAuditAction(entry.Action) {
		return fmt.Errorf("otpd: audit: action %q is not <object>.<verb> in lower case", entry.Action)
	}
	now := e.Now()
	entry.ID, entry.At = NewID(PrefixAudit, now), now
	if entry.Actor == "" {
		entry.Actor = actor(ctx)
	}
	if err := e.store.AppendAudit(ctx, &entry); err != nil {
		return fmt.Errorf("audit %s: %w", entry.Action, err)
	}
	return nil
}

// audit records an admin action the engine has just made. The action is
// already done (the store has no transaction spanning both writes), so a
// failure to record it is logged as an error for the operator rather than
// returned: the caller's change must not look failed when it was made.
func (e *Engine) audit(ctx context.Context, action, serviceID, target string, details map[string]any) {
	err := e.Audit(ctx, AuditEntry{Action: action, ServiceID: serviceID, Target: target, Details: details})
	if err != nil {
		e.log.ErrorContext(ctx, "the audit log missed an admin action", "action", action, "service_id", serviceID, "target", target, "err", err)
	}
}

// ListAudit returns audit entries that match f, newest first.
func (e *Engine) ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, error) {
	if f.Action != "" && !ValidAuditAction(f.Action) {
		return nil, invalid("action", "must be an action such as service.update")
	}
	return e.store.ListAudit(ctx, f)
}

// serviceChanges returns the names, as the API spells them, of the fields
// that differ between two versions of a service — names only, so that the
// audit log of an update never holds a value such as a webhook secret.
func serviceChanges(before, after *Service) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	b, a := before, after
	add("name", b.Name != a.Name)
	add("code_length", b.Policy.CodeLength != a.Policy.CodeLength)
	add("code_alphabet", b.Policy.Alphabet != a.Policy.Alphabet)
	add("ttl_seconds", b.Policy.TTL != a.Policy.TTL)
	add("max_ttl_seconds", b.Policy.MaxTTL != a.Policy.MaxTTL)
	add("max_check_attempts", b.Policy.MaxCheckAttempts != a.Policy.MaxCheckAttempts)
	add("max_sends", b.Policy.MaxSends != a.Policy.MaxSends)
	add("resend_cooldown_seconds", b.Policy.ResendCooldown != a.Policy.ResendCooldown)
	add("channels", !slices.Equal(b.Channels, a.Channels))
	add("allowed_countries", !slices.Equal(b.Countries, a.Countries))
	add("default_locale", b.Locale != a.Locale)
	add("webhook_url", b.WebhookURL != a.WebhookURL)
	add("webhook_secret", b.WebhookSecret != a.WebhookSecret)
	add("whatsapp_template", b.WhatsAppTemplate != a.WhatsAppTemplate)
	add("whatsapp_language", b.WhatsAppLanguage != a.WhatsAppLanguage)
	add("app_hash", b.AppHash != a.AppHash)
	add("webotp_domain", b.WebOTPDomain != a.WebOTPDomain)
	add("rate_limits", b.Limits != a.Limits)
	add("safe_list", !slices.Equal(b.SafeList, a.SafeList))
	return out
}
