package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/storetest"
)

// An import runs with a large page cache on the write connection; the next
// ordinary write gives it back, so a serving store does not keep it.
func TestImportCacheIsGivenBack(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openStore(t, filepath.Join(t.TempDir(), "otpd.db"))
	cache := func() string {
		t.Helper()
		v, err := s.Pragma(ctx, true, "cache_size")
		require.NoError(t, err)
		return v
	}
	require.Equal(t, "-2000", cache(), "SQLite's default")

	now := time.Now().UTC().Truncate(time.Millisecond)
	svc := storetest.NewService(now)
	require.NoError(t, s.CreateService(ctx, svc))
	require.NoError(t, s.ImportVerifications(ctx, []*otpd.Verification{storetest.NewVerification(svc, now)}))
	require.Equal(t, "-1048576", cache(), "1 GiB while importing")

	require.NoError(t, s.CreateService(ctx, storetest.NewService(now)))
	require.Equal(t, "-2000", cache(), "back for ordinary writes")
}
