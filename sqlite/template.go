package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/otpd/otpd"
)

const (
	templateColumns    = `service_id, channel, purpose, locale, subject, text, created_at, updated_at`
	sqlTemplateCreated = `SELECT created_at FROM templates WHERE service_id = ? AND channel = ? AND purpose = ? AND locale = ?`
	sqlInsertTemplate  = `INSERT INTO templates (` + templateColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	sqlUpdateTemplate  = `UPDATE templates SET subject = ?, text = ?, updated_at = ?
	WHERE service_id = ? AND channel = ? AND purpose = ? AND locale = ?`
	sqlGetTemplate = `SELECT ` + templateColumns + ` FROM templates
	WHERE service_id = ? AND channel = ? AND purpose = ? AND locale = ?`
	sqlListTemplates = `SELECT ` + templateColumns + ` FROM templates
	WHERE service_id = ? ORDER BY channel, purpose, locale`
	sqlDeleteTemplate = `DELETE FROM templates WHERE service_id = ? AND channel = ? AND purpose = ? AND locale = ?`
)

func scanTemplate(sc scanner) (*otpd.MessageTemplate, error) {
	var t otpd.MessageTemplate
	var channel string
	var created, updated int64
	if err := sc.Scan(&t.ServiceID, &channel, &t.Purpose, &t.Locale, &t.Subject, &t.Text, &created, &updated); err != nil {
		return nil, err
	}
	t.Channel, t.CreatedAt, t.UpdatedAt = otpd.ChannelName(channel), fromMillis(created), fromMillis(updated)
	return &t, nil
}

// templateName names a template in errors.
func templateName(k otpd.TemplateKey) string {
	return fmt.Sprintf("%s/%s/%s", k.Channel, k.Purpose, k.Locale)
}

// PutTemplate stores t as its service's template for its key.
func (s *Store) PutTemplate(ctx context.Context, t *otpd.MessageTemplate) (created bool, err error) {
	k := t.TemplateKey
	err = s.write(ctx, func(tx *txn) error {
		var one int
		if err := tx.queryRow(sqlServiceExists, t.ServiceID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return notFound("service", t.ServiceID)
		} else if err != nil {
			return err
		}
		var was int64
		err := tx.queryRow(sqlTemplateCreated, t.ServiceID, string(k.Channel), k.Purpose, k.Locale).Scan(&was)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
			_, err = tx.exec(sqlInsertTemplate, t.ServiceID, string(k.Channel), k.Purpose, k.Locale, t.Subject, t.Text,
				millis(t.CreatedAt), millis(t.UpdatedAt))
			return err
		case err != nil:
			return err
		}
		created = false
		t.CreatedAt = fromMillis(was)
		_, err = tx.exec(sqlUpdateTemplate, t.Subject, t.Text, millis(t.UpdatedAt), t.ServiceID, string(k.Channel), k.Purpose, k.Locale)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: put template %s: %w", templateName(k), err)
	}
	return created, nil
}

// GetTemplate returns the service's template for k.
func (s *Store) GetTemplate(ctx context.Context, serviceID string, k otpd.TemplateKey) (*otpd.MessageTemplate, error) {
	t, err := scanTemplate(s.readRow(ctx, sqlGetTemplate, serviceID, string(k.Channel), k.Purpose, k.Locale))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get template: %w", notFound("template", templateName(k)))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get template %s: %w", templateName(k), err)
	}
	return t, nil
}

// ListTemplates returns the service's templates by channel, purpose and locale.
func (s *Store) ListTemplates(ctx context.Context, serviceID string) ([]*otpd.MessageTemplate, error) {
	rows, err := s.readRows(ctx, sqlListTemplates, serviceID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list templates: %w", err)
	}
	defer rows.Close()
	var out []*otpd.MessageTemplate
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list templates: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list templates: %w", err)
	}
	return out, nil
}

// DeleteTemplate removes the service's template for k.
func (s *Store) DeleteTemplate(ctx context.Context, serviceID string, k otpd.TemplateKey) error {
	err := s.write(ctx, func(tx *txn) error {
		return execOne(tx, "template", templateName(k), sqlDeleteTemplate, serviceID, string(k.Channel), k.Purpose, k.Locale)
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete template: %w", err)
	}
	return nil
}
