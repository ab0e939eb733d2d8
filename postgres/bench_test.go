package postgres_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/postgres"
	"github.com/otpd/otpd/storetest"
)

// The benchmarks mirror the SQLite store's (sqlite/bench_test.go), on a
// fresh schema each, with the server's default durability
// (synchronous_commit=on): every write waits for its WAL flush.

func benchStore(b *testing.B) (*postgres.Store, *otpd.Service) {
	b.Helper()
	s := openStore(b, newSchema(b))
	svc := storetest.NewService(time.Now())
	require.NoError(b, s.CreateService(b.Context(), svc))
	return s, svc
}

// BenchmarkCreateVerification measures the write path of a new verification
// and its queued message: one batch, one round trip, one commit.
func BenchmarkCreateVerification(b *testing.B) {
	b.Run("Serial", func(b *testing.B) {
		s, svc := benchStore(b)
		ctx := b.Context()
		for b.Loop() {
			if err := s.CreateVerification(ctx, storetest.NewVerification(svc, time.Now())); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		s, svc := benchStore(b)
		ctx := b.Context()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.CreateVerification(ctx, storetest.NewVerification(svc, time.Now())); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkUpdateVerification measures a check: locked load, change one
// field, write, commit: three round trips.
func BenchmarkUpdateVerification(b *testing.B) {
	incr := func(v *otpd.Verification) error { v.Attempts++; return nil }

	b.Run("Serial", func(b *testing.B) {
		s, svc := benchStore(b)
		ctx := b.Context()
		v := storetest.NewVerification(svc, time.Now())
		require.NoError(b, s.CreateVerification(ctx, v))
		for b.Loop() {
			if _, err := s.UpdateVerification(ctx, svc.ID, v.ID, incr); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Each goroutine updates its own verification, as concurrent checks of
	// different users do: they do not wait for each other's locks.
	b.Run("Parallel", func(b *testing.B) {
		s, svc := benchStore(b)
		ctx := b.Context()
		b.RunParallel(func(pb *testing.PB) {
			v := storetest.NewVerification(svc, time.Now())
			if err := s.CreateVerification(ctx, v); err != nil {
				b.Error(err)
				return
			}
			for pb.Next() {
				if _, err := s.UpdateVerification(ctx, svc.ID, v.ID, incr); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// Every goroutine updates the same verification: a burst of checks of
	// one code, serialized by its row lock.
	b.Run("ParallelSameRow", func(b *testing.B) {
		s, svc := benchStore(b)
		ctx := b.Context()
		v := storetest.NewVerification(svc, time.Now())
		require.NoError(b, s.CreateVerification(ctx, v))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.UpdateVerification(ctx, svc.ID, v.ID, incr); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkGetVerification measures a read with messages: one statement.
func BenchmarkGetVerification(b *testing.B) {
	s, svc := benchStore(b)
	ctx := b.Context()
	v := storetest.NewVerification(svc, time.Now())
	require.NoError(b, s.CreateVerification(ctx, v))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.GetVerification(ctx, svc.ID, v.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
