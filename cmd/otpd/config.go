package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/fraud"
	"github.com/otpd/otpd/webhook"
)

// serveConfig is every setting of otpd serve. Defaults come from
// defaultServeConfig; a config file, then OTPD_* environment variables, then
// flags override them, in that order.
type serveConfig struct {
	Addr            string        `yaml:"addr" toml:"addr"`
	DataDir         string        `yaml:"data_dir" toml:"data_dir"`
	Store           string        `yaml:"store" toml:"store"`
	Keyring         string        `yaml:"keyring" toml:"keyring"`
	AdminToken      string        `yaml:"admin_token" toml:"admin_token"`
	Dev             bool          `yaml:"dev" toml:"dev"`
	Pprof           bool          `yaml:"pprof" toml:"pprof"`
	SMPP            string        `yaml:"smpp" toml:"smpp"`
	PublicURL       string        `yaml:"public_url" toml:"public_url"`
	LogLevel        string        `yaml:"log_level" toml:"log_level"`
	LogFormat       string        `yaml:"log_format" toml:"log_format"`
	Retention       time.Duration `yaml:"retention" toml:"retention"`
	SweepInterval   time.Duration `yaml:"sweep_interval" toml:"sweep_interval"`
	DeliveryWorkers int           `yaml:"delivery_workers" toml:"delivery_workers"`
	DeliveryLease   time.Duration `yaml:"delivery_lease" toml:"delivery_lease"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" toml:"shutdown_timeout"`
	// CacheTTL bounds how long a node uses a service or API key it read
	// when no change was announced to it (otpd.Config.CacheTTL); 0: no
	// cache.
	CacheTTL time.Duration `yaml:"cache_ttl" toml:"cache_ttl"`

	// TLSCert and TLSKey serve the API over HTTPS (both or neither),
	// reloaded on SIGHUP; TLSClientCA, when set, requires client
	// certificates issued by those CAs (mutual TLS).
	TLSCert     string `yaml:"tls_cert" toml:"tls_cert"`
	TLSKey      string `yaml:"tls_key" toml:"tls_key"`
	TLSClientCA string `yaml:"tls_client_ca" toml:"tls_client_ca"`
	// TLSCAFile is a PEM bundle of CAs that outbound connections (SMTP,
	// SMPP, HTTP providers, webhooks) trust besides the system's roots; a
	// channel section's or SMS route's own tls_ca_file replaces it there.
	TLSCAFile string `yaml:"tls_ca_file" toml:"tls_ca_file"`

	WebhookRetryWindow time.Duration `yaml:"webhook_retry_window" toml:"webhook_retry_window"`
	WebhookTimeout     time.Duration `yaml:"webhook_timeout" toml:"webhook_timeout"`
	WebhookWorkers     int           `yaml:"webhook_workers" toml:"webhook_workers"`
	// WebhookAllowPrivate lets webhooks reach non-public addresses
	// (loopback, private networks, link-local); --dev implies it.
	WebhookAllowPrivate bool `yaml:"webhook_allow_private" toml:"webhook_allow_private"`

	// FallbackTimeouts (config file only) override how long a sent message
	// may go without a delivery receipt before its verification falls
	// back to its next channel, per channel, e.g. {whatsapp: 45s}; 0 turns
	// the timer off for that channel.
	FallbackTimeouts map[string]time.Duration `yaml:"fallback_timeouts" toml:"fallback_timeouts"`

	// Limits (config file only) are the server's default rate limits by
	// name, e.g. {destination: 5/10m, country: off}; a service's own
	// rate_limits override them. Names left out keep otpd.DefaultLimits.
	Limits map[string]string `yaml:"limits" toml:"limits"`
	// limits is Limits as checked by validate.
	limits otpd.Limits

	// WhatsApp and RCS (config file only) set up those channels.
	WhatsApp *whatsappConfig `yaml:"whatsapp" toml:"whatsapp"`
	RCS      *rcsConfig      `yaml:"rcs" toml:"rcs"`
	Push     *pushConfig     `yaml:"push" toml:"push"`
	Email    *emailConfig    `yaml:"email" toml:"email"`

	// SMS holds what only the config file can say: several SMS routes.
	SMS smsConfig `yaml:"sms" toml:"sms"`

	// Fraud (config file only) sets up the conversion-rate guard against
	// SMS pumping (package fraud).
	Fraud fraudConfig `yaml:"fraud" toml:"fraud"`

	// smsRoutes are the SMS routes as checked by loadServeConfig, from
	// SMPP or SMS, with their secrets read from the environment.
	smsRoutes []smsRouteSpec
}

func defaultServeConfig() serveConfig {
	return serveConfig{
		Addr:            "127.0.0.1:8080",
		DataDir:         "./otpd-data",
		LogLevel:        "info",
		LogFormat:       "text",
		Retention:       30 * 24 * time.Hour,
		SweepInterval:   time.Minute,
		DeliveryWorkers: 32,
		DeliveryLease:   time.Minute,
		ShutdownTimeout: 15 * time.Second,
		CacheTTL:        otpd.DefaultCacheTTL,

		WebhookRetryWindow: otpd.DefaultWebhookRetryWindow,
		WebhookTimeout:     webhook.DefaultTimeout,
		WebhookWorkers:     webhook.DefaultWorkers,
	}
}

// setting is one configurable value: its flag, its environment variable and
// its place in serveConfig. One table drives flags, env and help, so they
// cannot drift apart.
type setting struct {
	flag, env, usage string
	get              func(c *serveConfig) any
	set              func(c *serveConfig, v string) error
}

func stringSetting(flag, env, usage string, field func(*serveConfig) *string) setting {
	return setting{flag, env, usage,
		func(c *serveConfig) any { return *field(c) },
		func(c *serveConfig, v string) error { *field(c) = v; return nil }}
}

func durationSetting(flag, env, usage string, field func(*serveConfig) *time.Duration) setting {
	return setting{flag, env, usage,
		func(c *serveConfig) any { return *field(c) },
		func(c *serveConfig, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("not a duration such as 30s or 720h")
			}
			*field(c) = d
			return nil
		}}
}

func intSetting(flag, env, usage string, field func(*serveConfig) *int) setting {
	return setting{flag, env, usage,
		func(c *serveConfig) any { return *field(c) },
		func(c *serveConfig, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("not a whole number")
			}
			*field(c) = n
			return nil
		}}
}

func boolSetting(flag, env, usage string, field func(*serveConfig) *bool) setting {
	return setting{flag, env, usage,
		func(c *serveConfig) any { return *field(c) },
		func(c *serveConfig, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("not a boolean (true or false)")
			}
			*field(c) = b
			return nil
		}}
}

var serveSettings = []setting{
	stringSetting("addr", "OTPD_ADDR", "address the HTTP API listens on (host:port; port 0 picks a free one)", func(c *serveConfig) *string { return &c.Addr }),
	stringSetting("data-dir", "OTPD_DATA_DIR", "directory for the database, keyring and admin token (created mode 0700)", func(c *serveConfig) *string { return &c.DataDir }),
	stringSetting("store", "OTPD_STORE", "store: empty for the SQLite file in the data dir, a file path for SQLite elsewhere, or a postgres:// DSN", func(c *serveConfig) *string { return &c.Store }),
	stringSetting("keyring", "OTPD_KEYRING", "keyring file (the keys codes are derived and hashed with); default <data-dir>/keyring.json, created on first start; nodes sharing a store must share it; re-read on SIGHUP (or give the keyring JSON itself in OTPD_KEYRING_JSON)", func(c *serveConfig) *string { return &c.Keyring }),
	{"config", "OTPD_CONFIG", "config file (.yaml, .yml or .toml) with any of these settings; flags and env vars win over it", nil, nil},
	stringSetting("admin-token", "OTPD_ADMIN_TOKEN", "admin bearer token; when unset, one is generated on first start, printed once and only its hash kept in <data-dir>/admin-token.sha256", func(c *serveConfig) *string { return &c.AdminToken }),
	boolSetting("dev", "OTPD_DEV", "dev mode: every channel delivers to the dev inbox at /dev/inbox and /dev/messages (never use in production)", func(c *serveConfig) *bool { return &c.Dev }),
	boolSetting("pprof", "OTPD_PPROF", "serve Go's profiler (net/http/pprof) at /debug/pprof/, to the admin token only", func(c *serveConfig) *bool { return &c.Pprof }),
	stringSetting("smpp", "OTPD_SMPP", "one SMPP route for all SMS: smpp://system_id:password@host:port?window=10&tps=0&source=Acme (smpps:// for TLS)", func(c *serveConfig) *string { return &c.SMPP }),
	stringSetting("public-url", "OTPD_PUBLIC_URL", "the externally reachable base URL of this server, e.g. https://otp.example.com; HTTP SMS providers (Twilio, Vonage) post delivery status to <public-url>/v1/callbacks/<type>/<route>", func(c *serveConfig) *string { return &c.PublicURL }),
	stringSetting("log-level", "OTPD_LOG_LEVEL", "log level: debug, info, warn or error", func(c *serveConfig) *string { return &c.LogLevel }),
	stringSetting("log-format", "OTPD_LOG_FORMAT", "log format: text or json", func(c *serveConfig) *string { return &c.LogFormat }),
	durationSetting("retention", "OTPD_RETENTION", "how long closed verifications (personal data) are kept before the sweeper purges them", func(c *serveConfig) *time.Duration { return &c.Retention }),
	durationSetting("sweep-interval", "OTPD_SWEEP_INTERVAL", "how often expiry and retention are swept", func(c *serveConfig) *time.Duration { return &c.SweepInterval }),
	intSetting("delivery-workers", "OTPD_DELIVERY_WORKERS", "concurrent message sends", func(c *serveConfig) *int { return &c.DeliveryWorkers }),
	durationSetting("delivery-lease", "OTPD_DELIVERY_LEASE", "how long a node holds a message it is sending; a message claimed by a node that died is sent again after this. A send may take half of it", func(c *serveConfig) *time.Duration { return &c.DeliveryLease }),
	durationSetting("webhook-retry-window", "OTPD_WEBHOOK_RETRY_WINDOW", "how long a webhook event is retried before it is given up (at least 24h)", func(c *serveConfig) *time.Duration { return &c.WebhookRetryWindow }),
	durationSetting("webhook-timeout", "OTPD_WEBHOOK_TIMEOUT", "how long one webhook POST may take, the receiver's answer included", func(c *serveConfig) *time.Duration { return &c.WebhookTimeout }),
	intSetting("webhook-workers", "OTPD_WEBHOOK_WORKERS", "webhook POSTs in flight at once on this node", func(c *serveConfig) *int { return &c.WebhookWorkers }),
	boolSetting("webhook-allow-private", "OTPD_WEBHOOK_ALLOW_PRIVATE", "let webhooks reach loopback, private and link-local addresses (off: a webhook_url cannot reach the server's own network; --dev turns it on)", func(c *serveConfig) *bool { return &c.WebhookAllowPrivate }),
	stringSetting("tls-cert", "OTPD_TLS_CERT", "serve the API over HTTPS with this PEM certificate chain (with --tls-key); SIGHUP reloads both files", func(c *serveConfig) *string { return &c.TLSCert }),
	stringSetting("tls-key", "OTPD_TLS_KEY", "the PEM private key of --tls-cert", func(c *serveConfig) *string { return &c.TLSKey }),
	stringSetting("tls-client-ca", "OTPD_TLS_CLIENT_CA", "PEM bundle of CAs whose client certificates the API requires (mutual TLS); needs --tls-cert", func(c *serveConfig) *string { return &c.TLSClientCA }),
	stringSetting("tls-ca-file", "OTPD_TLS_CA_FILE", "PEM bundle of private CAs that outbound TLS (SMTP, SMPP, providers, webhooks) trusts besides the system's roots", func(c *serveConfig) *string { return &c.TLSCAFile }),
	durationSetting("cache-ttl", "OTPD_CACHE_TTL", "how long a node uses a service or API key it read before reading it again, when no change was announced to it (a key revoked through the node, or on PostgreSQL through any node, is refused at once); 0 turns the cache off", func(c *serveConfig) *time.Duration { return &c.CacheTTL }),
	durationSetting("shutdown-timeout", "OTPD_SHUTDOWN_TIMEOUT", "how long a SIGINT/SIGTERM shutdown waits for requests and sends in flight", func(c *serveConfig) *time.Duration { return &c.ShutdownTimeout }),
}

// flagValue records a flag's raw value so it can be applied after the
// config file and the environment.
type flagValue struct {
	raw    *map[string]string
	name   string
	isBool bool
}

func (f flagValue) String() string { return "" }
func (f flagValue) Set(v string) error {
	(*f.raw)[f.name] = v
	return nil
}
func (f flagValue) IsBoolFlag() bool { return f.isBool }

// loadServeConfig reads the settings from defaults, the config file, the
// environment and args, in rising precedence.
func (e *env) loadServeConfig(args []string) (serveConfig, error) {
	fs := flag.NewFlagSet("otpd serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	raw := map[string]string{}
	var zero serveConfig
	for _, s := range serveSettings {
		isBool := false
		if s.get != nil {
			_, isBool = s.get(&zero).(bool)
		}
		fs.Var(flagValue{&raw, s.flag, isBool}, s.flag, s.usage)
	}
	fs.Usage = func() { e.serveUsage(fs) }
	if err := fs.Parse(args); err != nil {
		return serveConfig{}, err
	}
	if fs.NArg() > 0 {
		return serveConfig{}, usagef("serve takes no arguments, got %q", fs.Arg(0))
	}

	cfg := defaultServeConfig()
	path := raw["config"]
	if path == "" {
		path = e.getenv("OTPD_CONFIG")
	}
	if path != "" {
		if err := readConfigFile(path, &cfg); err != nil {
			return serveConfig{}, err
		}
	}
	for _, s := range serveSettings {
		if s.set == nil {
			continue
		}
		if v := e.getenv(s.env); v != "" {
			if err := s.set(&cfg, v); err != nil {
				return serveConfig{}, usagef("%s=%q: %v", s.env, v, err)
			}
		}
	}
	for _, s := range serveSettings {
		if v, ok := raw[s.flag]; ok && s.set != nil {
			if err := s.set(&cfg, v); err != nil {
				return serveConfig{}, usagef("--%s %q: %v", s.flag, v, err)
			}
		}
	}
	if err := cfg.validate(); err != nil {
		return serveConfig{}, err
	}
	routes, err := cfg.smsRouteSpecs(e.getenv)
	if err != nil {
		return serveConfig{}, err
	}
	cfg.smsRoutes = routes
	return cfg, nil
}

func readConfigFile(path string, cfg *serveConfig) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return usagef("config file: %v", err)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(cfg); err != nil && err.Error() != "EOF" {
			return usagef("config file %s: %v", path, err)
		}
	case ".toml":
		md, err := toml.Decode(string(data), cfg)
		if err != nil {
			return usagef("config file %s: %v", path, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return usagef("config file %s: unknown setting %q", path, und[0].String())
		}
	default:
		return usagef("config file %s: use a .yaml, .yml or .toml file", path)
	}
	return nil
}

func (c *serveConfig) validate() error {
	c.limits = otpd.Limits{}
	for name, v := range c.Limits {
		l, err := otpd.ParseRateLimit(v)
		if err == nil && l.N == 0 {
			err = errors.New(`give a limit such as "5/10m" or "off"`)
		}
		if err != nil {
			return usagef("limits: %s: %v", name, err)
		}
		if err := c.limits.Set(name, l); err != nil {
			return usagef("limits: unknown limit %q (the limits are %s)", name, strings.Join(otpd.LimitNames(), ", "))
		}
	}
	if err := c.Fraud.guardConfig().Check(); err != nil {
		return usagef("fraud: %v", strings.TrimPrefix(err.Error(), "fraud: "))
	}
	for ch, d := range c.FallbackTimeouts {
		if c := otpd.ChannelName(ch); !c.Valid() || c == otpd.ChannelAuto {
			return usagef("fallback_timeouts: %q is not a channel (sms, whatsapp, rcs, push, email)", ch)
		}
		if d < 0 || d > time.Hour {
			return usagef("fallback_timeouts: %s must be between 0 and 1h", ch)
		}
	}
	switch {
	case c.Addr == "":
		return usagef("--addr must not be empty")
	case c.DataDir == "":
		return usagef("--data-dir must not be empty")
	case c.Retention < 0:
		return usagef("--retention must not be negative")
	case c.SweepInterval < time.Second:
		return usagef("--sweep-interval must be at least 1s")
	case c.DeliveryWorkers < 1 || c.DeliveryWorkers > 10000:
		return usagef("--delivery-workers must be between 1 and 10000")
	case c.DeliveryLease < 2*time.Second || c.DeliveryLease > time.Hour:
		return usagef("--delivery-lease must be between 2s and 1h")
	case c.ShutdownTimeout <= 0:
		return usagef("--shutdown-timeout must be positive")
	case c.CacheTTL < 0 || c.CacheTTL > time.Minute:
		return usagef("--cache-ttl must be between 0 (off) and 1m")
	case c.WebhookRetryWindow < 24*time.Hour || c.WebhookRetryWindow > 30*24*time.Hour:
		return usagef("--webhook-retry-window must be between 24h and 720h")
	case c.WebhookTimeout < time.Second || c.WebhookTimeout > time.Minute:
		return usagef("--webhook-timeout must be between 1s and 1m")
	case c.WebhookWorkers < 1 || c.WebhookWorkers > 1000:
		return usagef("--webhook-workers must be between 1 and 1000")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return usagef("--log-level must be debug, info, warn or error, not %q", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return usagef("--log-format must be text or json, not %q", c.LogFormat)
	}
	if c.SMPP != "" && len(c.SMS.Routes) > 0 {
		return usagef("give one SMPP route with --smpp or several in the config file's sms.routes, not both")
	}
	u, err := publicURL(c.PublicURL)
	if err != nil {
		return usagef("--public-url %q: %v", c.PublicURL, err)
	}
	c.PublicURL = u
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return usagef("--tls-cert and --tls-key go together: give both or neither")
	}
	if c.TLSClientCA != "" && c.TLSCert == "" {
		return usagef("--tls-client-ca needs --tls-cert and --tls-key: client certificates are asked for over TLS")
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		return usagef("--admin-token must be at least 16 characters")
	}
	return nil
}

func (e *env) serveUsage(fs *flag.FlagSet) {
	def := defaultServeConfig()
	fmt.Fprint(e.stderr, `Usage: otpd serve [flags]

Runs the otpd HTTP API, the delivery workers and the sweeper. Every setting
can come from a flag, an environment variable or a config file (YAML or TOML,
keys as in the file column); flags win over env vars, env vars over the file.

Settings:
`)
	for _, s := range serveSettings {
		key := strings.ReplaceAll(s.flag, "-", "_")
		dv := ""
		if s.get != nil {
			switch v := s.get(&def).(type) {
			case string:
				if v != "" {
					dv = fmt.Sprintf(" (default %q)", v)
				}
			case bool:
			default:
				dv = fmt.Sprintf(" (default %v)", v)
			}
		}
		if s.flag == "config" {
			key = "-"
		}
		fmt.Fprintf(e.stderr, "  --%s / %s / file: %s%s\n      %s\n", s.flag, s.env, key, dv, s.usage)
	}
}

// fraudConfig is the config file's fraud section: the conversion-rate
// guard. Zero values take package fraud's defaults.
type fraudConfig struct {
	// Enabled turns the guard on (the default) or off.
	Enabled        *bool           `yaml:"enabled" toml:"enabled"`
	MinVolume      int64           `yaml:"min_volume" toml:"min_volume"`
	MinConversion  float64         `yaml:"min_conversion" toml:"min_conversion"`
	Maturity       time.Duration   `yaml:"maturity" toml:"maturity"`
	Window         time.Duration   `yaml:"window" toml:"window"`
	Bucket         time.Duration   `yaml:"bucket" toml:"bucket"`
	BlockDurations []time.Duration `yaml:"block_durations" toml:"block_durations"`
	SweepInterval  time.Duration   `yaml:"sweep_interval" toml:"sweep_interval"`
}

// enabled reports whether the guard runs.
func (f fraudConfig) enabled() bool { return f.Enabled == nil || *f.Enabled }

// guardConfig returns the guard's settings; the caller adds the store and
// the wiring.
func (f fraudConfig) guardConfig() fraud.Config {
	return fraud.Config{
		MinVolume:     f.MinVolume,
		MinConversion: f.MinConversion,
		Maturity:      f.Maturity,
		Window:        f.Window,
		Bucket:        f.Bucket,
		Durations:     f.BlockDurations,
		SweepInterval: f.SweepInterval,
	}
}
