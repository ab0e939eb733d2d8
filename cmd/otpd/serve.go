package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/delivery"
	"github.com/otpd/otpd/devinbox"
	"github.com/otpd/otpd/fraud"
	"github.com/otpd/otpd/httpapi"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/metrics"
	"github.com/otpd/otpd/postgres"
	"github.com/otpd/otpd/ratelimit"
	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/sms"
	"github.com/otpd/otpd/sqlite"
	"github.com/otpd/otpd/webhook"
)

const (
	keyringFile  = "keyring.json"
	databaseFile = "otpd.db"
)

// serve runs the server until ctx ends (SIGINT or SIGTERM), then shuts down
// in order: stop accepting requests, let in-flight requests and sends
// finish, close the store.
func (e *env) serve(ctx context.Context, args []string) error {
	cfg, err := e.loadServeConfig(args)
	if err != nil {
		return err
	}
	log := newLogger(e, cfg)
	// SIGHUP reloads what can be reloaded (reloadOnSignal) rather than
	// ending the process, its default; caught from the start so that one
	// sent early does not kill a starting server.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cert, tlsCfg, err := apiTLS(cfg)
	if err != nil {
		return err
	}
	// The global outbound CA bundle, checked here so that a bad one is
	// named as such rather than as the first section that uses it.
	outboundRoots, err := trust(cfg.TLSCAFile, "")
	if err != nil {
		return usagef("--tls-ca-file: %v", err)
	}
	var reloadables []reloadable
	if cert != nil {
		reloadables = append(reloadables, certReloadable(cert))
	}

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	keyringSrc, err := resolveKeyring(cfg.Keyring, cfg.DataDir, e.getenv)
	if err != nil {
		return err
	}
	keyring, err := keyringSrc.load()
	if err != nil {
		return err
	}
	admin, err := loadAdminToken(cfg, log)
	if err != nil {
		return err
	}
	// Personal data is sealed with the keyring's current key; the ref lets
	// a reloaded keyring take over without reopening the store.
	sealer := otpd.NewSealerRef(keyring)
	store, err := openStore(ctx, cfg, sealer)
	if err != nil {
		return err
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	routeMetrics := metrics.NewRoutes(reg)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	providers, err := buildChannels(cfg, store, e.getenv, log)
	if err != nil {
		return err
	}
	channels := providers.channels
	var inbox *devinbox.Inbox
	if cfg.Dev {
		// Every channel without real settings delivers to the dev inbox.
		inbox = devinbox.New(devinbox.WithConsole(e.stdout))
		for _, c := range []otpd.ChannelName{otpd.ChannelEmail, otpd.ChannelWhatsApp, otpd.ChannelRCS, otpd.ChannelPush} {
			if channels[c] == nil {
				channels[c] = inbox
			}
		}
	}

	// SMS goes over SMPP: to the configured routes, or in dev mode to an
	// SMSC simulator started in-process on loopback, so the dev path runs
	// the real code. The SMSC outlives the transmitters, so they can unbind.
	smscCtx, stopSMSC := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSMSC()
	engineReady := make(chan struct{})
	var engine *otpd.Engine
	receipts := func(route string) func(context.Context, *smpp.DeliverSM) error {
		return func(ctx context.Context, d *smpp.DeliverSM) error {
			select {
			case <-engineReady:
			case <-ctx.Done():
				return ctx.Err()
			}
			return handleReceipt(ctx, engine, route, d, log, routeMetrics)
		}
	}
	smsRouter, transmitters, smsCallbacks, err := buildSMS(smscCtx, cfg, inbox, receipts, log)
	if err != nil {
		return err
	}
	defer func() {
		// Unbind before the store closes, so receipts arriving meanwhile
		// are still recorded (runs before the deferred store.Close).
		closeCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		for _, t := range transmitters {
			if err := t.Close(closeCtx); err != nil {
				log.Warn("unbinding from an SMSC", "err", err)
			}
		}
		stopSMSC()
	}()
	if smsRouter != nil {
		smsRouter.SetObserver(routeMetrics)
		routeMetrics.WatchStates(func() []metrics.RouteState { return routeStates(smsRouter) })
		channels[otpd.ChannelSMS] = smsRouter
	}
	if len(channels) == 0 {
		log.Warn("no delivery channels are configured: starts are refused with channel_unavailable; use --smpp for SMS, or --dev for the dev inbox")
	}

	dispatcher := delivery.New(store, delivery.Options{Workers: cfg.DeliveryWorkers, Lease: cfg.DeliveryLease, ShutdownGrace: cfg.ShutdownTimeout, Logger: log})
	webhooks := webhook.New(webhook.Config{
		Store: store,
		// The engine is made below, before anything delivers events.
		Service: func(ctx context.Context, id string) (*otpd.Service, error) { return engine.CachedService(ctx, id) },
		RootCAs: outboundRoots,
		Body:    httpapi.EventBody,
		Timeout: cfg.WebhookTimeout,
		Workers: cfg.WebhookWorkers,
		// A service's webhook_url must not make this server reach its own
		// network (SSRF), unless the operator says receivers live there.
		PublicOnly: !cfg.Dev && !cfg.WebhookAllowPrivate,
		UserAgent:  "otpd-webhook/" + version,
		Observer:   metrics.NewWebhooks(reg),
		Logger:     log,
	})
	// The conversion-rate guard against SMS pumping; both interfaces stay
	// nil (not a nil *fraud.Guard) when it is off.
	var (
		guard      *fraud.Guard
		fraudGuard otpd.FraudGuard
		blockAdmin httpapi.BlockAdmin
	)
	if cfg.Fraud.enabled() {
		gc := cfg.Fraud.guardConfig()
		gc.Store, gc.EventData, gc.NotifyEvents = store, httpapi.BlockEventData, webhooks.Notify
		gc.WebhookRetryWindow, gc.Observer, gc.Logger = cfg.WebhookRetryWindow, metrics.NewFraud(reg), log
		// The engine is made below, before anything can block or lift.
		gc.Audit = func(ctx context.Context, entry otpd.AuditEntry) error { return engine.Audit(ctx, entry) }
		if guard, err = fraud.New(gc); err != nil {
			return err
		}
		fraudGuard, blockAdmin = guard, guard
	}
	engine, err = otpd.NewEngine(otpd.Config{
		Store:              store,
		Keyring:            keyring,
		Channels:           channels,
		Renderer:           message.New(),
		AdminTokenHash:     admin.hash[:],
		Notify:             dispatcher.Notify,
		Handoff:            dispatcher,
		RegionLocale:       message.LocaleForRegion,
		FallbackTimeouts:   fallbackTimeouts(cfg),
		NotifyEvents:       webhooks.Notify,
		EventData:          httpapi.EventData,
		WebhookRetryWindow: cfg.WebhookRetryWindow,
		SendTimeout:        cfg.DeliveryLease / 2,
		Limiter:            rateLimiter(store),
		Limits:             cfg.limits,
		Observer:           metrics.New(reg),
		Logger:             log,
		Guard:              fraudGuard,
		CacheTTL:           cacheTTL(cfg.CacheTTL),
	})
	if err != nil {
		return err
	}
	if err := engine.CheckKeyring(ctx); err != nil {
		return fmt.Errorf("%w (keyring %s)", err, keyringSrc)
	}
	// SIGHUP also re-reads the keyring (otpd keys rotate|add|activate).
	reloadables = append(reloadables, keyringReloadable(ctx, engine, sealer, keyringSrc))
	close(engineReady)
	apiCfg := httpapi.Config{
		Engine:      engine,
		Idempotency: store,
		Logger:      log,
		Registry:    reg,
		Blocks:      blockAdmin,
		Ready: func(ctx context.Context) map[string]error {
			checks := map[string]error{"store": store.Ping(ctx)}
			for name, ch := range channels {
				checks["channel:"+string(name)] = ch.Ready(ctx)
			}
			return checks
		},
		Details: func(ctx context.Context) map[string]error {
			// One entry per route, so an operator sees which SMSC is
			// down while the channel still works on another.
			details := map[string]error{}
			if smsRouter != nil {
				for name, err := range smsRouter.RouteReadiness(ctx) {
					details["sms_route:"+name] = err
				}
			}
			return details
		},
	}
	if smsRouter != nil {
		apiCfg.SMSRoutes = func(ctx context.Context) map[string]httpapi.RouteHealth {
			return routeHealth(smsRouter.Health(ctx))
		}
	}
	// SMS provider status callbacks (twilio and vonage routes), at
	// /v1/callbacks/<type>/<route>: authenticated by the provider's
	// signature, not a bearer token (smsroutes.go).
	apiCfg.Mounts = smsCallbacks.mounts(engine, log)
	providers.mount(apiCfg.Mounts, engine, log)
	if inbox != nil {
		apiCfg.Mounts["/dev/"] = inbox.Handler()
	}
	if cfg.Pprof {
		// Profiles show what the server is doing, not secrets, but they
		// cost CPU and reveal internals: the admin token only.
		apiCfg.AdminMounts = map[string]http.Handler{"/debug/pprof/": pprofHandler()}
	}
	var handler http.Handler = httpapi.New(apiCfg)
	if tlsCfg != nil {
		handler = strictTransport(handler)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	base := "http://" + ln.Addr().String()
	if tlsCfg != nil {
		base = "https://" + ln.Addr().String()
		leaf := cert.Leaf()
		log.Info("tls", "cert", cfg.TLSCert, "serial", leaf.SerialNumber.Text(16), "not_after", leaf.NotAfter.UTC(), "client_certificates", cfg.TLSClientCA != "")
	}
	if admin.generated {
		fmt.Fprintf(e.stdout, "Generated an admin token (shown once; only its hash is kept, in %s):\n  %s\n",
			filepath.Join(cfg.DataDir, adminTokenHashFile), admin.token)
	}
	if cfg.Dev {
		fmt.Fprintf(e.stdout, "otpd dev mode: API %s — dev inbox %s/dev/inbox\n", base, base)
	}
	log.Info("otpd listening", "addr", ln.Addr().String(), "version", version, "tls", tlsCfg != nil, "dev", cfg.Dev, "data_dir", cfg.DataDir)

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = dispatcher.Run(workCtx, engine.Deliver)
	})
	wg.Go(func() { _ = webhooks.Run(workCtx) })
	// Fallback timers: messages not delivered in time move their
	// verification on to its next channel, on whichever node claims them.
	fallbacks := delivery.NewPool("fallback", store.ClaimFallbacks, func(m otpd.ClaimedMessage) string { return m.MessageID },
		delivery.Options{Workers: 4, Lease: time.Minute, ShutdownGrace: cfg.ShutdownTimeout, Logger: log})
	wg.Go(func() { _ = fallbacks.Run(workCtx, engine.Fallback) })
	wg.Go(func() { sweep(workCtx, engine, store, cfg, log) })
	wg.Go(func() { reloadOnSignal(workCtx, hup, reloadables, log) })
	if guard != nil {
		// Counts, judging and the active blocks; it flushes what it
		// counted when it stops, before the store closes.
		wg.Go(func() { _ = guard.Run(workCtx) })
	}
	// Messages queued on other nodes wake this node's dispatcher at once
	// (PostgreSQL LISTEN/NOTIFY); SQLite has one node.
	if l, ok := store.(interface {
		Listen(context.Context, func()) error
	}); ok {
		wg.Go(func() { _ = l.Listen(workCtx, dispatcher.Notify) })
	}

	serveErr := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			serveErr <- srv.ServeTLS(ln, "", "") // the certificate comes from tlsCfg
			return
		}
		serveErr <- srv.Serve(ln)
	}()

	select {
	case err = <-serveErr:
		stopWork()
		wg.Wait()
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("requests still in flight at shutdown", "err", err)
	}
	stopWork()
	wg.Wait()
	log.Info("stopped")
	return nil
}

// pprofHandler serves net/http/pprof's pages under /debug/pprof/. They are
// mounted on the API's own mux rather than http.DefaultServeMux, which
// importing net/http/pprof fills, so nothing else can expose them.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// handleReceipt records a delivery receipt from route. It acknowledges what
// it cannot use — messages from handsets, unreadable receipts, receipts for
// ids this cluster never recorded (a duplicate whose response was lost) —
// so the SMSC does not resend them forever, and returns an error only when
// the store failed, so the SMSC tries again later.
func handleReceipt(ctx context.Context, engine *otpd.Engine, route string, d *smpp.DeliverSM, log *slog.Logger, m *metrics.Routes) error {
	r, err := smpp.ParseReceipt(d)
	if errors.Is(err, smpp.ErrNotReceipt) {
		log.Debug("ignoring a mobile-originated message", "route", route)
		return nil
	}
	if err != nil {
		log.Warn("unreadable delivery receipt", "route", route, "err", err)
		return nil
	}
	status, final := receiptStatus(r.State)
	if !final {
		return nil
	}
	reason := ""
	if status != otpd.MessageDelivered {
		reason = strings.TrimSpace("stat:" + r.Stat + " err:" + r.Err)
	}
	err = engine.RecordReceipt(ctx, otpd.Receipt{Channel: otpd.ChannelSMS, Ref: route + ":" + r.MessageID, Status: status, Error: reason})
	if errors.Is(err, otpd.ErrNotFound) {
		m.RouteReceipt(route, "unknown")
		log.Info("delivery receipt for an unknown message id", "route", route)
		return nil
	}
	if err == nil {
		m.RouteReceipt(route, string(status))
	}
	return err
}

// routeStates is what the route gauges show of each SMS route.
func routeStates(r *sms.Router) []metrics.RouteState {
	hs := r.Health(context.Background()) // no I/O: a scrape needs no deadline
	out := make([]metrics.RouteState, len(hs))
	for i, h := range hs {
		out[i] = metrics.RouteState{Route: h.Name, Up: h.Ready, Binds: h.Binds, BindsUp: h.BindsUp}
	}
	return out
}

// routeHealth is what /readyz shows of each SMS route.
func routeHealth(hs []sms.RouteHealth) map[string]httpapi.RouteHealth {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	out := make(map[string]httpapi.RouteHealth, len(hs))
	for _, h := range hs {
		rh := httpapi.RouteHealth{
			Status: "ok", State: h.State, Sent: h.Sent, Failed: h.Failed,
			RecentSends: h.Recent, ErrorRate: h.ErrorRate,
			LatencyMeanMS: ms(h.Latency), LatencyP50MS: ms(h.LatencyP50), LatencyP99MS: ms(h.LatencyP99),
			LastError: h.LastError,
		}
		if h.Err != nil {
			rh.Status = h.Err.Error()
		}
		if h.Binds > 0 {
			rh.Binds, rh.BindsUp = &h.Binds, &h.BindsUp
		}
		if !h.LastErrorAt.IsZero() {
			at := h.LastErrorAt.UTC()
			rh.LastErrorAt = &at
		}
		out[h.Name] = rh
	}
	return out
}

// receiptStatus maps an SMSC's message state to a message status; final
// is false for intermediate notices (enroute, accepted, unknown).
func receiptStatus(s smpp.MessageState) (status otpd.MessageStatus, final bool) {
	switch s {
	case smpp.StateDelivered:
		return otpd.MessageDelivered, true
	case smpp.StateExpired, smpp.StateDeleted, smpp.StateUndeliverable:
		return otpd.MessageUndelivered, true
	case smpp.StateRejected:
		return otpd.MessageFailed, true
	}
	return "", false
}

// rateLimiter returns the store when it keeps rate-limit counts where every
// node sees them (PostgreSQL), else an in-process limiter: a SQLite store
// has one node, which need not pay a write per request for its counts.
func rateLimiter(store otpd.Store) otpd.RateLimiter {
	if l, ok := store.(otpd.RateLimiter); ok {
		return l
	}
	return ratelimit.NewMemory()
}

// sweep records expiries and purges old data every cfg.SweepInterval.
func sweep(ctx context.Context, engine *otpd.Engine, store otpd.IdempotencyStore, cfg serveConfig, log *slog.Logger) {
	t := time.NewTicker(cfg.SweepInterval)
	defer t.Stop()
	for {
		expired, purged, err := engine.Sweep(ctx, cfg.Retention, 500)
		if err != nil && ctx.Err() == nil {
			log.Error("sweep", "err", err)
		}
		if _, err := store.PurgeIdempotencyKeys(ctx, engine.Now().Add(-24*time.Hour), 500); err != nil && ctx.Err() == nil {
			log.Error("purge idempotency keys", "err", err)
		}
		if p, ok := store.(interface {
			PurgeRateCounts(context.Context, time.Time, int) (int, error)
		}); ok {
			if _, err := p.PurgeRateCounts(ctx, engine.Now(), 5000); err != nil && ctx.Err() == nil {
				log.Error("purge rate-limit counts", "err", err)
			}
		}
		if expired+purged > 0 {
			log.Debug("swept", "expired", expired, "purged", purged)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func newLogger(e *env, cfg serveConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}

// storeCloser is what serve needs of a store.
type storeCloser interface {
	otpd.Store
	otpd.IdempotencyStore
}

func openStore(ctx context.Context, cfg serveConfig, sealer otpd.Sealer) (storeCloser, error) {
	dsn := cfg.Store
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		// A DSN without connect_timeout would wait on an unreachable
		// server for as long as the kernel lets it.
		openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := postgres.Open(openCtx, dsn, postgres.WithSealer(sealer))
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return s, nil
	case dsn == "":
		dsn = filepath.Join(cfg.DataDir, databaseFile)
	}
	dsn = strings.TrimPrefix(dsn, "sqlite://")
	s, err := sqlite.Open(ctx, dsn, sqlite.WithSealer(sealer))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// loadKeyring reads the keyring, or creates one with a fresh key on first
// start. The file holds secrets, so it is written mode 0600, atomically.
func loadKeyring(path string) (*otpd.Keyring, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		k, err := otpd.ParseKeyring(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	k := otpd.NewKeyring(time.Now())
	data, err = k.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if err := createSecretFile(path, data); errors.Is(err, fs.ErrExist) {
		// Another node sharing the path created it first: use that one,
		// or the nodes would derive codes with different keys.
		return loadKeyring(path)
	} else if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return k, nil
}

// createSecretFile creates path with data, mode 0600, unless it exists
// (then it returns an error wrapping fs.ErrExist). The data is written to a
// temporary file, synced and hard-linked into place: a reader never sees a
// partial file, and of processes creating it at once exactly one succeeds.
func createSecretFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}

// fallbackTimeouts converts the config file's fallback_timeouts.
func fallbackTimeouts(cfg serveConfig) map[otpd.ChannelName]time.Duration {
	out := map[otpd.ChannelName]time.Duration{}
	for ch, d := range cfg.FallbackTimeouts {
		out[otpd.ChannelName(ch)] = d
	}
	return out
}

// cacheTTL maps --cache-ttl to otpd.Config.CacheTTL, whose zero means its
// default: 0 turns the cache off.
func cacheTTL(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
