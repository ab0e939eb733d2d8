package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/otpd/otpd/client"
)

// clientFlags are the flags of every command that talks to a running server.
type clientFlags struct {
	server  string
	token   string
	dataDir string
	json    bool
}

func (e *env) addClientFlags(fs *flag.FlagSet) *clientFlags {
	cf := &clientFlags{}
	server := e.getenv("OTPD_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
		if addr := e.getenv("OTPD_ADDR"); addr != "" {
			server = "http://" + addr
		}
	}
	dataDir := e.getenv("OTPD_DATA_DIR")
	if dataDir == "" {
		dataDir = "./otpd-data"
	}
	fs.StringVar(&cf.server, "server", server, "otpd server URL (OTPD_SERVER)")
	fs.StringVar(&cf.token, "token", "", "bearer token: a service key or the admin token (OTPD_TOKEN, else OTPD_ADMIN_TOKEN; the server stores only a hash of a generated admin token)")
	fs.StringVar(&cf.dataDir, "data-dir", dataDir, "data directory of an older version that kept the admin token in clear, read when no token is given (OTPD_DATA_DIR)")
	fs.BoolVar(&cf.json, "json", false, "print the server's JSON instead of a summary")
	return cf
}

// client returns a client with the token from the flag, the environment or
// the data directory, in that order.
func (e *env) client(cf *clientFlags) (*client.Client, error) {
	token := cf.token
	for _, name := range []string{"OTPD_TOKEN", "OTPD_ADMIN_TOKEN"} {
		if token == "" {
			token = e.getenv(name)
		}
	}
	if token == "" {
		var err error
		if token, err = adminTokenFromDataDir(cf.dataDir); err != nil {
			return nil, err
		}
	}
	return client.New(strings.TrimRight(cf.server, "/"), token, client.WithUserAgent("otpd-cli/"+version)), nil
}

func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseSub parses a subcommand's flags, allowing flags after positional
// arguments ("otpd key revoke key_… --service svc_…"), which the flag
// package alone stops at.
func parseSub(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newFlagSet(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// apiError turns a client error into a plain one-line message for the CLI.
func apiError(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) {
		msg := ce.Detail
		if msg == "" {
			msg = ce.Title
		}
		if ce.Param != "" {
			msg = ce.Param + ": " + msg
		}
		return fmt.Errorf("%s (%s, HTTP %d)", msg, ce.Code, ce.HTTPStatus)
	}
	return err
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
