package sqlmigrate_test

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/otpd/otpd/internal/sqlmigrate"
)

var (
	migrationName = regexp.MustCompile(`^[a-z0-9_]+$`)
	migrationFile = regexp.MustCompile(`^([0-9]+)_[a-z0-9_]+\.sql$`)
)

// fileVersion is the version of a well-named migration file, -1 for a
// file that is not a migration, and false for a misnamed .sql file.
func fileVersion(name string) (int, bool) {
	if path.Ext(name) != ".sql" {
		return -1, true
	}
	m := migrationFile.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	v, err := strconv.Atoi(m[1])
	return v, err == nil && v > 0
}

// FuzzLoad puts two files of arbitrary names in a migrations directory.
// Load either refuses the directory or returns one migration per .sql file,
// sorted, with distinct positive versions, names of the documented form and
// the file's SQL; and a migration written back under its canonical name,
// NNNN_name.sql, loads as itself.
func FuzzLoad(f *testing.F) {
	for _, c := range [][2]string{
		{"0001_init.sql", "0002_keys.sql"},
		{"0002_keys.sql", "0001_init.sql"},
		{"1_a.sql", "0001_b.sql"},
		{"0001_init.sql", "README.md"},
		{"0001_init.sql", "0001_init.SQL"},
		{"0000_zero.sql", "0003_x.sql"},
		{"0001_Init.sql", "0002_x-y.sql"},
		{"99999999999999999999_big.sql", "0001_a.sql"},
		{"9223372036854775807_max.sql", "1_min.sql"},
		{"_x.sql", ".sql"},
		{"0001_a.sql.sql", "0002__.sql"},
		{"+1_a.sql", "-1_a.sql"},
		{"٣_arabic_digit.sql", "0001_ß.sql"},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if a == b || !fs.ValidPath(a) || !fs.ValidPath(b) || strings.Contains(a+b, "/") {
			return // one directory of two distinct files
		}
		fsys := fstest.MapFS{
			"m/" + a: {Data: []byte("-- " + a)},
			"m/" + b: {Data: []byte("-- " + b)},
		}
		ms, err := sqlmigrate.Load(fsys, "m")
		sqlFiles := 0
		for _, n := range []string{a, b} {
			if path.Ext(n) == ".sql" {
				sqlFiles++
			}
		}
		if err != nil {
			// Refused: a .sql file is misnamed, or both have one version.
			va, okA := fileVersion(a)
			vb, okB := fileVersion(b)
			if okA && okB && (va != vb || va < 0) {
				t.Fatalf("%q, %q: %v", a, b, err)
			}
			return
		}
		if len(ms) != sqlFiles {
			t.Fatalf("%q, %q: %d .sql files, %d migrations", a, b, sqlFiles, len(ms))
		}
		for i, m := range ms {
			if m.Version <= 0 || (i > 0 && m.Version <= ms[i-1].Version) || !migrationName.MatchString(m.Name) {
				t.Fatalf("%q, %q: %+v", a, b, ms)
			}
			// The file it came from: its SQL, and a name that spells this
			// version and name.
			file := strings.TrimPrefix(m.SQL, "-- ")
			num, name, ok := strings.Cut(strings.TrimSuffix(file, ".sql"), "_")
			if v, err := strconv.Atoi(num); !ok || err != nil || v != m.Version || name != m.Name || (file != a && file != b) {
				t.Fatalf("%q, %q: %+v does not match its file %q", a, b, m, file)
			}

			canonical := fmt.Sprintf("%04d_%s.sql", m.Version, m.Name)
			again, err := sqlmigrate.Load(fstest.MapFS{"m/" + canonical: {Data: []byte(m.SQL)}}, "m")
			if err != nil || len(again) != 1 || again[0] != m {
				t.Fatalf("%+v written as %q loads as %+v, %v", m, canonical, again, err)
			}
		}
	})
}
