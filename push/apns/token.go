package apns

import (
	"crypto/ecdsa"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Provider token lifetimes. Apple refuses a token whose iat is more than
// an hour old (403 ExpiredProviderToken) and one replaced more often than
// every 20 minutes (429 TooManyProviderTokenUpdates), so a token is
// reused for RefreshAfter, which must lie between MinRefresh and
// MaxRefresh: the upper bound leaves ten minutes for clock skew and for
// requests signed just before the refresh.
const (
	MinRefresh     = 20 * time.Minute
	MaxRefresh     = 50 * time.Minute
	DefaultRefresh = 40 * time.Minute
)

// tokenCache signs provider tokens and hands out the current one. It is
// safe for concurrent use; concurrent callers that find the token due
// share one signature.
type tokenCache struct {
	key     *ecdsa.PrivateKey
	keyID   string
	teamID  string
	refresh time.Duration
	now     func() time.Time

	mu     sync.Mutex
	token  string
	issued time.Time // wall clock, no monotonic reading
}

// get returns the current token, signing a new one when the current one
// is RefreshAfter old (or when the clock went back past its iat, which
// Apple would take for a token from the future).
//
// Age is measured on the wall clock, not the monotonic one: the
// monotonic clock stops while a machine is suspended, and Apple counts
// the hour in real time.
func (c *tokenCache) get() (string, error) {
	now := c.now().Round(0)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" {
		if age := now.Sub(c.issued); age >= 0 && age < c.refresh {
			return c.token, nil
		}
	}
	tok, err := c.sign(now)
	if err != nil {
		return "", err
	}
	c.token, c.issued = tok, now
	return tok, nil
}

// invalidate drops tok if it is still the current token, after APNs
// called it expired (403 ExpiredProviderToken): the next get signs a new
// one. Requests that failed with an older token do not drop a newer one,
// so a burst of refusals causes one new token, not one each, which
// would earn 429 TooManyProviderTokenUpdates.
func (c *tokenCache) invalidate(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.token = ""
	}
}

// sign makes the provider token Apple's "Establishing a token-based
// connection to APNs" describes: header {"alg":"ES256","kid":KeyID},
// claims {"iss":TeamID,"iat":now}, signed with the .p8 key.
func (c *tokenCache) sign(now time.Time) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": c.teamID,
		"iat": now.Unix(),
	})
	t.Header["kid"] = c.keyID
	s, err := t.SignedString(c.key)
	if err != nil {
		return "", fmt.Errorf("apns: sign provider token: %w", err)
	}
	return s, nil
}
