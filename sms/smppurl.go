package sms

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/otpd/otpd/gsm"
)

// SMPPURL is an SMPP route written as a URL, as `otpd serve --smpp` takes it:
//
//	smpp://system_id:password@host:port?window=10&tps=0&source=Acme
//
// smpps:// binds over TLS. Query parameters, all optional:
//
//	window=N        submit_sm awaiting a response per bind (default 10)
//	tps=N           submit_sm per second per bind, 0 for no limit (default 0)
//	binds=N         binds kept up (default 1)
//	source=S        sender: alphanumeric id, +number or short code
//	system_type=S   the bind's system_type
//	coding=C        auto (default), ucs2 or latin1
//	avoid_nul=B     keep the octet 0x00 ("@" in GSM-7) out of texts, for SMSCs
//	                that end strings there (default false)
//	nul_fallback=C  the coding avoid_nul uses: ucs2 (default) or latin1
//	payload=B       send the whole text in message_payload (default false)
//	receipts=B      ask for delivery receipts (default true)
//	dlr_id=F        how the SMSC writes message ids in submit_sm_resp and
//	                in receipts: as-is (default), hex-dec, dec-hex, hex-hex
//	                or dec-dec (see IDForm; Kannel's msg-id-type)
type SMPPURL struct {
	TLS        bool
	Addr       string // host:port
	SystemID   string
	Password   string
	SystemType string
	Window     int
	TPS        float64
	Binds      int
	Options    SMPPOptions
}

// ParseSMPPURL parses and checks an SMPP route URL. Unknown parameters are
// errors, so a misspelt setting is never silently ignored. Error messages
// never contain the password.
func ParseSMPPURL(s string) (SMPPURL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return SMPPURL{}, fmt.Errorf("smpp url: not a URL such as smpp://system_id:password@host:2775")
	}
	var r SMPPURL
	switch u.Scheme {
	case "smpp":
	case "smpps":
		r.TLS = true
	default:
		return SMPPURL{}, fmt.Errorf("smpp url: scheme must be smpp or smpps, not %q", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return SMPPURL{}, fmt.Errorf("smpp url: give the SMSC as smpp://system_id:password@host:port")
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return SMPPURL{}, fmt.Errorf("smpp url: %q is not host:port", u.Host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return SMPPURL{}, fmt.Errorf("smpp url: port %q is not a port number", port)
	}
	r.Addr = u.Host
	if u.Path != "" && u.Path != "/" {
		return SMPPURL{}, fmt.Errorf("smpp url: unexpected path %q", u.Path)
	}
	if u.User != nil {
		r.SystemID = u.User.Username()
		r.Password, _ = u.User.Password()
	}
	if r.SystemID == "" || len(r.SystemID) > 15 {
		return SMPPURL{}, fmt.Errorf("smpp url: system_id is required and has at most 15 characters")
	}
	if len(r.Password) > 8 {
		return SMPPURL{}, fmt.Errorf("smpp url: the password has at most 8 characters (SMPP 3.4)")
	}
	r.Window, r.Binds = 10, 1
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return SMPPURL{}, fmt.Errorf("smpp url: bad query: %v", err)
	}
	// In the keys' order, not the map's: a URL with two faults is refused
	// with the same message every time.
	for _, key := range slices.Sorted(maps.Keys(q)) {
		vals := q[key]
		if len(vals) != 1 {
			return SMPPURL{}, fmt.Errorf("smpp url: %s is given %d times", key, len(vals))
		}
		v := vals[0]
		var err error
		switch key {
		case "window":
			r.Window, err = intIn(v, 1, 1000)
		case "tps":
			r.TPS, err = strconv.ParseFloat(v, 64)
			if err != nil || r.TPS < 0 || r.TPS > 1e6 || r.TPS != r.TPS {
				err = fmt.Errorf("must be a number from 0 to 1000000")
			}
		case "binds":
			r.Binds, err = intIn(v, 1, 64)
		case "source":
			_, err = sourceAddress(v)
			r.Options.Source = v
		case "system_type":
			if len(v) > 12 {
				err = fmt.Errorf("has at most 12 characters")
			}
			r.SystemType = v
		case "coding":
			r.Options.Encoding.Coding, err = codingParam(v)
		case "nul_fallback":
			r.Options.Encoding.NULFallback, err = codingParam(v)
		case "avoid_nul":
			r.Options.Encoding.AvoidNUL, err = strconv.ParseBool(v)
		case "payload":
			r.Options.Encoding.Payload, err = strconv.ParseBool(v)
		case "receipts":
			var on bool
			on, err = strconv.ParseBool(v)
			r.Options.NoReceipts = !on
		case "dlr_id":
			r.Options.IDs, err = ParseIDForm(v)
		default:
			return SMPPURL{}, fmt.Errorf("smpp url: unknown parameter %q", key)
		}
		if err != nil {
			return SMPPURL{}, fmt.Errorf("smpp url: %s=%q: %v", key, v, unwrapMsg(err))
		}
	}
	if err := r.Options.Encoding.Validate(); err != nil {
		return SMPPURL{}, fmt.Errorf("smpp url: %v", err)
	}
	return r, nil
}

func intIn(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be a whole number from %d to %d", lo, hi)
	}
	return n, nil
}

func codingParam(v string) (gsm.Coding, error) {
	c, err := gsm.ParseCoding(v)
	if err != nil || c == gsm.GSM7 {
		// Forcing GSM-7 would fail every text outside it; auto already
		// picks it whenever it fits.
		return 0, fmt.Errorf("must be auto, ucs2 or latin1")
	}
	return c, nil
}

// unwrapMsg keeps strconv's long wrapped messages short.
func unwrapMsg(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "strconv.") {
		return "not valid (" + msg[i+2:] + ")"
	}
	return msg
}

// String returns the URL without its password, for logs.
func (r SMPPURL) String() string {
	scheme := "smpp"
	if r.TLS {
		scheme = "smpps"
	}
	return fmt.Sprintf("%s://%s@%s", scheme, r.SystemID, r.Addr)
}
