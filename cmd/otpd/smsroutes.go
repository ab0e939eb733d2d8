package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/devinbox"
	"github.com/otpd/otpd/internal/tlsconfig"
	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/sms"
	"github.com/otpd/otpd/sms/twilio"
	"github.com/otpd/otpd/sms/vonage"
	"github.com/otpd/otpd/smsc"
)

// smsRouteConfig is one SMS route of the config file: an SMPP bind (the
// default type) or an HTTP provider.
//
//	public_url: https://otp.example.com
//	sms:
//	  routes:
//	    - name: us
//	      type: twilio
//	      prefixes: ["+1"]
//	      account_sid: AC0123456789abcdef0123456789abcdef
//	      auth_token_env: TWILIO_AUTH_TOKEN
//	      from: "+15005550006"
//	    - name: uk
//	      type: vonage
//	      prefixes: ["+44"]
//	      api_key: abcd1234
//	      api_secret_env: VONAGE_API_SECRET
//	      from: AcmeBank
//	    - name: default
//	      smpp: smpps://otpd:secret@smsc.example:3550?dlr_id=hex-dec
//
// A destination goes to the routes with the longest matching prefix (a
// route without prefixes matches every number), in priority order, and
// fails over to the next when one is down, refuses it temporarily or uses
// up its share of the send's time.
//
// Secrets may be given in the file or, with the _env form of the key, as
// the name of an environment variable holding them. Twilio and Vonage post
// delivery status to <public_url>/v1/callbacks/<type>/<name>.
type smsRouteConfig struct {
	Name     string   `yaml:"name" toml:"name"`
	Type     string   `yaml:"type" toml:"type"` // smpp (default), twilio or vonage
	Prefixes []string `yaml:"prefixes" toml:"prefixes"`
	Priority int      `yaml:"priority" toml:"priority"`

	// smpp
	SMPP  string `yaml:"smpp" toml:"smpp"`
	DLRID string `yaml:"dlr_id" toml:"dlr_id"` // as the URL's dlr_id parameter

	// TLSCAFile replaces the global tls_ca_file for this route: the CAs
	// an smpps:// SMSC's or the provider's certificate may chain to,
	// besides the system's roots.
	TLSCAFile string `yaml:"tls_ca_file" toml:"tls_ca_file"`

	// twilio and vonage
	From    string `yaml:"from" toml:"from"`
	BaseURL string `yaml:"base_url" toml:"base_url"` // the API's scheme and host, for tests

	// twilio
	AccountSID          string `yaml:"account_sid" toml:"account_sid"`
	AuthToken           string `yaml:"auth_token" toml:"auth_token"`
	AuthTokenEnv        string `yaml:"auth_token_env" toml:"auth_token_env"`
	MessagingServiceSID string `yaml:"messaging_service_sid" toml:"messaging_service_sid"`

	// vonage
	APIKey             string `yaml:"api_key" toml:"api_key"`
	APISecret          string `yaml:"api_secret" toml:"api_secret"`
	APISecretEnv       string `yaml:"api_secret_env" toml:"api_secret_env"`
	SignatureSecret    string `yaml:"signature_secret" toml:"signature_secret"`
	SignatureSecretEnv string `yaml:"signature_secret_env" toml:"signature_secret_env"`
	SignatureMethod    string `yaml:"signature_method" toml:"signature_method"`
}

// smsConfig is the "sms" section of the config file.
type smsConfig struct {
	Routes []smsRouteConfig `yaml:"routes" toml:"routes"`
}

// Route types.
const (
	routeSMPP   = "smpp"
	routeTwilio = "twilio"
	routeVonage = "vonage"
)

// smsRouteSpec is a route as checked at startup, secrets resolved: what
// buildSMS builds.
type smsRouteSpec struct {
	name     string
	kind     string // routeSMPP, routeTwilio or routeVonage
	prefixes []string
	priority int
	caFile   string // the route's own tls_ca_file
	smpp     sms.SMPPURL
	twilio   twilio.Config
	vonage   vonage.Config
}

// callbackPath is where a provider route's status callbacks are served.
func callbackPath(kind, route string) string { return "/v1/callbacks/" + kind + "/" + route }

// providerRouteName: a provider route's name is a URL path segment.
var providerRouteName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,40}$`)

// smsRouteSpecs checks the SMS settings — --smpp or the file's sms.routes
// — and returns the routes to build, with secrets read from the
// environment. Errors name the route and the key.
func (c *serveConfig) smsRouteSpecs(getenv func(string) string) ([]smsRouteSpec, error) {
	if c.SMPP != "" {
		u, err := sms.ParseSMPPURL(c.SMPP)
		if err != nil {
			return nil, usagef("--smpp: %v", err)
		}
		return []smsRouteSpec{{name: "smpp", kind: routeSMPP, smpp: u}}, nil
	}
	var specs []smsRouteSpec
	for i, rc := range c.SMS.Routes {
		spec, err := rc.spec(c.PublicURL, getenv)
		if err != nil {
			return nil, usagef("sms.routes[%d] (%s): %v", i, rc.Name, err)
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

// spec checks one route of the file.
func (rc smsRouteConfig) spec(publicURL string, getenv func(string) string) (smsRouteSpec, error) {
	s := smsRouteSpec{name: rc.Name, kind: rc.Type, prefixes: rc.Prefixes, priority: rc.Priority, caFile: rc.TLSCAFile}
	if s.kind == "" {
		s.kind = routeSMPP
	}
	if rc.Name == "" {
		return s, errors.New("give the route a name")
	}
	// Keys that belong to another type are mistakes, not settings to ignore.
	allowed := map[string][]string{
		routeSMPP:   {"smpp", "dlr_id"},
		routeTwilio: {"from", "base_url", "account_sid", "auth_token", "auth_token_env", "messaging_service_sid"},
		routeVonage: {"from", "base_url", "api_key", "api_secret", "api_secret_env", "signature_secret", "signature_secret_env", "signature_method"},
	}
	if _, ok := allowed[s.kind]; !ok {
		return s, fmt.Errorf("type must be smpp, twilio or vonage, not %q", rc.Type)
	}
	for _, k := range []struct {
		key string
		set bool
	}{
		{"smpp", rc.SMPP != ""}, {"dlr_id", rc.DLRID != ""}, {"from", rc.From != ""}, {"base_url", rc.BaseURL != ""},
		{"account_sid", rc.AccountSID != ""}, {"auth_token", rc.AuthToken != ""}, {"auth_token_env", rc.AuthTokenEnv != ""},
		{"messaging_service_sid", rc.MessagingServiceSID != ""},
		{"api_key", rc.APIKey != ""}, {"api_secret", rc.APISecret != ""}, {"api_secret_env", rc.APISecretEnv != ""},
		{"signature_secret", rc.SignatureSecret != ""}, {"signature_secret_env", rc.SignatureSecretEnv != ""},
		{"signature_method", rc.SignatureMethod != ""},
	} {
		if k.set && !slices.Contains(allowed[s.kind], k.key) {
			return s, fmt.Errorf("%s is not a setting of a %s route", k.key, s.kind)
		}
	}
	if s.kind != routeSMPP {
		if !providerRouteName.MatchString(rc.Name) {
			return s, fmt.Errorf("a %s route's name is part of its callback URL: use 1 to 40 letters, digits, '.', '-' or '_'", s.kind)
		}
		if publicURL == "" {
			return s, fmt.Errorf("a %s route needs public_url (--public-url, OTPD_PUBLIC_URL): the address %s posts delivery status to", s.kind, providerTitle(s.kind))
		}
	}
	if err := loopbackIfPlain("base_url", rc.BaseURL); err != nil {
		return s, err
	}
	var err error
	switch s.kind {
	case routeSMPP:
		s.smpp, err = rc.smppURL()
	case routeTwilio:
		s.twilio, err = rc.twilioConfig(publicURL, getenv)
	case routeVonage:
		s.vonage, err = rc.vonageConfig(publicURL, getenv)
	}
	return s, err
}

func (rc smsRouteConfig) smppURL() (sms.SMPPURL, error) {
	if rc.SMPP == "" {
		return sms.SMPPURL{}, errors.New("smpp: give the route's smpp URL (or another type: twilio, vonage)")
	}
	u, err := sms.ParseSMPPURL(rc.SMPP)
	if err != nil {
		return sms.SMPPURL{}, err
	}
	if rc.DLRID != "" {
		f, err := sms.ParseIDForm(rc.DLRID)
		if err != nil {
			return sms.SMPPURL{}, fmt.Errorf("dlr_id %q: %v", rc.DLRID, err)
		}
		if strings.Contains(rc.SMPP, "dlr_id=") && f != u.Options.IDs {
			return sms.SMPPURL{}, fmt.Errorf("dlr_id is %s here and %s in the smpp URL: give it once", f, u.Options.IDs)
		}
		u.Options.IDs = f
	}
	return u, nil
}

func (rc smsRouteConfig) twilioConfig(publicURL string, getenv func(string) string) (twilio.Config, error) {
	token, err := secret("auth_token", rc.AuthToken, rc.AuthTokenEnv, getenv)
	if err != nil {
		return twilio.Config{}, err
	}
	switch {
	case rc.AccountSID == "":
		return twilio.Config{}, errors.New("account_sid is required")
	case token == "":
		return twilio.Config{}, errors.New("auth_token (or auth_token_env) is required: it authenticates requests and signs status callbacks")
	}
	cfg := twilio.Config{
		AccountSID:          rc.AccountSID,
		AuthToken:           token,
		From:                rc.From,
		MessagingServiceSID: rc.MessagingServiceSID,
		BaseURL:             rc.BaseURL,
		StatusCallbackURL:   publicURL + callbackPath(routeTwilio, rc.Name),
	}
	return cfg, providerError(cfg.Validate())
}

func (rc smsRouteConfig) vonageConfig(publicURL string, getenv func(string) string) (vonage.Config, error) {
	apiSecret, err := secret("api_secret", rc.APISecret, rc.APISecretEnv, getenv)
	if err != nil {
		return vonage.Config{}, err
	}
	sigSecret, err := secret("signature_secret", rc.SignatureSecret, rc.SignatureSecretEnv, getenv)
	if err != nil {
		return vonage.Config{}, err
	}
	switch {
	case rc.APIKey == "":
		return vonage.Config{}, errors.New("api_key is required")
	case apiSecret == "" && sigSecret == "":
		return vonage.Config{}, errors.New("api_secret (or api_secret_env) is required, or signature_secret to sign requests instead")
	case rc.From == "":
		return vonage.Config{}, errors.New("from is required: a number or an alphanumeric sender id")
	}
	// Receipts are signed only when Vonage support turns signing on, so
	// the callback URL carries a token of its own: derived from the
	// account's secret, it is the same on every node and after restarts,
	// and needs no setting.
	key := apiSecret
	if key == "" {
		key = sigSecret
	}
	callback := publicURL + callbackPath(routeVonage, rc.Name) + "?t=" + callbackToken(key, rc.Name)
	cfg := vonage.Config{
		APIKey:            rc.APIKey,
		APISecret:         apiSecret,
		SignatureSecret:   sigSecret,
		SignatureMethod:   vonage.SignatureMethod(rc.SignatureMethod),
		From:              rc.From,
		BaseURL:           rc.BaseURL,
		StatusCallbackURL: callback,
	}
	if len(callback) > 100 {
		return cfg, fmt.Errorf("its callback URL, %s%s?t=<24 characters>, has %d characters and Vonage takes at most 100: shorten public_url or the route's name",
			publicURL, callbackPath(routeVonage, rc.Name), len(callback))
	}
	return cfg, providerError(cfg.Validate())
}

// callbackToken is the secret a Vonage route's callback URL carries.
func callbackToken(key, route string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte("otpd vonage callback token\x00" + route))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18])
}

// secret returns a secret given in the file (value) or by the name of the
// environment variable holding it (env).
func secret(key, value, env string, getenv func(string) string) (string, error) {
	switch {
	case value != "" && env != "":
		return "", fmt.Errorf("give %s or %s_env, not both", key, key)
	case env != "":
		v := getenv(env)
		if v == "" {
			return "", fmt.Errorf("%s_env: the environment variable %s is not set", key, env)
		}
		return v, nil
	}
	return value, nil
}

// providerFields turns the provider packages' field names into the config
// file's keys.
var providerFields = strings.NewReplacer(
	"MessagingServiceSID", "messaging_service_sid", "AccountSID", "account_sid", "AuthToken", "auth_token",
	"StatusCallbackURL", "public_url", "BaseURL", "base_url", "From", "from", "Timeout", "timeout",
	"APIKey", "api_key", "APISecret", "api_secret", "SignatureSecret", "signature_secret", "SignatureMethod", "signature_method",
)

// providerError rewrites a provider package's error in the file's terms,
// leaving quoted values alone.
func providerError(err error) error {
	if err == nil {
		return nil
	}
	parts := strings.Split(err.Error(), `"`)
	for i := 0; i < len(parts); i += 2 {
		parts[i] = providerFields.Replace(parts[i])
	}
	return errors.New(strings.Join(parts, `"`))
}

func providerTitle(kind string) string {
	if kind == routeTwilio {
		return "Twilio"
	}
	return "Vonage"
}

// buildSMS makes the SMS channel: the configured routes (cfg.smsRoutes,
// from --smpp or the config file), or in dev mode the in-process SMSC. It
// returns a nil router when SMS is not configured. receipts gives each
// SMPP route's receipt handler; the callbacks it returns serve the HTTP
// provider routes' status callbacks once the engine exists.
func buildSMS(smscCtx context.Context, cfg serveConfig, inbox *devinbox.Inbox,
	receipts func(route string) func(context.Context, *smpp.DeliverSM) error, log *slog.Logger,
) (*sms.Router, []*smpp.Transmitter, smsCallbacks, error) {
	specs := cfg.smsRoutes
	dev := false
	if len(specs) == 0 {
		if !cfg.Dev {
			return nil, nil, nil, nil
		}
		u, err := startDevSMSC(smscCtx, inbox, log)
		if err != nil {
			return nil, nil, nil, err
		}
		specs, dev = []smsRouteSpec{{name: "dev", kind: routeSMPP, smpp: *u}}, true
	}

	var (
		routes       []*sms.Route
		transmitters []*smpp.Transmitter
		callbacks    smsCallbacks
	)
	closeAll := func() {
		for _, t := range transmitters {
			_ = t.Close(context.Background())
		}
	}
	for _, sp := range specs {
		roots, err := trust(cfg.TLSCAFile, sp.caFile)
		if err != nil {
			closeAll()
			return nil, nil, nil, usagef("sms route %s: tls_ca_file: %v", sp.name, err)
		}
		r, t, cb, err := buildSMSRoute(sp, roots, dev, inbox, receipts)
		if t != nil {
			transmitters = append(transmitters, t)
		}
		if err != nil {
			closeAll()
			return nil, nil, nil, usagef("sms route %s: %v", sp.name, err)
		}
		if cb != nil {
			callbacks = append(callbacks, *cb)
			// The callback URL is not logged: Vonage's carries a token.
			log.Info("sms route", "route", r.Name, "provider", sp.kind, "prefixes", r.Prefixes, "priority", r.Priority,
				"callback_path", callbackPath(sp.kind, sp.name))
		} else {
			log.Info("sms route", "route", r.Name, "smsc", sp.smpp.String(), "prefixes", r.Prefixes, "priority", r.Priority,
				"binds", sp.smpp.Binds, "window", sp.smpp.Window, "dlr_id", sp.smpp.Options.IDs.String())
		}
		if sp.kind == routeSMPP && !sp.smpp.TLS && !isLoopbackAddr(sp.smpp.Addr) {
			// Allowed (many SMSCs sit on a private link or VPN), but the
			// password and every code cross it in clear text.
			log.Warn("sms route over plain smpp:// to another host: the bind password and codes are not encrypted; use smpps:// unless the link is private",
				"route", r.Name)
		}
		routes = append(routes, r)
	}
	router, err := sms.NewRouter(routes)
	if err != nil {
		closeAll()
		return nil, nil, nil, usagef("sms routes: %v", err)
	}
	return router, transmitters, callbacks, nil
}

// providerRoute is what the HTTP provider routes (twilio.Route,
// vonage.Route) have in common.
type providerRoute interface {
	otpd.Channel
	CallbackHandler(record func(context.Context, otpd.Receipt) error, routeName string) http.Handler
}

// buildSMSRoute builds one route: an SMPP route with its transmitter (t,
// returned for closing even when the route fails), or a provider route
// with its callback endpoint (cb). TLS connections verify the server
// against roots (the system's when nil).
func buildSMSRoute(sp smsRouteSpec, roots *x509.CertPool, dev bool, inbox *devinbox.Inbox,
	receipts func(route string) func(context.Context, *smpp.DeliverSM) error,
) (r *sms.Route, t *smpp.Transmitter, cb *smsCallback, err error) {
	r = &sms.Route{Name: sp.name, Prefixes: sp.prefixes, Priority: sp.priority}
	var p providerRoute
	methods := []string{http.MethodPost}
	switch sp.kind {
	case routeSMPP:
		t, err = smpp.NewTransmitter(smppConfig(sp.smpp, roots, sp.smpp.Options.IDs.Receipts(receipts(sp.name))))
		if err != nil {
			return nil, nil, nil, err
		}
		smppRoute, err := sms.NewSMPPRoute(t, sp.smpp.Options)
		if err != nil {
			return nil, t, nil, err
		}
		r.Channel = smppRoute
		if dev {
			r.Channel = inbox.Linked(smppRoute) // the dev SMSC's messages show in the inbox
		}
		return r, t, nil, nil
	case routeTwilio:
		sp.twilio.HTTPClient = tlsconfig.HTTPClient(roots)
		p, err = twilio.New(sp.twilio)
	case routeVonage:
		sp.vonage.HTTPClient = tlsconfig.HTTPClient(roots)
		p, err = vonage.New(sp.vonage)
		// The dashboard's receipt method may be GET, POST or POST-JSON.
		methods = append(methods, http.MethodGet)
	default:
		return nil, nil, nil, fmt.Errorf("unknown route type %q", sp.kind)
	}
	if err != nil {
		return nil, nil, nil, providerError(err)
	}
	r.Channel = p
	return r, nil, &smsCallback{route: sp.name, kind: sp.kind, methods: methods, handler: p.CallbackHandler}, nil
}

// smsCallback is an HTTP provider route's status callback endpoint.
type smsCallback struct {
	route, kind string
	methods     []string
	handler     func(record func(context.Context, otpd.Receipt) error, routeName string) http.Handler
}

// smsCallbacks are the provider routes' status callback endpoints.
type smsCallbacks []smsCallback

// mounts returns the endpoints by ServeMux pattern, for httpapi.Config's
// Mounts: "POST /v1/callbacks/twilio/<route>", and GET and POST for Vonage.
// They take no bearer token: the provider's signature (or the callback
// URL's token) is what authenticates them, and a request without a valid
// one is refused with 403. Receipts go to Engine.RecordReceipt as SMPP
// receipts do; one for a message nobody recorded is acknowledged.
func (cs smsCallbacks) mounts(engine *otpd.Engine, log *slog.Logger) map[string]http.Handler {
	m := map[string]http.Handler{}
	for _, c := range cs {
		route := c.route
		record := func(ctx context.Context, r otpd.Receipt) error {
			err := engine.RecordReceipt(ctx, r)
			switch {
			case errors.Is(err, otpd.ErrNotFound):
				log.Info("status callback for an unknown message", "route", route)
			case err != nil:
				log.Error("recording a status callback", "route", route, "err", err)
			}
			return err
		}
		h := problemOnError(c.handler(record, route))
		for _, method := range c.methods {
			m[method+" "+callbackPath(c.kind, route)] = h
		}
	}
	return m
}

// problemOnError gives the provider handlers' bare error statuses (they
// answer 400, 403 or 500 with no body, so as to tell a forger nothing) a
// short problem document like the rest of the API's, without detail.
func problemOnError(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&problemWriter{ResponseWriter: w}, r)
	})
}

type problemWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *problemWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if status < 400 {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.ResponseWriter.WriteHeader(status)
	_ = json.NewEncoder(w.ResponseWriter).Encode(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status,
	})
}

func (w *problemWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// startDevSMSC starts the SMSC simulator on a free loopback port; what it
// receives goes to the dev inbox. It returns the route to it.
func startDevSMSC(ctx context.Context, inbox *devinbox.Inbox, log *slog.Logger) (*sms.SMPPURL, error) {
	password := otpd.NewAdminToken()[11:19] // 8 random characters: SMPP 3.4's limit
	srv := smsc.New(smsc.Config{
		SystemID: "otpd",
		Password: password,
		Logger:   log.With("component", "dev-smsc"),
		OnMessage: func(m smsc.Message) {
			inbox.Add(devinbox.Message{To: m.To, Channel: string(otpd.ChannelSMS), Text: m.Text, ProviderIDs: m.MessageIDs})
		},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("dev smsc: %w", err)
	}
	go func() {
		if err := srv.Serve(ctx, ln); err != nil {
			log.Error("dev smsc stopped", "err", err)
		}
	}()
	return &sms.SMPPURL{Addr: ln.Addr().String(), SystemID: "otpd", Password: password, Window: 10, Binds: 1}, nil
}

// smppConfig turns a route URL into a transmitter's configuration; an
// smpps:// SMSC's certificate is verified against roots (the system's
// when nil) and the URL's host.
func smppConfig(u sms.SMPPURL, roots *x509.CertPool, onDeliver func(context.Context, *smpp.DeliverSM) error) smpp.Config {
	cfg := smpp.Config{
		Addr:       u.Addr,
		SystemID:   u.SystemID,
		Password:   u.Password,
		SystemType: u.SystemType,
		Window:     u.Window,
		TPS:        u.TPS,
		Binds:      u.Binds,
		OnDeliver:  onDeliver,
	}
	if u.TLS {
		cfg.TLS = tlsconfig.Client(roots)
	}
	return cfg
}

// publicURL checks the public_url setting and returns it without a
// trailing slash.
func publicURL(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("must be an absolute http(s) URL such as https://otp.example.com, without credentials, query or fragment")
	}
	return strings.TrimSuffix(s, "/"), nil
}
