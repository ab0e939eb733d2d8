package postgres_test

import (
	"testing"

	"github.com/otpd/otpd/storetest"
)

// TestAuditLogIsAppendOnly: the database itself refuses to change or remove
// audit entries, whatever the client.
func TestAuditLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	s := openStore(t, newSchema(t))
	storetest.AuditAppendOnly(t, s, func(stmt string) error {
		_, err := s.Pool().Exec(t.Context(), stmt)
		return err
	}, `UPDATE audit_log SET actor = 'someone else'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`)
}
