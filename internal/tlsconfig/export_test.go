package tlsconfig

import "time"

// SetClock sets the clock Reload checks validity against.
func (c *Certificate) SetClock(now func() time.Time) { c.now = now }
