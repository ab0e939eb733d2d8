package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
