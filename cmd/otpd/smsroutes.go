package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/devinbox"
	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/sms"
	"github.com/otpd/otpd/smsc"
)

// smsRouteConfig is one SMS route of the config file:
//
//	sms:
//	  routes:
//	    - name: uk
//	      smpp: smpp://otpd:secret@smsc-uk.example:2775?window=32&source=Acme
//	      prefixes: ["+44"]
//	      priority: 1
//	    - name: default
//	      smpp: smpps://otpd:secret@smsc.example:3550
//
// A destination goes to the routes with the longest matching prefix (a
// route without prefixes matches every number), in priority order, and
// fails over to the next when one is down or refuses it temporarily.
type smsRouteConfig struct {
	Name     string   `yaml:"name" toml:"name"`
	SMPP     string   `yaml:"smpp" toml:"smpp"`
	Prefixes []string `yaml:"prefixes" toml:"prefixes"`
	Priority int      `yaml:"priority" toml:"priority"`
}

// smsConfig is the "sms" section of the config file.
type smsConfig struct {
	Routes []smsRouteConfig `yaml:"routes" toml:"routes"`
}

// buildSMS makes the SMS channel: the config file's routes, or the --smpp
// route, or in dev mode the in-process SMSC. It returns a nil router when
// SMS is not configured. receipts gives each route's receipt handler.
func buildSMS(smscCtx context.Context, cfg serveConfig, inbox *devinbox.Inbox,
	receipts func(route string) func(context.Context, *smpp.DeliverSM) error, log *slog.Logger,
) (*sms.Router, []*smpp.Transmitter, error) {
	type spec struct {
		name     string
		prefixes []string
		priority int
		url      sms.SMPPURL
	}
	var specs []spec
	switch {
	case cfg.SMPP != "":
		u, err := sms.ParseSMPPURL(cfg.SMPP)
		if err != nil {
			return nil, nil, usagef("--smpp: %v", err)
		}
		specs = append(specs, spec{name: "smpp", url: u})
	case len(cfg.SMS.Routes) > 0:
		for i, rc := range cfg.SMS.Routes {
			if rc.SMPP == "" {
				return nil, nil, usagef("sms.routes[%d] (%s): give its smpp URL", i, rc.Name)
			}
			u, err := sms.ParseSMPPURL(rc.SMPP)
			if err != nil {
				return nil, nil, usagef("sms.routes[%d] (%s): %v", i, rc.Name, err)
			}
			specs = append(specs, spec{name: rc.Name, prefixes: rc.Prefixes, priority: rc.Priority, url: u})
		}
	case cfg.Dev:
		u, err := startDevSMSC(smscCtx, inbox, log)
		if err != nil {
			return nil, nil, err
		}
		specs = append(specs, spec{name: "dev", url: *u})
	default:
		return nil, nil, nil
	}

	var (
		routes       []*sms.Route
		transmitters []*smpp.Transmitter
	)
	closeAll := func() {
		for _, t := range transmitters {
			_ = t.Close(context.Background())
		}
	}
	for _, sp := range specs {
		t, err := smpp.NewTransmitter(smppConfig(sp.url, receipts(sp.name)))
		if err != nil {
			closeAll()
			return nil, nil, usagef("sms route %s: %v", sp.name, err)
		}
		transmitters = append(transmitters, t)
		smppRoute, err := sms.NewSMPPRoute(t, sp.url.Options)
		if err != nil {
			closeAll()
			return nil, nil, usagef("sms route %s: %v", sp.name, err)
		}
		r := &sms.Route{Name: sp.name, Prefixes: sp.prefixes, Priority: sp.priority, Channel: smppRoute}
		if cfg.Dev && cfg.SMPP == "" && len(cfg.SMS.Routes) == 0 {
			r.Channel = inbox.Linked(smppRoute) // the dev SMSC's messages show in the inbox
		}
		routes = append(routes, r)
		log.Info("sms route", "route", r.Name, "smsc", sp.url.String(), "prefixes", r.Prefixes, "priority", r.Priority,
			"binds", sp.url.Binds, "window", sp.url.Window)
	}
	router, err := sms.NewRouter(routes)
	if err != nil {
		closeAll()
		return nil, nil, usagef("sms routes: %v", err)
	}
	return router, transmitters, nil
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

// smppConfig turns a route URL into a transmitter's configuration.
func smppConfig(u sms.SMPPURL, onDeliver func(context.Context, *smpp.DeliverSM) error) smpp.Config {
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
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return cfg
}
