package message

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/text/language"

	"github.com/otpd/otpd"
)

var _ otpd.Renderer = (*Catalog)(nil)

// builtinLocales are the languages the package ships; the first is the
// fallback for requests that match none.
var builtinLocales = []*locale{
	english, german, french, spanish, brazilianPortuguese, europeanPortuguese,
	italian, dutch, polish, turkish, russian, arabic, hindi, indonesian,
	japanese, simplifiedChinese, traditionalChinese,
}

// Catalog is an [otpd.Renderer] over a set of templates. It is immutable
// once built and safe for concurrent use.
type Catalog struct {
	templates map[Key]Template
	locales   []*locale // in matcher order; locales[0] is the fallback
	byName    map[string]*locale
	matcher   language.Matcher
}

// Option configures a [Catalog].
type Option func(*options)

type options struct {
	overrides []override
}

type override struct {
	key  Key
	tmpl Template
}

// WithTemplate replaces the built-in template for k (a Purpose of "" means
// PurposeLogin). It changes wording only: k.Locale must be one of the
// built-in locales, because a language also needs the number and plural
// conventions that live in this package. New panics if t fails
// [ValidateTemplate], as regexp.MustCompile does, so run user-supplied
// templates through ValidateTemplate first.
func WithTemplate(k Key, t Template) Option {
	return func(o *options) { o.overrides = append(o.overrides, override{k, t}) }
}

// New returns a catalog of the built-in templates with opts applied.
func New(opts ...Option) *Catalog {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	c := &Catalog{
		templates: map[Key]Template{},
		locales:   builtinLocales,
		byName:    map[string]*locale{},
	}
	tags := make([]language.Tag, len(c.locales))
	for i, l := range c.locales {
		tags[i] = l.tag
		name := l.tag.String()
		c.byName[name] = l
		for purpose, text := range l.text {
			c.templates[Key{KindText, purpose, name}] = Template{Text: text}
		}
		for purpose, t := range l.email {
			c.templates[Key{KindEmail, purpose, name}] = t
		}
	}
	c.matcher = language.NewMatcher(tags)
	for _, ov := range o.overrides {
		k := ov.key
		if k.Purpose == "" {
			k.Purpose = PurposeLogin
		}
		if c.byName[k.Locale] == nil {
			panic(fmt.Sprintf("message: WithTemplate: locale %q is not one of %v", k.Locale, c.Locales()))
		}
		c.templates[k] = ov.tmpl
	}
	if err := c.check(); err != nil {
		panic(err)
	}
	return c
}

// check makes sure every template is valid and every locale is complete, so
// Render never falls back to another language, or to a text without the
// amount, halfway through.
func (c *Catalog) check() error {
	for k, t := range c.templates {
		if err := ValidateTemplate(k, t); err != nil {
			return fmt.Errorf("%w (template %s/%s/%s)", err, k.Kind, k.Purpose, k.Locale)
		}
	}
	for name := range c.byName {
		for _, kind := range []Kind{KindText, KindEmail} {
			for _, p := range Purposes() {
				if _, ok := c.templates[Key{kind, p, name}]; !ok {
					return fmt.Errorf("message: no %s template for %s in %s", kind, p, name)
				}
			}
		}
	}
	return nil
}

// Locales returns the catalog's languages, the fallback first.
func (c *Catalog) Locales() []string {
	names := make([]string, len(c.locales))
	for i, l := range c.locales {
		names[i] = l.tag.String()
	}
	return names
}

// Template returns the template stored under k exactly as given (no
// locale matching, "" is not read as PurposeLogin).
func (c *Catalog) Template(k Key) (Template, bool) {
	t, ok := c.templates[k]
	return t, ok
}

// match picks the locale for a BCP 47 tag; anything unparsable or
// unmatched gets the fallback.
func (c *Catalog) match(s string) *locale {
	tag, err := language.Parse(strings.TrimSpace(s))
	if err != nil {
		return c.locales[0]
	}
	_, i, conf := c.matcher.Match(tag)
	if conf == language.No {
		return c.locales[0]
	}
	return c.locales[i]
}

// purposeOf is the purpose whose wording req gets.
func purposeOf(req otpd.RenderRequest) string {
	if req.Transaction != nil {
		return PurposeTransaction
	}
	switch p := strings.ToLower(strings.TrimSpace(req.Purpose)); p {
	case PurposePasswordReset, PurposeDelivery:
		return p
	}
	// Login, "", anything unknown, and "transaction" without a transaction
	// to show.
	return PurposeLogin
}

var (
	appHashRe = regexp.MustCompile(`^[A-Za-z0-9+/]{11}$`)
	hostRe    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
)

// checkCode rejects codes that could break a layout (white space, "#" in
// the WebOTP line). Its errors never show the code.
func checkCode(code string) error {
	if code == "" {
		return errors.New("message: code is empty")
	}
	for _, r := range code {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return errors.New("message: code must be ASCII letters and digits")
		}
	}
	return nil
}

// Render renders req in the best-matching locale, with the service's own
// template from req.Templates for the channel, purpose and locale when it
// has one (see [Catalog.CheckTemplate]), else the built-in. It fails on a request no
// message can be made from: an unknown channel, an empty brand or code, a
// TTL that is not positive, a malformed transaction, app hash or WebOTP
// domain. No error contains the code.
func (c *Catalog) Render(req otpd.RenderRequest) (otpd.Rendered, error) {
	kind, ok := KindOf(req.Channel)
	if !ok {
		return otpd.Rendered{}, fmt.Errorf("message: no templates for channel %q", req.Channel)
	}
	if err := checkCode(req.Code); err != nil {
		return otpd.Rendered{}, err
	}
	brand := clean(req.Brand)
	if brand == "" {
		return otpd.Rendered{}, errors.New("message: brand is empty")
	}
	if req.TTL <= 0 {
		return otpd.Rendered{}, errors.New("message: TTL must be positive")
	}
	loc := c.match(req.Locale)
	purpose := purposeOf(req)
	v := values{phBrand: brand, phCode: req.Code, phExpiry: loc.expiry(req.TTL)}
	if purpose == PurposeTransaction {
		amount, err := loc.amount(req.Transaction)
		if err != nil {
			return otpd.Rendered{}, err
		}
		payee := clean(req.Transaction.Payee)
		if payee == "" {
			return otpd.Rendered{}, errors.New("message: transaction payee is empty")
		}
		v[phAmount], v[phPayee] = amount, payee
	}
	name := loc.tag.String()
	t, ok := serviceTemplate(req, purpose, name)
	if !ok {
		t, ok = c.templates[Key{kind, purpose, name}]
	}
	if !ok { // check in New makes this unreachable
		return otpd.Rendered{}, fmt.Errorf("message: no %s template for %s in %s", kind, purpose, name)
	}

	out := otpd.Rendered{Locale: name}
	switch kind {
	case KindText:
		text := strings.TrimRight(expand(t.Text, v), "\n")
		if req.Channel == otpd.ChannelSMS {
			text = smsSpaces.Replace(text)
			var err error
			if text, err = smsExtras(text, req); err != nil {
				return otpd.Rendered{}, err
			}
		}
		out.Text = text
	case KindEmail:
		out.Subject = expand(t.Subject, v)
		out.Text = expand(t.Text, v)
		html, err := emailHTML(loc, out.Subject, t.Text, v)
		if err != nil {
			return otpd.Rendered{}, err
		}
		out.HTML = html
	}
	return out, nil
}

// smsExtras appends the SMS Retriever hash and the WebOTP line; see the
// package documentation for why in this order.
func smsExtras(text string, req otpd.RenderRequest) (string, error) {
	if req.AppHash != "" {
		if !appHashRe.MatchString(req.AppHash) {
			return "", errors.New("message: app hash must be 11 characters of base64")
		}
		text += "\n" + req.AppHash
	}
	if req.WebOTPDomain != "" {
		host := strings.ToLower(req.WebOTPDomain)
		if len(host) > 253 || !hostRe.MatchString(host) {
			return "", fmt.Errorf("message: WebOTP domain %q is not a host name", req.WebOTPDomain)
		}
		text += "\n@" + host + " #" + req.Code
	}
	return text, nil
}
