package otpd_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/message"
)

// cloneKeyring copies a keyring through its file form, as a node reading
// the same keyring file would.
func cloneKeyring(t *testing.T, k *otpd.Keyring) *otpd.Keyring {
	t.Helper()
	data, err := k.MarshalJSON()
	require.NoError(t, err)
	c, err := otpd.ParseKeyring(data)
	require.NoError(t, err)
	return c
}

func TestKeyringAddActivate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	k := otpd.NewKeyring(now)
	first := k.CurrentID()
	added := k.Add(now.Add(time.Hour))
	require.NotEqual(t, first, added)
	require.Equal(t, first, k.CurrentID(), "an added key is not current until activated")

	infos := k.Keys()
	require.Len(t, infos, 2)
	require.Equal(t, first, infos[0].ID)
	require.True(t, infos[0].Current)
	require.Equal(t, added, infos[1].ID)
	require.False(t, infos[1].Current)
	require.Equal(t, now.Add(time.Hour), infos[1].CreatedAt)
	require.Equal(t, k.Fingerprints()[added], infos[1].Fingerprint)

	require.NoError(t, k.Activate(added))
	require.Equal(t, added, k.CurrentID())
	require.Error(t, k.Activate("k9"))
	require.Equal(t, added, k.CurrentID(), "a failed activation changes nothing")
}

func TestKeyringCanReplace(t *testing.T) {
	t.Parallel()
	old := otpd.NewKeyring(time.Now())
	rotated := cloneKeyring(t, old)
	rotated.Rotate(time.Now())
	otherSecret := otpd.NewKeyring(time.Now()) // same id "k1", another secret

	for _, tc := range []struct {
		name string
		next *otpd.Keyring
		ok   bool
	}{
		{"same", cloneKeyring(t, old), true},
		{"rotated", rotated, true},
		{"a key dropped", func() *otpd.Keyring { k := otpd.NewKeyring(time.Now()); k.Rotate(time.Now()); return k }(), false},
		{"another secret under an id", otherSecret, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.next.CanReplace(old)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, otpd.ErrKeyringMismatch)
		})
	}
	require.ErrorIs(t, old.CanReplace(rotated), otpd.ErrKeyringMismatch, "going back drops the new key")
}

// TestSetKeyringRotatesWithoutDowntime: after a swap, codes sent under the
// old key still check, new verifications use the new key, and a keyring
// that would break either, or that disagrees with what other nodes of the
// store recorded, is refused and leaves the engine as it was.
func TestSetKeyringRotatesWithoutDowntime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	old := b.engine.Keyring()
	v1, code1 := b.start(t, otpd.StartRequest{To: "+447700900123"})
	require.Equal(t, old.CurrentID(), v1.KeyID)

	rotated := cloneKeyring(t, old)
	newID := rotated.Rotate(b.clock.now())
	require.NoError(t, b.engine.SetKeyring(ctx, rotated))
	require.Same(t, rotated, b.engine.Keyring())

	v2, code2 := b.start(t, otpd.StartRequest{To: "+447700900124"})
	require.Equal(t, newID, v2.KeyID, "new verifications use the new current key")
	for _, c := range []struct {
		v    *otpd.Verification
		code string
	}{{v1, code1}, {v2, code2}} {
		res, err := b.engine.Check(ctx, b.svc.ID, c.v.ID, c.code, nil)
		require.NoError(t, err)
		require.True(t, res.Valid, "key %s", c.v.KeyID)
	}
	require.NoError(t, b.engine.SetKeyring(ctx, rotated), "setting the same keyring again is harmless")

	require.ErrorIs(t, b.engine.SetKeyring(ctx, otpd.NewKeyring(time.Now())), otpd.ErrKeyringMismatch)
	require.ErrorIs(t, b.engine.SetKeyring(ctx, old), otpd.ErrKeyringMismatch, "dropping the new key is refused")
	require.Same(t, rotated, b.engine.Keyring(), "a refused keyring is not used")

	// Another node of the store rotated on its own and made its own key
	// under the same new id: the store's fingerprints refuse it.
	other, err := otpd.NewEngine(otpd.Config{Store: b.store, Keyring: cloneKeyring(t, old), Renderer: message.New()})
	require.NoError(t, err)
	diverged := cloneKeyring(t, old)
	require.Equal(t, newID, diverged.Rotate(time.Now()))
	require.ErrorIs(t, other.SetKeyring(ctx, diverged), otpd.ErrKeyringMismatch)
	require.NoError(t, other.SetKeyring(ctx, cloneKeyring(t, rotated)), "the shared keyring is accepted")
}
