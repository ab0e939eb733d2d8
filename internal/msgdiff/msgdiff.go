// Package msgdiff works out what a store must write for the messages of a
// verification that Store.UpdateVerification's fn changed. Both stores
// (sqlite, postgres) apply the same rules; only how they write differs.
package msgdiff

import (
	"errors"
	"fmt"
	"slices"

	"github.com/otpd/otpd"
)

// Change is one message to write.
type Change struct {
	Message *otpd.Message
	// New is set for a message fn appended: insert it.
	New bool
	// Update is set for an existing message whose columns changed.
	Update bool
	// DropLease is set with Update when the message left the queue or was
	// rescheduled: its lease no longer guards a send in flight.
	DropLease bool
	// Refs are the refs to record that the message did not have before.
	Refs []string
}

// Messages compares before (as loaded) with after (as fn left it) and
// returns the changes in after's order. changed reports whether a message's
// stored columns differ, as the store encodes them. It fills in an empty
// VerificationID and refuses messages of another verification, messages
// listed twice, and dropped messages.
func Messages(before, after *otpd.Verification, changed func(prev, m *otpd.Message) bool) ([]Change, error) {
	old := make(map[string]*otpd.Message, len(before.Messages))
	for _, m := range before.Messages {
		old[m.ID] = m
	}
	seen := make(map[string]bool, len(after.Messages))
	var out []Change
	for _, m := range after.Messages {
		if m == nil {
			return nil, errors.New("nil message")
		}
		if m.VerificationID != "" && m.VerificationID != after.ID {
			return nil, fmt.Errorf("message %s belongs to verification %s, not %s", m.ID, m.VerificationID, after.ID)
		}
		m.VerificationID = after.ID
		if seen[m.ID] {
			return nil, fmt.Errorf("message %s: listed twice", m.ID)
		}
		seen[m.ID] = true
		prev, ok := old[m.ID]
		if !ok {
			out = append(out, Change{Message: m, New: true, Refs: m.Refs})
			continue
		}
		c := Change{Message: m}
		for _, ref := range m.Refs {
			if !slices.Contains(prev.Refs, ref) {
				c.Refs = append(c.Refs, ref)
			}
		}
		if changed(prev, m) {
			c.Update = true
			c.DropLease = m.Status != prev.Status || m.NextAttemptAt.UnixMilli() != prev.NextAttemptAt.UnixMilli()
		}
		if c.Update || len(c.Refs) > 0 {
			out = append(out, c)
		}
	}
	for id := range old {
		if !seen[id] {
			return nil, fmt.Errorf("message %s: fn removed it; messages cannot be deleted", id)
		}
	}
	return out, nil
}
