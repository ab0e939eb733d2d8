package smsc_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/smsc"
)

func TestRate(t *testing.T) {
	t.Parallel()
	picks := func(r smsc.Rate, n int) []int {
		// Observed through a server: which of n submits are throttled.
		b := setup(t, smsc.Config{Faults: smsc.Faults{Throttle: r}})
		c := b.bound(t, asTransmitter, "otpd")
		var got []int
		for k := 1; k <= n; k++ {
			st, _ := c.submit(sms(testTo, "x"))
			if st == smpp.StatusThrottled {
				got = append(got, k)
			} else {
				require.Equal(t, smpp.StatusOK, st)
			}
		}
		return got
	}
	require.Equal(t, []int{3, 6, 9}, picks(smsc.Every(3), 10))
	require.Equal(t, []int{4, 7, 10}, picks(smsc.Rate{N: 3, Of: 10}, 10))
	require.Equal(t, []int{1, 2, 3}, picks(smsc.Every(1), 3))
	require.Nil(t, picks(smsc.Rate{}, 3))

	tests := []struct {
		in      string
		want    smsc.Rate
		wantErr bool
	}{
		{in: "", want: smsc.Rate{}},
		{in: "0", want: smsc.Rate{}},
		{in: "1/3", want: smsc.Rate{N: 1, Of: 3}},
		{in: "3/10", want: smsc.Rate{N: 3, Of: 10}},
		{in: "25%", want: smsc.Rate{N: 1, Of: 4}},
		{in: "0.3", want: smsc.Rate{N: 3, Of: 10}},
		{in: "1", want: smsc.Rate{N: 1, Of: 1}},
		{in: "2/1", wantErr: true},
		{in: "1.5", wantErr: true},
		{in: "-1/3", wantErr: true},
		{in: "1/0", wantErr: true},
		{in: "often", wantErr: true},
	}
	for _, tt := range tests {
		got, err := smsc.ParseRate(tt.in)
		if tt.wantErr {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
	require.Equal(t, "1/3", smsc.Every(3).String())
}

func TestRefusalFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	c := b.bound(t, asTransceiver, "otpd")
	submitAll := func(tos ...string) []smpp.CommandStatus {
		var got []smpp.CommandStatus
		for _, to := range tos {
			st, id := c.submit(sms(to, "code 123456"))
			require.Equal(t, st == smpp.StatusOK, id != "")
			got = append(got, st)
		}
		return got
	}

	require.NoError(t, b.srv.SetFaults(smsc.Faults{Throttle: smsc.Every(2), QueueFull: smsc.Every(3)}))
	require.Equal(t, []smpp.CommandStatus{
		smpp.StatusOK, smpp.StatusThrottled, smpp.StatusMsgQueueFull, smpp.StatusThrottled,
		smpp.StatusOK, smpp.StatusThrottled, // 6 is picked by both: throttled
	}, submitAll(testTo, testTo, testTo, testTo, testTo, testTo))

	require.NoError(t, b.srv.SetFaults(smsc.Faults{FailPrefixes: map[string]smpp.CommandStatus{
		"+4477009":  smpp.StatusInvDstAddr,
		"447700901": smpp.StatusRejectAppErr, // longer: wins
	}}))
	require.Equal(t, []smpp.CommandStatus{smpp.StatusInvDstAddr, smpp.StatusRejectAppErr, smpp.StatusOK},
		submitAll("447700900123", "447700901123", "447800900123"))

	require.Len(t, b.srv.Messages(""), 3, "refused submits are not stored")
	require.Equal(t, 6, b.srv.Stats().Rejected)
	require.Equal(t, 3, b.srv.Stats().Submits)

	before := b.srv.Faults()
	require.Error(t, b.srv.SetFaults(smsc.Faults{FailPrefixes: map[string]smpp.CommandStatus{"44x": smpp.StatusInvDstAddr}}))
	require.Error(t, b.srv.SetFaults(smsc.Faults{FailPrefixes: map[string]smpp.CommandStatus{"44": smpp.StatusOK}}))
	require.Error(t, b.srv.SetFaults(smsc.Faults{Throttle: smsc.Rate{N: 1}}))
	require.Equal(t, before, b.srv.Faults(), "a refused SetFaults changes nothing")
}

func TestDropAfter(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{Faults: smsc.Faults{DropAfter: 2}})
	c := b.bound(t, asTransceiver, "otpd")
	st, _ := c.submit(sms(testTo, "first"))
	require.Equal(t, smpp.StatusOK, st)

	c.send(sms(testTo, "second"))
	c.requireDropped()
	select {
	case r := <-c.resps:
		t.Fatalf("the dropped submit was answered: %s", r.h)
	default:
	}
	// The SMSC took the message; only the answer was lost.
	msgs := b.srv.Messages(testTo)
	require.Len(t, msgs, 2)
	require.Equal(t, "second", msgs[1].Text)

	// The count is per connection: a new one gets one submit through again.
	c2 := b.bound(t, asTransceiver, "otpd")
	st, _ = c2.submit(sms(testTo, "third"))
	require.Equal(t, smpp.StatusOK, st)
	c2.send(sms(testTo, "fourth"))
	c2.requireDropped()
}

func TestWithholdResponses(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{Faults: smsc.Faults{WithholdResponses: true}})
	c := b.bound(t, asTransceiver, "otpd")
	c.send(sms(testTo, "never answered"))
	// enquire_link is answered in order after the submit: the submit's
	// answer would have come first.
	c.sync()
	require.Len(t, b.srv.Messages(testTo), 1)

	require.NoError(t, b.srv.SetFaults(smsc.Faults{}))
	st, _ := c.submit(sms(testTo, "answered again"))
	require.Equal(t, smpp.StatusOK, st)
}

func TestNoReceipts(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{Faults: smsc.Faults{NoReceipts: true}})
	c := b.bound(t, asTransceiver, "otpd")
	st, _ := c.submit(sms(testTo, "no receipt"))
	require.Equal(t, smpp.StatusOK, st)
	// Receipts are scheduled before the submit is answered.
	require.Zero(t, b.srv.Stats().ReceiptsScheduled)

	require.NoError(t, b.srv.SetFaults(smsc.Faults{}))
	st, id := c.submit(sms(testTo, "receipt"))
	require.Equal(t, smpp.StatusOK, st)
	require.Equal(t, id, c.receipt().MessageID)
	require.Equal(t, 1, b.srv.Stats().ReceiptsScheduled)
}
