package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/email"
	"github.com/otpd/otpd/internal/tlsconfig"
	"github.com/otpd/otpd/push"
	"github.com/otpd/otpd/push/apns"
	"github.com/otpd/otpd/push/fcm"
	"github.com/otpd/otpd/rcs"
	"github.com/otpd/otpd/whatsapp"
)

// whatsappConfig is the config file's whatsapp section: the WhatsApp
// Business Cloud API. Secrets may come from the environment (the _env
// keys). Meta calls <public_url>/v1/callbacks/whatsapp with statuses.
//
//	whatsapp:
//	  phone_number_id: "1234567890"
//	  access_token_env: WHATSAPP_TOKEN
//	  app_secret_env: WHATSAPP_APP_SECRET
//	  verify_token_env: WHATSAPP_VERIFY_TOKEN
//	  template: otp_login
//	  languages: [en, de, pt_BR]
//	  template_ttl: 10m
type whatsappConfig struct {
	PhoneNumberID  string        `yaml:"phone_number_id" toml:"phone_number_id"`
	AccessToken    string        `yaml:"access_token" toml:"access_token"`
	AccessTokenEnv string        `yaml:"access_token_env" toml:"access_token_env"`
	AppSecret      string        `yaml:"app_secret" toml:"app_secret"`
	AppSecretEnv   string        `yaml:"app_secret_env" toml:"app_secret_env"`
	VerifyToken    string        `yaml:"verify_token" toml:"verify_token"`
	VerifyTokenEnv string        `yaml:"verify_token_env" toml:"verify_token_env"`
	APIVersion     string        `yaml:"api_version" toml:"api_version"`
	BaseURL        string        `yaml:"base_url" toml:"base_url"`
	Template       string        `yaml:"template" toml:"template"`
	Language       string        `yaml:"language" toml:"language"`
	Languages      []string      `yaml:"languages" toml:"languages"`
	TemplateTTL    time.Duration `yaml:"template_ttl" toml:"template_ttl"`
	TLSCAFile      string        `yaml:"tls_ca_file" toml:"tls_ca_file"`
}

// rcsConfig is the config file's rcs section: Google RCS Business
// Messaging. RBM posts events to <public_url>/v1/callbacks/rcs.
//
//	rcs:
//	  agent_id: acme-otp@rbm.goog
//	  service_account_file: /etc/otpd/rbm-service-account.json
//	  client_token_env: RBM_CLIENT_TOKEN
type rcsConfig struct {
	AgentID            string `yaml:"agent_id" toml:"agent_id"`
	ServiceAccountFile string `yaml:"service_account_file" toml:"service_account_file"`
	ClientToken        string `yaml:"client_token" toml:"client_token"`
	ClientTokenEnv     string `yaml:"client_token_env" toml:"client_token_env"`
	TrafficType        string `yaml:"traffic_type" toml:"traffic_type"`
	BaseURL            string `yaml:"base_url" toml:"base_url"`
	TokenURL           string `yaml:"token_url" toml:"token_url"`
	TLSCAFile          string `yaml:"tls_ca_file" toml:"tls_ca_file"`
}

// emailConfig is the config file's email section: SMTP.
//
//	email:
//	  url: smtps://otp%40acme.com@smtp.acme.com:465?from=otp@acme.com
//	  password_env: SMTP_PASSWORD
type emailConfig struct {
	URL         string `yaml:"url" toml:"url"`
	Password    string `yaml:"password" toml:"password"`
	PasswordEnv string `yaml:"password_env" toml:"password_env"`
	TLSCAFile   string `yaml:"tls_ca_file" toml:"tls_ca_file"`
}

// Every section may set tls_ca_file: a PEM bundle of CAs its connections
// trust besides the system's roots, in place of the global tls_ca_file.

// pushConfig is the config file's push section: APNs for iOS devices and
// FCM for Android devices; either may be left out.
//
//	push:
//	  apns:
//	    key_id: ABC123DEFG
//	    team_id: DEF123GHIJ
//	    key_file: /etc/otpd/AuthKey_ABC123DEFG.p8
//	    topic: com.acme.bank
//	  fcm:
//	    service_account_file: /etc/otpd/firebase-service-account.json
type pushConfig struct {
	APNs *struct {
		KeyID     string `yaml:"key_id" toml:"key_id"`
		TeamID    string `yaml:"team_id" toml:"team_id"`
		KeyFile   string `yaml:"key_file" toml:"key_file"`
		Topic     string `yaml:"topic" toml:"topic"`
		Sandbox   bool   `yaml:"sandbox" toml:"sandbox"`
		BaseURL   string `yaml:"base_url" toml:"base_url"`
		TLSCAFile string `yaml:"tls_ca_file" toml:"tls_ca_file"`
	} `yaml:"apns" toml:"apns"`
	FCM *struct {
		ServiceAccountFile string `yaml:"service_account_file" toml:"service_account_file"`
		ProjectID          string `yaml:"project_id" toml:"project_id"`
		BaseURL            string `yaml:"base_url" toml:"base_url"`
		TLSCAFile          string `yaml:"tls_ca_file" toml:"tls_ca_file"`
	} `yaml:"fcm" toml:"fcm"`
}

// serviceTemplates gives the WhatsApp channel each service's own template
// (whatsapp_template, whatsapp_language), read from the store and kept for
// templateCacheTTL: settings change rarely, and a send should not wait for
// a read each time. A change reaches every node within that time.
type serviceTemplates struct {
	store otpd.Store
	mu    sync.Mutex
	cache map[string]cachedTemplate
}

type cachedTemplate struct {
	name, lang string
	at         time.Time
}

const templateCacheTTL = 30 * time.Second

// lookup implements whatsapp.TemplateFunc. When the service cannot be read
// it answers "none", and the configured template is used.
func (t *serviceTemplates) lookup(serviceID string) (name, lang string, ok bool) {
	t.mu.Lock()
	c, hit := t.cache[serviceID]
	t.mu.Unlock()
	if !hit || time.Since(c.at) > templateCacheTTL {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		svc, err := t.store.GetService(ctx, serviceID)
		cancel()
		if err != nil {
			return "", "", false
		}
		c = cachedTemplate{name: svc.WhatsAppTemplate, lang: svc.WhatsAppLanguage, at: time.Now()}
		t.mu.Lock()
		t.cache[serviceID] = c
		t.mu.Unlock()
	}
	return c.name, c.lang, c.name != "" || c.lang != ""
}

// storeDevices is push.Devices over the store: the push channel's view of
// the registered devices.
type storeDevices struct{ store otpd.Store }

func (d storeDevices) Device(ctx context.Context, serviceID, id string) (push.Device, error) {
	dev, err := d.store.GetDevice(ctx, serviceID, id)
	if err != nil {
		return push.Device{}, err
	}
	if dev.Dead() {
		return push.Device{}, fmt.Errorf("device %s is dead (%s): %w", id, dev.DeadReason, otpd.ErrNotFound)
	}
	return push.Device{ID: dev.ID, ServiceID: dev.ServiceID, Platform: string(dev.Platform), Token: dev.Token}, nil
}

func (d storeDevices) MarkDead(ctx context.Context, serviceID, id, reason string) error {
	err := d.store.MarkDeviceDead(ctx, serviceID, id, reason, time.Now())
	if errors.Is(err, otpd.ErrNotFound) {
		return nil // deleted meanwhile
	}
	return err
}

// providerChannels are the channels other than SMS that the config file
// sets up, and their status endpoints.
type providerChannels struct {
	channels  map[otpd.ChannelName]otpd.Channel
	callbacks []channelCallback
}

// channelCallback is a provider's status endpoint.
type channelCallback struct {
	channel otpd.ChannelName
	methods []string
	path    string
	handler func(record func(context.Context, otpd.Receipt) error) http.Handler
}

// buildChannels builds the channels the config file configures.
func buildChannels(cfg serveConfig, store otpd.Store, getenv func(string) string, log *slog.Logger) (providerChannels, error) {
	pc := providerChannels{channels: map[otpd.ChannelName]otpd.Channel{}}
	if m := cfg.Email; m != nil {
		ec, err := email.ParseURL(m.URL)
		if err != nil {
			return pc, usagef("email: url: %v", err)
		}
		password, err := secret("password", m.Password, m.PasswordEnv, getenv)
		if err != nil {
			return pc, usagef("email: %v", err)
		}
		if password != "" {
			ec.Password = password
		}
		if ec.RootCAs, err = trust(cfg.TLSCAFile, m.TLSCAFile); err != nil {
			return pc, usagef("email: tls_ca_file: %v", err)
		}
		s, err := email.New(ec)
		if err != nil {
			return pc, usagef("email: %v", err)
		}
		pc.channels[otpd.ChannelEmail] = s
	}
	if p := cfg.Push; p != nil {
		pcfg := push.Config{Devices: storeDevices{store}}
		if a := p.APNs; a != nil {
			key, err := os.ReadFile(a.KeyFile)
			if err != nil {
				return pc, usagef("push.apns: key_file: %v", err)
			}
			roots, err := trust(cfg.TLSCAFile, a.TLSCAFile)
			if err != nil {
				return pc, usagef("push.apns: tls_ca_file: %v", err)
			}
			if err := loopbackIfPlain("base_url", a.BaseURL); err != nil {
				return pc, usagef("push.apns: %v", err)
			}
			s, err := apns.New(apns.Config{KeyID: a.KeyID, TeamID: a.TeamID, Key: key, Topic: a.Topic, Sandbox: a.Sandbox, BaseURL: a.BaseURL, RootCAs: roots})
			if err != nil {
				return pc, usagef("push.apns: %v", err)
			}
			pcfg.IOS = s
		}
		if f := p.FCM; f != nil {
			sa, err := os.ReadFile(f.ServiceAccountFile)
			if err != nil {
				return pc, usagef("push.fcm: service_account_file: %v", err)
			}
			roots, err := trust(cfg.TLSCAFile, f.TLSCAFile)
			if err != nil {
				return pc, usagef("push.fcm: tls_ca_file: %v", err)
			}
			if err := loopbackIfPlain("base_url", f.BaseURL); err != nil {
				return pc, usagef("push.fcm: %v", err)
			}
			s, err := fcm.New(fcm.Config{ServiceAccountJSON: sa, ProjectID: f.ProjectID, BaseURL: f.BaseURL, HTTPClient: tlsconfig.HTTPClient(roots)})
			if err != nil {
				return pc, usagef("push.fcm: %v", err)
			}
			pcfg.Android = s
		}
		ch, err := push.New(pcfg)
		if err != nil {
			return pc, usagef("push: %v", err)
		}
		pc.channels[otpd.ChannelPush] = ch
	}
	if w := cfg.WhatsApp; w != nil {
		if cfg.PublicURL == "" {
			return pc, usagef("whatsapp: needs public_url (--public-url, OTPD_PUBLIC_URL): Meta sends statuses to <public_url>/v1/callbacks/whatsapp")
		}
		token, err := secret("access_token", w.AccessToken, w.AccessTokenEnv, getenv)
		if err != nil {
			return pc, usagef("whatsapp: %v", err)
		}
		appSecret, err := secret("app_secret", w.AppSecret, w.AppSecretEnv, getenv)
		if err != nil {
			return pc, usagef("whatsapp: %v", err)
		}
		verify, err := secret("verify_token", w.VerifyToken, w.VerifyTokenEnv, getenv)
		if err != nil {
			return pc, usagef("whatsapp: %v", err)
		}
		roots, err := trust(cfg.TLSCAFile, w.TLSCAFile)
		if err != nil {
			return pc, usagef("whatsapp: tls_ca_file: %v", err)
		}
		if err := loopbackIfPlain("base_url", w.BaseURL); err != nil {
			return pc, usagef("whatsapp: %v", err)
		}
		templates := &serviceTemplates{store: store, cache: map[string]cachedTemplate{}}
		ch, err := whatsapp.New(whatsapp.Config{
			PhoneNumberID: w.PhoneNumberID, AccessToken: token, AppSecret: appSecret, VerifyToken: verify,
			APIVersion: w.APIVersion, BaseURL: w.BaseURL, Template: w.Template, Language: w.Language,
			Languages: w.Languages, TemplateTTL: w.TemplateTTL, Logger: log, Templates: templates.lookup,
			HTTPClient: tlsconfig.HTTPClient(roots),
		})
		if err != nil {
			return pc, usagef("whatsapp: %v", err)
		}
		pc.channels[otpd.ChannelWhatsApp] = ch
		pc.callbacks = append(pc.callbacks, channelCallback{otpd.ChannelWhatsApp, []string{http.MethodGet, http.MethodPost}, "/v1/callbacks/whatsapp", ch.Handler})
	}
	if r := cfg.RCS; r != nil {
		if cfg.PublicURL == "" {
			return pc, usagef("rcs: needs public_url (--public-url, OTPD_PUBLIC_URL): RBM sends events to <public_url>/v1/callbacks/rcs")
		}
		if r.ServiceAccountFile == "" {
			return pc, usagef("rcs: service_account_file is required")
		}
		sa, err := os.ReadFile(r.ServiceAccountFile)
		if err != nil {
			return pc, usagef("rcs: service_account_file: %v", err)
		}
		clientToken, err := secret("client_token", r.ClientToken, r.ClientTokenEnv, getenv)
		if err != nil {
			return pc, usagef("rcs: %v", err)
		}
		roots, err := trust(cfg.TLSCAFile, r.TLSCAFile)
		if err != nil {
			return pc, usagef("rcs: tls_ca_file: %v", err)
		}
		for key, u := range map[string]string{"base_url": r.BaseURL, "token_url": r.TokenURL} {
			if err := loopbackIfPlain(key, u); err != nil {
				return pc, usagef("rcs: %v", err)
			}
		}
		// The client also fetches the OAuth tokens from Google.
		ch, err := rcs.New(rcs.Config{ServiceAccountJSON: sa, AgentID: r.AgentID, ClientToken: clientToken,
			TrafficType: r.TrafficType, BaseURL: r.BaseURL, TokenURL: r.TokenURL, HTTPClient: tlsconfig.HTTPClient(roots)})
		if err != nil {
			return pc, usagef("rcs: %v", err)
		}
		pc.channels[otpd.ChannelRCS] = ch
		pc.callbacks = append(pc.callbacks, channelCallback{otpd.ChannelRCS, []string{http.MethodPost}, "/v1/callbacks/rcs", ch.Handler})
	}
	return pc, nil
}

// mount adds the channels' status endpoints to m. Like the SMS providers'
// callbacks they take no bearer token: the provider's signature
// authenticates them. Receipts go to Engine.RecordReceipt.
func (pc providerChannels) mount(m map[string]http.Handler, engine *otpd.Engine, log *slog.Logger) {
	for _, c := range pc.callbacks {
		ch := c.channel
		record := func(ctx context.Context, r otpd.Receipt) error {
			err := engine.RecordReceipt(ctx, r)
			if err != nil && !errors.Is(err, otpd.ErrNotFound) {
				log.Error("recording a status report", "channel", ch, "err", err)
			}
			return err
		}
		h := problemOnError(c.handler(record))
		for _, method := range c.methods {
			m[fmt.Sprintf("%s %s", method, c.path)] = h
		}
	}
}
