package webhook_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/devinbox"
	"github.com/otpd/otpd/internal/testca"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/sqlite"
	"github.com/otpd/otpd/webhook"
)

// receiver is a webhook endpoint on loopback that records what it gets and
// answers with the status its fail function picks.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []received
	fail atomic.Pointer[func(n int) int] // n: 1-based request count; returns the status
	n    atomic.Int64
}

type received struct {
	header http.Header
	body   []byte
	id     string
	typ    string
	vid    string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		n := int(r.n.Add(1))
		status := http.StatusNoContent
		if f := r.fail.Load(); f != nil {
			status = (*f)(n)
		}
		if status < 300 {
			var ev struct {
				ID   string `json:"id"`
				Type string `json:"type"`
				Data struct {
					ID string `json:"id"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &ev); err != nil {
				t.Errorf("webhook body: %v", err)
			}
			r.mu.Lock()
			r.got = append(r.got, received{req.Header.Clone(), body, ev.ID, ev.Type, ev.Data.ID})
			r.mu.Unlock()
		}
		w.WriteHeader(status)
		io.WriteString(w, "receiver says "+strconv.Itoa(status))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setFail(f func(n int) int) { r.fail.Store(&f) }

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// clock is a test clock that only moves when told.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock() *clock { c := &clock{}; now := time.Now().UTC(); c.t.Store(&now); return c }

func (c *clock) now() time.Time      { return *c.t.Load() }
func (c *clock) add(d time.Duration) { t := c.now().Add(d); c.t.Store(&t) }

type testBundle struct {
	store  *sqlite.Store
	engine *otpd.Engine
	sender *webhook.Sender
	svc    *otpd.Service
	recv   *receiver
	clock  *clock
	ctx    context.Context
}

// eventData and eventBody stand in for httpapi's encoders, whose shapes
// httpapi tests: here only ids and types matter.
func eventData(v *otpd.Verification, _ time.Time) ([]byte, error) {
	return json.Marshal(map[string]any{"id": v.ID, "status": v.StatusAt(time.Now())})
}

func eventBody(e *otpd.Event) ([]byte, error) {
	return json.Marshal(map[string]any{"id": e.ID, "type": e.Type, "data": json.RawMessage(e.Data)})
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{clock: newClock(), recv: newReceiver(t), ctx: t.Context()}
	var err error
	b.store, err = sqlite.Open(b.ctx, filepath.Join(t.TempDir(), "otpd.db"))
	require.NoError(t, err)
	t.Cleanup(func() { b.store.Close() })
	// The engine's cache, as otpd serve has it: a URL changed through the
	// engine applies to the next attempt (TestDisabledWhenURLRemoved).
	cached := func(ctx context.Context, id string) (*otpd.Service, error) { return b.engine.CachedService(ctx, id) }
	b.sender = webhook.New(webhook.Config{Store: b.store, Service: cached, Body: eventBody, Now: b.clock.now, Timeout: 5 * time.Second})
	b.engine, err = otpd.NewEngine(otpd.Config{
		Store: b.store, Keyring: otpd.NewKeyring(time.Now()), Renderer: message.New(),
		Channels:  map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: devinbox.New()},
		EventData: eventData, NotifyEvents: b.sender.Notify, Now: b.clock.now,
	})
	require.NoError(t, err)
	b.svc, err = b.engine.CreateService(b.ctx, &otpd.Service{Name: "Acme", Policy: otpd.DefaultPolicy(), WebhookURL: b.recv.srv.URL + "/hook?token=s3cr3t"})
	require.NoError(t, err)
	return b
}

// deliverDue claims what is due now and makes one attempt at each, as Run
// would, and returns how many it attempted.
func (b *testBundle) deliverDue(t *testing.T) int {
	t.Helper()
	evs, err := b.store.ClaimEvents(b.ctx, b.clock.now(), time.Minute, 100)
	require.NoError(t, err)
	for _, e := range evs {
		require.NoError(t, b.sender.Deliver(b.ctx, e))
	}
	return len(evs)
}

func (b *testBundle) start(t *testing.T) *otpd.Verification {
	t.Helper()
	v, err := b.engine.Start(b.ctx, b.svc.ID, otpd.StartRequest{To: "+447700900123"})
	require.NoError(t, err)
	return v
}

func (b *testBundle) event(t *testing.T, id string) (*otpd.Event, []*otpd.DeliveryAttempt) {
	t.Helper()
	e, attempts, err := b.engine.GetEvent(b.ctx, b.svc.ID, id)
	require.NoError(t, err)
	return e, attempts
}

func TestDeliversSigned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v := b.start(t)
	require.Equal(t, 1, b.deliverDue(t))

	got := b.recv.received()
	require.Len(t, got, 1)
	r := got[0]
	require.Equal(t, string(otpd.EventVerificationCreated), r.typ)
	require.Equal(t, v.ID, r.vid)
	require.Equal(t, r.id, r.header.Get(webhook.HeaderEventID))
	require.Equal(t, r.typ, r.header.Get(webhook.HeaderEventType))
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.Equal(t, webhook.Sign(b.svc.WebhookSecret, b.clock.now(), r.body), r.header.Get(webhook.HeaderSignature))
	require.NotEqual(t, webhook.Sign("another secret", b.clock.now(), r.body), r.header.Get(webhook.HeaderSignature))

	e, attempts := b.event(t, r.id)
	require.Equal(t, otpd.EventDelivered, e.Delivery.State)
	require.Equal(t, 1, e.Delivery.Attempts)
	require.Equal(t, http.StatusNoContent, e.Delivery.LastStatusCode)
	require.Len(t, attempts, 1)
	require.Equal(t, b.recv.srv.URL+"/hook", attempts[0].URL, "the query (a receiver's token) is not shown")
	require.Zero(t, b.deliverDue(t), "a delivered event is not sent again")
}

func TestSignatureFormat(t *testing.T) {
	t.Parallel()
	// HMAC-SHA256("whsec_test", "1700000000.{}"), computed independently
	// with: printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test
	got := webhook.Sign("whsec_test", time.Unix(1700000000, 0), []byte("{}"))
	require.Equal(t, "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91", got)
}

func TestRetriesWithBackoffUntilUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.recv.setFail(func(n int) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	b.start(t)
	for range 3 {
		require.Equal(t, 1, b.deliverDue(t))
		require.Zero(t, b.deliverDue(t), "not due again before its backoff")
		b.clock.add(time.Hour)
	}
	require.Equal(t, 1, b.deliverDue(t))
	got := b.recv.received()
	require.Len(t, got, 1)
	e, attempts := b.event(t, got[0].id)
	require.Equal(t, otpd.EventDelivered, e.Delivery.State)
	require.Equal(t, 4, e.Delivery.Attempts)
	require.Len(t, attempts, 4)
	require.Equal(t, http.StatusServiceUnavailable, attempts[0].StatusCode)
	require.Equal(t, "503 Service Unavailable: receiver says 503", attempts[0].Error)
	require.Empty(t, attempts[3].Error)
}

func TestInOrderPerVerification(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The receiver is down for the first attempt only.
	b.recv.setFail(func(n int) int {
		if n == 1 {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	v := b.start(t)
	_, err := b.engine.Cancel(b.ctx, b.svc.ID, v.ID)
	require.NoError(t, err)

	require.Equal(t, 1, b.deliverDue(t), "only the oldest event of the verification is claimed")
	require.Zero(t, b.deliverDue(t), "the canceled event waits behind the failed created event")
	b.clock.add(time.Hour)
	require.Equal(t, 1, b.deliverDue(t))
	require.Equal(t, 1, b.deliverDue(t))
	var types []string
	for _, r := range b.recv.received() {
		types = append(types, r.typ)
	}
	require.Equal(t, []string{string(otpd.EventVerificationCreated), string(otpd.EventVerificationCanceled)}, types)
}

func TestGivesUpAfterTheWindow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.recv.setFail(func(int) int { return http.StatusInternalServerError })
	v := b.start(t)
	_, err := b.engine.Cancel(b.ctx, b.svc.ID, v.ID)
	require.NoError(t, err)
	attempts := 0
	for range 200 {
		attempts += b.deliverDue(t)
		b.clock.add(time.Hour)
	}
	evs, err := b.engine.ListEvents(b.ctx, otpd.EventFilter{ServiceID: b.svc.ID})
	require.NoError(t, err)
	require.Len(t, evs, 2)
	for _, e := range evs {
		require.Equal(t, otpd.EventGivenUp, e.Delivery.State, e.Type)
	}
	// The window is 72 hours at backoffs of at most an hour: at least 72
	// attempts for the first event, and the second gets its own.
	created := evs[1]
	require.GreaterOrEqual(t, created.Delivery.Attempts, 72)
	require.Less(t, created.Delivery.Attempts, 100)
	require.Greater(t, attempts, created.Delivery.Attempts)

	// Redelivery makes it pending again, due at once.
	_, err = b.engine.RedeliverEvent(b.ctx, b.svc.ID, created.ID)
	require.NoError(t, err)
	b.recv.setFail(func(int) int { return http.StatusOK })
	require.Equal(t, 1, b.deliverDue(t))
	e, _ := b.event(t, created.ID)
	require.Equal(t, otpd.EventDelivered, e.Delivery.State)
}

func TestDisabledWhenURLRemoved(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t)
	_, err := b.engine.UpdateService(b.ctx, b.svc.ID, func(s *otpd.Service) error { s.WebhookURL = ""; return nil })
	require.NoError(t, err)
	require.Equal(t, 1, b.deliverDue(t))
	require.Empty(t, b.recv.received())
	evs, err := b.engine.ListEvents(b.ctx, otpd.EventFilter{ServiceID: b.svc.ID})
	require.NoError(t, err)
	require.Equal(t, otpd.EventDisabled, evs[0].Delivery.State)
	_, err = b.engine.RedeliverEvent(b.ctx, b.svc.ID, evs[0].ID)
	require.ErrorIs(t, err, otpd.ErrWebhookUnavailable)
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var hit atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit.Store(true) }))
	t.Cleanup(elsewhere.Close)
	redirect := httptest.NewServer(http.RedirectHandler(elsewhere.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	_, err := b.engine.UpdateService(b.ctx, b.svc.ID, func(s *otpd.Service) error { s.WebhookURL = redirect.URL; return nil })
	require.NoError(t, err)
	b.start(t)
	require.Equal(t, 1, b.deliverDue(t))
	require.False(t, hit.Load(), "a signed event must not follow a redirect")
	evs, err := b.engine.ListEvents(b.ctx, otpd.EventFilter{ServiceID: b.svc.ID})
	require.NoError(t, err)
	require.Equal(t, otpd.EventPending, evs[0].Delivery.State)
	require.Equal(t, http.StatusTemporaryRedirect, evs[0].Delivery.LastStatusCode)
}

func TestUnreachableReceiver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL + "/hook?token=s3cr3t"
	down.Close() // nothing listens there now
	_, err := b.engine.UpdateService(b.ctx, b.svc.ID, func(s *otpd.Service) error { s.WebhookURL = url; return nil })
	require.NoError(t, err)
	b.start(t)
	require.Equal(t, 1, b.deliverDue(t))
	evs, err := b.engine.ListEvents(b.ctx, otpd.EventFilter{ServiceID: b.svc.ID})
	require.NoError(t, err)
	d := evs[0].Delivery
	require.Equal(t, otpd.EventPending, d.State)
	require.Zero(t, d.LastStatusCode)
	require.Contains(t, d.LastError, "connect")
	require.NotContains(t, d.LastError, "s3cr3t", "the URL's query is not stored")
	require.True(t, d.NextAttemptAt.After(b.clock.now()))
}

func TestRunDeliversOnNotify(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A real clock: Run claims with it.
	b.sender = webhook.New(webhook.Config{Store: b.store, Body: eventBody, PollInterval: time.Hour})
	var err error
	b.engine, err = otpd.NewEngine(otpd.Config{
		Store: b.store, Keyring: otpd.NewKeyring(time.Now()), Renderer: message.New(),
		Channels:  map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: devinbox.New()},
		EventData: eventData, NotifyEvents: b.sender.Notify,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan error)
	go func() { done <- b.sender.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	// After the first claim the poll is an hour away, so only Notify can
	// bring the events this fast.
	for range 5 {
		v := b.start(t)
		_, err := b.engine.Cancel(b.ctx, b.svc.ID, v.ID)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(b.recv.received()) == 10 }, 10*time.Second, 10*time.Millisecond)
	perVerification := map[string][]string{}
	for _, r := range b.recv.received() {
		perVerification[r.vid] = append(perVerification[r.vid], r.typ)
	}
	for vid, types := range perVerification {
		require.Equal(t, []string{string(otpd.EventVerificationCreated), string(otpd.EventVerificationCanceled)}, types, vid)
	}
}

// A receiver's certificate is verified: against the system's roots by
// default, so a private CA's is refused, and against RootCAs when set.
func TestVerifiesReceiverCertificate(t *testing.T) {
	t.Parallel()
	ca := testca.New("receiver CA")
	tests := []struct {
		name      string
		roots     *x509.CertPool
		delivered bool
	}{
		{"unknown CA", nil, false},
		{"trusted CA", ca.Pool(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			recv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusNoContent)
			}))
			recv.TLS = ca.Issue("receiver").ServerConfig()
			recv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
			recv.StartTLS()
			t.Cleanup(recv.Close)
			_, err := b.engine.UpdateService(b.ctx, b.svc.ID, func(s *otpd.Service) error { s.WebhookURL = recv.URL + "/hook"; return nil })
			require.NoError(t, err)
			b.sender = webhook.New(webhook.Config{Store: b.store, Body: eventBody, Now: b.clock.now, Timeout: 5 * time.Second, RootCAs: tt.roots})
			b.start(t)
			require.Equal(t, 1, b.deliverDue(t))
			evs, err := b.engine.ListEvents(b.ctx, otpd.EventFilter{ServiceID: b.svc.ID})
			require.NoError(t, err)
			d := evs[0].Delivery
			if tt.delivered {
				require.Equal(t, otpd.EventDelivered, d.State, d.LastError)
				return
			}
			require.Equal(t, otpd.EventPending, d.State)
			require.Contains(t, d.LastError, "certificate")
		})
	}
}

func TestPublicOnlyRefusesTheServersOwnNetwork(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sender = webhook.New(webhook.Config{Store: b.store, Body: eventBody, Now: b.clock.now, Timeout: 5 * time.Second, PublicOnly: true})
	b.start(t)
	require.Equal(t, 1, b.deliverDue(t))
	evs, err := b.engine.ListEvents(b.ctx, otpd.EventFilter{ServiceID: b.svc.ID})
	require.NoError(t, err)
	d := evs[0].Delivery
	require.Equal(t, otpd.EventPending, d.State, "refused, not delivered")
	require.Contains(t, d.LastError, "not public")
	require.Empty(t, b.recv.received(), "nothing reached the receiver on loopback")
}

func TestIsPublic(t *testing.T) {
	t.Parallel()
	for addr, public := range map[string]bool{
		"203.0.113.7": true, "8.8.8.8": true, "2a00:1450:4009:81f::200e": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fd00::1": false, "100.64.0.1": false,
		"0.0.0.0": false, "::": false, "224.0.0.1": false, "ff02::1": false, "::ffff:127.0.0.1": false,
		"::ffff:10.0.0.1": false, "255.255.255.255": false,
	} {
		require.Equal(t, public, webhook.IsPublic(netip.MustParseAddr(addr)), addr)
	}
}
