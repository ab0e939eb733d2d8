package email

import "time"

// SetNow replaces the clock a Sender reads, for tests of Ready's window
// and of idle connections' age.
func SetNow(s *Sender, now func() time.Time) { s.now = now }
