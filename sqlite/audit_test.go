package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/storetest"
)

// TestAuditLogIsAppendOnly: the database file itself refuses to change or
// remove audit entries, whoever opens it.
func TestAuditLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "otpd.db")
	s := openStore(t, path)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	storetest.AuditAppendOnly(t, s, func(stmt string) error {
		_, err := db.ExecContext(t.Context(), stmt)
		return err
	}, `UPDATE audit_log SET actor = 'someone else'`, `DELETE FROM audit_log`)
}
