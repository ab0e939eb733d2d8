// Package storetest is the behaviour suite every otpd store must pass: one
// body of tests, run against package sqlite and package postgres, so that
// the stores are interchangeable behind otpd.Store.
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store {
//			s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "otpd.db"))
//			require.NoError(t, err)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// # Time precision
//
// Stores keep times to the millisecond. The suite stores times with
// nanoseconds and compares what it reads back with the stored value
// truncated to the millisecond, in UTC. A store may keep more precision only
// if it also keeps the comparisons it makes (expiry, leases, cursors)
// consistent with what it returns; keeping milliseconds everywhere is the
// simple way.
//
// # Equality
//
// The suite treats a nil and an empty slice (byte slices, lists of channels,
// countries and messages) as equal: SQL has no portable way to tell them
// apart.
package storetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

// Store is what an otpd store implements.
type Store interface {
	otpd.Store
	otpd.IdempotencyStore
}

// Run runs the suite. newStore must return a new, empty store for each call
// and arrange for it to be closed when t ends (t.Cleanup); subtests run in
// parallel, each on its own store.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	t.Helper()
	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		require.NoError(t, b.s.Ping(b.ctx))
	})
	t.Run("Service", func(t *testing.T) { t.Parallel(); testServices(t, newStore) })
	t.Run("Key", func(t *testing.T) { t.Parallel(); testKeys(t, newStore) })
	t.Run("Verification", func(t *testing.T) { t.Parallel(); testVerifications(t, newStore) })
	t.Run("UpdateVerification", func(t *testing.T) { t.Parallel(); testUpdateVerification(t, newStore) })
	t.Run("ListVerifications", func(t *testing.T) { t.Parallel(); testListVerifications(t, newStore) })
	t.Run("FindPending", func(t *testing.T) { t.Parallel(); testFindPending(t, newStore) })
	t.Run("ClaimMessages", func(t *testing.T) { t.Parallel(); testClaimMessages(t, newStore) })
	t.Run("ClaimFallbacks", func(t *testing.T) { t.Parallel(); testClaimFallbacks(t, newStore) })
	t.Run("DueForExpiry", func(t *testing.T) { t.Parallel(); testDueForExpiry(t, newStore) })
	t.Run("PurgeVerifications", func(t *testing.T) { t.Parallel(); testPurgeVerifications(t, newStore) })
	t.Run("Idempotency", func(t *testing.T) { t.Parallel(); testIdempotency(t, newStore) })
	t.Run("MessageRefs", func(t *testing.T) { t.Parallel(); testMessageRefs(t, newStore) })
	t.Run("ImportVerifications", func(t *testing.T) { t.Parallel(); testImportVerifications(t, newStore) })
	t.Run("EarlyReceipts", func(t *testing.T) { t.Parallel(); testEarlyReceipts(t, newStore) })
	t.Run("Events", func(t *testing.T) { t.Parallel(); testEvents(t, newStore) })
	t.Run("Devices", func(t *testing.T) { t.Parallel(); testDevices(t, newStore) })
	t.Run("Templates", func(t *testing.T) { t.Parallel(); testTemplates(t, newStore) })
	t.Run("KeyFingerprints", func(t *testing.T) { t.Parallel(); testKeyFingerprints(t, newStore) })
	t.Run("EraseDestination", func(t *testing.T) { t.Parallel(); testEraseDestination(t, newStore) })
	t.Run("Fraud", func(t *testing.T) { t.Parallel(); testFraud(t, newStore) })
	t.Run("Audit", func(t *testing.T) { t.Parallel(); testAudit(t, newStore) })
}

// testBundle is what a subtest works with.
type testBundle struct {
	s   Store
	ctx context.Context
	now time.Time // with nanoseconds, as the domain would pass it
}

func setup(t *testing.T, newStore func(t *testing.T) Store) *testBundle {
	t.Helper()
	return &testBundle{s: newStore(t), ctx: t.Context(), now: time.Now()}
}

// service creates and returns a service.
func (b *testBundle) service(t *testing.T) *otpd.Service {
	t.Helper()
	svc := NewService(b.now)
	require.NoError(t, b.s.CreateService(b.ctx, svc))
	return svc
}

// verification creates and returns a verification of svc created at at,
// after calling each modify on it.
func (b *testBundle) verification(t *testing.T, svc *otpd.Service, at time.Time, modify ...func(*otpd.Verification)) *otpd.Verification {
	t.Helper()
	v := NewVerification(svc, at)
	for _, m := range modify {
		m(v)
	}
	require.NoError(t, b.s.CreateVerification(b.ctx, v))
	return v
}

// NewService returns a valid service, created at now, with every field set
// to something other than its zero value and its default.
func NewService(now time.Time) *otpd.Service {
	svc := &otpd.Service{
		ID:   otpd.NewID(otpd.PrefixService, now),
		Name: "Acme Bank",
		Policy: otpd.Policy{
			CodeLength:       8,
			Alphabet:         otpd.AlphabetAlphanumeric,
			TTL:              15 * time.Minute,
			MaxTTL:           time.Hour,
			MaxCheckAttempts: 3,
			MaxSends:         4,
			ResendCooldown:   45 * time.Second,
		},
		Channels:         []otpd.ChannelName{otpd.ChannelWhatsApp, otpd.ChannelSMS},
		Countries:        []string{"GB", "DE"},
		Locale:           "en-GB",
		WebhookURL:       "https://hooks.example.com/otpd",
		WebhookSecret:    "whsec_" + randomHex(16),
		AppHash:          "FA+9qCX9VSu",
		WebOTPDomain:     "example.com",
		WhatsAppTemplate: "acme_otp",
		WhatsAppLanguage: "en_GB",
		Limits: otpd.Limits{
			Destination:  otpd.RateLimit{N: 3, Per: 15 * time.Minute},
			Country:      otpd.NoLimit,
			FailedChecks: otpd.RateLimit{N: 20, Per: 24 * time.Hour},
		},
		SafeList:  []string{"+4477009001", "+447700900999"},
		CreatedAt: now,
		UpdatedAt: now.Add(time.Second),
	}
	if err := svc.Validate(); err != nil {
		panic("storetest: NewService is invalid: " + err.Error())
	}
	return svc
}

// NewVerification returns a pending verification of svc, created at now and
// expiring 10 minutes later, with every field set and one queued message due
// at now. Its ToKey is unique.
func NewVerification(svc *otpd.Service, now time.Time) *otpd.Verification {
	v := &otpd.Verification{
		ID:        otpd.NewID(otpd.PrefixVerification, now),
		ServiceID: svc.ID,
		To:        "+447700900123",
		ToKey:     "tk_" + randomHex(16),
		Channel:   otpd.ChannelSMS,
		Status:    otpd.StatusPending,
		Locale:    "de",
		Purpose:   "transaction",
		Reference: "order-8812",
		ClientIP:  "203.0.113.7",
		Transaction: &otpd.Transaction{
			Amount:   "125.00",
			Currency: "EUR",
			Payee:    "ACME Shop",
		},
		Fallback:       []otpd.ChannelName{otpd.ChannelWhatsApp, otpd.ChannelEmail},
		FallbackTo:     map[otpd.ChannelName]string{otpd.ChannelEmail: "ana@example.com"},
		CodeLength:     svc.Policy.CodeLength,
		Alphabet:       svc.Policy.Alphabet,
		KeyID:          "k1",
		Salt:           randomBytes(16),
		CodeHash:       randomBytes(32),
		MaxAttempts:    svc.Policy.MaxCheckAttempts,
		Attempts:       1,
		MaxSends:       svc.Policy.MaxSends,
		Sends:          1,
		ResendCooldown: svc.Policy.ResendCooldown,
		CreatedAt:      now,
		UpdatedAt:      now.Add(time.Millisecond),
		ExpiresAt:      now.Add(10 * time.Minute),
		LastSentAt:     now,
	}
	v.Messages = []*otpd.Message{NewMessage(v, now)}
	return v
}

// NewMessage returns a queued message of v, created at and due at now.
func NewMessage(v *otpd.Verification, now time.Time) *otpd.Message {
	return &otpd.Message{
		ID:             otpd.NewID(otpd.PrefixMessage, now),
		VerificationID: v.ID,
		Channel:        v.Channel,
		Status:         otpd.MessageQueued,
		NextAttemptAt:  now,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
}

// NewKey returns a key of svc created at now, never used.
func NewKey(svc *otpd.Service, now time.Time) *otpd.Key {
	return &otpd.Key{
		ID:         otpd.NewID(otpd.PrefixKey, now),
		ServiceID:  svc.ID,
		Name:       "backend",
		SecretHash: randomBytes(32),
		CreatedAt:  now,
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func randomHex(n int) string { return fmt.Sprintf("%x", randomBytes(n)) }

// ms is a time as a store keeps it.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}

func normService(s *otpd.Service) *otpd.Service {
	if s == nil {
		return nil
	}
	c := *s
	c.Channels = nilIfEmpty(slices.Clone(s.Channels))
	c.Countries = nilIfEmpty(slices.Clone(s.Countries))
	c.CreatedAt = ms(s.CreatedAt)
	c.UpdatedAt = ms(s.UpdatedAt)
	return &c
}

func normKey(k *otpd.Key) *otpd.Key {
	if k == nil {
		return nil
	}
	c := *k
	c.SecretHash = nilIfEmpty(k.SecretHash)
	c.CreatedAt = ms(k.CreatedAt)
	c.LastUsedAt = ms(k.LastUsedAt)
	return &c
}

func normVerification(v *otpd.Verification) *otpd.Verification {
	if v == nil {
		return nil
	}
	c := v.Clone()
	c.Salt = nilIfEmpty(c.Salt)
	c.CodeHash = nilIfEmpty(c.CodeHash)
	c.CreatedAt = ms(c.CreatedAt)
	c.UpdatedAt = ms(c.UpdatedAt)
	c.ExpiresAt = ms(c.ExpiresAt)
	c.LastSentAt = ms(c.LastSentAt)
	c.Messages = nilIfEmpty(c.Messages)
	c.Fallback = nilIfEmpty(c.Fallback)
	for _, m := range c.Messages {
		m.FallbackAt = ms(m.FallbackAt)
		m.LeaseUntil = time.Time{} // written with the insert, never read back
		m.NextAttemptAt = ms(m.NextAttemptAt)
		m.CreatedAt = ms(m.CreatedAt)
		m.UpdatedAt = ms(m.UpdatedAt)
	}
	return c
}

func normIdempotency(r *otpd.IdempotencyRecord) *otpd.IdempotencyRecord {
	if r == nil {
		return nil
	}
	c := *r
	c.RequestHash = nilIfEmpty(r.RequestHash)
	c.Header = nilIfEmpty(r.Header)
	c.Body = nilIfEmpty(r.Body)
	c.CreatedAt = ms(r.CreatedAt)
	c.LockedUntil = ms(r.LockedUntil)
	return &c
}

func requireService(t *testing.T, want, got *otpd.Service) {
	t.Helper()
	require.Equal(t, normService(want), normService(got))
}

func requireKey(t *testing.T, want, got *otpd.Key) {
	t.Helper()
	require.Equal(t, normKey(want), normKey(got))
}

func requireVerification(t *testing.T, want, got *otpd.Verification) {
	t.Helper()
	require.Equal(t, normVerification(want), normVerification(got))
}

func requireVerifications(t *testing.T, want, got []*otpd.Verification) {
	t.Helper()
	require.Equal(t, ids(want), ids(got), "ids")
	for i := range want {
		requireVerification(t, want[i], got[i])
	}
}

func ids(vs []*otpd.Verification) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

// get reads a verification back.
func (b *testBundle) get(t *testing.T, v *otpd.Verification) *otpd.Verification {
	t.Helper()
	got, err := b.s.GetVerification(b.ctx, v.ServiceID, v.ID)
	require.NoError(t, err)
	return got
}
