package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/otpd/otpd"
)

const (
	templateColumns = `service_id, channel, purpose, locale, subject, text, created_at, updated_at`
	// The insert is conditional on the service, so a missing service is
	// "no row" rather than a foreign-key error; (xmax = 0) is true for a
	// row this statement inserted, false for one it updated.
	sqlPutTemplate = `INSERT INTO templates (` + templateColumns + `)
	SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM services WHERE id = $1)
	ON CONFLICT (service_id, channel, purpose, locale)
	DO UPDATE SET subject = EXCLUDED.subject, text = EXCLUDED.text, updated_at = EXCLUDED.updated_at
	RETURNING created_at, (xmax = 0)`
	sqlGetTemplate = `SELECT ` + templateColumns + ` FROM templates
	WHERE service_id = $1 AND channel = $2 AND purpose = $3 AND locale = $4`
	sqlListTemplates = `SELECT ` + templateColumns + ` FROM templates
	WHERE service_id = $1 ORDER BY channel, purpose, locale`
	sqlDeleteTemplate = `DELETE FROM templates WHERE service_id = $1 AND channel = $2 AND purpose = $3 AND locale = $4`
)

func scanTemplate(row pgx.Row) (*otpd.MessageTemplate, error) {
	var t otpd.MessageTemplate
	var channel string
	var created, updated time.Time
	if err := row.Scan(&t.ServiceID, &channel, &t.Purpose, &t.Locale, &t.Subject, &t.Text, &created, &updated); err != nil {
		return nil, err
	}
	t.Channel, t.CreatedAt, t.UpdatedAt = otpd.ChannelName(channel), fromTS(created), fromTS(updated)
	return &t, nil
}

// templateName names a template in errors.
func templateName(k otpd.TemplateKey) string {
	return fmt.Sprintf("%s/%s/%s", k.Channel, k.Purpose, k.Locale)
}

// PutTemplate stores t as its service's template for its key.
func (s *Store) PutTemplate(ctx context.Context, t *otpd.MessageTemplate) (bool, error) {
	k := t.TemplateKey
	var created time.Time
	var inserted bool
	err := s.pool.QueryRow(ctx, sqlPutTemplate, t.ServiceID, string(k.Channel), k.Purpose, k.Locale, t.Subject, t.Text,
		ts(t.CreatedAt), ts(t.UpdatedAt)).Scan(&created, &inserted)
	var pe *pgconn.PgError
	if isNoRows(err) || errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation: deleted meanwhile
		return false, fmt.Errorf("postgres: put template %s: %w", templateName(k), notFound("service", t.ServiceID))
	}
	if err != nil {
		return false, fmt.Errorf("postgres: put template %s: %w", templateName(k), err)
	}
	t.CreatedAt = fromTS(created)
	return inserted, nil
}

// GetTemplate returns the service's template for k.
func (s *Store) GetTemplate(ctx context.Context, serviceID string, k otpd.TemplateKey) (*otpd.MessageTemplate, error) {
	t, err := scanTemplate(s.pool.QueryRow(ctx, sqlGetTemplate, serviceID, string(k.Channel), k.Purpose, k.Locale))
	if isNoRows(err) {
		return nil, fmt.Errorf("postgres: get template: %w", notFound("template", templateName(k)))
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get template %s: %w", templateName(k), err)
	}
	return t, nil
}

// ListTemplates returns the service's templates by channel, purpose and locale.
func (s *Store) ListTemplates(ctx context.Context, serviceID string) ([]*otpd.MessageTemplate, error) {
	rows, err := s.pool.Query(ctx, sqlListTemplates, serviceID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list templates: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*otpd.MessageTemplate, error) { return scanTemplate(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list templates: %w", err)
	}
	return out, nil
}

// DeleteTemplate removes the service's template for k.
func (s *Store) DeleteTemplate(ctx context.Context, serviceID string, k otpd.TemplateKey) error {
	if err := s.execOne(ctx, "template", templateName(k), sqlDeleteTemplate, serviceID, string(k.Channel), k.Purpose, k.Locale); err != nil {
		return fmt.Errorf("postgres: delete template: %w", err)
	}
	return nil
}
