package main

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"

	"github.com/otpd/otpd/sms"
)

func testEnv(vars map[string]string) (*env, *bytes.Buffer) {
	var stderr bytes.Buffer
	return &env{stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(k string) string { return vars[k] }}, &stderr
}

func TestServeConfigPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	yamlPath := filepath.Join(dir, "otpd.yaml")
	require.NoError(t, os.WriteFile(yamlPath, []byte("addr: 127.0.0.1:9000\nlog_level: warn\nretention: 48h\ndev: true\ndelivery_workers: 7\n"), 0o600))
	routesPath := filepath.Join(dir, "routes.toml")
	require.NoError(t, os.WriteFile(routesPath, []byte(`
[[sms.routes]]
name = "uk"
smpp = "smpp://otpd:pw@127.0.0.1:2775"
prefixes = ["+44"]
priority = 1

[[sms.routes]]
name = "default"
smpp = "smpps://otpd:pw@127.0.0.1:3550"
`), 0o600))
	tlsPath := filepath.Join(dir, "tls.yaml")
	require.NoError(t, os.WriteFile(tlsPath, []byte("tls_cert: file.pem\ntls_key: file.key\ntls_client_ca: file-ca.pem\ntls_ca_file: file-ca.pem\n"), 0o600))
	tomlPath := filepath.Join(dir, "otpd.toml")
	require.NoError(t, os.WriteFile(tomlPath, []byte("addr = \"127.0.0.1:9100\"\nsweep_interval = \"5m\"\n"), 0o600))

	for _, tc := range []struct {
		name  string
		env   map[string]string
		args  []string
		check func(t *testing.T, c serveConfig)
	}{
		{"defaults", nil, nil, func(t *testing.T, c serveConfig) {
			require.Equal(t, defaultServeConfig(), c)
			require.Equal(t, "127.0.0.1:8080", c.Addr)
			require.Equal(t, "./otpd-data", c.DataDir)
		}},
		{"yaml file", nil, []string{"--config", yamlPath}, func(t *testing.T, c serveConfig) {
			require.Equal(t, "127.0.0.1:9000", c.Addr)
			require.Equal(t, "warn", c.LogLevel)
			require.Equal(t, 48*time.Hour, c.Retention)
			require.True(t, c.Dev)
			require.Equal(t, 7, c.DeliveryWorkers)
			require.Equal(t, "./otpd-data", c.DataDir, "what the file leaves out keeps its default")
		}},
		{"toml file from env", map[string]string{"OTPD_CONFIG": tomlPath}, nil, func(t *testing.T, c serveConfig) {
			require.Equal(t, "127.0.0.1:9100", c.Addr)
			require.Equal(t, 5*time.Minute, c.SweepInterval)
		}},
		{"env beats file", map[string]string{"OTPD_ADDR": "127.0.0.1:9200", "OTPD_DEV": "false"}, []string{"--config", yamlPath}, func(t *testing.T, c serveConfig) {
			require.Equal(t, "127.0.0.1:9200", c.Addr)
			require.False(t, c.Dev)
			require.Equal(t, "warn", c.LogLevel)
		}},
		{"flags beat env", map[string]string{"OTPD_ADDR": "127.0.0.1:9200", "OTPD_LOG_LEVEL": "error"}, []string{"--config", yamlPath, "--addr", "127.0.0.1:9300", "--dev=false"}, func(t *testing.T, c serveConfig) {
			require.Equal(t, "127.0.0.1:9300", c.Addr)
			require.Equal(t, "error", c.LogLevel)
			require.False(t, c.Dev)
		}},
		{"bare bool flag", nil, []string{"--dev"}, func(t *testing.T, c serveConfig) { require.True(t, c.Dev) }},
		{"tls from file, env and flags", map[string]string{"OTPD_TLS_KEY": "env.key", "OTPD_TLS_CA_FILE": "env-ca.pem"}, []string{"--config", tlsPath, "--tls-client-ca", "flag-ca.pem"}, func(t *testing.T, c serveConfig) {
			require.Equal(t, "file.pem", c.TLSCert)
			require.Equal(t, "env.key", c.TLSKey)
			require.Equal(t, "flag-ca.pem", c.TLSClientCA)
			require.Equal(t, "env-ca.pem", c.TLSCAFile)
		}},
		{"sms routes", nil, []string{"--config", routesPath}, func(t *testing.T, c serveConfig) {
			require.Equal(t, []smsRouteConfig{
				{Name: "uk", SMPP: "smpp://otpd:pw@127.0.0.1:2775", Prefixes: []string{"+44"}, Priority: 1},
				{Name: "default", SMPP: "smpps://otpd:pw@127.0.0.1:3550"},
			}, c.SMS.Routes)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _ := testEnv(tc.env)
			c, err := e.loadServeConfig(tc.args)
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestServeConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	require.NoError(t, os.WriteFile(bad, []byte("adr = \"x\"\n"), 0o600))
	routes := filepath.Join(dir, "routes.yaml")
	require.NoError(t, os.WriteFile(routes, []byte("sms:\n  routes:\n    - name: a\n      smpp: smpp://x:y@127.0.0.1:2775\n"), 0o600))
	ini := filepath.Join(dir, "otpd.ini")
	require.NoError(t, os.WriteFile(ini, nil, 0o600))
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--log-level", "loud"}, "--log-level"},
		{map[string]string{"OTPD_RETENTION": "a month"}, nil, "OTPD_RETENTION"},
		{map[string]string{"OTPD_DEV": "yes please"}, nil, "OTPD_DEV"},
		{nil, []string{"--config", bad}, `unknown setting "adr"`},
		{nil, []string{"--config", ini}, ".yaml, .yml or .toml"},
		{nil, []string{"--admin-token", "short"}, "at least 16"},
		{nil, []string{"--delivery-workers", "0"}, "--delivery-workers"},
		{nil, []string{"extra"}, "no arguments"},
		{nil, []string{"--config", routes, "--smpp", "smpp://x:y@127.0.0.1:2775"}, "not both"},
		{nil, []string{"--tls-cert", "cert.pem"}, "--tls-cert and --tls-key go together"},
		{map[string]string{"OTPD_TLS_KEY": "key.pem"}, nil, "--tls-cert and --tls-key go together"},
		{nil, []string{"--tls-client-ca", "ca.pem"}, "--tls-client-ca needs --tls-cert"},
	} {
		e, _ := testEnv(tc.env)
		_, err := e.loadServeConfig(tc.args)
		require.ErrorContains(t, err, tc.want)
	}
}

func TestServeHelpListsEverySetting(t *testing.T) {
	t.Parallel()
	e, stderr := testEnv(nil)
	_, err := e.loadServeConfig([]string{"--help"})
	require.Error(t, err)
	for _, s := range serveSettings {
		require.Contains(t, stderr.String(), "--"+s.flag+" / "+s.env)
	}
}

const (
	testAccountSID = "AC0123456789abcdef0123456789abcdef"
	testAuthToken  = "twilio-auth-token-0123456789abcd"
	testAPISecret  = "vonage-api-secret-0123"
)

// writeConfig writes a YAML config file for one test case.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "otpd.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	return path
}

func TestConfigSMSProviderRoutes(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `
public_url: https://otp.example.com/
sms:
  routes:
    - name: us
      type: twilio
      prefixes: ["+1"]
      account_sid: `+testAccountSID+`
      auth_token_env: TEST_TWILIO_TOKEN
      from: "+15005550006"
      base_url: http://127.0.0.1:9
    - name: uk
      type: vonage
      prefixes: ["+44"]
      priority: 1
      api_key: abcd1234
      api_secret_env: TEST_VONAGE_SECRET
      signature_method: sha256
      from: AcmeBank
    - name: smsc
      smpp: smpp://otpd:pw@127.0.0.1:2775?window=4
      dlr_id: hex-dec
`)
	e, _ := testEnv(map[string]string{"TEST_TWILIO_TOKEN": testAuthToken, "TEST_VONAGE_SECRET": testAPISecret})
	c, err := e.loadServeConfig([]string{"--config", path})
	require.NoError(t, err)
	require.Equal(t, "https://otp.example.com", c.PublicURL, "without the trailing slash")
	require.Len(t, c.smsRoutes, 3)

	us := c.smsRoutes[0]
	require.Equal(t, routeTwilio, us.kind)
	require.Equal(t, []string{"+1"}, us.prefixes)
	require.Equal(t, testAuthToken, us.twilio.AuthToken, "read from the environment")
	require.Equal(t, "https://otp.example.com/v1/callbacks/twilio/us", us.twilio.StatusCallbackURL)
	require.Equal(t, "http://127.0.0.1:9", us.twilio.BaseURL)

	uk := c.smsRoutes[1]
	require.Equal(t, routeVonage, uk.kind)
	require.Equal(t, testAPISecret, uk.vonage.APISecret)
	cb, err := url.Parse(uk.vonage.StatusCallbackURL)
	require.NoError(t, err)
	require.Equal(t, "/v1/callbacks/vonage/uk", cb.Path)
	token := cb.Query().Get("t")
	require.Len(t, token, 24, "unsigned receipts need a secret token in the URL")
	require.NotContains(t, uk.vonage.StatusCallbackURL, testAPISecret)
	c2, err := e.loadServeConfig([]string{"--config", path})
	require.NoError(t, err)
	require.Equal(t, uk.vonage.StatusCallbackURL, c2.smsRoutes[1].vonage.StatusCallbackURL, "the same on every node and every start")

	require.Equal(t, sms.IDsHexDec, c.smsRoutes[2].smpp.Options.IDs)
	require.Equal(t, 4, c.smsRoutes[2].smpp.Window)

	// The flag, then the environment, win over the file, as for any setting.
	e, _ = testEnv(map[string]string{"TEST_TWILIO_TOKEN": testAuthToken, "TEST_VONAGE_SECRET": testAPISecret, "OTPD_PUBLIC_URL": "https://env.example.com"})
	c, err = e.loadServeConfig([]string{"--config", path})
	require.NoError(t, err)
	require.Equal(t, "https://env.example.com/v1/callbacks/twilio/us", c.smsRoutes[0].twilio.StatusCallbackURL)
	c, err = e.loadServeConfig([]string{"--config", path, "--public-url", "http://127.0.0.1:8080/otpd"})
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8080/otpd/v1/callbacks/twilio/us", c.smsRoutes[0].twilio.StatusCallbackURL, "a path prefix is kept (a proxy strips it)")
}

func TestConfigSMSRouteErrors(t *testing.T) {
	t.Parallel()
	twilioRoute := func(extra string) string {
		return "public_url: https://otp.example.com\nsms:\n  routes:\n    - name: us\n      type: twilio\n" + extra
	}
	vonageRoute := func(extra string) string {
		return "public_url: https://otp.example.com\nsms:\n  routes:\n    - name: uk\n      type: vonage\n" + extra
	}
	const (
		sid   = "      account_sid: " + testAccountSID + "\n"
		token = "      auth_token: " + testAuthToken + "\n"
		from  = "      from: \"+15005550006\"\n"
	)
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		args []string
		want string
	}{
		{"no public_url", "sms:\n  routes:\n    - name: us\n      type: twilio\n" + sid + token + from, nil, nil,
			"sms.routes[0] (us): a twilio route needs public_url (--public-url, OTPD_PUBLIC_URL)"},
		{"public_url with a query", twilioRoute(sid + token + from), nil, []string{"--public-url", "https://otp.example.com/?a=b"},
			`--public-url "https://otp.example.com/?a=b": must be an absolute http(s) URL`},
		{"public_url not absolute", twilioRoute(sid + token + from), nil, []string{"--public-url", "otp.example.com"}, "--public-url"},
		{"unknown type", "sms:\n  routes:\n    - name: x\n      type: sinch\n", nil, nil, `sms.routes[0] (x): type must be smpp, twilio or vonage, not "sinch"`},
		{"no name", twilioRoute(sid+token+from) + "    - type: twilio\n", nil, nil, "sms.routes[1] (): give the route a name"},
		{"a name that is no path segment", "public_url: https://otp.example.com\nsms:\n  routes:\n    - name: us/east\n      type: twilio\n" + sid + token + from, nil, nil,
			"sms.routes[0] (us/east): a twilio route's name is part of its callback URL"},
		{"another type's key", twilioRoute(sid + token + from + "      api_key: abcd\n"), nil, nil, "sms.routes[0] (us): api_key is not a setting of a twilio route"},
		{"smpp key on twilio", twilioRoute(sid + token + from + "      smpp: smpp://a:b@127.0.0.1:1\n"), nil, nil, "smpp is not a setting of a twilio route"},
		{"twilio key on smpp", "sms:\n  routes:\n    - name: a\n      smpp: smpp://a:b@127.0.0.1:1\n" + sid, nil, nil, "sms.routes[0] (a): account_sid is not a setting of a smpp route"},
		{"smpp without URL", "sms:\n  routes:\n    - name: a\n      prefixes: [\"+44\"]\n", nil, nil, "sms.routes[0] (a): smpp: give the route's smpp URL"},
		{"bad dlr_id", "sms:\n  routes:\n    - name: a\n      smpp: smpp://a:b@127.0.0.1:1\n      dlr_id: \"0x01\"\n", nil, nil,
			`sms.routes[0] (a): dlr_id "0x01": must be as-is, hex-dec, dec-hex, hex-hex or dec-dec`},
		{"dlr_id twice", "sms:\n  routes:\n    - name: a\n      smpp: smpp://a:b@127.0.0.1:1?dlr_id=dec-hex\n      dlr_id: hex-dec\n", nil, nil,
			"dlr_id is hex-dec here and dec-hex in the smpp URL: give it once"},
		{"bad dlr_id in URL", "sms:\n  routes:\n    - name: a\n      smpp: smpp://a:b@127.0.0.1:1?dlr_id=1\n", nil, nil, `smpp url: dlr_id="1": must be`},
		{"bad --smpp", "", nil, []string{"--smpp", "smpp://a:b@127.0.0.1:1?dlr_id=hex"}, "--smpp: smpp url: dlr_id"},
		{"no account", twilioRoute(token + from), nil, nil, "sms.routes[0] (us): account_sid is required"},
		{"bad account", twilioRoute("      account_sid: SK0123456789abcdef0123456789abcdef\n" + token + from), nil, nil,
			`sms.routes[0] (us): twilio: account_sid must be "AC" and 32 hex digits`},
		{"no token", twilioRoute(sid + from), nil, nil, "sms.routes[0] (us): auth_token (or auth_token_env) is required"},
		{"token env unset", twilioRoute(sid + from + "      auth_token_env: TEST_UNSET\n"), nil, nil,
			"sms.routes[0] (us): auth_token_env: the environment variable TEST_UNSET is not set"},
		{"token twice", twilioRoute(sid + token + from + "      auth_token_env: TEST_TOKEN\n"), map[string]string{"TEST_TOKEN": "x"}, nil,
			"give auth_token or auth_token_env, not both"},
		{"no sender", twilioRoute(sid + token), nil, nil, "twilio: set from or messaging_service_sid"},
		{"two senders", twilioRoute(sid + token + from + "      messaging_service_sid: MG0123456789abcdef0123456789abcdef\n"), nil, nil,
			"twilio: set from or messaging_service_sid, not both"},
		{"bad base_url", twilioRoute(sid + token + from + "      base_url: https://api.twilio.com/2010-04-01\n"), nil, nil,
			"twilio: base_url must be a scheme and host"},
		{"plain base_url off loopback", twilioRoute(sid + token + from + "      base_url: http://api.twilio.com\n"), nil, nil,
			"base_url: plain http:// is allowed for a loopback host only"},
		{"vonage without key", vonageRoute("      api_secret: " + testAPISecret + "\n      from: Acme\n"), nil, nil, "sms.routes[0] (uk): api_key is required"},
		{"vonage without secret", vonageRoute("      api_key: abcd\n      from: Acme\n"), nil, nil, "sms.routes[0] (uk): api_secret (or api_secret_env) is required"},
		{"vonage without sender", vonageRoute("      api_key: abcd\n      api_secret: " + testAPISecret + "\n"), nil, nil, "sms.routes[0] (uk): from is required"},
		{"vonage bad sender", vonageRoute("      api_key: abcd\n      api_secret: " + testAPISecret + "\n      from: From-Bank\n"), nil, nil,
			`vonage: from "From-Bank": an alphanumeric sender id has only letters, digits and spaces`}, // the value as given
		{"vonage bad method", vonageRoute("      api_key: abcd\n      api_secret: " + testAPISecret + "\n      from: Acme\n      signature_method: sha3\n"), nil, nil,
			`vonage: signature_method must be md5hash, md5, sha1, sha256 or sha512, not "sha3"`},
		{"vonage secret env unset", vonageRoute("      api_key: abcd\n      api_secret_env: TEST_UNSET\n      from: Acme\n"), nil, nil,
			"api_secret_env: the environment variable TEST_UNSET is not set"},
		{"vonage callback too long", vonageRoute("      api_key: abcd\n      api_secret: " + testAPISecret + "\n      from: Acme\n"), nil,
			[]string{"--public-url", "https://otp.a-rather-long-host-name-for-a-server.example.com"},
			"Vonage takes at most 100: shorten public_url or the route's name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if tt.yaml != "" {
				args = append([]string{"--config", writeConfig(t, tt.yaml)}, args...)
			}
			e, _ := testEnv(tt.env)
			_, err := e.loadServeConfig(args)
			require.ErrorContains(t, err, tt.want)
			for _, secret := range []string{testAuthToken, testAPISecret} {
				require.NotContains(t, err.Error(), secret, "errors never show a secret")
			}
		})
	}
}

func TestConfigFallbackTimeouts(t *testing.T) {
	t.Parallel()
	e, _ := testEnv(nil)
	c, err := e.loadServeConfig([]string{"--config", writeConfig(t, "fallback_timeouts:\n  whatsapp: 45s\n  sms: 0s\n")})
	require.NoError(t, err)
	require.Equal(t, map[string]time.Duration{"whatsapp": 45 * time.Second, "sms": 0}, c.FallbackTimeouts)

	for body, want := range map[string]string{
		"fallback_timeouts:\n  fax: 10s\n":   `"fax" is not a channel`,
		"fallback_timeouts:\n  sms: 2h\n":    "between 0 and 1h",
		"fallback_timeouts:\n  auto: 10s\n":  `"auto" is not a channel`,
		"fallback_timeouts:\n  sms: soon\n":  "`soon` into time.Duration",
		"fallback_timeouts:\n  email: -1s\n": "between 0 and 1h",
	} {
		_, err := e.loadServeConfig([]string{"--config", writeConfig(t, body)})
		require.ErrorContains(t, err, want, body)
	}
}

func TestConfigLimits(t *testing.T) {
	t.Parallel()
	e, _ := testEnv(nil)
	c, err := e.loadServeConfig([]string{"--config", writeConfig(t, "limits:\n  destination: 3/15m\n  country: 'off'\n  failed_checks: 20/1d\n")})
	require.NoError(t, err)
	require.Equal(t, otpd.Limits{
		Destination:  otpd.RateLimit{N: 3, Per: 15 * time.Minute},
		Country:      otpd.NoLimit,
		FailedChecks: otpd.RateLimit{N: 20, Per: 24 * time.Hour},
	}, c.limits)

	for body, want := range map[string]string{
		"limits:\n  per_moon: 1/1h\n":     `unknown limit "per_moon"`,
		"limits:\n  destination: 5\n":     "limits: destination: rate limit \"5\"",
		"limits:\n  destination: ''\n":    `give a limit such as "5/10m" or "off"`,
		"limits:\n  prefix: 5/100ms\n":    "whole seconds",
		"limits:\n  client_ip: lots/1h\n": "count must be a whole number",
	} {
		_, err := e.loadServeConfig([]string{"--config", writeConfig(t, body)})
		require.ErrorContains(t, err, want, body)
	}
}

func TestConfigFraud(t *testing.T) {
	t.Parallel()
	e, _ := testEnv(nil)
	c, err := e.loadServeConfig(nil)
	require.NoError(t, err)
	require.True(t, c.Fraud.enabled(), "the guard is on by default")

	c, err = e.loadServeConfig([]string{"--config", writeConfig(t, `fraud:
  min_volume: 100
  min_conversion: 0.1
  maturity: 5m
  window: 2h
  bucket: 30s
  block_durations: [10m, 2h]
  sweep_interval: 10s
`)})
	require.NoError(t, err)
	require.True(t, c.Fraud.enabled())
	gc := c.Fraud.guardConfig()
	require.Equal(t, int64(100), gc.MinVolume)
	require.Equal(t, 0.1, gc.MinConversion)
	require.Equal(t, 5*time.Minute, gc.Maturity)
	require.Equal(t, 2*time.Hour, gc.Window)
	require.Equal(t, 30*time.Second, gc.Bucket)
	require.Equal(t, []time.Duration{10 * time.Minute, 2 * time.Hour}, gc.Durations)
	require.Equal(t, 10*time.Second, gc.SweepInterval)

	tomlPath := filepath.Join(t.TempDir(), "otpd.toml")
	require.NoError(t, os.WriteFile(tomlPath, []byte("[fraud]\nmaturity = \"5m\"\nblock_durations = [\"10m\", \"2h\"]\n"), 0o600))
	c, err = e.loadServeConfig([]string{"--config", tomlPath})
	require.NoError(t, err)
	require.Equal(t, 5*time.Minute, c.Fraud.Maturity)
	require.Equal(t, []time.Duration{10 * time.Minute, 2 * time.Hour}, c.Fraud.BlockDurations)

	c, err = e.loadServeConfig([]string{"--config", writeConfig(t, "fraud:\n  enabled: false\n")})
	require.NoError(t, err)
	require.False(t, c.Fraud.enabled())

	for body, want := range map[string]string{
		"fraud:\n  min_conversion: 1.5\n":        "min_conversion",
		"fraud:\n  min_volume: -1\n":             "min_volume",
		"fraud:\n  maturity: 2h\n":               "window must be at least",
		"fraud:\n  block_durations: [10m, 0s]\n": "shorter than a second",
		"fraud:\n  bucket: 1500ms\n":             "bucket",
		"fraud:\n  threshold: 3\n":               "threshold",
	} {
		_, err := e.loadServeConfig([]string{"--config", writeConfig(t, body)})
		require.ErrorContains(t, err, want, body)
	}
}
