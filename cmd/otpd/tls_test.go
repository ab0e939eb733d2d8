package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/internal/testca"
)

// Channel sections' transport settings are checked at start: a CA file
// without a certificate, or a plain-HTTP API address off this machine,
// stops otpd with the section and key named.
func TestChannelTransportErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	sa := filepath.Join(dir, "sa.json")
	require.NoError(t, os.WriteFile(sa, []byte("{}"), 0o600))

	tests := []struct {
		name, file, want string
	}{
		{"email CA file", "email:\n  url: smtps://127.0.0.1:465?from=otp@acme.example\n  tls_ca_file: " + notPEM + "\n",
			"email: tls_ca_file: ca file " + notPEM + ": no PEM certificate"},
		{"whatsapp plain base_url", "public_url: https://otp.example.com\nwhatsapp:\n  phone_number_id: \"1\"\n  access_token: t\n  app_secret: s\n  verify_token: v\n  template: otp\n  base_url: http://graph.example.com\n",
			"whatsapp: base_url: plain http:// is allowed for a loopback host only"},
		{"rcs plain token_url", "public_url: https://otp.example.com\nrcs:\n  agent_id: a@rbm.goog\n  service_account_file: " + sa + "\n  client_token: c\n  token_url: http://oauth.example.com/token\n",
			"rcs: token_url: plain http:// is allowed for a loopback host only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _ := testEnv(nil)
			cfg, err := e.loadServeConfig([]string{"--config", writeConfig(t, tt.file)})
			require.NoError(t, err)
			_, err = buildChannels(cfg, nil, e.getenv, slog.New(slog.DiscardHandler))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestLoopbackIfPlain(t *testing.T) {
	t.Parallel()
	for raw, ok := range map[string]bool{
		"":                          true,
		"https://api.twilio.com":    true,
		"http://127.0.0.1:8080":     true,
		"http://[::1]:8080":         true,
		"http://localhost:8080":     true,
		"http://api.twilio.com":     false,
		"http://10.0.0.1":           false,
		"http://127.0.0.1.nip.io:1": false,
	} {
		err := loopbackIfPlain("base_url", raw)
		require.Equal(t, ok, err == nil, "%s: %v", raw, err)
	}
	for addr, ok := range map[string]bool{
		"127.0.0.1:2775": true, "[::1]:2775": true, "localhost:2775": true,
		"smsc.example:2775": false, "10.1.2.3:2775": false, "127.0.0.1": false,
	} {
		require.Equal(t, ok, isLoopbackAddr(addr), addr)
	}
}

// The RCS channel's token requests to Google's OAuth endpoint verify its
// certificate: refused under the system's roots alone when a private CA
// issued it, accepted with the section's or the global tls_ca_file.
func TestRCSTokenEndpointTrust(t *testing.T) {
	t.Parallel()
	ca := testca.New("oauth CA")
	dir := t.TempDir()
	caFile, otherFile := ca.WriteFile(dir), testca.New("other CA").WriteFile(dir)
	tokens := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token": "ya29.test", "expires_in": 3600, "token_type": "Bearer"}`)
	}))
	tokens.TLS = ca.Issue("oauth").ServerConfig()
	tokens.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	tokens.StartTLS()
	t.Cleanup(tokens.Close)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	sa, err := json.Marshal(map[string]string{
		"type": "service_account", "client_email": "otpd@acme.iam.gserviceaccount.com",
		"private_key": string(keyPEM), "token_uri": tokens.URL + "/token",
	})
	require.NoError(t, err)
	saFile := filepath.Join(dir, "sa.json")
	require.NoError(t, os.WriteFile(saFile, sa, 0o600))

	tests := []struct {
		name, global, own string
		trusted           bool
	}{
		{"system roots only", "", "", false},
		{"global tls_ca_file", caFile, "", true},
		{"section's own tls_ca_file", otherFile, caFile, true},
		{"section's own, wrong CA", caFile, otherFile, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _ := testEnv(nil)
			cfg, err := e.loadServeConfig([]string{"--config", writeConfig(t, "public_url: https://otp.example.com\n"+
				"tls_ca_file: \""+tt.global+"\"\nrcs:\n  agent_id: acme@rbm.goog\n  service_account_file: "+saFile+"\n"+
				"  client_token: c\n  tls_ca_file: \""+tt.own+"\"\n")})
			require.NoError(t, err)
			pc, err := buildChannels(cfg, nil, e.getenv, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			err = pc.channels[otpd.ChannelRCS].Ready(t.Context())
			if tt.trusted {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "certificate")
		})
	}
}
