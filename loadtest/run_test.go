package loadtest_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/client"
	"github.com/otpd/otpd/httpapi"
	"github.com/otpd/otpd/loadtest"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/smsc"
	"github.com/otpd/otpd/sqlite"
)

// fakeTarget is an in-memory server: every destination's code is "123456".
type fakeTarget struct {
	startErr error
	refuse   bool // answer every right code invalid
	hold     *sync.Mutex
	holdFor  time.Duration
	starts   atomic.Int64
}

func (f *fakeTarget) Start(ctx context.Context, to string) (string, time.Time, error) {
	if f.hold != nil {
		// A server that serves one start at a time, each taking holdFor.
		f.hold.Lock()
		time.Sleep(f.holdFor)
		f.hold.Unlock()
	}
	f.starts.Add(1)
	if f.startErr != nil {
		return "", time.Time{}, f.startErr
	}
	return "ver_" + to, time.Now(), nil
}

func (f *fakeTarget) Code(ctx context.Context, to string) (string, time.Time, error) {
	return "123456", time.Now(), nil
}

func (f *fakeTarget) Check(ctx context.Context, id, code string) (bool, error) {
	return code == "123456" && !f.refuse, nil
}

func TestRunCountsEveryStep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    loadtest.Config
		checks func(starts uint64) uint64
	}{
		{"closed loop, right codes", loadtest.Config{Workers: 4}, func(s uint64) uint64 { return s }},
		{"closed loop, wrong code first every time", loadtest.Config{Workers: 4, WrongShare: 1}, func(s uint64) uint64 { return 2 * s }},
		{"open loop", loadtest.Config{Rate: 500}, func(s uint64) uint64 { return s }},
		{"starts only", loadtest.Config{Workers: 2, Scenario: loadtest.ScenarioStart}, func(uint64) uint64 { return 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Target, cfg.Warmup, cfg.Duration = &fakeTarget{}, 50*time.Millisecond, 200*time.Millisecond
			res, err := loadtest.Run(context.Background(), cfg)
			require.NoError(t, err)
			require.Empty(t, res.Errors)
			require.Positive(t, res.Starts)
			require.Equal(t, res.Iterations, res.Starts)
			require.Equal(t, tt.checks(res.Starts), res.Checks)
			require.Equal(t, res.Starts, res.Start.Count())
			require.Len(t, res.IDs, int(res.Starts))
			if cfg.WrongShare == 1 {
				require.Equal(t, res.Starts, res.WrongChecks)
			}
		})
	}
}

func TestRunClassifiesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target *fakeTarget
		class  string
	}{
		{"a problem document", &fakeTarget{startErr: &client.Error{HTTPStatus: 429, Code: client.CodeRateLimited}}, "start 429 rate_limited"},
		{"a right code refused", &fakeTarget{refuse: true}, "check unexpected_invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := loadtest.Run(context.Background(), loadtest.Config{Target: tt.target, Workers: 2, Duration: 100 * time.Millisecond})
			require.NoError(t, err)
			require.Equal(t, []string{tt.class}, keys(res.Errors))
			require.Equal(t, res.Iterations, res.ErrorCount())
		})
	}
}

func keys(m map[string]uint64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// An open loop measures from when a request was due, so a server that
// serves one start at a time shows the queue that builds up behind it; a
// closed loop would wait for each answer and report only the service time.
func TestOpenLoopHasNoCoordinatedOmission(t *testing.T) {
	t.Parallel()
	const hold = 10 * time.Millisecond
	target := &fakeTarget{hold: &sync.Mutex{}, holdFor: hold}
	// 20 starts due within 20 ms; served one by one, the last one ends at
	// least 200 ms after the first was due.
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Target: target, Rate: 1000, Duration: 20 * time.Millisecond, Scenario: loadtest.ScenarioStart,
	})
	require.NoError(t, err)
	require.Equal(t, uint64(20), res.Starts)
	require.GreaterOrEqual(t, res.Start.Max(), 20*hold-20*time.Millisecond,
		"the last start waited behind the others, measured from when it was due")
}

func TestDestinationsAreValidAndUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for n := range uint64(100000) {
		if n > 1000 && n < 99000 && n%97 != 0 {
			continue // a sample, so the test stays quick under -race
		}
		to := loadtest.Destinations(n)
		require.False(t, seen[to], "%d repeats a destination", n)
		seen[to] = true
		if n%997 == 0 || n == 99999 {
			d, err := otpd.ParseDestination(to)
			require.NoError(t, err, to)
			require.Equal(t, otpd.DestinationPhone, d.Kind)
			require.Equal(t, "GB", d.Region)
			require.Equal(t, to, d.Address)
		}
	}
	require.Equal(t, loadtest.Destinations(0), loadtest.Destinations(100000), "the range wraps")
}

func TestWrongCodeDiffers(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"123456", "000009", "ABCDEFGH", "K7Q2A", ""} {
		w := loadtest.WrongCode(code)
		require.NotEqual(t, code, w)
		require.Len(t, w, max(len(code), 1))
	}
}

func TestInboxHandsOverTheNewestCode(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in := loadtest.NewInbox()
	in.Receive(smsc.Message{To: "+447700900001", Text: "Your Acme code is 111111. It expires in 10 minutes."})
	code, at, err := in.Code(ctx, "+447700900001")
	require.NoError(t, err)
	require.Equal(t, "111111", code)
	require.False(t, at.IsZero())

	got := make(chan string, 1)
	go func() {
		code, _, err := in.Code(ctx, "+447700900002")
		if err != nil {
			code = err.Error()
		}
		got <- code
	}()
	in.Receive(smsc.Message{To: "447700900002", Text: "Ihr Acme-Code lautet 222222.\n@acme.example #222222"})
	require.Equal(t, "222222", <-got)

	short, cancelShort := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancelShort()
	_, _, err = in.Code(short, "+447700900001")
	require.ErrorIs(t, err, context.DeadlineExceeded, "a message is handed over once")
}

func TestEchoBaseline(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(loadtest.EchoHandler())
	defer srv.Close()
	c := client.New(srv.URL, "token", client.WithMaxRetries(0), client.WithHTTPClient(loadtest.NewHTTPClient(4)))
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Target: &loadtest.Echo{Client: c}, Workers: 4, Duration: 200 * time.Millisecond, WrongShare: 0.5,
	})
	require.NoError(t, err)
	require.Empty(t, res.Errors)
	require.Positive(t, res.RequestsPerSecond())
}

func TestReadProcOfThisProcess(t *testing.T) {
	t.Parallel()
	a, err := loadtest.ReadProc(os.Getpid())
	require.NoError(t, err)
	require.Positive(t, a.RSS)
	require.GreaterOrEqual(t, a.PeakRSS, a.RSS)
	b, err := loadtest.ReadProc(os.Getpid())
	require.NoError(t, err)
	require.GreaterOrEqual(t, loadtest.Cores(a, b), 0.0)
	require.Len(t, loadtest.LoadAverage(), 3)
	_, err = loadtest.ReadProc(1 << 30)
	require.Error(t, err)
}

func TestPrefillWritesClosedVerifications(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		store func(t *testing.T, path string, keyring *otpd.Keyring) otpd.Store
		bulk  bool
	}{
		// The SQLite store imports in batches; hiding that makes Prefill
		// fall back to a CreateVerification per row.
		{"Import", func(t *testing.T, path string, k *otpd.Keyring) otpd.Store { return openSQLite(t, path, k) }, true},
		{"OneByOne", func(t *testing.T, path string, k *otpd.Keyring) otpd.Store {
			return struct{ otpd.Store }{openSQLite(t, path, k)}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "otpd.db")
			keyring := otpd.NewKeyring(time.Now())
			store := tc.store(t, path, keyring)
			engine, err := otpd.NewEngine(otpd.Config{Store: store, Keyring: keyring, Renderer: message.New()})
			require.NoError(t, err)
			svc, err := engine.CreateService(ctx, &otpd.Service{Name: "Acme", Policy: otpd.DefaultPolicy()})
			require.NoError(t, err)

			var progress []int
			var mu sync.Mutex
			st, err := loadtest.Prefill(ctx, loadtest.PrefillConfig{Store: store, Keyring: keyring, Service: svc, Rows: 200,
				BatchSize: 30, EventData: httpapi.EventData,
				Progress: func(done int) { mu.Lock(); progress = append(progress, done); mu.Unlock() }})
			require.NoError(t, err)
			require.Len(t, progress, 10, "one call per tenth")
			require.Equal(t, 200, progress[9])
			require.Equal(t, 200, st.Rows)
			require.Positive(t, st.RowsPerSecond())

			all, err := store.ListVerifications(ctx, otpd.VerificationFilter{ServiceID: svc.ID, Now: time.Now()})
			require.NoError(t, err)
			require.Len(t, all, 200)
			statuses := map[otpd.VerificationStatus]int{}
			for i, v := range all {
				statuses[v.Status]++
				require.Len(t, v.Messages, 1)
				require.Equal(t, otpd.MessageDelivered, v.Messages[0].Status)
				require.True(t, v.CreatedAt.Before(time.Now()))
				if i > 0 {
					require.False(t, v.CreatedAt.After(all[i-1].CreatedAt), "ids in creation order")
				}
				// The code is the server's: the keyring derives the one
				// the stored hash is of.
				code, err := keyring.DeriveCode(v.KeyID, v.ID, v.Salt, v.Alphabet, v.CodeLength)
				require.NoError(t, err)
				hash, err := keyring.HashCode(v.KeyID, v.ServiceID, v.ID, code, nil)
				require.NoError(t, err)
				require.Equal(t, hash, v.CodeHash)
				require.Equal(t, keyring.DestinationKeys(svc.ID, v.To)[0], v.ToKey)
			}
			require.Greater(t, statuses[otpd.StatusApproved], 150, "%v", statuses)
			require.Positive(t, statuses[otpd.StatusExpired], "%v", statuses)

			pending, err := store.ListVerifications(ctx, otpd.VerificationFilter{ServiceID: svc.ID, Status: otpd.StatusPending, Now: time.Now()})
			require.NoError(t, err)
			require.Empty(t, pending, "nothing prefilled is checkable or deliverable")

			// Each has the events a served one leaves, oldest first:
			// created, sent, delivered, then how it ended.
			v := all[100]
			evs, err := store.ListEvents(ctx, otpd.EventFilter{ServiceID: svc.ID, VerificationID: v.ID})
			require.NoError(t, err)
			require.Len(t, evs, 4)
			require.Equal(t, []otpd.EventType{otpd.EventVerificationCreated, otpd.EventMessageSent, otpd.EventMessageDelivered},
				[]otpd.EventType{evs[3].Type, evs[2].Type, evs[1].Type})
			require.Equal(t, otpd.EventDisabled, evs[0].Delivery.State, "the service has no webhook")
			require.Contains(t, string(evs[0].Data), `"status":"`+string(v.Status)+`"`)
			require.Contains(t, string(evs[3].Data), `"status":"pending"`)
			if tc.bulk {
				// Its delivery receipt finds it.
				ref := "sms:" + v.Messages[0].ProviderID
				cm, err := store.FindMessageByRef(ctx, ref)
				require.NoError(t, err)
				require.Equal(t, otpd.ClaimedMessage{ServiceID: svc.ID, VerificationID: v.ID, MessageID: v.Messages[0].ID}, cm)
			}

			// Nothing personal in clear in the database's files.
			require.NoError(t, store.(interface{ Close() error }).Close())
			files, err := filepath.Glob(path + "*")
			require.NoError(t, err)
			for _, f := range files {
				raw, err := os.ReadFile(f)
				require.NoError(t, err)
				for _, v := range all[:20] {
					require.NotContains(t, string(raw), v.To, "%s holds a destination in clear", filepath.Base(f))
					require.NotContains(t, string(raw), v.To[1:], "%s holds a destination in clear", filepath.Base(f))
				}
			}
		})
	}
}

// openSQLite opens a SQLite store that seals with keyring.
func openSQLite(t testing.TB, path string, keyring *otpd.Keyring) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, sqlite.WithSealer(keyring))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestReportJSONFieldsAreStable(t *testing.T) {
	t.Parallel()
	res, err := loadtest.Run(context.Background(), loadtest.Config{Target: &fakeTarget{}, Workers: 1, Duration: 200 * time.Millisecond})
	require.NoError(t, err)
	rep := loadtest.Report{Version: loadtest.ReportVersion, OTPD: loadtest.NewMeasured(res)}
	data, err := json.Marshal(rep)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	for _, k := range []string{"version", "started_at", "host", "load", "target", "otpd"} {
		require.Contains(t, m, k)
	}
	o := m["otpd"].(map[string]any)
	for _, k := range []string{"starts_per_second", "checks_per_second", "requests_per_second", "start", "check", "errors", "error_count", "server", "accept_to_submit", "created_to_submit"} {
		require.Contains(t, o, k)
	}
	for _, k := range []string{"count", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms"} {
		require.Contains(t, o["start"], k)
	}
}

// poolTarget is an in-memory server for the check scenario: each
// destination's code is its last six digits, so a check with another
// verification's code fails. It counts the starts made after Run's Window
// call and the right codes each verification accepted.
type poolTarget struct {
	startErr, codeErr  error
	startFor, checkFor time.Duration // each start's and check's service time
	windowed           atomic.Bool
	starts             atomic.Int64
	startsAfterWindow  atomic.Int64
	mu                 sync.Mutex
	accepted           map[string]int // id → right codes accepted
}

// window is the Config.Window of a run against p.
func (p *poolTarget) window(start, end time.Time) { p.windowed.Store(true) }

func (p *poolTarget) Start(ctx context.Context, to string) (string, time.Time, error) {
	time.Sleep(p.startFor)
	p.starts.Add(1)
	if p.windowed.Load() {
		p.startsAfterWindow.Add(1)
	}
	if p.startErr != nil {
		return "", time.Time{}, p.startErr
	}
	return "ver_" + to, time.Now(), nil
}

func (p *poolTarget) Code(ctx context.Context, to string) (string, time.Time, error) {
	if p.codeErr != nil {
		return "", time.Time{}, p.codeErr
	}
	return to[len(to)-6:], time.Now(), nil
}

func (p *poolTarget) Check(ctx context.Context, id, code string) (bool, error) {
	time.Sleep(p.checkFor)
	if code != id[len(id)-6:] {
		return false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.accepted == nil {
		p.accepted = map[string]int{}
	}
	p.accepted[id]++
	return true, nil
}

func TestRunCheckScenarioChecksOnly(t *testing.T) {
	t.Parallel()
	const pool = 3000
	tests := []struct {
		name string
		cfg  loadtest.Config
	}{
		// A check takes at least 1 ms: 4 workers make at most 1,000 in
		// the 250 ms of warm-up and window, well within the pool.
		{"closed loop, right codes", loadtest.Config{Workers: 4}},
		{"closed loop, wrong code first every time", loadtest.Config{Workers: 4, WrongShare: 1}},
		{"closed loop, some wrong codes", loadtest.Config{Workers: 4, WrongShare: 0.3}},
		{"open loop", loadtest.Config{Rate: 1000, WrongShare: 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := &poolTarget{checkFor: time.Millisecond}
			cfg := tt.cfg
			cfg.Target, cfg.Scenario, cfg.Pool, cfg.Window = target, loadtest.ScenarioCheck, pool, target.window
			cfg.Warmup, cfg.Duration = 50*time.Millisecond, 200*time.Millisecond
			res, err := loadtest.Run(context.Background(), cfg)
			require.NoError(t, err)
			require.Empty(t, res.Errors)
			require.Equal(t, loadtest.ScenarioCheck, res.Scenario)

			require.Equal(t, int64(pool), target.starts.Load(), "the pool was filled, nothing more started")
			require.Zero(t, target.startsAfterWindow.Load(), "no start after the fill")
			require.Zero(t, res.Starts)
			require.Zero(t, res.Start.Count())
			require.Zero(t, res.CodeWait.Count())
			require.Empty(t, res.IDs, "no starts to sample receipts of")

			require.Positive(t, res.Iterations)
			if cfg.Rate > 0 {
				require.Equal(t, uint64(200), res.Iterations, "one due per ms in the window")
			}
			require.Equal(t, res.Iterations+res.WrongChecks, res.Checks, "a right check per iteration, and the wrong ones")
			require.Equal(t, res.Checks, res.Check.Count())
			switch cfg.WrongShare {
			case 0:
				require.Zero(t, res.WrongChecks)
			case 1:
				require.Equal(t, res.Iterations, res.WrongChecks)
			default:
				require.Positive(t, res.WrongChecks)
				require.Less(t, res.WrongChecks, res.Iterations)
			}
			target.mu.Lock()
			defer target.mu.Unlock()
			for id, n := range target.accepted {
				require.Equal(t, 1, n, "%s was checked once", id)
			}
		})
	}
}

func TestRunCheckScenarioPoolRunsOut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    loadtest.Config
		errMsg string // a regular expression
	}{
		{"closed loop, in the window", loadtest.Config{Workers: 2, Pool: 50},
			`^loadtest: the pool of 50 verifications ran out [0-9.]+m?s into the 10s window; use a larger pool or a shorter window$`},
		// The 51st iteration is due at 50 ms; under load an earlier one's
		// goroutine may take its turn after a later one's, and find none.
		{"open loop, in the window", loadtest.Config{Rate: 1000, Pool: 50},
			`^loadtest: the pool of 50 verifications ran out (4[5-9]|50)ms into the 10s window; `},
		{"closed loop, in the warm-up", loadtest.Config{Workers: 2, Pool: 20, Warmup: 5 * time.Second},
			`^loadtest: the pool of 20 verifications ran out during the warm-up; use a larger pool or a shorter warm-up$`},
		{"open loop, in the warm-up", loadtest.Config{Rate: 1000, Pool: 20, Warmup: 5 * time.Second},
			`^loadtest: the pool of 20 verifications ran out during the warm-up; `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := &poolTarget{checkFor: time.Millisecond}
			cfg := tt.cfg
			cfg.Target, cfg.Scenario, cfg.Window, cfg.Duration = target, loadtest.ScenarioCheck, target.window, 10*time.Second
			begin := time.Now()
			res, err := loadtest.Run(context.Background(), cfg)
			require.Nil(t, res)
			require.Error(t, err)
			require.Regexp(t, tt.errMsg, err.Error())
			require.Less(t, time.Since(begin), 4*time.Second, "the run stops when the pool runs out")
		})
	}
}

func TestRunCheckScenarioRefusesBadPools(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		pool   int
		errMsg string
	}{
		{"more than Destinations has", 100001, "loadtest: a pool of 100001 verifications is more than the 100000 numbers of Destinations"},
		{"negative", -1, "loadtest: the pool must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := &poolTarget{}
			windows := 0
			_, err := loadtest.Run(context.Background(), loadtest.Config{Target: target, Scenario: loadtest.ScenarioCheck,
				Pool: tt.pool, Workers: 1, Duration: time.Second, Window: func(time.Time, time.Time) { windows++ }})
			require.ErrorContains(t, err, tt.errMsg)
			require.Zero(t, target.starts.Load())
			require.Zero(t, windows)
		})
	}
}

func TestRunCheckScenarioFillFailureAborts(t *testing.T) {
	t.Parallel()
	refused := &client.Error{HTTPStatus: 503, Code: "unavailable"}
	tests := []struct {
		name   string
		target *poolTarget
		errMsg string
	}{
		{"a start fails", &poolTarget{startErr: refused}, "loadtest: filling the pool of 500 verifications: start: "},
		{"a code never comes", &poolTarget{codeErr: refused}, "loadtest: filling the pool of 500 verifications: reading the code of ver_+44770090000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			windows := 0
			res, err := loadtest.Run(context.Background(), loadtest.Config{Target: tt.target, Scenario: loadtest.ScenarioCheck,
				Pool: 500, Workers: 4, Duration: 10 * time.Second, Window: func(time.Time, time.Time) { windows++ }})
			require.Nil(t, res)
			require.ErrorContains(t, err, tt.errMsg)
			require.ErrorIs(t, err, refused)
			require.Zero(t, windows, "no window after a failed fill")
			require.Less(t, tt.target.starts.Load(), int64(500), "the fill stops at the first failure")
		})
	}
}

func TestRunCallsWindowWithItsBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		scenario loadtest.Scenario
		fill     time.Duration // the least the fill takes
	}{
		// 200 starts of 1 ms each on 2 workers: at least 100 ms.
		{"check, after the fill", loadtest.ScenarioCheck, 100 * time.Millisecond},
		{"flow, at once", loadtest.ScenarioFlow, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const warmup, duration = 30 * time.Millisecond, 100 * time.Millisecond
			// Checks of 2 ms: at most 130 in the warm-up and window.
			target := &poolTarget{startFor: time.Millisecond, checkFor: 2 * time.Millisecond}
			var (
				calls             int
				start, end        time.Time
				calledAt          time.Time
				startsAtTheWindow int64
			)
			begin := time.Now()
			res, err := loadtest.Run(context.Background(), loadtest.Config{Target: target, Scenario: tt.scenario,
				Pool: 200, Workers: 2, Warmup: warmup, Duration: duration,
				Window: func(s, e time.Time) {
					calls++
					start, end, calledAt = s, e, time.Now()
					startsAtTheWindow = target.starts.Load()
				}})
			returned := time.Now()
			require.NoError(t, err)
			require.Empty(t, res.Errors)
			require.Equal(t, 1, calls)
			require.Equal(t, duration, end.Sub(start))
			require.GreaterOrEqual(t, start.Sub(begin), warmup+tt.fill, "the window begins after the fill and the warm-up")
			require.LessOrEqual(t, start.Sub(calledAt), warmup, "called before the warm-up")
			require.Greater(t, start.Sub(calledAt), warmup-20*time.Millisecond, "called as the warm-up begins")
			require.False(t, returned.Before(end), "Run returns after the window")
			if tt.scenario == loadtest.ScenarioCheck {
				require.Equal(t, int64(200), startsAtTheWindow, "the pool is full when the window is known")
			} else {
				require.Zero(t, startsAtTheWindow)
			}
		})
	}
}
