package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/otpd/otpd"
)

// keyringEnv names the environment variable that may hold the keyring
// itself, in the JSON form of keyring.json, for containers that get their
// secrets from the environment rather than from a file. It is read once
// and never logged.
const keyringEnv = "OTPD_KEYRING_JSON"

// keyringSource is where the keyring comes from: a file, or the JSON in
// OTPD_KEYRING_JSON.
type keyringSource struct {
	path string // the file; "" when the keyring comes from the environment
	json string // the environment's keyring, when path is ""
}

// resolveKeyring says where the keyring is: the JSON in OTPD_KEYRING_JSON,
// else the file given (--keyring, OTPD_KEYRING, the config file's keyring),
// else keyring.json in the data directory. Naming a file and setting
// OTPD_KEYRING_JSON too is an error: one of them would be silently unused.
func resolveKeyring(file, dataDir string, getenv func(string) string) (keyringSource, error) {
	if j := getenv(keyringEnv); j != "" {
		if file != "" {
			return keyringSource{}, usagef("give the keyring as a file (--keyring, OTPD_KEYRING) or in %s, not both", keyringEnv)
		}
		return keyringSource{json: j}, nil
	}
	if file == "" {
		file = filepath.Join(dataDir, keyringFile)
	}
	return keyringSource{path: file}, nil
}

// String names the source for messages; never the keyring itself.
func (s keyringSource) String() string {
	if s.path == "" {
		return "$" + keyringEnv
	}
	return s.path
}

// load returns the keyring for otpd serve: a keyring file that does not
// exist yet is created with a fresh key (loadKeyring).
func (s keyringSource) load() (*otpd.Keyring, error) {
	if s.path != "" {
		return loadKeyring(s.path)
	}
	return s.read()
}

// read returns the keyring, which must exist.
func (s keyringSource) read() (*otpd.Keyring, error) {
	if s.path == "" {
		k, err := otpd.ParseKeyring([]byte(s.json))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", keyringEnv, err)
		}
		return k, nil
	}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no keyring at %s (otpd serve creates one on first start; give --keyring or --data-dir)", s.path)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	k, err := otpd.ParseKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.path, err)
	}
	return k, nil
}

// writeKeyringFile replaces the keyring file at path with k, atomically: k
// is written to a temporary file (mode 0600) in the same directory, synced
// and renamed over path, so a server reloading at that moment reads the
// old keyring or the new one, never part of one.
func writeKeyringFile(path string, k *otpd.Keyring) error {
	data, err := k.MarshalJSON()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(append(data, '\n'))
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("keyring: write %s: %w", path, err)
	}
	// The rename is durable once the directory is synced.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// keyringReloadable re-reads the keyring on SIGHUP and hands it to the
// running engine, which keeps the one it has when the new one lacks a key
// of it or changed a key's secret (Engine.SetKeyring), then to the store's
// sealer: personal data is sealed with the new current key only once the
// engine has accepted the keyring. A keyring from OTPD_KEYRING_JSON cannot
// change while the process runs: it takes a restart, and the reload says
// so. ctx bounds the store's fingerprint check.
func keyringReloadable(ctx context.Context, engine *otpd.Engine, sealer *otpd.SealerRef, src keyringSource) reloadable {
	return reloadable{name: "keyring", reload: func() ([]any, error) {
		if src.path == "" {
			return nil, errors.New("the keyring comes from " + keyringEnv + ", which only a restart changes")
		}
		attrs := []any{"keyring", src.path}
		k, err := src.read()
		if err != nil {
			return attrs, err
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := engine.SetKeyring(ctx, k); err != nil {
			return attrs, err
		}
		sealer.Set(k)
		return append(attrs, "current_key", k.CurrentID(), "keys", len(k.Keys())), nil
	}}
}
