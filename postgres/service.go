package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/internal/rowcodec"
)

const serviceColumns = `id, name, code_length, code_alphabet, ttl_seconds, max_ttl_seconds,
	max_check_attempts, max_sends, resend_cooldown_seconds, channels, countries, locale,
	webhook_url, webhook_secret, app_hash, webotp_domain, created_at, updated_at,
	whatsapp_template, whatsapp_language, limits, safe_list`

const (
	sqlInsertService = `INSERT INTO services (` + serviceColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`
	sqlGetService    = `SELECT ` + serviceColumns + ` FROM services WHERE id = $1`
	sqlListServices  = `SELECT ` + serviceColumns + ` FROM services WHERE id > $1 ORDER BY id LIMIT $2`
	sqlUpdateService = `WITH changed AS (UPDATE services SET name = $1, code_length = $2, code_alphabet = $3,
	ttl_seconds = $4, max_ttl_seconds = $5, max_check_attempts = $6, max_sends = $7,
	resend_cooldown_seconds = $8, channels = $9, countries = $10, locale = $11, webhook_url = $12,
	webhook_secret = $13, app_hash = $14, webotp_domain = $15, created_at = $16, updated_at = $17,
	whatsapp_template = $18, whatsapp_language = $19, limits = $20, safe_list = $21
	WHERE id = $22 RETURNING id) ` + sqlNotifyServiceChanged
	// Keys, verifications and their messages go with it: ON DELETE CASCADE.
	// Nodes drop a service's keys with it from their caches.
	sqlDeleteService = `WITH changed AS (DELETE FROM services WHERE id = $1 RETURNING id) ` + sqlNotifyServiceChanged

	keyColumns     = `id, service_id, name, secret_hash, created_at, last_used_at`
	sqlInsertKey   = `INSERT INTO keys (` + keyColumns + `) VALUES ($1, $2, $3, $4, $5, $6)`
	sqlGetKey      = `SELECT ` + keyColumns + ` FROM keys WHERE id = $1`
	sqlListKeys    = `SELECT ` + keyColumns + ` FROM keys WHERE service_id = $1 ORDER BY id`
	sqlDeleteKey   = `WITH changed AS (DELETE FROM keys WHERE service_id = $1 AND id = $2 RETURNING id) ` + sqlNotifyKeyChanged
	sqlKeyLastUsed = `SELECT last_used_at FROM keys WHERE id = $1`
	// The condition keeps a late or concurrent touch (from this node or
	// another) from moving the time back, and skips the write when the
	// stored time is recent enough.
	sqlTouchKey = `UPDATE keys SET last_used_at = $1
	WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)`
)

// touchGranularity is how stale a key's LastUsedAt may get before TouchKey
// writes: most authenticated requests then cost one indexed read.
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
		s.WebOTPDomain, ts(s.CreatedAt), ts(s.UpdatedAt), s.WhatsAppTemplate, s.WhatsAppLanguage,
		cols.Limits, cols.SafeList,
	}, nil
}

// scanService reads a row of serviceColumns and opens its webhook secret.
func (st *Store) scanService(row pgx.Row) (*otpd.Service, error) {
	svc, err := scanServiceRow(row)
	if err != nil {
		return nil, err
	}
	if svc.WebhookSecret, err = otpd.OpenString(st.sealer, svc.WebhookSecret, otpd.SealContext("services", "webhook_secret", svc.ID)); err != nil {
		return nil, err
	}
	return svc, nil
}

func scanServiceRow(row pgx.Row) (*otpd.Service, error) {
	var (
		s                     otpd.Service
		alphabet              string
		ttl, maxTTL, cooldown int64
		channels, countries   string
		limits, safeList      string
		createdAt, updatedAt  time.Time
	)
	err := row.Scan(&s.ID, &s.Name, &s.Policy.CodeLength, &alphabet, &ttl, &maxTTL,
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
	s.CreatedAt = fromTS(createdAt)
	s.UpdatedAt = fromTS(updatedAt)
	return &s, nil
}

// CreateService inserts s.
func (s *Store) CreateService(ctx context.Context, svc *otpd.Service) error {
	args, err := s.serviceArgs(svc)
	if err != nil {
		return fmt.Errorf("postgres: create service %s: %w", svc.ID, err)
	}
	if _, err := s.pool.Exec(ctx, sqlInsertService, append([]any{svc.ID}, args...)...); err != nil {
		return fmt.Errorf("postgres: create service %s: %w", svc.ID, err)
	}
	return nil
}

// GetService returns the service with the given id.
func (s *Store) GetService(ctx context.Context, id string) (*otpd.Service, error) {
	svc, err := s.scanService(s.pool.QueryRow(ctx, sqlGetService, id))
	if isNoRows(err) {
		return nil, fmt.Errorf("postgres: get service: %w", notFound("service", id))
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get service %s: %w", id, err)
	}
	return svc, nil
}

// ListServices returns up to limit services with ids after the cursor, in
// id order. A limit of 0 or less means no limit.
func (s *Store) ListServices(ctx context.Context, after string, limit int) ([]*otpd.Service, error) {
	rows, err := s.pool.Query(ctx, sqlListServices, after, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: list services: %w", err)
	}
	defer rows.Close()
	var out []*otpd.Service
	for rows.Next() {
		svc, err := s.scanService(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list services: %w", err)
		}
		out = append(out, svc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list services: %w", err)
	}
	return out, nil
}

// UpdateService replaces every field of the service with svc.ID.
func (s *Store) UpdateService(ctx context.Context, svc *otpd.Service) error {
	args, err := s.serviceArgs(svc)
	if err != nil {
		return fmt.Errorf("postgres: update service %s: %w", svc.ID, err)
	}
	if err := s.execOne(ctx, "service", svc.ID, sqlUpdateService, append(args, svc.ID)...); err != nil {
		return fmt.Errorf("postgres: update service: %w", err)
	}
	return nil
}

// DeleteService removes the service; foreign keys cascade to its keys,
// verifications and their messages.
func (s *Store) DeleteService(ctx context.Context, id string) error {
	if err := s.execOne(ctx, "service", id, sqlDeleteService, id); err != nil {
		return fmt.Errorf("postgres: delete service: %w", err)
	}
	return nil
}

// CreateKey inserts k.
func (s *Store) CreateKey(ctx context.Context, k *otpd.Key) error {
	_, err := s.pool.Exec(ctx, sqlInsertKey, k.ID, k.ServiceID, k.Name, nonNil(k.SecretHash),
		ts(k.CreatedAt), nullTS(k.LastUsedAt))
	if err != nil {
		return fmt.Errorf("postgres: create key %s: %w", k.ID, err)
	}
	return nil
}

func scanKey(row pgx.Row) (*otpd.Key, error) {
	var (
		k         otpd.Key
		createdAt time.Time
		lastUsed  *time.Time
	)
	if err := row.Scan(&k.ID, &k.ServiceID, &k.Name, &k.SecretHash, &createdAt, &lastUsed); err != nil {
		return nil, err
	}
	k.CreatedAt = fromTS(createdAt)
	k.LastUsedAt = fromNullTS(lastUsed)
	return &k, nil
}

// GetKey returns the key with the given id, whatever its service.
func (s *Store) GetKey(ctx context.Context, id string) (*otpd.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, sqlGetKey, id))
	if isNoRows(err) {
		return nil, fmt.Errorf("postgres: get key: %w", notFound("key", id))
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get key %s: %w", id, err)
	}
	return k, nil
}

// ListKeys returns the service's keys, oldest first.
func (s *Store) ListKeys(ctx context.Context, serviceID string) ([]*otpd.Key, error) {
	rows, err := s.pool.Query(ctx, sqlListKeys, serviceID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list keys: %w", err)
	}
	defer rows.Close()
	var out []*otpd.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list keys: %w", err)
	}
	return out, nil
}

// DeleteKey removes a key of the service.
func (s *Store) DeleteKey(ctx context.Context, serviceID, id string) error {
	if err := s.execOne(ctx, "key", id, sqlDeleteKey, serviceID, id); err != nil {
		return fmt.Errorf("postgres: delete key: %w", err)
	}
	return nil
}

// TouchKey records that the key was used at t. It writes only when the
// stored time is at least a minute older than t, and never moves it back.
// The read comes first because it is what almost every call amounts to: an
// UPDATE whose condition fails writes nothing either, but could not tell a
// recent touch from a missing key.
func (s *Store) TouchKey(ctx context.Context, id string, t time.Time) error {
	var last *time.Time
	err := s.pool.QueryRow(ctx, sqlKeyLastUsed, id).Scan(&last)
	if isNoRows(err) {
		return fmt.Errorf("postgres: touch key: %w", notFound("key", id))
	}
	if err != nil {
		return fmt.Errorf("postgres: touch key %s: %w", id, err)
	}
	stale := ts(t.Add(-touchGranularity))
	if last != nil && last.After(stale) {
		return nil
	}
	if _, err := s.pool.Exec(ctx, sqlTouchKey, ts(t), id, stale); err != nil {
		return fmt.Errorf("postgres: touch key %s: %w", id, err)
	}
	return nil
}

// nonNil keeps a nil byte slice from becoming NULL in a NOT NULL column.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
