package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/otpd/otpd"
)

const (
	deviceColumns   = `id, service_id, platform, token, label, created_at, dead_at, dead_reason`
	sqlInsertDevice = `INSERT INTO devices (` + deviceColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	sqlGetDevice    = `SELECT ` + deviceColumns + ` FROM devices WHERE service_id = ? AND id = ?`
	sqlListDevices  = `SELECT ` + deviceColumns + ` FROM devices INDEXED BY devices_service
	WHERE service_id = ? AND id > ? ORDER BY id LIMIT ?`
	sqlDeleteDevice   = `DELETE FROM devices WHERE service_id = ? AND id = ?`
	sqlMarkDeviceDead = `UPDATE devices SET dead_at = COALESCE(dead_at, ?),
		dead_reason = CASE WHEN dead_at IS NULL THEN ? ELSE dead_reason END
	WHERE service_id = ? AND id = ?`
)

func scanDevice(sl otpd.Sealer, sc scanner) (*otpd.Device, error) {
	var d otpd.Device
	var platform string
	var created int64
	var dead sql.NullInt64
	if err := sc.Scan(&d.ID, &d.ServiceID, &platform, &d.Token, &d.Label, &created, &dead, &d.DeadReason); err != nil {
		return nil, err
	}
	d.Platform, d.CreatedAt, d.DeadAt = otpd.Platform(platform), fromMillis(created), fromNullMillis(dead)
	return &d, otpd.OpenDevice(sl, &d)
}

// CreateDevice inserts a push device.
func (s *Store) CreateDevice(ctx context.Context, d *otpd.Device) error {
	err := s.write(ctx, func(tx *txn) error {
		token, err := otpd.SealDeviceToken(tx.sealer, d)
		if err != nil {
			return err
		}
		_, err = tx.exec(sqlInsertDevice, d.ID, d.ServiceID, string(d.Platform), token, d.Label,
			millis(d.CreatedAt), nullMillis(d.DeadAt), d.DeadReason)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create device: %w", err)
	}
	return nil
}

// GetDevice returns a device of the service.
func (s *Store) GetDevice(ctx context.Context, serviceID, id string) (*otpd.Device, error) {
	d, err := scanDevice(s.sealer, s.readRow(ctx, sqlGetDevice, serviceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get device: %w", notFound("device", id))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get device: %w", err)
	}
	return d, nil
}

// ListDevices returns the service's devices in id order after the cursor.
func (s *Store) ListDevices(ctx context.Context, serviceID, after string, limit int) ([]*otpd.Device, error) {
	rows, err := s.readRows(ctx, sqlListDevices, serviceID, after, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list devices: %w", err)
	}
	defer rows.Close()
	var out []*otpd.Device
	for rows.Next() {
		d, err := scanDevice(s.sealer, rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list devices: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list devices: %w", err)
	}
	return out, nil
}

// DeleteDevice removes a device of the service.
func (s *Store) DeleteDevice(ctx context.Context, serviceID, id string) error {
	err := s.write(ctx, func(tx *txn) error { return execOne(tx, "device", id, sqlDeleteDevice, serviceID, id) })
	if err != nil {
		return fmt.Errorf("sqlite: delete device: %w", err)
	}
	return nil
}

// MarkDeviceDead records that the push service refused the device's token.
func (s *Store) MarkDeviceDead(ctx context.Context, serviceID, id, reason string, at time.Time) error {
	err := s.write(ctx, func(tx *txn) error {
		return execOne(tx, "device", id, sqlMarkDeviceDead, millis(at), reason, serviceID, id)
	})
	if err != nil {
		return fmt.Errorf("sqlite: mark device dead: %w", err)
	}
	return nil
}
