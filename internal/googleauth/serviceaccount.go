package googleauth

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
)

// DefaultTokenURL is Google's OAuth 2.0 token endpoint, used when a key
// file has no token_uri.
const DefaultTokenURL = "https://oauth2.googleapis.com/token"

// ServiceAccount is a service account key, as the JSON key file that the
// Google Cloud console creates holds it. The private key is kept parsed
// and unexported, so printing or marshalling a ServiceAccount never shows
// it.
type ServiceAccount struct {
	Type         string // always "service_account"
	ProjectID    string // the Google Cloud project, e.g. "acme-otp"
	PrivateKeyID string // the key's id, sent as the JWT's "kid"
	ClientEmail  string // the account, e.g. "otpd@acme-otp.iam.gserviceaccount.com"; the JWT's "iss"
	TokenURI     string // where tokens are requested; DefaultTokenURL when the file has none

	key *rsa.PrivateKey
}

// keyFile is the JSON key file's shape. It has more fields (client_id,
// auth_uri, client_x509_cert_url, universe_domain, ...) that the token
// flow does not need.
type keyFile struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// ParseServiceAccount reads a service account's JSON key file. The
// private key must be an RSA key in PEM, PKCS #8 ("BEGIN PRIVATE KEY", as
// Google issues them) or PKCS #1 ("BEGIN RSA PRIVATE KEY"). Errors never
// quote the key.
func ParseServiceAccount(data []byte) (*ServiceAccount, error) {
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		// json's messages quote at most a byte or a type name, never
		// the input's values.
		return nil, fmt.Errorf("googleauth: service account key is not JSON: %w", err)
	}
	if f.Type != "service_account" {
		return nil, fmt.Errorf("googleauth: key file type is %q, want \"service_account\"", truncate(f.Type, 40))
	}
	if f.ClientEmail == "" {
		return nil, errors.New("googleauth: service account key has no client_email")
	}
	if f.PrivateKey == "" {
		return nil, errors.New("googleauth: service account key has no private_key")
	}
	key, err := parseRSAKey([]byte(f.PrivateKey))
	if err != nil {
		return nil, err
	}
	if f.TokenURI == "" {
		f.TokenURI = DefaultTokenURL
	}
	if err := validTokenURL(f.TokenURI); err != nil {
		return nil, err
	}
	return &ServiceAccount{
		Type:         f.Type,
		ProjectID:    f.ProjectID,
		PrivateKeyID: f.PrivateKeyID,
		ClientEmail:  f.ClientEmail,
		TokenURI:     f.TokenURI,
		key:          key,
	}, nil
}

// parseRSAKey reads the first PEM block of pemBytes as an RSA private key.
func parseRSAKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("googleauth: private_key is not PEM")
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("googleauth: private_key is not a valid PKCS #8 key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("googleauth: private_key is a %T, want an RSA key", k)
		}
		return rk, nil
	case "RSA PRIVATE KEY":
		rk, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("googleauth: private_key is not a valid PKCS #1 RSA key")
		}
		return rk, nil
	default:
		return nil, fmt.Errorf("googleauth: private_key is a PEM %q block, want \"PRIVATE KEY\"", truncate(block.Type, 40))
	}
}

func validTokenURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		// Not quoted: a URL with credentials in it would show them.
		return errors.New("googleauth: token_uri is not an absolute http(s) URL without credentials")
	}
	return nil
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
