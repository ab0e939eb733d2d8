package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"

	"github.com/otpd/otpd/internal/tlsconfig"
)

// apiTLS loads the API's certificate and builds the server's TLS
// configuration; both are nil when --tls-cert is not set. A pair that
// cannot be used stops the start with the reason.
func apiTLS(cfg serveConfig) (*tlsconfig.Certificate, *tls.Config, error) {
	if cfg.TLSCert == "" {
		return nil, nil, nil
	}
	cert, err := tlsconfig.Load(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	var clientCAs *x509.CertPool
	if cfg.TLSClientCA != "" {
		if clientCAs, err = tlsconfig.LoadCertPool(cfg.TLSClientCA); err != nil {
			return nil, nil, usagef("--tls-client-ca: %v", err)
		}
	}
	return cert, tlsconfig.Server(cert, clientCAs), nil
}

// trust returns the CAs a section's outbound connections trust: the
// system's roots plus the section's own tls_ca_file, or else the global
// one (nil, the system's roots alone, when neither is set).
func trust(global, own string) (*x509.CertPool, error) {
	if own != "" {
		return tlsconfig.Roots(own)
	}
	return tlsconfig.Roots(global)
}

// hstsMaxAge is a year: browsers that reached the API over HTTPS once
// refuse plain HTTP to it for that long. Subdomains are not included: the
// API's host says nothing about its siblings.
const hstsMaxAge = "max-age=31536000"

// strictTransport adds Strict-Transport-Security to every response of a
// server that speaks only HTTPS.
func strictTransport(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", hstsMaxAge)
		h.ServeHTTP(w, r)
	})
}

// reloadable is something SIGHUP reloads from disk: the API's certificate
// now, the keyring later. reload returns attributes that say what is in
// use afterwards — never a secret — and an error when the new version was
// refused, in which case the old one must still be in use.
type reloadable struct {
	name   string
	reload func() (attrs []any, err error)
}

// certReloadable reloads the API's certificate; its log line names the
// certificate's serial number and expiry.
func certReloadable(cert *tlsconfig.Certificate) reloadable {
	return reloadable{name: "tls certificate", reload: func() ([]any, error) {
		err := cert.Reload()
		leaf := cert.Leaf()
		return []any{"serial", leaf.SerialNumber.Text(16), "not_after", leaf.NotAfter.UTC()}, err
	}}
}

// reloadOnSignal runs every reloadable, in order, each time sig fires,
// until ctx ends. A refused reload is logged and changes nothing else: a
// bad certificate on disk must not take the server down.
func reloadOnSignal(ctx context.Context, sig <-chan os.Signal, rs []reloadable, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
		}
		if len(rs) == 0 {
			log.Info("SIGHUP: nothing to reload")
		}
		for _, r := range rs {
			attrs, err := r.reload()
			if err != nil {
				log.Error("reload refused; keeping the one in use", append([]any{"what", r.name, "err", err}, attrs...)...)
				continue
			}
			log.Info("reloaded", append([]any{"what", r.name}, attrs...)...)
		}
	}
}

// loopbackIfPlain refuses a provider's base URL (a test knob) that is
// plain http:// to another machine: the request would carry the account's
// credentials and the code across the network in clear text. Plain HTTP
// stays allowed on loopback, where tests and local mocks run.
func loopbackIfPlain(key, raw string) error {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || u.Scheme != "http" {
		return nil // empty, https, or malformed (the channel's own check explains it)
	}
	if isLoopbackHost(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("%s: plain http:// is allowed for a loopback host only; use https://", key)
}

// isLoopbackHost reports whether host (no port) names this machine.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isLoopbackAddr reports whether a host:port address is on this machine.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && isLoopbackHost(host)
}
