package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/otpd/otpd"
)

const (
	// adminTokenHashFile holds the hash of a generated admin token: the
	// token itself is printed once and never stored.
	adminTokenHashFile = "admin-token.sha256"
	// adminTokenHashPrefix versions the hash file's one line, so another
	// hash can follow without guessing at old files.
	adminTokenHashPrefix = "otpd-admin-token-v1 sha256:"
	// adminTokenFile is where versions before the hash kept a generated
	// token in clear; serve replaces it with adminTokenHashFile.
	adminTokenFile = "admin-token"
)

// adminCredential is what otpd serve knows of the admin token.
type adminCredential struct {
	hash      [32]byte
	token     string // "" unless configured or just generated
	generated bool   // new: print token once
}

// loadAdminToken returns the configured admin token; else the hash stored
// in the data directory; else, for a data directory of an older version
// holding the token in clear, its hash, replacing the clear file with the
// hash file (and logging that); else a new token, of which it stores only
// the hash — serve prints the token once.
func loadAdminToken(cfg serveConfig, log *slog.Logger) (adminCredential, error) {
	if cfg.AdminToken != "" {
		return adminCredential{hash: otpd.HashAdminToken(cfg.AdminToken), token: cfg.AdminToken}, nil
	}
	hashPath := filepath.Join(cfg.DataDir, adminTokenHashFile)
	clearPath := filepath.Join(cfg.DataDir, adminTokenFile)
	hash, err := readAdminTokenHash(hashPath)
	switch {
	case err == nil:
		if _, err := os.Stat(clearPath); err == nil {
			// A migration stopped between writing the hash and removing
			// the clear file.
			if err := os.Remove(clearPath); err != nil {
				return adminCredential{}, fmt.Errorf("admin token: remove the clear copy: %w", err)
			}
		}
		return adminCredential{hash: hash}, nil
	case !errors.Is(err, fs.ErrNotExist):
		return adminCredential{}, err
	}

	data, err := os.ReadFile(clearPath)
	switch {
	case err == nil:
		token := strings.TrimSpace(string(data))
		if len(token) < 16 {
			return adminCredential{}, fmt.Errorf("%s: the admin token is too short; delete the file to generate a new one", clearPath)
		}
		cred := adminCredential{hash: otpd.HashAdminToken(token)}
		if err := storeAdminTokenHash(hashPath, cred.hash); err != nil {
			return adminCredential{}, err
		}
		if err := os.Remove(clearPath); err != nil {
			return adminCredential{}, fmt.Errorf("admin token: remove the clear copy: %w", err)
		}
		log.Info("the admin token is no longer stored in clear: replaced the admin-token file with its hash; the token is unchanged",
			"removed", clearPath, "hash_file", hashPath)
		return cred, nil
	case !errors.Is(err, fs.ErrNotExist):
		return adminCredential{}, fmt.Errorf("admin token: %w", err)
	}

	token := otpd.NewAdminToken()
	cred := adminCredential{hash: otpd.HashAdminToken(token), token: token, generated: true}
	if err := storeAdminTokenHash(hashPath, cred.hash); errors.Is(err, fs.ErrExist) {
		return loadAdminToken(cfg, log) // another process made one first
	} else if err != nil {
		return adminCredential{}, err
	}
	return cred, nil
}

// storeAdminTokenHash creates the hash file, mode 0600, unless it exists.
func storeAdminTokenHash(path string, hash [32]byte) error {
	err := createSecretFile(path, []byte(adminTokenHashPrefix+hex.EncodeToString(hash[:])+"\n"))
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("admin token: %w", err)
	}
	return err
}

// readAdminTokenHash reads a hash file; its error wraps fs.ErrNotExist when
// there is none.
func readAdminTokenHash(path string) ([32]byte, error) {
	var hash [32]byte
	data, err := os.ReadFile(path)
	if err != nil {
		return hash, fmt.Errorf("admin token: %w", err)
	}
	h, ok := strings.CutPrefix(strings.TrimSpace(string(data)), adminTokenHashPrefix)
	b, err := hex.DecodeString(h)
	if !ok || err != nil || len(b) != len(hash) {
		return hash, fmt.Errorf("%s: not an admin token hash (%s<64 hex digits>); delete it to generate a new token", path, adminTokenHashPrefix)
	}
	copy(hash[:], b)
	return hash, nil
}

// adminTokenFromDataDir returns the admin token for CLI commands given no
// token: only a data directory of an older version, not yet opened by this
// version's otpd serve, still holds it in clear. Otherwise it says where
// the token must come from.
func adminTokenFromDataDir(dataDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, adminTokenFile))
	if err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	if _, err := os.Stat(filepath.Join(dataDir, adminTokenHashFile)); err == nil {
		return "", usagef("no token: %s keeps only a hash of the admin token; pass --token or set OTPD_ADMIN_TOKEN (otpd serve printed the token when it generated it; to make a new one, delete %s and restart the server)",
			dataDir, filepath.Join(dataDir, adminTokenHashFile))
	}
	return "", usagef("no token: pass --token, or set OTPD_TOKEN or OTPD_ADMIN_TOKEN")
}
