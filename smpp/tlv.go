package smpp

import (
	"bytes"
	"fmt"
	"math"
	"slices"
)

// Tag identifies an optional parameter (SMPP 3.4, section 5.3.2).
type Tag uint16

// Optional parameter tags of SMPP 3.4, table 5-3. Tags 0x1400–0x3FFF are
// reserved for SMSC vendors.
const (
	TagDestAddrSubunit          Tag = 0x0005
	TagDestNetworkType          Tag = 0x0006
	TagDestBearerType           Tag = 0x0007
	TagDestTelematicsID         Tag = 0x0008
	TagSourceAddrSubunit        Tag = 0x000D
	TagSourceNetworkType        Tag = 0x000E
	TagSourceBearerType         Tag = 0x000F
	TagSourceTelematicsID       Tag = 0x0010
	TagQOSTimeToLive            Tag = 0x0017
	TagPayloadType              Tag = 0x0019
	TagAdditionalStatusInfoText Tag = 0x001D
	TagReceiptedMessageID       Tag = 0x001E
	TagMSMsgWaitFacilities      Tag = 0x0030
	TagPrivacyIndicator         Tag = 0x0201
	TagSourceSubaddress         Tag = 0x0202
	TagDestSubaddress           Tag = 0x0203
	TagUserMessageReference     Tag = 0x0204
	TagUserResponseCode         Tag = 0x0205
	TagSourcePort               Tag = 0x020A
	TagDestinationPort          Tag = 0x020B
	TagSARMsgRefNum             Tag = 0x020C
	TagLanguageIndicator        Tag = 0x020D
	TagSARTotalSegments         Tag = 0x020E
	TagSARSegmentSeqnum         Tag = 0x020F
	TagSCInterfaceVersion       Tag = 0x0210
	TagCallbackNumPresInd       Tag = 0x0302
	TagCallbackNumAtag          Tag = 0x0303
	TagNumberOfMessages         Tag = 0x0304
	TagCallbackNum              Tag = 0x0381
	TagDPFResult                Tag = 0x0420
	TagSetDPF                   Tag = 0x0421
	TagMSAvailabilityStatus     Tag = 0x0422
	TagNetworkErrorCode         Tag = 0x0423
	TagMessagePayload           Tag = 0x0424
	TagDeliveryFailureReason    Tag = 0x0425
	TagMoreMessagesToSend       Tag = 0x0426
	TagMessageState             Tag = 0x0427
	TagUSSDServiceOp            Tag = 0x0501
	TagDisplayTime              Tag = 0x1201
	TagSMSSignal                Tag = 0x1203
	TagMSValidity               Tag = 0x1204
	TagAlertOnMessageDelivery   Tag = 0x130C
	TagITSReplyType             Tag = 0x1380
	TagITSSessionInfo           Tag = 0x1383
)

// tlvSizes holds the lengths of the TLVs this package interprets, so a
// wrong-sized one is refused (ESME_RINVPARLEN) rather than misread. Other
// tags are not checked: otpd ignores them, and refusing a receipt over a
// field nobody reads would only make the SMSC send it again.
var tlvSizes = map[Tag]struct{ min, max int }{
	TagReceiptedMessageID:   {0, maxMessageID},
	TagUserMessageReference: {2, 2},
	TagSourcePort:           {2, 2},
	TagDestinationPort:      {2, 2},
	TagSARMsgRefNum:         {2, 2},
	TagSARTotalSegments:     {1, 1},
	TagSARSegmentSeqnum:     {1, 1},
	TagSCInterfaceVersion:   {1, 1},
	TagNetworkErrorCode:     {3, 3},
	TagMessageState:         {1, 1},
}

// TLV is one optional parameter: a tag and its raw value.
type TLV struct {
	Tag   Tag
	Value []byte
}

// TLVs is a PDU's optional parameters in wire order. Tags this package does
// not know are kept as they came, so a decoded PDU re-encodes unchanged.
// Accessors return the first occurrence of a tag.
type TLVs []TLV

func checkTLVSize(tag Tag, n int) error {
	if s, ok := tlvSizes[tag]; ok && (n < s.min || n > s.max) {
		if s.min == s.max {
			return fmt.Errorf("%w: tag 0x%04X has length %d, want %d", ErrInvalidTLV, uint16(tag), n, s.min)
		}
		return fmt.Errorf("%w: tag 0x%04X has length %d, want %d–%d", ErrInvalidTLV, uint16(tag), n, s.min, s.max)
	}
	return nil
}

// parseTLVs parses a TLV stream that runs to the end of b.
func parseTLVs(b []byte) (TLVs, *DecodeError) {
	var l TLVs
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return nil, decodeErr(StatusInvOptParStream, ErrInvalidTLV, "%d stray octets where a TLV header belongs", len(b)-off)
		}
		tag := Tag(be.Uint16(b[off:]))
		n := int(be.Uint16(b[off+2:]))
		off += 4
		if n > len(b)-off {
			return nil, decodeErr(StatusInvOptParStream, ErrInvalidTLV, "tag 0x%04X declares %d octets, %d left", uint16(tag), n, len(b)-off)
		}
		if err := checkTLVSize(tag, n); err != nil {
			return nil, &DecodeError{Status: StatusInvParLen, Err: err}
		}
		l = append(l, TLV{Tag: tag, Value: clone(b[off : off+n])})
		off += n
	}
	return l, nil
}

func (l TLVs) appendTo(b []byte) ([]byte, error) {
	for _, t := range l {
		if len(t.Value) > math.MaxUint16 {
			return b, fmt.Errorf("%w: tag 0x%04X value is %d octets, at most %d allowed", ErrFieldTooLong, uint16(t.Tag), len(t.Value), math.MaxUint16)
		}
		if err := checkTLVSize(t.Tag, len(t.Value)); err != nil {
			return b, err
		}
		b = be.AppendUint16(b, uint16(t.Tag))
		b = be.AppendUint16(b, uint16(len(t.Value)))
		b = append(b, t.Value...)
	}
	return b, nil
}

// Get returns the value of the first TLV with tag.
func (l TLVs) Get(tag Tag) ([]byte, bool) {
	for _, t := range l {
		if t.Tag == tag {
			return t.Value, true
		}
	}
	return nil, false
}

// Set replaces the value of the first TLV with tag, or appends one.
func (l *TLVs) Set(tag Tag, value []byte) {
	for i := range *l {
		if (*l)[i].Tag == tag {
			(*l)[i].Value = value
			return
		}
	}
	*l = append(*l, TLV{Tag: tag, Value: value})
}

// Delete removes every TLV with tag.
func (l *TLVs) Delete(tag Tag) {
	*l = slices.DeleteFunc(*l, func(t TLV) bool { return t.Tag == tag })
	if len(*l) == 0 {
		*l = nil
	}
}

// Uint8 returns a 1-octet integer TLV.
func (l TLVs) Uint8(tag Tag) (uint8, bool) {
	v, ok := l.Get(tag)
	if !ok || len(v) != 1 {
		return 0, false
	}
	return v[0], true
}

// Uint16 returns a 2-octet big-endian integer TLV.
func (l TLVs) Uint16(tag Tag) (uint16, bool) {
	v, ok := l.Get(tag)
	if !ok || len(v) != 2 {
		return 0, false
	}
	return be.Uint16(v), true
}

// CString returns a C-Octet string TLV without its NUL. A value an SMSC sent
// without the NUL is returned whole.
func (l TLVs) CString(tag Tag) (string, bool) {
	v, ok := l.Get(tag)
	if !ok {
		return "", false
	}
	if i := bytes.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	return string(v), true
}

// SetUint8 sets a 1-octet integer TLV.
func (l *TLVs) SetUint8(tag Tag, v uint8) { l.Set(tag, []byte{v}) }

// SetUint16 sets a 2-octet big-endian integer TLV.
func (l *TLVs) SetUint16(tag Tag, v uint16) { l.Set(tag, be.AppendUint16(nil, v)) }

// SetCString sets a C-Octet string TLV, adding the NUL.
func (l *TLVs) SetCString(tag Tag, s string) { l.Set(tag, append([]byte(s), 0)) }

// MessagePayload returns the message_payload TLV, which replaces
// short_message for content longer than 254 octets.
func (l TLVs) MessagePayload() ([]byte, bool) { return l.Get(TagMessagePayload) }

// ReceiptedMessageID returns the receipted_message_id TLV: the SMSC's id of
// the message a receipt is about.
func (l TLVs) ReceiptedMessageID() (string, bool) { return l.CString(TagReceiptedMessageID) }

// MessageState returns the message_state TLV of a receipt.
func (l TLVs) MessageState() (MessageState, bool) {
	v, ok := l.Uint8(TagMessageState)
	return MessageState(v), ok
}

// SCInterfaceVersion returns the sc_interface_version TLV an SMSC may put
// in its bind response; an SMSC that omits it supports no TLVs (SMPP 3.3).
func (l TLVs) SCInterfaceVersion() (uint8, bool) { return l.Uint8(TagSCInterfaceVersion) }

// UserMessageReference returns the user_message_reference TLV, the ESME's
// own reference to a message.
func (l TLVs) UserMessageReference() (uint16, bool) { return l.Uint16(TagUserMessageReference) }

// SourcePort returns the source_port TLV.
func (l TLVs) SourcePort() (uint16, bool) { return l.Uint16(TagSourcePort) }

// DestinationPort returns the destination_port TLV.
func (l TLVs) DestinationPort() (uint16, bool) { return l.Uint16(TagDestinationPort) }

// NetworkErrorCode is the network_error_code TLV: the network that failed a
// delivery and its error code (SMPP 3.4, section 5.3.2.31).
type NetworkErrorCode struct {
	Type uint8 // one of the NetworkType constants
	Code uint16
}

// Network types of network_error_code.
const (
	NetworkTypeANSI136AccessDenied uint8 = 1
	NetworkTypeIS95AccessDenied    uint8 = 2
	NetworkTypeGSM                 uint8 = 3
	NetworkTypeANSI136Cause        uint8 = 4
	NetworkTypeIS95Cause           uint8 = 5
	NetworkTypeANSI41              uint8 = 6
	NetworkTypeSMPP                uint8 = 7
	NetworkTypeMessageCenter       uint8 = 8
)

// NetworkErrorCode returns the network_error_code TLV.
func (l TLVs) NetworkErrorCode() (NetworkErrorCode, bool) {
	v, ok := l.Get(TagNetworkErrorCode)
	if !ok || len(v) != 3 {
		return NetworkErrorCode{}, false
	}
	return NetworkErrorCode{Type: v[0], Code: be.Uint16(v[1:])}, true
}

// SetNetworkErrorCode sets the network_error_code TLV.
func (l *TLVs) SetNetworkErrorCode(e NetworkErrorCode) {
	l.Set(TagNetworkErrorCode, be.AppendUint16([]byte{e.Type}, e.Code))
}

// SAR is the segmentation-and-reassembly TLV set that marks one part of a
// concatenated message, an alternative to a UDH in short_message.
type SAR struct {
	Ref   uint16 // sar_msg_ref_num: the same for every part
	Total uint8  // sar_total_segments
	Seq   uint8  // sar_segment_seqnum, from 1
}

// SAR returns the three sar_* TLVs; ok only if all are present.
func (l TLVs) SAR() (SAR, bool) {
	ref, ok1 := l.Uint16(TagSARMsgRefNum)
	total, ok2 := l.Uint8(TagSARTotalSegments)
	seq, ok3 := l.Uint8(TagSARSegmentSeqnum)
	if !ok1 || !ok2 || !ok3 {
		return SAR{}, false
	}
	return SAR{Ref: ref, Total: total, Seq: seq}, true
}

// SetSAR sets the three sar_* TLVs.
func (l *TLVs) SetSAR(s SAR) {
	l.SetUint16(TagSARMsgRefNum, s.Ref)
	l.SetUint8(TagSARTotalSegments, s.Total)
	l.SetUint8(TagSARSegmentSeqnum, s.Seq)
}
