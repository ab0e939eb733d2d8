package email

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ParseURL reads a Config written as a URL:
//
//	smtp://user:password@smtp.example.com:587?from=otp@acme.example
//	smtps://user:password@smtp.example.com?from=otp@acme.example&auth=login
//
// smtp:// uses STARTTLS (tls=starttls, the default) or, for a server on
// this machine only, plain text (tls=none); smtps:// uses implicit TLS.
// The port defaults to the TLS mode's (587, 465, 25). Reserved characters
// in the user name and password are percent-encoded, as in any URL. Query
// parameters:
//
//	from=ADDRESS    the sender address (required)
//	tls=MODE        starttls or none for smtp://; implicit for smtps://
//	auth=MECH       plain or login; empty or absent picks what the server offers
//	helo=NAME       the name given in EHLO
//	timeout=D       each step's time limit, such as 10s (default 15s)
//	max_conns=N     connections kept open and reused (default 4)
//
// Unknown or repeated parameters are errors, so a misspelt setting is never
// silently ignored. Error messages never contain the password. RootCAs
// cannot be given in a URL: set it on the Config ParseURL returns.
func ParseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url's own message quotes the whole URL, password included.
		return Config{}, fmt.Errorf("email url: not a URL such as smtp://user:password@smtp.example.com:587?from=otp@acme.example")
	}
	var c Config
	switch u.Scheme {
	case "smtp":
	case "smtps":
		c.TLS = TLSImplicit
	default:
		return Config{}, fmt.Errorf("email url: scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return Config{}, fmt.Errorf("email url: give the server as %s://user:password@host:port", u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return Config{}, fmt.Errorf("email url: unexpected path %q", u.Path)
	}
	if u.Fragment != "" || strings.HasSuffix(s, "#") {
		return Config{}, fmt.Errorf("email url: unexpected #fragment")
	}
	c.Host = u.Hostname()
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, fmt.Errorf("email url: port %q is not a port number", port)
		}
		c.Port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return Config{}, fmt.Errorf("email url: %q has an empty port", u.Host)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil && c.Port != 0 {
		return Config{}, fmt.Errorf("email url: %q is not host:port", u.Host)
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("email url: the query is not valid (check its %%-escapes)")
	}
	// In the keys' order, not the map's: a URL with two faults is refused
	// with the same message every time.
	for _, key := range slices.Sorted(maps.Keys(q)) {
		vals := q[key]
		if len(vals) != 1 {
			return Config{}, fmt.Errorf("email url: %s is given %d times", key, len(vals))
		}
		v := vals[0]
		switch key {
		case "from":
			c.From = v
		case "tls":
			switch {
			case u.Scheme == "smtps" && v != TLSImplicit:
				return Config{}, fmt.Errorf("email url: smtps:// is implicit TLS; for tls=%s use smtp://", v)
			case u.Scheme == "smtp" && v == TLSImplicit:
				return Config{}, fmt.Errorf("email url: for implicit TLS use smtps://")
			case v != TLSStartTLS && v != TLSNone && v != TLSImplicit:
				return Config{}, fmt.Errorf("email url: tls=%q: must be starttls or none (smtps:// for implicit TLS)", v)
			}
			c.TLS = v
		case "auth":
			c.Auth = v
		case "helo":
			c.HeloName = v
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > time.Hour {
				return Config{}, fmt.Errorf("email url: timeout=%q: must be a duration from 1ms to 1h, such as 10s", v)
			}
			c.Timeout = d
		case "max_conns":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxMaxConns {
				return Config{}, fmt.Errorf("email url: max_conns=%q: must be a whole number from 1 to %d", v, MaxMaxConns)
			}
			c.MaxConns = n
		default:
			return Config{}, fmt.Errorf("email url: unknown parameter %q", key)
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("email url: %s", strings.TrimPrefix(err.Error(), "email: "))
	}
	return c, nil
}
