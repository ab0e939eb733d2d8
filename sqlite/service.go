package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/internal/rowcodec"
)

const serviceColumns = `id, name, code_length, code_alphabet, ttl_seconds, max_ttl_seconds,
	max_check_attempts, max_sends, resend_cooldown_seconds, channels, countries, locale,
	webhook_url, webhook_secret, app_hash, webotp_domain, created_at, updated_at,
	whatsapp_template, whatsapp_language, limits, safe_list`

const (
	sqlInsertService = `INSERT INTO services (` + serviceColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlGetService    = `SELECT ` + serviceColumns + ` FROM services WHERE id = ?`
	sqlListServices  = `SELECT ` + serviceColumns + ` FROM services WHERE id > ? ORDER BY id LIMIT ?`
	sqlUpdateService = `UPDATE services SET name = ?, code_length = ?, code_alphabet = ?,
	ttl_seconds = ?, max_ttl_seconds = ?, max_check_attempts = ?, max_sends = ?,
	resend_cooldown_seconds = ?, channels = ?, countries = ?, locale = ?, webhook_url = ?,
	webhook_secret = ?, app_hash = ?, webotp_domain = ?, created_at = ?, updated_at = ?,
	whatsapp_template = ?, whatsapp_language = ?, limits = ?, safe_list = ?
	WHERE id = ?`
	sqlDeleteService = `DELETE FROM services WHERE id = ?`
	sqlServiceExists = `SELECT 1 FROM services WHERE id = ?`

	keyColumns     = `id, service_id, name, secret_hash, created_at, last_used_at`
	sqlInsertKey   = `INSERT INTO keys (` + keyColumns + `) VALUES (?, ?, ?, ?, ?, ?)`
	sqlGetKey      = `SELECT ` + keyColumns + ` FROM keys WHERE id = ?`
	sqlListKeys    = `SELECT ` + keyColumns + ` FROM keys WHERE service_id = ? ORDER BY id`
	sqlDeleteKey   = `DELETE FROM keys WHERE service_id = ? AND id = ?`
	sqlKeyLastUsed = `SELECT last_used_at FROM keys WHERE id = ?`
	// The condition keeps a late or concurrent touch from moving the time
	// back, and skips the write when the stored time is recent enough.
	sqlTouchKey = `UPDATE keys SET last_used_at = ?
	WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`
)

// touchGranularity is how stale a key's LastUsedAt may get before TouchKey
// writes: most requests then cost the write lock nothing.
const touchGranularity = time.Minute

// serviceArgs returns svc's column values in serviceColumns order, without
// id, with its webhook secret sealed.
func (st *Store) serviceArgs(svc *otpd.Service) ([]any, error) {
	sealed := *svc
	var err error
	if sealed.WebhookSecret, err = otpd.SealString(st.sealer, svc.WebhookSecret, otpd.SealContext("services", "webhook_secret", svc.ID)); err != nil {
		return nil, err
	}
	return plainServiceArgs(&sealed)
}

// plainServiceArgs returns s's column values in serviceColumns order, without id.
func plainServiceArgs(s *otpd.Service) ([]any, error) {
	p := s.Policy
	ttl, err := seconds("ttl", p.TTL)
	if err != nil {
		return nil, err
	}
	maxTTL, err := seconds("max ttl", p.MaxTTL)
	if err != nil {
		return nil, err
	}
	cooldown, err := seconds("resend cooldown", p.ResendCooldown)
	if err != nil {
		return nil, err
	}
	cols, err := rowcodec.EncodeService(s)
	if err != nil {
		return nil, err
	}
	return []any{
		s.Name, p.CodeLength, string(p.Alphabet), ttl, maxTTL, p.MaxCheckAttempts, p.MaxSends,
		cooldown, cols.Channels, cols.Countries, s.Locale, s.WebhookURL, s.WebhookSecret, s.AppHash,
		s.WebOTPDomain, millis(s.CreatedAt), millis(s.UpdatedAt), s.WhatsAppTemplate, s.WhatsAppLanguage,
		cols.Limits, cols.SafeList,
	}, nil
}

// scanService reads a row of serviceColumns and opens its webhook secret.
func (st *Store) scanService(sc interface{ Scan(...any) error }) (*otpd.Service, error) {
	svc, err := scanServiceRow(sc)
	if err != nil {
		return nil, err
	}
	if svc.WebhookSecret, err = otpd.OpenString(st.sealer, svc.WebhookSecret, otpd.SealContext("services", "webhook_secret", svc.ID)); err != nil {
		return nil, err
	}
	return svc, nil
}

func scanServiceRow(sc interface{ Scan(...any) error }) (*otpd.Service, error) {
	var (
		s                     otpd.Service
		alphabet              string
		ttl, maxTTL, cooldown int64
		channels, countries   string
		limits, safeList      string
		createdAt, updatedAt  int64
	)
	err := sc.Scan(&s.ID, &s.Name, &s.Policy.CodeLength, &alphabet, &ttl, &maxTTL,
		&s.Policy.MaxCheckAttempts, &s.Policy.MaxSends, &cooldown, &channels, &countries, &s.Locale,
		&s.WebhookURL, &s.WebhookSecret, &s.AppHash, &s.WebOTPDomain, &createdAt, &updatedAt,
		&s.WhatsAppTemplate, &s.WhatsAppLanguage, &limits, &safeList)
	if err != nil {
		return nil, err
	}
	s.Policy.Alphabet = otpd.Alphabet(alphabet)
	s.Policy.TTL = fromSeconds(ttl)
	s.Policy.MaxTTL = fromSeconds(maxTTL)
	s.Policy.ResendCooldown = fromSeconds(cooldown)
	if err := rowcodec.DecodeService(&s, rowcodec.ServiceColumns{Channels: channels, Countries: countries, Limits: limits, SafeList: safeList}); err != nil {
		return nil, err
	}
	s.CreatedAt = fromMillis(createdAt)
	s.UpdatedAt = fromMillis(updatedAt)
	return &s, nil
}

// CreateService inserts s.
func (s *Store) CreateService(ctx context.Context, svc *otpd.Service) error {
	args, err := s.serviceArgs(svc)
	if err != nil {
		return fmt.Errorf("sqlite: create service %s: %w", svc.ID, err)
	}
	err = s.write(ctx, func(tx *txn) error {
		_, err := tx.exec(sqlInsertService, append([]any{svc.ID}, args...)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create service %s: %w", svc.ID, err)
	}
	return nil
}

// GetService returns the service with the given id.
func (s *Store) GetService(ctx context.Context, id string) (*otpd.Service, error) {
	svc, err := s.scanService(s.readRow(ctx, sqlGetService, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get service: %w", notFound("service", id))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get service %s: %w", id, err)
	}
	return svc, nil
}

// ListServices returns up to limit services with ids after the cursor, in
// id order. A limit of 0 or less means no limit.
func (s *Store) ListServices(ctx context.Context, after string, limit int) ([]*otpd.Service, error) {
	rows, err := s.readRows(ctx, sqlListServices, after, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list services: %w", err)
	}
	defer rows.Close()
	var out []*otpd.Service
	for rows.Next() {
		svc, err := s.scanService(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list services: %w", err)
		}
		out = append(out, svc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list services: %w", err)
	}
	return out, nil
}

// UpdateService replaces every field of the service with svc.ID.
func (s *Store) UpdateService(ctx context.Context, svc *otpd.Service) error {
	args, err := s.serviceArgs(svc)
	if err != nil {
		return fmt.Errorf("sqlite: update service %s: %w", svc.ID, err)
	}
	err = s.write(ctx, func(tx *txn) error {
		return execOne(tx, "service", svc.ID, sqlUpdateService, append(args, svc.ID)...)
	})
	if err != nil {
		return fmt.Errorf("sqlite: update service: %w", err)
	}
	return nil
}

// DeleteService removes the service; foreign keys cascade to its keys,
// verifications and their messages.
func (s *Store) DeleteService(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *txn) error {
		return execOne(tx, "service", id, sqlDeleteService, id)
	})
	s.recent.drop()
	if err != nil {
		return fmt.Errorf("sqlite: delete service: %w", err)
	}
	return nil
}

// CreateKey inserts k.
func (s *Store) CreateKey(ctx context.Context, k *otpd.Key) error {
	err := s.write(ctx, func(tx *txn) error {
		_, err := tx.exec(sqlInsertKey, k.ID, k.ServiceID, k.Name, nonNil(k.SecretHash),
			millis(k.CreatedAt), nullMillis(k.LastUsedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create key %s: %w", k.ID, err)
	}
	return nil
}

func scanKey(sc interface{ Scan(...any) error }) (*otpd.Key, error) {
	var (
		k         otpd.Key
		createdAt int64
		lastUsed  sql.NullInt64
	)
	if err := sc.Scan(&k.ID, &k.ServiceID, &k.Name, &k.SecretHash, &createdAt, &lastUsed); err != nil {
		return nil, err
	}
	k.CreatedAt = fromMillis(createdAt)
	k.LastUsedAt = fromNullMillis(lastUsed)
	return &k, nil
}

// GetKey returns the key with the given id, whatever its service.
func (s *Store) GetKey(ctx context.Context, id string) (*otpd.Key, error) {
	k, err := scanKey(s.readRow(ctx, sqlGetKey, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get key: %w", notFound("key", id))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get key %s: %w", id, err)
	}
	return k, nil
}

// ListKeys returns the service's keys, oldest first.
func (s *Store) ListKeys(ctx context.Context, serviceID string) ([]*otpd.Key, error) {
	rows, err := s.readRows(ctx, sqlListKeys, serviceID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	defer rows.Close()
	var out []*otpd.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	return out, nil
}

// DeleteKey removes a key of the service.
func (s *Store) DeleteKey(ctx context.Context, serviceID, id string) error {
	err := s.write(ctx, func(tx *txn) error {
		return execOne(tx, "key", id, sqlDeleteKey, serviceID, id)
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete key: %w", err)
	}
	return nil
}

// TouchKey records that the key was used at t. It writes only when the
// stored time is at least a minute older than t, and never moves it back.
func (s *Store) TouchKey(ctx context.Context, id string, t time.Time) error {
	var last sql.NullInt64
	err := s.readRow(ctx, sqlKeyLastUsed, id).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: touch key: %w", notFound("key", id))
	}
	if err != nil {
		return fmt.Errorf("sqlite: touch key %s: %w", id, err)
	}
	stale := t.Add(-touchGranularity).UnixMilli()
	if last.Valid && last.Int64 > stale {
		return nil
	}
	err = s.write(ctx, func(tx *txn) error {
		_, err := tx.exec(sqlTouchKey, millis(t), id, stale)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: touch key %s: %w", id, err)
	}
	return nil
}

// execOne runs a statement that must affect exactly one row, and returns a
// not-found error when it affected none.
func execOne(tx *txn, what, id, query string, args ...any) error {
	res, err := tx.exec(query, args...)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	if n == 0 {
		return notFound(what, id)
	}
	return nil
}

// sqlLimit maps "no limit" (0 or less) to SQLite's -1.
func sqlLimit(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// nonNil keeps a nil byte slice from becoming NULL in a NOT NULL column.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
