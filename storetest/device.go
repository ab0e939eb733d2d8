package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
)

// NewDevice returns a live device of svc registered at now.
func NewDevice(svc *otpd.Service, now time.Time) *otpd.Device {
	return &otpd.Device{
		ID:        otpd.NewID(otpd.PrefixDevice, now),
		ServiceID: svc.ID,
		Platform:  otpd.PlatformIOS,
		Token:     randomHex(32),
		Label:     "user-42 iPhone",
		CreatedAt: now,
	}
}

func normDevice(d *otpd.Device) *otpd.Device {
	c := *d
	c.CreatedAt, c.DeadAt = ms(d.CreatedAt), ms(d.DeadAt)
	return &c
}

func testDevices(t *testing.T, newStore func(t *testing.T) Store) {
	b := setup(t, newStore)
	svc, other := b.service(t), b.service(t)
	var ds []*otpd.Device
	for i := range 3 {
		d := NewDevice(svc, b.now.Add(time.Duration(i)*time.Millisecond))
		require.NoError(t, b.s.CreateDevice(b.ctx, d))
		ds = append(ds, d)
	}
	od := NewDevice(other, b.now)
	require.NoError(t, b.s.CreateDevice(b.ctx, od))

	got, err := b.s.GetDevice(b.ctx, svc.ID, ds[0].ID)
	require.NoError(t, err)
	require.Equal(t, normDevice(ds[0]), normDevice(got))
	_, err = b.s.GetDevice(b.ctx, svc.ID, od.ID)
	require.ErrorIs(t, err, otpd.ErrNotFound, "another service's device")

	list, err := b.s.ListDevices(b.ctx, svc.ID, "", 2)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, ds[0].ID, list[0].ID)
	list, err = b.s.ListDevices(b.ctx, svc.ID, list[1].ID, 0)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, ds[2].ID, list[0].ID)

	// Dead once: the first reason and time stay.
	at := ms(b.now.Add(time.Minute))
	require.NoError(t, b.s.MarkDeviceDead(b.ctx, svc.ID, ds[1].ID, "Unregistered", at))
	require.NoError(t, b.s.MarkDeviceDead(b.ctx, svc.ID, ds[1].ID, "BadDeviceToken", at.Add(time.Hour)))
	got, err = b.s.GetDevice(b.ctx, svc.ID, ds[1].ID)
	require.NoError(t, err)
	require.Equal(t, at, got.DeadAt)
	require.Equal(t, "Unregistered", got.DeadReason)
	require.ErrorIs(t, b.s.MarkDeviceDead(b.ctx, svc.ID, od.ID, "x", at), otpd.ErrNotFound)

	require.ErrorIs(t, b.s.DeleteDevice(b.ctx, svc.ID, od.ID), otpd.ErrNotFound)
	require.NoError(t, b.s.DeleteDevice(b.ctx, svc.ID, ds[0].ID))
	_, err = b.s.GetDevice(b.ctx, svc.ID, ds[0].ID)
	require.ErrorIs(t, err, otpd.ErrNotFound)

	require.NoError(t, b.s.DeleteService(b.ctx, other.ID))
	_, err = b.s.GetDevice(b.ctx, other.ID, od.ID)
	require.ErrorIs(t, err, otpd.ErrNotFound, "erasing a service erases its devices")
}
