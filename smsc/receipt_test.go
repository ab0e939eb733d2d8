package smsc_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/smsc"
)

func TestReceiptGoesToABindOfTheSameSystemID(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	tx := b.bound(t, asTransmitter, "otpd")
	stranger := b.bound(t, asReceiver, "other") // bound first: must still get nothing
	rx := b.bound(t, asReceiver, "otpd")

	st, id := tx.submit(sms(testTo, "code 123456"))
	require.Equal(t, smpp.StatusOK, st)
	r := rx.receipt()
	require.Equal(t, id, r.MessageID)
	require.Equal(t, smpp.StateDelivered, r.State)

	stranger.sync()
	stranger.noDeliver()
	tx.sync()
	tx.noDeliver()
}

func TestReceiptPrefersTheSubmittingTransceiver(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	other := b.bound(t, asTransceiver, "otpd")
	c := b.bound(t, asTransceiver, "otpd")
	for range 3 {
		st, id := c.submit(sms(testTo, "code"))
		require.Equal(t, smpp.StatusOK, st)
		require.Equal(t, id, c.receipt().MessageID)
	}
	other.sync()
	other.noDeliver()

	// Unless told to send them elsewhere, as another node's bind would get
	// them.
	require.NoError(t, b.srv.SetFaults(smsc.Faults{ReceiptsToOtherBind: true}))
	st, id := c.submit(sms(testTo, "code"))
	require.Equal(t, smpp.StatusOK, st)
	require.Equal(t, id, other.receipt().MessageID)
	c.sync()
	c.noDeliver()
}

func TestReceiptRetriesAnotherBind(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{ReceiptTimeout: 100 * time.Millisecond})
	tx := b.bound(t, asTransmitter, "otpd")
	silent := b.bound(t, asReceiver, "otpd") // bound first: tried first
	silent.autoAck.Store(false)
	answering := b.bound(t, asReceiver, "otpd")

	st, id := tx.submit(sms(testTo, "code"))
	require.Equal(t, smpp.StatusOK, st)
	_, d := silent.deliver()
	first, err := smpp.ParseReceipt(d)
	require.NoError(t, err)
	require.Equal(t, id, first.MessageID)
	// No answer within ReceiptTimeout: the other bind gets it.
	require.Equal(t, id, answering.receipt().MessageID)
	require.Eventually(t, func() bool { return b.srv.Stats().Receipts == 1 }, waitTimeout, time.Millisecond)
}

func TestReceiptRefusedOrBindGoneTriesNext(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	tx := b.bound(t, asTransmitter, "otpd")
	refusing := b.bound(t, asReceiver, "otpd")
	refusing.autoAck.Store(false)

	st, id := tx.submit(sms(testTo, "code"))
	require.Equal(t, smpp.StatusOK, st)
	h, _ := refusing.deliver()
	// A second bind comes; the first refuses the receipt.
	later := b.bound(t, asReceiver, "otpd")
	refusing.writePDU(&smpp.DeliverSMResp{}, h.Sequence, smpp.StatusTempAppErr)
	require.Equal(t, id, later.receipt().MessageID)
}

func TestReceiptWaitsForABind(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	tx := b.bound(t, asTransmitter, "otpd")
	st, id := tx.submit(sms(testTo, "code"))
	require.Equal(t, smpp.StatusOK, st)
	// Nobody can take the receipt yet; it waits for the receiver.
	rx := b.bound(t, asReceiver, "otpd")
	require.Equal(t, id, rx.receipt().MessageID)
}

func TestReceiptAfterDroppedConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{DLRDelay: 50 * time.Millisecond, Faults: smsc.Faults{DropAfter: 1}})
	c := b.bound(t, asTransceiver, "otpd")
	c.send(sms(testTo, "answer lost"))
	c.requireDropped()
	// The reconnecting ESME gets the receipt of the message whose answer
	// it never saw.
	again := b.bound(t, asTransceiver, "otpd")
	r := again.receipt()
	require.Equal(t, b.srv.Messages(testTo)[0].MessageIDs[0], r.MessageID)
}
