package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// keysCmd manages the server keyring: the keys codes are derived and
// hashed with. It works on the keyring file itself, not through the API,
// because the keyring never leaves the machine. "otpd keys" was once another
// name for "otpd key" (service API keys); those calls (create, revoke, list
// --service) still go there.
func (e *env) keysCmd(ctx context.Context, args []string) error {
	const subs = "list, rotate, add, activate"
	if len(args) == 0 {
		return usagef("keys: give a subcommand: %s (service API keys: otpd key)", subs)
	}
	switch args[0] {
	case "list":
		if hasFlag(args[1:], "service") {
			return e.keyCmd(ctx, args)
		}
		return e.keysList(args[1:])
	case "rotate":
		return e.keysChange(args[1:], "rotate", "otpd keys rotate [flags]")
	case "add":
		return e.keysChange(args[1:], "add", "otpd keys add [flags]")
	case "activate":
		return e.keysChange(args[1:], "activate", "otpd keys activate KEY_ID [flags]")
	case "create", "revoke":
		return e.keyCmd(ctx, args)
	}
	return usagef("keys: unknown subcommand %q (%s)", args[0], subs)
}

// hasFlag reports whether args set the flag name (-name or --name, with or
// without =value).
func hasFlag(args []string, name string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		a = strings.TrimLeft(a, "-")
		return a == name || strings.HasPrefix(a, name+"=")
	})
}

// keyringFlags are the flags that find the keyring the way otpd serve does.
type keyringFlags struct {
	keyring, dataDir, config string
}

func addKeyringFlags(fs *flag.FlagSet) *keyringFlags {
	kf := &keyringFlags{}
	fs.StringVar(&kf.keyring, "keyring", "", "keyring file (OTPD_KEYRING; default <data-dir>/keyring.json, or "+keyringEnv+")")
	fs.StringVar(&kf.dataDir, "data-dir", "", "otpd serve's data directory (OTPD_DATA_DIR; default ./otpd-data)")
	fs.StringVar(&kf.config, "config", "", "otpd serve's config file, for its keyring and data_dir settings (OTPD_CONFIG)")
	return kf
}

// source resolves the keyring as otpd serve would with the same settings:
// config file, then environment, then flags. A --keyring flag names a file
// even when OTPD_KEYRING_JSON is set, so a copy of that keyring can be
// rotated in a file.
func (e *env) source(kf *keyringFlags) (keyringSource, error) {
	if kf.keyring != "" {
		return keyringSource{path: kf.keyring}, nil
	}
	cfg := defaultServeConfig()
	path := kf.config
	if path == "" {
		path = e.getenv("OTPD_CONFIG")
	}
	if path != "" {
		if err := readConfigFile(path, &cfg); err != nil {
			return keyringSource{}, err
		}
	}
	for env, field := range map[string]*string{"OTPD_KEYRING": &cfg.Keyring, "OTPD_DATA_DIR": &cfg.DataDir} {
		if v := e.getenv(env); v != "" {
			*field = v
		}
	}
	if kf.dataDir != "" {
		cfg.DataDir = kf.dataDir
	}
	return resolveKeyring(cfg.Keyring, cfg.DataDir, e.getenv)
}

// keyJSON is one key in otpd keys list --json: never the secret.
type keyJSON struct {
	ID          string    `json:"id"`
	CreatedAt   time.Time `json:"created_at"`
	Current     bool      `json:"current"`
	Fingerprint string    `json:"fingerprint"`
}

func (e *env) keysList(args []string) error {
	fs := newFlagSet(e, "otpd keys list", "otpd keys list [--keyring FILE | --data-dir DIR] [--json]")
	kf := addKeyringFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if pos, err := parseSub(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("keys list takes no arguments, got %q", pos[0])
	}
	src, err := e.source(kf)
	if err != nil {
		return err
	}
	k, err := src.read()
	if err != nil {
		return err
	}
	if *asJSON {
		out := []keyJSON{}
		for _, ki := range k.Keys() {
			out = append(out, keyJSON{ki.ID, ki.CreatedAt, ki.Current, ki.Fingerprint})
		}
		return e.printJSON(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tCURRENT\tFINGERPRINT")
	for _, ki := range k.Keys() {
		current := ""
		if ki.Current {
			current = "yes"
		}
		created := "-"
		if !ki.CreatedAt.IsZero() {
			created = ki.CreatedAt.UTC().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ki.ID, created, current, ki.Fingerprint)
	}
	return tw.Flush()
}

// keysChange runs rotate, add or activate: it reads the keyring file,
// changes it and writes it back atomically, keeping every old key so that
// codes they protect still check. A running server picks the change up on
// SIGHUP.
func (e *env) keysChange(args []string, op, usage string) error {
	fs := newFlagSet(e, "otpd keys "+op, usage)
	kf := addKeyringFlags(fs)
	pos, err := parseSub(fs, args)
	if err != nil {
		return err
	}
	if want := map[string]int{"activate": 1}[op]; len(pos) != want {
		if want == 1 {
			return usagef("keys activate: give exactly one key id (otpd keys list shows them)")
		}
		return usagef("keys %s takes no arguments, got %q", op, pos[0])
	}
	src, err := e.source(kf)
	if err != nil {
		return err
	}
	if src.path == "" {
		return usagef("keys %s: the keyring comes from %s, which otpd cannot change: write it to a file, run otpd keys %s --keyring FILE, and set %s to the file's new content",
			op, keyringEnv, op, keyringEnv)
	}
	k, err := src.read()
	if err != nil {
		return err
	}
	var id, did string
	switch op {
	case "rotate":
		id, did = k.Rotate(time.Now().UTC()), "Added key %[1]s to %[2]s and made it current."
	case "add":
		id, did = k.Add(time.Now().UTC()), "Added key %[1]s to %[2]s; it is not current: once every node has reloaded, run otpd keys activate %[1]s."
	case "activate":
		id, did = pos[0], "Key %[1]s of %[2]s is now current."
		if err := k.Activate(id); err != nil {
			return usagef("keys activate: no key %q in %s (otpd keys list shows them)", id, src)
		}
	}
	if err := writeKeyringFile(src.path, k); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, did+"\n", id, src)
	fmt.Fprintln(e.stdout, "Running servers use it after a reload: send them SIGHUP (kill -HUP <pid>).")
	return nil
}
