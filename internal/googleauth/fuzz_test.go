package googleauth_test

import (
	"net/url"
	"testing"

	"github.com/otpd/otpd/internal/googleauth"
)

// FuzzParseServiceAccount feeds arbitrary key files to the parser: it
// must never panic, and whatever it accepts has what the token flow
// needs.
func FuzzParseServiceAccount(f *testing.F) {
	f.Add(keyFile(f, "https://oauth2.googleapis.com/token", nil))
	f.Add(keyFile(f, "", func(m map[string]any) {
		m["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
	}))
	f.Add(keyFile(f, "", func(m map[string]any) {
		m["private_key"] = "-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n"
	}))
	f.Add([]byte(`{"type":"service_account","client_email":"a@b","private_key":"x","token_uri":"http://[::1]:1/t"}`))
	f.Add([]byte(`{"type":"service_account"`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sa, err := googleauth.ParseServiceAccount(data)
		if err != nil {
			if sa != nil {
				t.Fatal("a service account with an error")
			}
			return
		}
		if sa.Type != "service_account" || sa.ClientEmail == "" {
			t.Fatalf("accepted %+v", sa)
		}
		u, err := url.Parse(sa.TokenURI)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("accepted token_uri %q", sa.TokenURI)
		}
	})
}
