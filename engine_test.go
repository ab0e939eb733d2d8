package otpd_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/sqlite"
)

// recorder is a channel that keeps what it is given, and fails on demand.
type recorder struct {
	mu   sync.Mutex
	sent []*otpd.Outbound
	fail error
}

func (r *recorder) Send(_ context.Context, out *otpd.Outbound) (otpd.SendResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return otpd.SendResult{}, r.fail
	}
	r.sent = append(r.sent, out)
	return otpd.SendResult{ProviderID: "p-" + out.MessageID}, nil
}

func (r *recorder) Ready(context.Context) error { return nil }

func (r *recorder) last(t *testing.T) *otpd.Outbound {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.sent, "nothing was sent")
	return r.sent[len(r.sent)-1]
}

func (r *recorder) setFail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

type clock struct{ t atomic.Pointer[time.Time] }

func (c *clock) now() time.Time      { return *c.t.Load() }
func (c *clock) add(d time.Duration) { t := c.now().Add(d); c.t.Store(&t) }

type testBundle struct {
	engine *otpd.Engine
	store  *sqlite.Store
	sms    *recorder
	email  *recorder
	clock  *clock
	svc    *otpd.Service
}

const adminToken = "test-admin-token-0123456789"

func setup(t *testing.T, mutate ...func(*otpd.Service)) *testBundle {
	t.Helper()
	return setupWith(t, nil, mutate...)
}

// setupWith is setup with a chance to change the engine's configuration.
func setupWith(t *testing.T, configure func(*otpd.Config), mutate ...func(*otpd.Service)) *testBundle {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "otpd.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	b := &testBundle{store: store, sms: &recorder{}, email: &recorder{}, clock: &clock{}}
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	b.clock.t.Store(&start)
	cfg := otpd.Config{
		Store:      store,
		Keyring:    otpd.NewKeyring(start),
		Channels:   map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: b.sms, otpd.ChannelEmail: b.email},
		Renderer:   message.New(),
		AdminToken: adminToken,
		Now:        b.clock.now,
		EventData:  eventData,
	}
	if configure != nil {
		configure(&cfg)
	}
	b.engine, err = otpd.NewEngine(cfg)
	require.NoError(t, err)
	svc := &otpd.Service{Name: "Acme Bank", Policy: otpd.DefaultPolicy(), Channels: []otpd.ChannelName{otpd.ChannelSMS, otpd.ChannelEmail}}
	for _, m := range mutate {
		m(svc)
	}
	b.svc, err = b.engine.CreateService(ctx, svc)
	require.NoError(t, err)
	return b
}

// start starts a verification and delivers its first message, returning it
// with the code the channel received.
func (b *testBundle) start(t *testing.T, req otpd.StartRequest) (*otpd.Verification, string) {
	t.Helper()
	v, err := b.engine.Start(context.Background(), b.svc.ID, req)
	require.NoError(t, err)
	return v, b.deliver(t, v)
}

// deliver sends the verification's newest message and returns the code.
func (b *testBundle) deliver(t *testing.T, v *otpd.Verification) string {
	t.Helper()
	m := v.Messages[len(v.Messages)-1]
	require.NoError(t, b.engine.Deliver(context.Background(), otpd.ClaimedMessage{ServiceID: v.ServiceID, VerificationID: v.ID, MessageID: m.ID}))
	rec := b.sms
	if m.Channel == otpd.ChannelEmail {
		rec = b.email
	}
	out := rec.last(t)
	require.Equal(t, m.ID, out.MessageID)
	require.Contains(t, out.Text, out.Code)
	return out.Code
}

func wrong(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func requireKind(t *testing.T, err error, kind error) *otpd.Error {
	t.Helper()
	require.ErrorIs(t, err, kind)
	var oe *otpd.Error
	require.True(t, errors.As(err, &oe))
	return oe
}

func TestStartCheckApproves(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	v, code := b.start(t, otpd.StartRequest{To: "+447700900123", Purpose: "login", Reference: "order-1"})
	require.Equal(t, otpd.StatusPending, v.Status)
	require.Equal(t, otpd.ChannelSMS, v.Channel, "auto picks the service's first channel")
	require.Len(t, code, 6)
	require.Equal(t, 4, v.SendsRemaining())

	got, err := b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.MessageSent, got.Messages[0].Status)
	require.Equal(t, "p-"+got.Messages[0].ID, got.Messages[0].ProviderID)

	res, err := b.engine.Check(ctx, b.svc.ID, v.ID, wrong(code), nil)
	require.NoError(t, err)
	require.False(t, res.Valid)
	require.Equal(t, 4, res.Verification.AttemptsRemaining())

	res, err = b.engine.Check(ctx, b.svc.ID, v.ID, code, nil)
	require.NoError(t, err)
	require.True(t, res.Valid)
	require.Equal(t, otpd.StatusApproved, res.Verification.Status)

	_, err = b.engine.Check(ctx, b.svc.ID, v.ID, code, nil)
	require.Equal(t, otpd.StatusApproved, requireKind(t, err, otpd.ErrClosed).Status, "a code works once")
}

func TestCheckSingleUseUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v, code := b.start(t, otpd.StartRequest{To: "+447700900123"})
	const n = 50
	var valid, closed atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			res, err := b.engine.Check(context.Background(), b.svc.ID, v.ID, code, nil)
			switch {
			case err == nil && res.Valid:
				valid.Add(1)
			case errors.Is(err, otpd.ErrClosed):
				closed.Add(1)
			default:
				t.Errorf("unexpected result %+v, %v", res, err)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, valid.Load())
	require.EqualValues(t, n-1, closed.Load())
}

func TestTransactionBinding(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	txn := func(amount, currency, payee string) *otpd.Transaction {
		return &otpd.Transaction{Amount: amount, Currency: currency, Payee: payee}
	}
	v, code := b.start(t, otpd.StartRequest{To: "+447700900123", Purpose: "transaction", Transaction: txn("125.00", "EUR", "ACME Shop")})
	out := b.sms.last(t)
	require.Contains(t, out.Text, "ACME Shop")

	for i, other := range []*otpd.Transaction{nil, txn("125.01", "EUR", "ACME Shop"), txn("125.00", "USD", "ACME Shop"), txn("125.00", "EUR", "ACME Shop Ltd")} {
		res, err := b.engine.Check(ctx, b.svc.ID, v.ID, code, other)
		require.NoError(t, err, i)
		require.False(t, res.Valid, "the right code with another transaction (%d) must fail", i)
		require.Equal(t, 4-i, res.Verification.AttemptsRemaining(), "and it costs an attempt")
	}
	res, err := b.engine.Check(ctx, b.svc.ID, v.ID, code, txn("125.0", "eur", " ACME Shop "))
	require.NoError(t, err)
	require.True(t, res.Valid, "the same transaction, written differently, matches")
}

func TestAttemptsExhaust(t *testing.T) {
	t.Parallel()
	b := setup(t, func(s *otpd.Service) { s.Policy.MaxCheckAttempts = 3 })
	ctx := context.Background()
	v, code := b.start(t, otpd.StartRequest{To: "+447700900123"})
	for i := range 3 {
		res, err := b.engine.Check(ctx, b.svc.ID, v.ID, wrong(code), nil)
		require.NoError(t, err)
		require.False(t, res.Valid)
		require.Equal(t, 2-i, res.Verification.AttemptsRemaining())
	}
	got, err := b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.StatusMaxAttemptsReached, got.Status)
	_, err = b.engine.Check(ctx, b.svc.ID, v.ID, code, nil)
	require.Equal(t, otpd.StatusMaxAttemptsReached, requireKind(t, err, otpd.ErrClosed).Status, "even the right code fails now")
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	v, code := b.start(t, otpd.StartRequest{To: "+447700900123", TTL: 2 * time.Minute})
	require.Equal(t, b.clock.now().Add(2*time.Minute), v.ExpiresAt)

	b.clock.add(2 * time.Minute)
	got, err := b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.StatusExpired, got.Status, "expiry is evaluated at read time")
	_, err = b.engine.Check(ctx, b.svc.ID, v.ID, code, nil)
	require.Equal(t, otpd.StatusExpired, requireKind(t, err, otpd.ErrClosed).Status)
	_, err = b.engine.Resend(ctx, b.svc.ID, v.ID, "")
	requireKind(t, err, otpd.ErrClosed)

	expired, purged, err := b.engine.Sweep(ctx, 30*24*time.Hour, 100)
	require.NoError(t, err)
	require.Equal(t, 1, expired)
	require.Zero(t, purged)
	list, err := b.engine.ListVerifications(ctx, b.svc.ID, otpd.ListRequest{Status: otpd.StatusExpired, Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 1)

	b.clock.add(31 * 24 * time.Hour)
	_, purged, err = b.engine.Sweep(ctx, 30*24*time.Hour, 100)
	require.NoError(t, err)
	require.Equal(t, 1, purged, "retention purges old verifications")
	_, err = b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.ErrorIs(t, err, otpd.ErrNotFound)
}

func TestResendCooldownAndMaxSends(t *testing.T) {
	t.Parallel()
	b := setup(t, func(s *otpd.Service) { s.Policy.MaxSends = 3 })
	ctx := context.Background()
	v, code := b.start(t, otpd.StartRequest{To: "+447700900123"})
	_, err := b.engine.Check(ctx, b.svc.ID, v.ID, wrong(code), nil)
	require.NoError(t, err)

	_, err = b.engine.Resend(ctx, b.svc.ID, v.ID, "")
	oe := requireKind(t, err, otpd.ErrRateLimited)
	require.Equal(t, 30*time.Second, oe.RetryAfter)

	b.clock.add(29 * time.Second)
	_, err = b.engine.Resend(ctx, b.svc.ID, v.ID, "")
	require.Equal(t, time.Second, requireKind(t, err, otpd.ErrRateLimited).RetryAfter)

	b.clock.add(time.Second)
	v2, err := b.engine.Resend(ctx, b.svc.ID, v.ID, "")
	require.NoError(t, err)
	require.Len(t, v2.Messages, 2)
	require.Equal(t, v.ExpiresAt, v2.ExpiresAt, "a resend does not extend the expiry")
	require.Equal(t, 4, v2.AttemptsRemaining(), "a resend does not reset failed attempts")
	require.Equal(t, 1, v2.SendsRemaining())
	require.Equal(t, code, b.deliver(t, v2), "a resend carries the same code")

	// The wait doubles with each resend.
	b.clock.add(30 * time.Second)
	_, err = b.engine.Resend(ctx, b.svc.ID, v.ID, "")
	require.Equal(t, 30*time.Second, requireKind(t, err, otpd.ErrRateLimited).RetryAfter)
	b.clock.add(30 * time.Second)
	v3, err := b.engine.Resend(ctx, b.svc.ID, v.ID, "")
	require.NoError(t, err)
	require.Zero(t, v3.SendsRemaining())
	b.clock.add(2 * time.Minute)
	_, err = b.engine.Resend(ctx, b.svc.ID, v.ID, "")
	requireKind(t, err, otpd.ErrRateLimited)

	res, err := b.engine.Check(ctx, b.svc.ID, v.ID, code, nil)
	require.NoError(t, err)
	require.True(t, res.Valid, "the first code still works after resends")
}

func TestResendOnOtherChannelNeedsReachableDestination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	v, _ := b.start(t, otpd.StartRequest{To: "+447700900123"})
	b.clock.add(time.Minute)
	_, err := b.engine.Resend(ctx, b.svc.ID, v.ID, otpd.ChannelEmail)
	requireKind(t, err, otpd.ErrChannelUnavailable)
	_, err = b.engine.Resend(ctx, b.svc.ID, v.ID, otpd.ChannelWhatsApp)
	requireKind(t, err, otpd.ErrChannelUnavailable)
	_, err = b.engine.Resend(ctx, b.svc.ID, v.ID, "fax")
	requireKind(t, err, otpd.ErrInvalid)
}

func TestCancelStopsDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	c, err := b.engine.Cancel(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.StatusCanceled, c.Status)
	require.NoError(t, b.engine.Deliver(ctx, otpd.ClaimedMessage{ServiceID: v.ServiceID, VerificationID: v.ID, MessageID: v.Messages[0].ID}))
	require.Empty(t, b.sms.sent, "a canceled verification's code is not sent")
	got, err := b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.MessageFailed, got.Messages[0].Status)
	require.Equal(t, otpd.StatusCanceled, got.Status)
	_, err = b.engine.Cancel(ctx, b.svc.ID, v.ID)
	require.Equal(t, otpd.StatusCanceled, requireKind(t, err, otpd.ErrClosed).Status)
}

func TestDeliveryRetriesThenFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	cm := otpd.ClaimedMessage{ServiceID: v.ServiceID, VerificationID: v.ID, MessageID: v.Messages[0].ID}

	b.sms.setFail(errors.New("connection refused"))
	require.NoError(t, b.engine.Deliver(ctx, cm))
	got, err := b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	m := got.Messages[0]
	require.Equal(t, otpd.MessageQueued, m.Status, "a temporary failure is retried")
	require.Equal(t, 1, m.Attempts)
	require.Contains(t, m.Error, "connection refused")
	require.True(t, m.NextAttemptAt.After(b.clock.now()), "with backoff")

	b.sms.setFail(&otpd.SendError{Permanent: true, Code: "0x0000000B", Err: errors.New("invalid destination address")})
	require.NoError(t, b.engine.Deliver(ctx, cm))
	got, err = b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.MessageFailed, got.Messages[0].Status)
	require.Contains(t, got.Messages[0].Error, "0x0000000B")
	require.Equal(t, otpd.StatusFailed, got.Status, "every channel failed")
}

func TestStartRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, func(s *otpd.Service) { s.Countries = []string{"GB"} })
	ctx := context.Background()
	for name, tc := range map[string]struct {
		req   otpd.StartRequest
		kind  error
		param string
	}{
		"no to":             {otpd.StartRequest{}, otpd.ErrInvalid, "to"},
		"bad channel":       {otpd.StartRequest{To: "+447700900123", Channel: "fax"}, otpd.ErrInvalid, "channel"},
		"bad fallback":      {otpd.StartRequest{To: "+447700900123", Fallback: []otpd.ChannelName{"fax"}}, otpd.ErrInvalid, "fallback"},
		"bad locale":        {otpd.StartRequest{To: "+447700900123", Locale: "!!"}, otpd.ErrInvalid, "locale"},
		"bad purpose":       {otpd.StartRequest{To: "+447700900123", Purpose: "Log In"}, otpd.ErrInvalid, "purpose"},
		"bad amount":        {otpd.StartRequest{To: "+447700900123", Transaction: &otpd.Transaction{Amount: "x", Currency: "EUR", Payee: "A"}}, otpd.ErrInvalid, "transaction.amount"},
		"ttl too long":      {otpd.StartRequest{To: "+447700900123", TTL: time.Hour}, otpd.ErrInvalid, "ttl_seconds"},
		"ttl too short":     {otpd.StartRequest{To: "+447700900123", TTL: time.Second}, otpd.ErrInvalid, "ttl_seconds"},
		"bad ip":            {otpd.StartRequest{To: "+447700900123", ClientIP: "300.1.1.1"}, otpd.ErrInvalid, "client_ip"},
		"blocked country":   {otpd.StartRequest{To: "+14155552671"}, otpd.ErrDestinationBlocked, "to"},
		"unconfigured":      {otpd.StartRequest{To: "+447700900123", Channel: otpd.ChannelWhatsApp}, otpd.ErrChannelUnavailable, "channel"},
		"email to a number": {otpd.StartRequest{To: "+447700900123", Channel: otpd.ChannelEmail}, otpd.ErrChannelUnavailable, "channel"},
		"fallback unusable": {otpd.StartRequest{To: "+447700900123", Fallback: []otpd.ChannelName{otpd.ChannelWhatsApp}}, otpd.ErrChannelUnavailable, "fallback"},
	} {
		_, err := b.engine.Start(ctx, b.svc.ID, tc.req)
		require.Equal(t, tc.param, requireKind(t, err, tc.kind).Param, name)
	}
	_, err := b.engine.Start(ctx, "svc_nope", otpd.StartRequest{To: "+447700900123"})
	require.ErrorIs(t, err, otpd.ErrNotFound)

	v, err := b.engine.Start(ctx, b.svc.ID, otpd.StartRequest{To: "ana@example.com"})
	require.NoError(t, err)
	require.Equal(t, otpd.ChannelEmail, v.Channel, "auto skips channels that cannot reach the destination")
}

func TestCheckDestination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.engine.CheckDestination(ctx, b.svc.ID, "+447700900123", "123456", nil)
	require.ErrorIs(t, err, otpd.ErrNotFound)

	_, first := b.start(t, otpd.StartRequest{To: "+447700900123"})
	b.clock.add(time.Second)
	v2, second := b.start(t, otpd.StartRequest{To: "+447700900123"})
	res, err := b.engine.CheckDestination(ctx, b.svc.ID, "+447700900123", second, nil)
	require.NoError(t, err)
	require.True(t, res.Valid, "the newest pending verification is checked")
	require.Equal(t, v2.ID, res.Verification.ID)
	if first != second {
		res, err = b.engine.CheckDestination(ctx, b.svc.ID, "+447700900123", second, nil)
		require.NoError(t, err)
		require.False(t, res.Valid, "then the older one, whose code differs")
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p, err := b.engine.Authenticate(ctx, adminToken)
	require.NoError(t, err)
	require.True(t, p.Admin)

	k, secret, err := b.engine.CreateKey(ctx, b.svc.ID, "backend")
	require.NoError(t, err)
	p, err = b.engine.Authenticate(ctx, secret)
	require.NoError(t, err)
	require.Equal(t, otpd.Principal{ServiceID: b.svc.ID, KeyID: k.ID}, p)
	require.True(t, p.CanAccess(b.svc.ID))
	require.False(t, p.CanAccess("svc_other"))

	for _, bad := range []string{"", "nope", secret[:len(secret)-1] + "x", secret + "x", adminToken + "x"} {
		_, err := b.engine.Authenticate(ctx, bad)
		requireKind(t, err, otpd.ErrUnauthorized)
	}
	require.NoError(t, b.engine.RevokeKey(ctx, b.svc.ID, k.ID))
	_, err = b.engine.Authenticate(ctx, secret)
	requireKind(t, err, otpd.ErrUnauthorized) // a revoked key stops working at once
}

func TestRecordReceipt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	v, _ := b.start(t, otpd.StartRequest{To: "+447700900123"})
	ref := "p-" + v.Messages[0].ID

	err := b.engine.RecordReceipt(ctx, otpd.Receipt{Channel: otpd.ChannelSMS, Ref: "nope", Status: otpd.MessageDelivered})
	require.ErrorIs(t, err, otpd.ErrNotFound, "an unknown ref is reported, for the caller to log and drop")
	err = b.engine.RecordReceipt(ctx, otpd.Receipt{Channel: otpd.ChannelEmail, Ref: ref, Status: otpd.MessageDelivered})
	require.ErrorIs(t, err, otpd.ErrNotFound, "refs are per channel")
	require.Error(t, b.engine.RecordReceipt(ctx, otpd.Receipt{Channel: otpd.ChannelSMS, Ref: ref, Status: otpd.MessageSent}))

	require.NoError(t, b.engine.RecordReceipt(ctx, otpd.Receipt{Channel: otpd.ChannelSMS, Ref: ref, Status: otpd.MessageDelivered}))
	got, err := b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.MessageDelivered, got.Messages[0].Status)
	require.Equal(t, otpd.StatusPending, got.Status)

	// A later, contradicting receipt for a final message changes nothing.
	require.NoError(t, b.engine.RecordReceipt(ctx, otpd.Receipt{Channel: otpd.ChannelSMS, Ref: ref, Status: otpd.MessageUndelivered, Error: "late"}))
	got, err = b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.MessageDelivered, got.Messages[0].Status)
}

func TestUndeliveredReceiptFailsTheVerification(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	v, _ := b.start(t, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, b.engine.RecordReceipt(ctx, otpd.Receipt{Channel: otpd.ChannelSMS, Ref: "p-" + v.Messages[0].ID, Status: otpd.MessageUndelivered, Error: "UNDELIV err:001"}))
	got, err := b.engine.GetVerification(ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	require.Equal(t, otpd.MessageUndelivered, got.Messages[0].Status)
	require.Equal(t, "UNDELIV err:001", got.Messages[0].Error)
	require.Equal(t, otpd.StatusFailed, got.Status, "no message can reach the person any more")
}
