package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otpd/otpd"
)

// PrefillConfig says what Prefill inserts.
type PrefillConfig struct {
	Store   otpd.Store
	Keyring *otpd.Keyring // the server's, so codes and blind indexes are its own
	Service *otpd.Service
	Rows    int
	// EventData encodes a verification as the events' data, as the
	// server's otpd.Config.EventData does (httpapi.EventData). Nil: no
	// events are written, as a server without it writes none.
	EventData func(v *otpd.Verification, at time.Time) ([]byte, error)
	// Span is how far back the rows' creation times reach, oldest first;
	// default 29 days, inside serve's default 30-day retention, so the
	// sweeper does not purge them during a run.
	Span time.Duration
	// BatchSize is how many verifications go in one transaction when the
	// store is an otpd.VerificationImporter (default 20,000). Larger
	// batches dirty fewer index pages per row: a commit writes each page
	// it changed once, however many of its rows landed there.
	BatchSize int
	// Concurrency is how many batches are prepared (encoded and sealed)
	// at once for an importing store, default GOMAXPROCS: while the store
	// writes one batch the next is being made. For any other store it is
	// how many CreateVerification calls are in flight (default 512): the
	// SQLite store commits every write waiting at the moment in one
	// transaction, so in-flight inserts are what makes its transactions
	// large.
	Concurrency int
	Now         func() time.Time
	// Progress, if set, is called each time another tenth of the rows has
	// been written, with the number written so far; calls do not overlap.
	Progress func(done int)
}

// PrefillStats is what a Prefill did.
type PrefillStats struct {
	Rows    int
	Elapsed time.Duration
}

// RowsPerSecond is the insert rate.
func (p PrefillStats) RowsPerSecond() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Rows) / p.Elapsed.Seconds()
}

// Prefill inserts closed verifications of a service straight into a store,
// as a server's history would hold them: 88 % approved at the first check,
// 9 % expired unchecked, 2 % locked after too many wrong codes and 1 %
// canceled, each with one SMS delivered and its receipt reference, a real
// code hash and destination index, and (with EventData) the events the
// server would have written, created evenly over Span with time-ordered
// ids. It is for measuring a server whose store is not empty.
//
// A store that is an otpd.VerificationImporter gets the rows in batches,
// one transaction each (tens of thousands of rows a second on SQLite);
// any other one a CreateVerification per row, without refs.
func Prefill(ctx context.Context, cfg PrefillConfig) (PrefillStats, error) {
	if cfg.Store == nil || cfg.Keyring == nil || cfg.Service == nil {
		return PrefillStats{}, errors.New("loadtest: prefill needs a store, a keyring and a service")
	}
	if cfg.Span <= 0 {
		cfg.Span = 29 * 24 * time.Hour
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 20000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	imp, bulk := cfg.Store.(otpd.VerificationImporter)
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 512
		if bulk {
			cfg.Concurrency = runtime.GOMAXPROCS(0)
		}
	}
	begin := time.Now()
	g := rowMaker{cfg: cfg, first: cfg.Now().Add(-cfg.Span), step: cfg.Span / time.Duration(max(cfg.Rows, 1))}
	p := progress{fn: cfg.Progress, tenth: cfg.Rows / 10}

	// A unit of work is a batch of rows for an importer, one row otherwise.
	unit := 1
	if bulk {
		unit = cfg.BatchSize
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		firstEr error
	)
	for w := range cfg.Concurrency {
		rng := mrand.New(mrand.NewPCG(uint64(w), uint64(begin.UnixNano())))
		wg.Go(func() {
			batch := make([]*otpd.Verification, 0, unit)
			for {
				from := int(next.Add(int64(unit))) - unit
				if from >= cfg.Rows || ctx.Err() != nil {
					return
				}
				batch = batch[:0]
				var err error
				for i := from; i < min(from+unit, cfg.Rows) && err == nil; i++ {
					var v *otpd.Verification
					if v, err = g.row(rng, i); err == nil {
						batch = append(batch, v)
					}
				}
				switch {
				case err != nil:
				case bulk:
					err = imp.ImportVerifications(ctx, batch)
				default:
					err = cfg.Store.CreateVerification(ctx, batch[0])
				}
				if err != nil {
					errOnce.Do(func() { firstEr = fmt.Errorf("loadtest: prefill rows from %d: %w", from, err); cancel() })
					return
				}
				p.add(len(batch))
			}
		})
	}
	wg.Wait()
	if firstEr != nil {
		return PrefillStats{}, firstEr
	}
	if err := ctx.Err(); err != nil {
		return PrefillStats{}, err
	}
	return PrefillStats{Rows: cfg.Rows, Elapsed: time.Since(begin)}, nil
}

// progress counts written rows and reports each tenth.
type progress struct {
	fn    func(done int)
	tenth int
	mu    sync.Mutex
	done  int
}

func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := p.done
	p.done += n
	if p.fn == nil || p.tenth <= 0 {
		return
	}
	// A batch may cross several tenths: one call each, so a caller sees
	// ten calls whatever the batch size.
	for k := before/p.tenth + 1; k <= p.done/p.tenth && k <= 10; k++ {
		p.fn(p.done)
	}
}

// rowMaker makes the prefilled rows.
type rowMaker struct {
	cfg   PrefillConfig
	first time.Time
	step  time.Duration
}

// row builds the i-th closed verification, created at first + i·step so
// that ids are in creation order, as a server's are.
func (g *rowMaker) row(rng *mrand.Rand, i int) (*otpd.Verification, error) {
	cfg := g.cfg
	svc, p := cfg.Service, cfg.Service.Policy
	t := g.first.Add(time.Duration(i) * g.step)
	// Returning users: destinations repeat, in a range apart from the
	// load's own (Destinations).
	to := fmt.Sprintf("+4477008%05d", rng.IntN(100000))
	v := &otpd.Verification{
		ID:             otpd.NewID(otpd.PrefixVerification, t),
		ServiceID:      svc.ID,
		To:             to,
		ToKey:          cfg.Keyring.DestinationKeys(svc.ID, to)[0],
		Channel:        otpd.ChannelSMS,
		Status:         otpd.StatusPending,
		Locale:         svc.Locale,
		Purpose:        "login",
		CodeLength:     p.CodeLength,
		Alphabet:       p.Alphabet,
		KeyID:          cfg.Keyring.CurrentID(),
		Salt:           make([]byte, 16),
		MaxAttempts:    p.MaxCheckAttempts,
		MaxSends:       p.MaxSends,
		Sends:          1,
		ResendCooldown: p.ResendCooldown,
		CreatedAt:      t,
		UpdatedAt:      t,
		ExpiresAt:      t.Add(p.TTL),
		LastSentAt:     t,
	}
	if v.Locale == "" || v.Locale == otpd.LocaleAuto {
		v.Locale = "en"
	}
	if _, err := rand.Read(v.Salt); err != nil {
		return nil, err
	}
	code, err := cfg.Keyring.DeriveCode(v.KeyID, v.ID, v.Salt, v.Alphabet, v.CodeLength)
	if err != nil {
		return nil, err
	}
	if v.CodeHash, err = cfg.Keyring.HashCode(v.KeyID, v.ServiceID, v.ID, code, nil); err != nil {
		return nil, err
	}
	m := &otpd.Message{
		ID:             otpd.NewID(otpd.PrefixMessage, t),
		VerificationID: v.ID,
		Channel:        otpd.ChannelSMS,
		Status:         otpd.MessageQueued,
		NextAttemptAt:  t,
		CreatedAt:      t,
		UpdatedAt:      t,
	}
	v.Messages = []*otpd.Message{m}

	// The life of a served verification, each step with the event the
	// engine emits for it.
	if err := g.event(v, otpd.EventVerificationCreated, "", t); err != nil {
		return nil, err
	}
	sent := t.Add(time.Duration(20+rng.IntN(180)) * time.Millisecond)
	var smscID [8]byte
	for k := range smscID {
		smscID[k] = byte(rng.Uint32())
	}
	id := hex.EncodeToString(smscID[:])
	m.Status, m.Attempts, m.UpdatedAt, v.UpdatedAt = otpd.MessageSent, 1, sent, sent
	// As sms.Router and the engine qualify them: route, then channel.
	m.ProviderID = "smpp:" + id
	m.Refs = []string{"sms:smpp:" + id}
	if err := g.event(v, otpd.EventMessageSent, m.ID, sent); err != nil {
		return nil, err
	}
	delivered := sent.Add(time.Duration(500+rng.IntN(4000)) * time.Millisecond)
	m.Status, m.UpdatedAt, v.UpdatedAt = otpd.MessageDelivered, delivered, delivered
	if err := g.event(v, otpd.EventMessageDelivered, m.ID, delivered); err != nil {
		return nil, err
	}
	var (
		closed time.Time
		typ    otpd.EventType
	)
	switch r := rng.IntN(100); {
	case r < 88:
		closed = delivered.Add(time.Duration(2+rng.IntN(55)) * time.Second)
		v.Status, v.Attempts, typ = otpd.StatusApproved, 1, otpd.EventVerificationApproved
	case r < 97:
		closed = v.ExpiresAt
		v.Status, typ = otpd.StatusExpired, otpd.EventVerificationExpired
	case r < 99:
		closed = delivered.Add(time.Duration(10+rng.IntN(110)) * time.Second)
		v.Status, v.Attempts, typ = otpd.StatusMaxAttemptsReached, v.MaxAttempts, otpd.EventVerificationMaxAttempts
	default:
		closed = delivered.Add(time.Duration(1+rng.IntN(30)) * time.Second)
		v.Status, typ = otpd.StatusCanceled, otpd.EventVerificationCanceled
	}
	v.UpdatedAt = closed
	return v, g.event(v, typ, "", closed)
}

// event appends to v the event the engine would emit at at, its data
// v as it is now. Its delivery is what it would be by now: delivered at
// once when the service has a webhook, else pending, which the store
// records as disabled (and never sends) for a service without one.
func (g *rowMaker) event(v *otpd.Verification, typ otpd.EventType, messageID string, at time.Time) error {
	if g.cfg.EventData == nil {
		return nil
	}
	// A snapshot: v's message changes after this event.
	snap := *v
	snap.Events = nil
	snap.Messages = make([]*otpd.Message, len(v.Messages))
	for i, m := range v.Messages {
		c := *m
		snap.Messages[i] = &c
	}
	data, err := g.cfg.EventData(&snap, at)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", typ, err)
	}
	d := otpd.EventDelivery{State: otpd.EventPending, NextAttemptAt: at, Deadline: at.Add(24 * time.Hour)}
	if g.cfg.Service.WebhookURL != "" {
		done := at.Add(50 * time.Millisecond)
		d = otpd.EventDelivery{State: otpd.EventDelivered, Attempts: 1, LastAttemptAt: done, LastStatusCode: 200, DeliveredAt: done}
	}
	v.Events = append(v.Events, &otpd.Event{
		ID:             otpd.NewID(otpd.PrefixEvent, at),
		ServiceID:      v.ServiceID,
		VerificationID: v.ID,
		MessageID:      messageID,
		Type:           typ,
		CreatedAt:      at,
		Data:           data,
		Delivery:       d,
	})
	return nil
}
