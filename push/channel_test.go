package push_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/push"
)

// registry is a fake device registry.
type registry struct {
	mu      sync.Mutex
	devices map[string]push.Device // by service id + "/" + device id
	dead    []deadMark
	err     error // returned by Device when set
	markErr error // returned by MarkDead when set
}

type deadMark struct {
	ServiceID, DeviceID, Reason string
	CtxErr                      error // the context's state during the call
}

func newRegistry(devs ...push.Device) *registry {
	r := &registry{devices: map[string]push.Device{}}
	for _, d := range devs {
		r.devices[d.ServiceID+"/"+d.ID] = d
	}
	return r
}

func (r *registry) Device(_ context.Context, serviceID, deviceID string) (push.Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return push.Device{}, r.err
	}
	d, ok := r.devices[serviceID+"/"+deviceID]
	if !ok {
		return push.Device{}, fmt.Errorf("device %s: %w", deviceID, otpd.ErrNotFound)
	}
	return d, nil
}

func (r *registry) MarkDead(ctx context.Context, serviceID, deviceID, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dead = append(r.dead, deadMark{serviceID, deviceID, reason, ctx.Err()})
	if r.markErr != nil {
		return r.markErr
	}
	delete(r.devices, serviceID+"/"+deviceID)
	return nil
}

func (r *registry) marks() []deadMark {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]deadMark(nil), r.dead...)
}

// sender is a fake push.Sender.
type sender struct {
	name     string
	mu       sync.Mutex
	sent     []push.Device
	err      error
	notReady error
}

func (s *sender) Send(_ context.Context, dev push.Device, msg *otpd.Outbound) (otpd.SendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, dev)
	if s.err != nil {
		return otpd.SendResult{}, s.err
	}
	return otpd.SendResult{ProviderID: s.name + ":" + msg.MessageID}, nil
}

func (s *sender) Ready(context.Context) error { return s.notReady }

func (s *sender) devices() []push.Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]push.Device(nil), s.sent...)
}

var (
	android = push.Device{ID: "dev_android", ServiceID: "svc_1", Platform: push.PlatformAndroid, Token: "fcm-token"}
	iphone  = push.Device{ID: "dev_iphone", ServiceID: "svc_1", Platform: push.PlatformIOS, Token: "00aa"}
)

func outbound(to string) *otpd.Outbound {
	return &otpd.Outbound{
		MessageID: "msg_1", VerificationID: "ver_1", ServiceID: "svc_1", Channel: otpd.ChannelPush,
		To: to, Brand: "Acme", ExpiresAt: time.Now().Add(5 * time.Minute), Code: "123456",
		Rendered: otpd.Rendered{Text: "Your Acme code is 123456"},
	}
}

// testBundle is a channel over a fake registry and fake senders.
type testBundle struct {
	ch       *push.Channel
	devices  *registry
	fcm, ios *sender
}

func setup(t *testing.T, opts ...func(*push.Config)) *testBundle {
	t.Helper()
	b := &testBundle{devices: newRegistry(android, iphone), fcm: &sender{name: "fcm"}, ios: &sender{name: "apns"}}
	cfg := push.Config{Devices: b.devices, Android: b.fcm, IOS: b.ios}
	for _, o := range opts {
		o(&cfg)
	}
	ch, err := push.New(cfg)
	require.NoError(t, err)
	b.ch = ch
	return b
}

func TestRoutesByPlatform(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.ch.Send(context.Background(), outbound("dev_android"))
	require.NoError(t, err)
	require.Equal(t, "fcm:msg_1", res.ProviderID)
	res, err = b.ch.Send(context.Background(), outbound("dev_iphone"))
	require.NoError(t, err)
	require.Equal(t, "apns:msg_1", res.ProviderID)
	require.Equal(t, []push.Device{android}, b.fcm.devices())
	require.Equal(t, []push.Device{iphone}, b.ios.devices())
}

func TestUnknownDevice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, msg := range []*otpd.Outbound{
		outbound("dev_nobody"),
		func() *otpd.Outbound { m := outbound("dev_android"); m.ServiceID = "svc_other"; return m }(),
	} {
		_, err := b.ch.Send(context.Background(), msg)
		var se *otpd.SendError
		require.ErrorAs(t, err, &se)
		require.True(t, se.Permanent)
		require.Equal(t, "device_not_found", se.Code)
	}
	require.Empty(t, b.fcm.devices())
	require.Empty(t, b.devices.marks())
}

func TestRegistryErrorIsTemporary(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.devices.err = errors.New("connection refused")
	_, err := b.ch.Send(context.Background(), outbound("dev_android"))
	require.ErrorContains(t, err, "connection refused")
	require.False(t, otpd.IsPermanent(err))
}

func TestPlatformNotConfigured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		edit   func(*push.Config)
		to     string
		detail string
	}{
		{"iOS without APNs", func(c *push.Config) { c.IOS = nil }, "dev_iphone", "APNs is not configured"},
		{"Android without FCM", func(c *push.Config) { c.Android = nil }, "dev_android", "FCM is not configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.edit)
			_, err := b.ch.Send(context.Background(), outbound(tt.to))
			require.True(t, otpd.IsPermanent(err))
			require.ErrorIs(t, err, push.ErrPlatformNotConfigured)
			require.ErrorContains(t, err, tt.detail)
			require.Empty(t, b.devices.marks(), "the device is fine; this node cannot reach it")

			require.NoError(t, b.ch.Ready(context.Background()), "the other platform works")
			var missing, other string
			for p, err := range b.ch.Readiness(context.Background()) {
				if err == nil {
					other = p
					continue
				}
				missing = p
				require.ErrorIs(t, err, push.ErrPlatformNotConfigured)
				require.ErrorContains(t, err, tt.detail)
			}
			require.NotEmpty(t, missing)
			require.NotEmpty(t, other)
		})
	}
}

func TestUnknownPlatformAndMissingToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.devices.devices["svc_1/dev_web"] = push.Device{ID: "dev_web", ServiceID: "svc_1", Platform: "web", Token: "x"}
	b.devices.devices["svc_1/dev_empty"] = push.Device{ID: "dev_empty", ServiceID: "svc_1", Platform: push.PlatformIOS}
	_, err := b.ch.Send(context.Background(), outbound("dev_web"))
	require.True(t, otpd.IsPermanent(err))
	require.ErrorIs(t, err, push.ErrPlatformNotConfigured)
	_, err = b.ch.Send(context.Background(), outbound("dev_empty"))
	require.True(t, otpd.IsPermanent(err))
	require.Empty(t, b.ios.devices())
}

func TestReady(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.ch.Ready(context.Background()))
	b.fcm.notReady = errors.New("fcm down")
	require.NoError(t, b.ch.Ready(context.Background()), "iOS still works")
	b.ios.notReady = errors.New("apns down")
	err := b.ch.Ready(context.Background())
	require.ErrorContains(t, err, "fcm down")
	require.ErrorContains(t, err, "apns down")
	r := b.ch.Readiness(context.Background())
	require.ErrorContains(t, r[push.PlatformAndroid], "fcm down")
	require.ErrorContains(t, r[push.PlatformIOS], "apns down")
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := push.New(push.Config{Android: &sender{}})
	require.ErrorContains(t, err, "Devices")
	_, err = push.New(push.Config{Devices: newRegistry()})
	require.ErrorContains(t, err, "FCM")
}

func deadError(provider, reason string, permanent bool) error {
	return &otpd.SendError{Permanent: permanent, Code: reason, Err: &push.ProviderError{
		Provider: provider, Status: 410, Reason: reason, Detail: "gone", DeadToken: true,
	}}
}

func TestDeadTokenMarksTheDevice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.ios.err = deadError("apns", "Unregistered", true)
	_, err := b.ch.Send(context.Background(), outbound("dev_iphone"))
	require.True(t, otpd.IsPermanent(err))
	require.ErrorIs(t, err, push.ErrDeadToken)
	require.Equal(t, []deadMark{{"svc_1", "dev_iphone", "apns: Unregistered", nil}}, b.devices.marks())

	// The device is gone from the registry: the next send fails at
	// once, without a push.
	_, err = b.ch.Send(context.Background(), outbound("dev_iphone"))
	require.True(t, otpd.IsPermanent(err))
	require.Len(t, b.ios.devices(), 1)
}

func TestDeadTokenIsPermanentWhateverTheSender(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fcm.err = deadError("fcm", "UNREGISTERED", false)
	_, err := b.ch.Send(context.Background(), outbound("dev_android"))
	require.True(t, otpd.IsPermanent(err))
	require.Equal(t, "fcm: UNREGISTERED", b.devices.marks()[0].Reason)
}

func TestDeadReasonWithoutACode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.ios.err = &otpd.SendError{Permanent: true, Code: "410", Err: &push.ProviderError{Provider: "apns", Status: 410, DeadToken: true}}
	_, err := b.ch.Send(context.Background(), outbound("dev_iphone"))
	require.Error(t, err)
	require.Equal(t, "apns: HTTP 410", b.devices.marks()[0].Reason)
}

func TestMarkDeadOutlivesTheSendContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	// The send's context ends just as the refusal arrives.
	ios := &cancelOnSend{sender: &sender{err: deadError("apns", "Unregistered", true)}, cancel: cancel}
	b := setup(t, func(c *push.Config) { c.IOS = ios })
	_, err := b.ch.Send(ctx, outbound("dev_iphone"))
	require.True(t, otpd.IsPermanent(err))
	marks := b.devices.marks()
	require.Len(t, marks, 1)
	require.NoError(t, marks[0].CtxErr, "MarkDead gets a live context")
}

type cancelOnSend struct {
	*sender
	cancel context.CancelFunc
}

func (s *cancelOnSend) Send(ctx context.Context, dev push.Device, msg *otpd.Outbound) (otpd.SendResult, error) {
	res, err := s.sender.Send(ctx, dev, msg)
	s.cancel()
	return res, err
}

func TestMarkDeadFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.ios.err = deadError("apns", "BadDeviceToken", true)
	b.devices.markErr = errors.New("database is locked")
	_, err := b.ch.Send(context.Background(), outbound("dev_iphone"))
	require.True(t, otpd.IsPermanent(err), "the send failed for good either way")
	require.ErrorIs(t, err, push.ErrDeadToken)
	require.ErrorContains(t, err, "database is locked")
}

func TestOtherErrorsLeaveTheDevice(t *testing.T) {
	t.Parallel()
	for _, sendErr := range []error{
		errors.New("connection reset"),
		&otpd.SendError{Permanent: true, Code: "PayloadTooLarge", Err: &push.ProviderError{Provider: "apns", Status: 413, Reason: "PayloadTooLarge"}},
		&otpd.SendError{Code: "TooManyRequests", Err: &push.ProviderError{Provider: "apns", Status: 429, Reason: "TooManyRequests"}},
	} {
		b := setup(t)
		b.ios.err = sendErr
		_, err := b.ch.Send(context.Background(), outbound("dev_iphone"))
		require.Equal(t, sendErr, err, "returned as it is")
		require.Empty(t, b.devices.marks())
	}
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			to := "dev_android"
			if i%2 == 1 {
				to = "dev_iphone"
			}
			_, err := b.ch.Send(context.Background(), outbound(to))
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	require.Len(t, b.fcm.devices(), 50)
	require.Len(t, b.ios.devices(), 50)
}

func TestProviderError(t *testing.T) {
	t.Parallel()
	err := &push.ProviderError{Provider: "fcm", Status: 429, Reason: "QUOTA_EXCEEDED", Detail: "sending limit exceeded", RetryAfter: 30 * time.Second}
	require.Equal(t, "fcm: HTTP 429: QUOTA_EXCEEDED: sending limit exceeded; retry after 30s", err.Error())
	require.False(t, errors.Is(err, push.ErrDeadToken))
	wrapped := fmt.Errorf("x: %w", &otpd.SendError{Err: err})
	require.Equal(t, 30*time.Second, push.RetryAfter(wrapped))
	require.Zero(t, push.RetryAfter(errors.New("plain")))
	dead := &push.ProviderError{Provider: "apns", Reason: "BadDeviceToken", DeadToken: true}
	require.Equal(t, "apns: BadDeviceToken", dead.Error())
	require.ErrorIs(t, fmt.Errorf("y: %w", dead), push.ErrDeadToken)
}
