package googleauth_test

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/otpd/otpd/internal/googleauth"
)

// A source of tokens for Firebase Cloud Messaging, read from a key file,
// used for one request. Keep one TokenSource per account and scopes, for
// the life of the process: it caches the token.
func Example() {
	data, err := os.ReadFile("/etc/otpd/fcm-service-account.json")
	if err != nil {
		return
	}
	sa, err := googleauth.ParseServiceAccount(data)
	if err != nil {
		return
	}
	client := &http.Client{Timeout: 10 * time.Second}
	ts := googleauth.NewTokenSource(sa, []string{"https://www.googleapis.com/auth/firebase.messaging"},
		googleauth.WithHTTPClient(client))

	ctx := context.Background()
	tok, err := ts.Token(ctx)
	if err != nil {
		return // a *googleauth.TokenError when Google refused the key
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
		"https://fcm.googleapis.com/v1/projects/"+sa.ProjectID+"/messages:send", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	_ = req
}
