package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/smsc"
)

// smscCmd runs the SMSC simulator on its own: an SMPP server that accepts
// binds, acknowledges submits, sends delivery receipts, can misbehave on
// purpose, and lists what it received over HTTP.
func (e *env) smscCmd(ctx context.Context, args []string) error {
	fs := newFlagSet(e, "otpd smsc", "otpd smsc [flags]")
	smppAddr := fs.String("smpp-addr", "127.0.0.1:2775", "address the SMPP server listens on")
	httpAddr := fs.String("http-addr", "127.0.0.1:2780", "address serving GET /messages?to= (JSON) and / (HTML)")
	systemID := fs.String("system-id", "", "system_id a bind must present (any when unset)")
	password := fs.String("password", "", "password a bind must present (any when unset)")
	dlrDelay := fs.Duration("dlr-delay", 100*time.Millisecond, "delay before a delivery receipt is sent (0: at once)")
	throttle := fs.String("throttle", "", `answer ESME_RTHROTTLED to a share of submits: "1/3", "25%" or "0.25"`)
	queueFull := fs.String("queue-full", "", "answer ESME_RMSGQFUL to a share of submits (same forms as --throttle)")
	failPrefixes := fs.String("fail-prefix", "", `refuse destinations by prefix: "+44=0x0B,+1=0x0A" (prefix=command_status)`)
	undeliverable := fs.String("undeliverable-prefix", "", "comma-separated prefixes whose receipts say UNDELIV")
	dropAfter := fs.Int("drop-after", 0, "close each connection at its Nth submit without answering it (0: never)")
	noReceipts := fs.Bool("no-receipts", false, "send no delivery receipts")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	pos, err := parseSub(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("smsc takes flags only, got %q", pos[0])
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level must be debug, info, warn or error")
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	cfg := smsc.Config{SystemID: *systemID, Password: *password, DLRDelay: *dlrDelay, Logger: log}
	if *dlrDelay == 0 {
		cfg.DLRDelay = -1 // the package reads 0 as its default
	}
	f := &cfg.Faults
	if *throttle != "" {
		if f.Throttle, err = smsc.ParseRate(*throttle); err != nil {
			return usagef("--throttle: %v", err)
		}
	}
	if *queueFull != "" {
		if f.QueueFull, err = smsc.ParseRate(*queueFull); err != nil {
			return usagef("--queue-full: %v", err)
		}
	}
	if f.FailPrefixes, err = parseFailPrefixes(*failPrefixes); err != nil {
		return usagef("--fail-prefix: %v", err)
	}
	f.UndeliverablePrefixes = splitList(*undeliverable)
	f.DropAfter, f.NoReceipts = *dropAfter, *noReceipts
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}

	srv := smsc.New(cfg)
	smppLn, err := net.Listen("tcp", *smppAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *smppAddr, err)
	}
	httpLn, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		smppLn.Close()
		return fmt.Errorf("listen on %s: %w", *httpAddr, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	log.Info("otpd smsc listening", "smpp_addr", smppLn.Addr().String(), "http_addr", httpLn.Addr().String())

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ctx, smppLn) }()
	go func() {
		if err := hs.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutdownCtx)
	if err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// parseFailPrefixes reads "+44=0x0B,+1=10" into prefix → status.
func parseFailPrefixes(s string) (map[string]smpp.CommandStatus, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]smpp.CommandStatus{}
	for _, item := range splitList(s) {
		prefix, status, ok := strings.Cut(item, "=")
		if !ok || prefix == "" {
			return nil, fmt.Errorf("%q is not prefix=status", item)
		}
		n, err := strconv.ParseUint(status, 0, 32)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%q: status must be a non-zero number such as 0x0B", item)
		}
		out[prefix] = smpp.CommandStatus(n)
	}
	return out, nil
}
