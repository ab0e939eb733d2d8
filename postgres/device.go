package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otpd/otpd"
)

const (
	deviceColumns   = `id, service_id, platform, token, label, created_at, dead_at, dead_reason`
	sqlInsertDevice = `INSERT INTO devices (` + deviceColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	sqlGetDevice    = `SELECT ` + deviceColumns + ` FROM devices WHERE service_id = $1 AND id = $2`
	sqlListDevices  = `SELECT ` + deviceColumns + ` FROM devices
	WHERE service_id = $1 AND id > $2 ORDER BY id LIMIT $3`
	sqlDeleteDevice   = `DELETE FROM devices WHERE service_id = $1 AND id = $2`
	sqlMarkDeviceDead = `UPDATE devices SET dead_at = COALESCE(dead_at, $1),
		dead_reason = CASE WHEN dead_at IS NULL THEN $2 ELSE dead_reason END
	WHERE service_id = $3 AND id = $4`
)

func scanDevice(sl otpd.Sealer, row pgx.Row) (*otpd.Device, error) {
	var d otpd.Device
	var platform string
	var created time.Time
	var dead *time.Time
	if err := row.Scan(&d.ID, &d.ServiceID, &platform, &d.Token, &d.Label, &created, &dead, &d.DeadReason); err != nil {
		return nil, err
	}
	d.Platform, d.CreatedAt, d.DeadAt = otpd.Platform(platform), fromTS(created), fromNullTS(dead)
	return &d, otpd.OpenDevice(sl, &d)
}

// CreateDevice inserts a push device.
func (s *Store) CreateDevice(ctx context.Context, d *otpd.Device) error {
	token, err := otpd.SealDeviceToken(s.sealer, d)
	if err != nil {
		return fmt.Errorf("postgres: create device: %w", err)
	}
	_, err = s.pool.Exec(ctx, sqlInsertDevice, d.ID, d.ServiceID, string(d.Platform), token, d.Label,
		ts(d.CreatedAt), nullTS(d.DeadAt), d.DeadReason)
	if err != nil {
		return fmt.Errorf("postgres: create device: %w", err)
	}
	return nil
}

// GetDevice returns a device of the service.
func (s *Store) GetDevice(ctx context.Context, serviceID, id string) (*otpd.Device, error) {
	d, err := scanDevice(s.sealer, s.pool.QueryRow(ctx, sqlGetDevice, serviceID, id))
	if isNoRows(err) {
		return nil, fmt.Errorf("postgres: get device: %w", notFound("device", id))
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get device: %w", err)
	}
	return d, nil
}

// ListDevices returns the service's devices in id order after the cursor.
func (s *Store) ListDevices(ctx context.Context, serviceID, after string, limit int) ([]*otpd.Device, error) {
	rows, err := s.pool.Query(ctx, sqlListDevices, serviceID, after, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: list devices: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*otpd.Device, error) { return scanDevice(s.sealer, row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list devices: %w", err)
	}
	return out, nil
}

// DeleteDevice removes a device of the service.
func (s *Store) DeleteDevice(ctx context.Context, serviceID, id string) error {
	if err := s.execOne(ctx, "device", id, sqlDeleteDevice, serviceID, id); err != nil {
		return fmt.Errorf("postgres: delete device: %w", err)
	}
	return nil
}

// MarkDeviceDead records that the push service refused the device's token.
func (s *Store) MarkDeviceDead(ctx context.Context, serviceID, id, reason string, at time.Time) error {
	if err := s.execOne(ctx, "device", id, sqlMarkDeviceDead, ts(at), reason, serviceID, id); err != nil {
		return fmt.Errorf("postgres: mark device dead: %w", err)
	}
	return nil
}
