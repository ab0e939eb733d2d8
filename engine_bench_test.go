package otpd_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/message"
	"github.com/otpd/otpd/sqlite"
)

// benchEngine is an engine on a durable SQLite file (WAL, synchronous=FULL),
// as otpd serve runs it, with a channel that accepts everything.
func benchEngine(b *testing.B) (*otpd.Engine, *otpd.Service) {
	b.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "otpd.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	e, err := otpd.NewEngine(otpd.Config{
		Store: store, Keyring: otpd.NewKeyring(time.Now()), Renderer: message.New(),
		Channels: map[otpd.ChannelName]otpd.Channel{otpd.ChannelSMS: &recorder{}},
	})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := e.CreateService(ctx, &otpd.Service{Name: "Acme", Policy: otpd.DefaultPolicy()})
	if err != nil {
		b.Fatal(err)
	}
	return e, svc
}

var benchSeq atomic.Int64

func benchTo() string { return fmt.Sprintf("+4477009%05d", benchSeq.Add(1)%100000) }

// BenchmarkStart measures one start: validation, code derivation and
// hashing, and the durable insert of the verification and its queued
// message.
func BenchmarkStart(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		b.Run(map[bool]string{false: "serial", true: "parallel"}[parallel], func(b *testing.B) {
			e, svc := benchEngine(b)
			ctx := context.Background()
			start := func() {
				if _, err := e.Start(ctx, svc.ID, otpd.StartRequest{To: benchTo()}); err != nil {
					b.Fatal(err)
				}
			}
			cpu := startCPU()
			if parallel {
				b.SetParallelism(16) // many requests in flight, as under load
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						start()
					}
				})
			} else {
				for b.Loop() {
					start()
				}
			}
			cpu.report(b)
		})
	}
}

// BenchmarkCheck measures one check of a wrong code (the HMAC and a durable
// update of the attempt counter) on verifications started before the
// timer. Each verification takes max_check_attempts-1 wrong checks and
// stays pending, so there are enough of them for b.N checks that all write;
// consecutive checks go to different verifications.
func BenchmarkCheck(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		b.Run(map[bool]string{false: "serial", true: "parallel"}[parallel], func(b *testing.B) {
			e, svc := benchEngine(b)
			ctx := context.Background()
			per := int64(svc.Policy.MaxCheckAttempts - 1)
			ids := make([]string, (int64(b.N)+per-1)/per)
			for i := range ids {
				v, err := e.Start(ctx, svc.ID, otpd.StartRequest{To: benchTo()})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = v.ID
			}
			var n atomic.Int64
			var failed atomic.Value
			check := func() {
				i := n.Add(1) - 1
				res, err := e.Check(ctx, svc.ID, ids[i%int64(len(ids))], "XXXXXX", nil)
				if err == nil && res.Valid {
					err = errors.New("a wrong code was accepted")
				}
				if err != nil {
					failed.CompareAndSwap(nil, err)
				}
			}
			b.ResetTimer()
			cpu := startCPU()
			if parallel {
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						check()
					}
				})
			} else {
				for range b.N {
					check()
				}
			}
			b.StopTimer()
			cpu.report(b)
			if err := failed.Load(); err != nil {
				b.Fatalf("check: %v", err)
			}
		})
	}
}
