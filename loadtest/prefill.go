package loadtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
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
	// Span is how far back the rows' creation times reach, oldest first;
	// default 29 days, inside serve's default 30-day retention, so the
	// sweeper does not purge them during a run.
	Span time.Duration
	// Concurrency is how many inserts are in flight (default 512). The
	// SQLite store commits every write waiting at the moment in one
	// transaction (group commit, up to 128 a batch), so in-flight inserts
	// are what makes its transactions large.
	Concurrency int
	Now         func() time.Time
	// Progress, if set, is called after every tenth of the rows with the
	// number inserted so far, from one of the inserting goroutines.
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
// as a server's history would hold them: 90 % approved at the first check,
// 10 % expired unchecked, each with one delivered SMS, a real code hash and
// destination index, created evenly over Span with time-ordered ids. It is
// for measuring a server whose store is not empty. It writes no events
// and no delivery-receipt references, which a server's own history would
// also hold.
func Prefill(ctx context.Context, cfg PrefillConfig) (PrefillStats, error) {
	if cfg.Store == nil || cfg.Keyring == nil || cfg.Service == nil {
		return PrefillStats{}, errors.New("loadtest: prefill needs a store, a keyring and a service")
	}
	if cfg.Span <= 0 {
		cfg.Span = 29 * 24 * time.Hour
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 512
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	begin := time.Now()
	first := cfg.Now().Add(-cfg.Span)
	step := cfg.Span / time.Duration(max(cfg.Rows, 1))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64
		done    atomic.Int64
		tenth   = int64(cfg.Rows / 10)
		wg      sync.WaitGroup
		errOnce sync.Once
		firstEr error
	)
	for w := range cfg.Concurrency {
		rng := mrand.New(mrand.NewPCG(uint64(w), uint64(begin.UnixNano())))
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(cfg.Rows) || ctx.Err() != nil {
					return
				}
				v, err := prefillRow(cfg, rng, first.Add(time.Duration(i)*step))
				if err == nil {
					err = cfg.Store.CreateVerification(ctx, v)
				}
				if err != nil {
					errOnce.Do(func() { firstEr = fmt.Errorf("loadtest: prefill row %d: %w", i, err); cancel() })
					return
				}
				if n := done.Add(1); cfg.Progress != nil && tenth > 0 && n%tenth == 0 {
					cfg.Progress(int(n))
				}
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

// prefillRow builds one closed verification created at t.
func prefillRow(cfg PrefillConfig, rng *mrand.Rand, t time.Time) (*otpd.Verification, error) {
	svc, p := cfg.Service, cfg.Service.Policy
	// Returning users: destinations repeat, in a range apart from the
	// load's own (Destinations).
	to := fmt.Sprintf("+4477008%05d", rng.IntN(100000))
	v := &otpd.Verification{
		ID:             otpd.NewID(otpd.PrefixVerification, t),
		ServiceID:      svc.ID,
		To:             to,
		ToKey:          cfg.Keyring.DestinationKeys(svc.ID, to)[0],
		Channel:        otpd.ChannelSMS,
		Status:         otpd.StatusApproved,
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
		UpdatedAt:      t.Add(time.Duration(5+rng.IntN(55)) * time.Second),
		ExpiresAt:      t.Add(p.TTL),
		LastSentAt:     t,
	}
	if v.Locale == "" || v.Locale == otpd.LocaleAuto {
		v.Locale = "en"
	}
	if rng.IntN(10) == 0 {
		v.Status, v.UpdatedAt = otpd.StatusExpired, v.ExpiresAt
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
	delivered := t.Add(time.Duration(500+rng.IntN(4000)) * time.Millisecond)
	v.Messages = []*otpd.Message{{
		ID:             otpd.NewID(otpd.PrefixMessage, t),
		VerificationID: v.ID,
		Channel:        otpd.ChannelSMS,
		Status:         otpd.MessageDelivered,
		Attempts:       1,
		NextAttemptAt:  t,
		CreatedAt:      t,
		UpdatedAt:      delivered,
	}}
	return v, nil
}
