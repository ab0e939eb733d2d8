package smpp_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
)

func TestTLVAccessors(t *testing.T) {
	t.Parallel()
	var l smpp.TLVs
	_, ok := l.Get(smpp.TagMessagePayload)
	require.False(t, ok)

	l.Set(0x1401, []byte("vendor")) // unknown tags are kept as they are
	l.SetCString(smpp.TagReceiptedMessageID, "abc123")
	l.SetUint8(smpp.TagMessageState, uint8(smpp.StateDelivered))
	l.SetNetworkErrorCode(smpp.NetworkErrorCode{Type: smpp.NetworkTypeGSM, Code: 0x0102})
	l.SetSAR(smpp.SAR{Ref: 0xBEEF, Total: 3, Seq: 2})
	l.SetUint16(smpp.TagUserMessageReference, 513)
	l.SetUint16(smpp.TagSourcePort, 2948)
	l.SetUint16(smpp.TagDestinationPort, 9200)
	l.SetUint8(smpp.TagSCInterfaceVersion, 0x34)
	l.Set(smpp.TagMessagePayload, []byte("payload"))

	require.Equal(t, smpp.TLV{Tag: 0x1401, Value: []byte("vendor")}, l[0])
	require.Equal(t, []byte("abc123\x00"), l[1].Value)
	id, ok := l.ReceiptedMessageID()
	require.True(t, ok)
	require.Equal(t, "abc123", id)
	st, ok := l.MessageState()
	require.True(t, ok)
	require.Equal(t, smpp.StateDelivered, st)
	ne, ok := l.NetworkErrorCode()
	require.True(t, ok)
	require.Equal(t, smpp.NetworkErrorCode{Type: 3, Code: 0x0102}, ne)
	require.Equal(t, []byte{3, 1, 2}, func() []byte { v, _ := l.Get(smpp.TagNetworkErrorCode); return v }())
	sar, ok := l.SAR()
	require.True(t, ok)
	require.Equal(t, smpp.SAR{Ref: 0xBEEF, Total: 3, Seq: 2}, sar)
	ref, ok := l.UserMessageReference()
	require.True(t, ok)
	require.Equal(t, uint16(513), ref)
	sp, _ := l.SourcePort()
	dp, _ := l.DestinationPort()
	require.Equal(t, [2]uint16{2948, 9200}, [2]uint16{sp, dp})
	v, ok := l.SCInterfaceVersion()
	require.True(t, ok)
	require.Equal(t, smpp.InterfaceVersion34, v)
	p, ok := l.MessagePayload()
	require.True(t, ok)
	require.Equal(t, []byte("payload"), p)

	// Set replaces in place; Delete removes.
	n := len(l)
	l.SetUint8(smpp.TagMessageState, uint8(smpp.StateExpired))
	require.Len(t, l, n)
	st, _ = l.MessageState()
	require.Equal(t, smpp.StateExpired, st)
	l.Delete(smpp.TagMessageState)
	_, ok = l.MessageState()
	require.False(t, ok)
	require.Len(t, l, n-1)

	// What survives encoding, in order.
	b, err := smpp.Encode(&smpp.DeliverSM{TLVs: l}, 1, 0)
	require.NoError(t, err)
	_, got, err := smpp.Decode(b)
	require.NoError(t, err)
	require.Equal(t, l, got.(*smpp.DeliverSM).TLVs)
}

func TestTLVLenientReads(t *testing.T) {
	t.Parallel()
	// Some SMSCs send receipted_message_id without its NUL.
	l := smpp.TLVs{{Tag: smpp.TagReceiptedMessageID, Value: []byte("12345")}}
	id, ok := l.ReceiptedMessageID()
	require.True(t, ok)
	require.Equal(t, "12345", id)

	// Wrong sizes read as absent rather than as garbage.
	l = smpp.TLVs{
		{Tag: smpp.TagMessageState, Value: []byte{1, 2}},
		{Tag: smpp.TagUserMessageReference, Value: []byte{1}},
		{Tag: smpp.TagNetworkErrorCode, Value: []byte{3, 0}},
		{Tag: smpp.TagSARMsgRefNum, Value: []byte{0, 1}},
	}
	_, ok = l.MessageState()
	require.False(t, ok)
	_, ok = l.UserMessageReference()
	require.False(t, ok)
	_, ok = l.NetworkErrorCode()
	require.False(t, ok)
	_, ok = l.SAR() // total and seq missing
	require.False(t, ok)

	// The first of repeated tags wins.
	l = smpp.TLVs{{Tag: 0x1400, Value: []byte("a")}, {Tag: 0x1400, Value: []byte("b")}}
	v, _ := l.Get(0x1400)
	require.Equal(t, []byte("a"), v)
	l.Delete(0x1400)
	require.Nil(t, l)
}

func TestESMClass(t *testing.T) {
	t.Parallel()
	require.True(t, smpp.ESMDeliveryReceipt.IsReceipt())
	require.True(t, (smpp.ESMDeliveryReceipt | smpp.ESMStoreAndForwardMode).IsReceipt())
	require.True(t, smpp.ESMIntermediateReceipt.IsReceipt())
	require.False(t, smpp.ESMClass(0).IsReceipt())
	require.False(t, smpp.ESMUDHI.IsReceipt())
	require.False(t, smpp.ESMDeliveryAck.IsReceipt())
	require.True(t, (smpp.ESMUDHI | smpp.ESMReplyPath).UDHI())
	require.Equal(t, smpp.ESMManualAck, (smpp.ESMManualAck | smpp.ESMUDHI | smpp.ESMDatagramMode).MessageType())
}
