package sms_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/gsm"
	"github.com/otpd/otpd/sms"
)

func TestParseSMPPURL(t *testing.T) {
	t.Parallel()
	u, err := sms.ParseSMPPURL("smpp://otpd:secret@127.0.0.1:2775?window=64&tps=50&source=Acme&binds=2&avoid_nul=true&nul_fallback=latin1&receipts=false&dlr_id=hex-dec")
	require.NoError(t, err)
	require.Equal(t, sms.SMPPURL{
		Addr: "127.0.0.1:2775", SystemID: "otpd", Password: "secret", Window: 64, TPS: 50, Binds: 2,
		Options: sms.SMPPOptions{Source: "Acme", NoReceipts: true, Encoding: gsm.Options{AvoidNUL: true, NULFallback: gsm.Latin1}, IDs: sms.IDsHexDec},
	}, u)
	require.Equal(t, "smpp://otpd@127.0.0.1:2775", u.String(), "no password in what is logged")

	u, err = sms.ParseSMPPURL("smpps://otpd@smsc.example:3550")
	require.NoError(t, err)
	require.True(t, u.TLS)
	require.Equal(t, 10, u.Window)
	require.Equal(t, 1, u.Binds)

	for _, bad := range []string{
		"http://otpd:x@127.0.0.1:2775",
		"smpp://127.0.0.1:2775",                    // no system_id
		"smpp://otpd:x@127.0.0.1",                  // no port
		"smpp://otpd:x@127.0.0.1:99999",            // bad port
		"smpp://otpd:toolongpassword@127.0.0.1:1",  // > 8
		"smpp://averyveryverylongid@127.0.0.1:1",   // > 15
		"smpp://otpd:x@127.0.0.1:2775?window=0",    // range
		"smpp://otpd:x@127.0.0.1:2775?tps=-1",      // range
		"smpp://otpd:x@127.0.0.1:2775?colour=blue", // unknown
		"smpp://otpd:x@127.0.0.1:2775?coding=gsm7", // refused
		"smpp://otpd:x@127.0.0.1:2775?source=WayTooLongSender",
		"smpp://otpd:x@127.0.0.1:2775?window=1&window=2",
		"smpp://otpd:x@127.0.0.1:2775/path",
		"smpp://otpd:x@127.0.0.1:2775?dlr_id=0x01", // Kannel's number, not a name
	} {
		_, err := sms.ParseSMPPURL(bad)
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), "toolongpassword", "errors never show the password")
	}
	// Two faults: the first parameter in alphabetical order is named, every time.
	for range 20 {
		_, err := sms.ParseSMPPURL("smpp://otpd:x@127.0.0.1:2775?zone=1&window=0&colour=blue")
		require.ErrorContains(t, err, "colour")
	}
}

func FuzzParseSMPPURL(f *testing.F) {
	f.Add("smpp://otpd:secret@127.0.0.1:2775?window=10&tps=0&source=Acme")
	f.Add("smpps://a@b:1?coding=ucs2&payload=true")
	f.Add("smpp://a:b@c:2?dlr_id=dec-hex&receipts=1")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := sms.ParseSMPPURL(s)
		if err != nil {
			if pu, perr := url.Parse(s); perr == nil && pu.User != nil {
				if p, ok := pu.User.Password(); ok && len(p) >= 4 && strings.Contains(err.Error(), p) &&
					!strings.Contains(pu.Host+pu.RawQuery+pu.User.Username(), p) && !inMessageAnyway(s, p) {
					t.Fatalf("error shows the password: %v", err)
				}
			}
			return
		}
		if u.SystemID == "" || u.Addr == "" || u.Window < 1 || u.Binds < 1 || u.TPS < 0 {
			t.Fatalf("accepted an incomplete route: %+v", u)
		}
		if u.Password != "" && strings.Contains(u.String(), ":"+u.Password+"@") {
			t.Fatalf("String shows the password")
		}
	})
}

// inMessageAnyway reports whether the error for s, with its password
// replaced by another of the same length, still contains password: then
// the message's own text holds it (password "0000" in "from 0 to
// 1000000"), not the password.
func inMessageAnyway(s, password string) bool {
	raw := ":" + password + "@"
	if !strings.Contains(s, raw) {
		return false // percent-encoded: no way to swap it here
	}
	other := "z"
	for _, c := range "zyxwvutsrq" {
		if !strings.ContainsRune(password, c) {
			other = string(c)
			break
		}
	}
	_, err := sms.ParseSMPPURL(strings.Replace(s, raw, ":"+strings.Repeat(other, len(password))+"@", 1))
	return err != nil && strings.Contains(err.Error(), password)
}
