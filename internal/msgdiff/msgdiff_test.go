package msgdiff_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/internal/msgdiff"
)

func TestMessages(t *testing.T) {
	t.Parallel()
	now := time.Now()
	before := &otpd.Verification{ID: "ver_1", Messages: []*otpd.Message{
		{ID: "msg_1", VerificationID: "ver_1", Status: otpd.MessageQueued, NextAttemptAt: now},
		{ID: "msg_2", VerificationID: "ver_1", Status: otpd.MessageSent, Refs: []string{"sms:r:a"}},
	}}
	after := before.Clone()
	after.Messages[0].Status = otpd.MessageSent
	after.Messages[0].Refs = []string{"sms:r:x"}
	after.Messages[1].Refs = []string{"sms:r:a"} // already recorded
	after.Messages = append(after.Messages, &otpd.Message{ID: "msg_3", Refs: []string{"sms:r:y"}})
	changed := func(prev, m *otpd.Message) bool { return prev.Status != m.Status }

	got, err := msgdiff.Messages(before, after, changed)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.True(t, got[0].Update)
	require.True(t, got[0].DropLease, "leaving the queue drops the lease")
	require.Equal(t, []string{"sms:r:x"}, got[0].Refs)
	require.True(t, got[1].New)
	require.Equal(t, "ver_1", got[1].Message.VerificationID, "an appended message gets its verification")
	require.Equal(t, []string{"sms:r:y"}, got[1].Refs)

	for name, mutate := range map[string]func(v *otpd.Verification){
		"dropped":      func(v *otpd.Verification) { v.Messages = v.Messages[:1] },
		"listed twice": func(v *otpd.Verification) { v.Messages = append(v.Messages, v.Messages[0]) },
		"other's":      func(v *otpd.Verification) { v.Messages[0].VerificationID = "ver_2" },
		"nil message":  func(v *otpd.Verification) { v.Messages = append(v.Messages, nil) },
	} {
		a := before.Clone()
		mutate(a)
		_, err := msgdiff.Messages(before, a, changed)
		require.Error(t, err, name)
	}
}
