package smpp

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// HeaderLen is the size of a PDU header, and so the smallest valid
// command_length.
const HeaderLen = 16

// DefaultMaxLength is the command_length limit ReadPDU applies when given
// none. The largest legitimate PDU otpd sees is a submit_sm or deliver_sm
// with a message_payload of a few kilobytes; 64 KiB leaves room for that and
// stops a peer from making us allocate gigabytes with one header.
const DefaultMaxLength = 64 << 10

// Header is the 16-octet header that starts every PDU.
type Header struct {
	Length    uint32 // command_length: the whole PDU, header included
	CommandID CommandID
	Status    CommandStatus // 0 in requests
	Sequence  uint32        // echoed by the response; 0x00000001–0x7FFFFFFF
}

// String formats h for logs: "submit_sm seq=5 status=ESME_ROK len=74".
func (h Header) String() string {
	return fmt.Sprintf("%s seq=%d status=%s len=%d", h.CommandID, h.Sequence, h.Status, h.Length)
}

func parseHeader(b []byte) Header {
	return Header{
		Length:    be.Uint32(b[0:]),
		CommandID: CommandID(be.Uint32(b[4:])),
		Status:    CommandStatus(be.Uint32(b[8:])),
		Sequence:  be.Uint32(b[12:]),
	}
}

// PDU is the body of one SMPP operation; the header travels beside it. The
// concrete types are the pointers below (*SubmitSM, *EnquireLink, ...) and
// *Unknown for a command this package has no type for.
type PDU interface {
	// CommandID returns the command_id the PDU is sent with.
	CommandID() CommandID
	encodeBody(w *bodyWriter)
	decodeBody(r *bodyReader)
}

var (
	_ PDU = (*BindTransmitter)(nil)
	_ PDU = (*BindTransmitterResp)(nil)
	_ PDU = (*BindReceiver)(nil)
	_ PDU = (*BindReceiverResp)(nil)
	_ PDU = (*BindTransceiver)(nil)
	_ PDU = (*BindTransceiverResp)(nil)
	_ PDU = (*SubmitSM)(nil)
	_ PDU = (*SubmitSMResp)(nil)
	_ PDU = (*DeliverSM)(nil)
	_ PDU = (*DeliverSMResp)(nil)
	_ PDU = (*DataSM)(nil)
	_ PDU = (*DataSMResp)(nil)
	_ PDU = (*EnquireLink)(nil)
	_ PDU = (*EnquireLinkResp)(nil)
	_ PDU = (*Unbind)(nil)
	_ PDU = (*UnbindResp)(nil)
	_ PDU = (*GenericNack)(nil)
	_ PDU = (*Unknown)(nil)
)

// newPDU returns an empty PDU for id, or nil if this package has no type
// for it.
func newPDU(id CommandID) PDU {
	switch id {
	case CmdBindTransmitter:
		return new(BindTransmitter)
	case CmdBindTransmitterResp:
		return new(BindTransmitterResp)
	case CmdBindReceiver:
		return new(BindReceiver)
	case CmdBindReceiverResp:
		return new(BindReceiverResp)
	case CmdBindTransceiver:
		return new(BindTransceiver)
	case CmdBindTransceiverResp:
		return new(BindTransceiverResp)
	case CmdSubmitSM:
		return new(SubmitSM)
	case CmdSubmitSMResp:
		return new(SubmitSMResp)
	case CmdDeliverSM:
		return new(DeliverSM)
	case CmdDeliverSMResp:
		return new(DeliverSMResp)
	case CmdDataSM:
		return new(DataSM)
	case CmdDataSMResp:
		return new(DataSMResp)
	case CmdEnquireLink:
		return new(EnquireLink)
	case CmdEnquireLinkResp:
		return new(EnquireLinkResp)
	case CmdUnbind:
		return new(Unbind)
	case CmdUnbindResp:
		return new(UnbindResp)
	case CmdGenericNack:
		return new(GenericNack)
	}
	return nil
}

// Encode returns the wire form of p with the given sequence number and
// command_status. It fails if a field is too long for SMPP 3.4 or a C-Octet
// string contains NUL; p must not be a nil pointer.
//
// Encode writes exactly what p holds: a response with a non-zero status
// still carries its body (an empty message_id is one NUL), which peers accept
// alongside the body-less form SMPP 3.4 describes, and which Decode reads
// back unchanged.
func Encode(p PDU, seq uint32, status CommandStatus) ([]byte, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil PDU", ErrInvalidField)
	}
	w := &bodyWriter{b: make([]byte, HeaderLen, 64)}
	p.encodeBody(w)
	if w.err != nil {
		return nil, fmt.Errorf("smpp: encode %s: %w", p.CommandID(), w.err)
	}
	if uint64(len(w.b)) > math.MaxUint32 {
		return nil, fmt.Errorf("smpp: encode %s: %w: %d octets", p.CommandID(), ErrFieldTooLong, len(w.b))
	}
	be.PutUint32(w.b[0:], uint32(len(w.b)))
	be.PutUint32(w.b[4:], uint32(p.CommandID()))
	be.PutUint32(w.b[8:], uint32(status))
	be.PutUint32(w.b[12:], seq)
	return w.b, nil
}

// Decode parses b, which must hold exactly one whole PDU. Every error is a
// [*DecodeError]. For a command_id without a type here it returns an
// [*Unknown] together with a DecodeError of status ESME_RINVCMDID. Decoded
// PDUs never alias b.
func Decode(b []byte) (Header, PDU, error) {
	if len(b) < HeaderLen {
		return Header{}, nil, &DecodeError{Status: StatusInvCmdLen,
			Err: fmt.Errorf("%w: %d octets, a header needs %d", ErrCommandLength, len(b), HeaderLen)}
	}
	h := parseHeader(b)
	if h.Length < HeaderLen || uint64(h.Length) != uint64(len(b)) {
		return h, nil, &DecodeError{Header: h, Status: StatusInvCmdLen,
			Err: fmt.Errorf("%w: command_length %d, %d octets given", ErrCommandLength, h.Length, len(b))}
	}
	p := newPDU(h.CommandID)
	var unknown *DecodeError
	if p == nil {
		p = &Unknown{ID: h.CommandID}
		unknown = &DecodeError{Header: h, Status: StatusInvCmdID, Err: fmt.Errorf("%w: %s", ErrUnknownCommand, h.CommandID)}
	}
	r := &bodyReader{b: b[HeaderLen:]}
	p.decodeBody(r)
	if r.err != nil {
		r.err.Header = h
		return h, nil, r.err
	}
	if unknown != nil {
		return h, p, unknown
	}
	return h, p, nil
}

// ReadPDU reads exactly one PDU from r and decodes it. A command_length below
// 16 or above maxLen (DefaultMaxLength if maxLen <= 0) is refused before the
// body is read, with a DecodeError wrapping [ErrCommandLength]: the stream
// cannot be framed after that. Any other DecodeError leaves r positioned at
// the next PDU.
//
// ReadPDU returns io.EOF if r ends cleanly before the PDU starts and
// io.ErrUnexpectedEOF if it ends inside one.
func ReadPDU(r io.Reader, maxLen int) (Header, PDU, error) {
	if maxLen <= 0 {
		maxLen = DefaultMaxLength
	}
	var hb [HeaderLen]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return Header{}, nil, err
	}
	h := parseHeader(hb[:])
	if h.Length < HeaderLen || uint64(h.Length) > uint64(maxLen) {
		return h, nil, &DecodeError{Header: h, Status: StatusInvCmdLen,
			Err: fmt.Errorf("%w: command_length %d outside %d–%d", ErrCommandLength, h.Length, HeaderLen, maxLen)}
	}
	buf := make([]byte, h.Length)
	copy(buf, hb[:])
	if _, err := io.ReadFull(r, buf[HeaderLen:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, err
	}
	return Decode(buf)
}

// BindTransmitter binds an ESME as a transmitter: it may submit messages but
// not receive them (SMPP 3.4, section 4.1.1).
type BindTransmitter struct {
	SystemID         string  // at most 15 characters
	Password         string  // at most 8 characters
	SystemType       string  // at most 12 characters; often empty
	InterfaceVersion uint8   // InterfaceVersion34
	AddressRange     Address // at most 40 characters; usually empty
	TLVs             TLVs    // none defined by SMPP 3.4; kept if present
}

// BindReceiver binds an ESME as a receiver: the SMSC delivers messages and
// receipts to it, but it may not submit. Fields as in [BindTransmitter].
type BindReceiver struct {
	SystemID         string
	Password         string
	SystemType       string
	InterfaceVersion uint8
	AddressRange     Address
	TLVs             TLVs
}

// BindTransceiver binds an ESME to both submit and receive on one
// connection, which is what otpd does. Fields as in [BindTransmitter].
type BindTransceiver struct {
	SystemID         string
	Password         string
	SystemType       string
	InterfaceVersion uint8
	AddressRange     Address
	TLVs             TLVs
}

// CommandID returns CmdBindTransmitter.
func (*BindTransmitter) CommandID() CommandID { return CmdBindTransmitter }

// CommandID returns CmdBindReceiver.
func (*BindReceiver) CommandID() CommandID { return CmdBindReceiver }

// CommandID returns CmdBindTransceiver.
func (*BindTransceiver) CommandID() CommandID { return CmdBindTransceiver }

func (p *BindTransmitter) encodeBody(w *bodyWriter) {
	w.cstring("system_id", p.SystemID, maxSystemID)
	w.cstring("password", p.Password, maxPassword)
	w.cstring("system_type", p.SystemType, maxSystemType)
	w.u8(p.InterfaceVersion)
	w.address("address_range", p.AddressRange, maxAddressRange)
	w.tlvs(p.TLVs)
}

func (p *BindTransmitter) decodeBody(r *bodyReader) {
	p.SystemID = r.cstring("system_id", maxSystemID, StatusInvSysID)
	p.Password = r.cstring("password", maxPassword, StatusInvPassword)
	p.SystemType = r.cstring("system_type", maxSystemType, StatusInvSysType)
	p.InterfaceVersion = r.u8("interface_version")
	// address_range has no status of its own; a bind it spoils has failed.
	p.AddressRange = r.address("address_range", maxAddressRange, StatusBindFail)
	p.TLVs = r.tlvs()
}

func (p *BindReceiver) encodeBody(w *bodyWriter)    { (*BindTransmitter)(p).encodeBody(w) }
func (p *BindReceiver) decodeBody(r *bodyReader)    { (*BindTransmitter)(p).decodeBody(r) }
func (p *BindTransceiver) encodeBody(w *bodyWriter) { (*BindTransmitter)(p).encodeBody(w) }
func (p *BindTransceiver) decodeBody(r *bodyReader) { (*BindTransmitter)(p).decodeBody(r) }

// BindTransmitterResp answers a bind_transmitter. A successful one names the
// SMSC and may carry sc_interface_version (see [TLVs.SCInterfaceVersion]);
// a failed one may have no body at all, which decodes to the zero value.
type BindTransmitterResp struct {
	SystemID string // the SMSC's id, at most 15 characters
	TLVs     TLVs
}

// BindReceiverResp answers a bind_receiver; fields as in [BindTransmitterResp].
type BindReceiverResp struct {
	SystemID string
	TLVs     TLVs
}

// BindTransceiverResp answers a bind_transceiver; fields as in
// [BindTransmitterResp].
type BindTransceiverResp struct {
	SystemID string
	TLVs     TLVs
}

// CommandID returns CmdBindTransmitterResp.
func (*BindTransmitterResp) CommandID() CommandID { return CmdBindTransmitterResp }

// CommandID returns CmdBindReceiverResp.
func (*BindReceiverResp) CommandID() CommandID { return CmdBindReceiverResp }

// CommandID returns CmdBindTransceiverResp.
func (*BindTransceiverResp) CommandID() CommandID { return CmdBindTransceiverResp }

func (p *BindTransmitterResp) encodeBody(w *bodyWriter) {
	w.cstring("system_id", p.SystemID, maxSystemID)
	w.tlvs(p.TLVs)
}

func (p *BindTransmitterResp) decodeBody(r *bodyReader) {
	if r.len() == 0 {
		return
	}
	p.SystemID = r.cstring("system_id", maxSystemID, StatusInvSysID)
	p.TLVs = r.tlvs()
}

func (p *BindReceiverResp) encodeBody(w *bodyWriter)    { (*BindTransmitterResp)(p).encodeBody(w) }
func (p *BindReceiverResp) decodeBody(r *bodyReader)    { (*BindTransmitterResp)(p).decodeBody(r) }
func (p *BindTransceiverResp) encodeBody(w *bodyWriter) { (*BindTransmitterResp)(p).encodeBody(w) }
func (p *BindTransceiverResp) decodeBody(r *bodyReader) { (*BindTransmitterResp)(p).decodeBody(r) }

// SubmitSM submits a short message for delivery (SMPP 3.4, section 4.4.1).
// Content longer than 254 octets goes in the message_payload TLV with an
// empty ShortMessage, or is split into parts marked by a UDH (ESMUDHI) or
// by SAR TLVs.
type SubmitSM struct {
	ServiceType          string // at most 5 characters; empty for the SMSC default
	Source               Address
	Destination          Address
	ESMClass             ESMClass
	ProtocolID           uint8
	PriorityFlag         uint8
	ScheduleDeliveryTime string // empty, or 16 characters "YYMMDDhhmmsstnnp"
	ValidityPeriod       string // empty, or 16 characters "YYMMDDhhmmsstnnp"
	RegisteredDelivery   RegisteredDelivery
	ReplaceIfPresent     uint8
	DataCoding           DataCoding
	SMDefaultMsgID       uint8
	ShortMessage         []byte // at most 254 octets
	TLVs                 TLVs
}

// DeliverSM carries a mobile-originated message or, when ESMClass says so,
// a delivery receipt from the SMSC to the ESME (SMPP 3.4, section 4.6.1).
// Its layout is submit_sm's; ScheduleDeliveryTime, ValidityPeriod,
// ReplaceIfPresent and SMDefaultMsgID are unused and normally zero. See
// [ParseReceipt].
type DeliverSM struct {
	ServiceType          string
	Source               Address
	Destination          Address
	ESMClass             ESMClass
	ProtocolID           uint8
	PriorityFlag         uint8
	ScheduleDeliveryTime string
	ValidityPeriod       string
	RegisteredDelivery   RegisteredDelivery
	ReplaceIfPresent     uint8
	DataCoding           DataCoding
	SMDefaultMsgID       uint8
	ShortMessage         []byte
	TLVs                 TLVs
}

// CommandID returns CmdSubmitSM.
func (*SubmitSM) CommandID() CommandID { return CmdSubmitSM }

// CommandID returns CmdDeliverSM.
func (*DeliverSM) CommandID() CommandID { return CmdDeliverSM }

func (p *SubmitSM) encodeBody(w *bodyWriter) {
	w.cstring("service_type", p.ServiceType, maxServiceType)
	w.address("source_addr", p.Source, maxAddr)
	w.address("destination_addr", p.Destination, maxAddr)
	w.u8(uint8(p.ESMClass))
	w.u8(p.ProtocolID)
	w.u8(p.PriorityFlag)
	w.cstring("schedule_delivery_time", p.ScheduleDeliveryTime, maxTime)
	w.cstring("validity_period", p.ValidityPeriod, maxTime)
	w.u8(uint8(p.RegisteredDelivery))
	w.u8(p.ReplaceIfPresent)
	w.u8(uint8(p.DataCoding))
	w.u8(p.SMDefaultMsgID)
	w.shortMessage(p.ShortMessage)
	w.tlvs(p.TLVs)
}

func (p *SubmitSM) decodeBody(r *bodyReader) {
	p.ServiceType = r.cstring("service_type", maxServiceType, StatusInvServiceType)
	p.Source = r.address("source_addr", maxAddr, StatusInvSrcAddr)
	p.Destination = r.address("destination_addr", maxAddr, StatusInvDstAddr)
	p.ESMClass = ESMClass(r.u8("esm_class"))
	p.ProtocolID = r.u8("protocol_id")
	p.PriorityFlag = r.u8("priority_flag")
	p.ScheduleDeliveryTime = r.cstring("schedule_delivery_time", maxTime, StatusInvSched)
	p.ValidityPeriod = r.cstring("validity_period", maxTime, StatusInvExpiry)
	p.RegisteredDelivery = RegisteredDelivery(r.u8("registered_delivery"))
	p.ReplaceIfPresent = r.u8("replace_if_present_flag")
	p.DataCoding = DataCoding(r.u8("data_coding"))
	p.SMDefaultMsgID = r.u8("sm_default_msg_id")
	p.ShortMessage = r.shortMessage()
	p.TLVs = r.tlvs()
}

func (p *DeliverSM) encodeBody(w *bodyWriter) { (*SubmitSM)(p).encodeBody(w) }
func (p *DeliverSM) decodeBody(r *bodyReader) { (*SubmitSM)(p).decodeBody(r) }

// SubmitSMResp answers a submit_sm with the id the SMSC gave the message,
// which its delivery receipt will quote. A failed one may have no body.
type SubmitSMResp struct {
	MessageID string // at most 64 characters
	TLVs      TLVs   // none in SMPP 3.4; kept if present
}

// DeliverSMResp acknowledges a deliver_sm. MessageID is unused and empty;
// some peers omit the body entirely, which decodes the same.
type DeliverSMResp struct {
	MessageID string
	TLVs      TLVs
}

// DataSMResp answers a data_sm; TLVs may explain a failure
// (delivery_failure_reason, network_error_code, additional_status_info_text).
type DataSMResp struct {
	MessageID string
	TLVs      TLVs
}

// CommandID returns CmdSubmitSMResp.
func (*SubmitSMResp) CommandID() CommandID { return CmdSubmitSMResp }

// CommandID returns CmdDeliverSMResp.
func (*DeliverSMResp) CommandID() CommandID { return CmdDeliverSMResp }

// CommandID returns CmdDataSMResp.
func (*DataSMResp) CommandID() CommandID { return CmdDataSMResp }

func (p *SubmitSMResp) encodeBody(w *bodyWriter) {
	w.cstring("message_id", p.MessageID, maxMessageID)
	w.tlvs(p.TLVs)
}

func (p *SubmitSMResp) decodeBody(r *bodyReader) {
	if r.len() == 0 {
		return
	}
	p.MessageID = r.cstring("message_id", maxMessageID, StatusInvMsgID)
	p.TLVs = r.tlvs()
}

func (p *DeliverSMResp) encodeBody(w *bodyWriter) { (*SubmitSMResp)(p).encodeBody(w) }
func (p *DeliverSMResp) decodeBody(r *bodyReader) { (*SubmitSMResp)(p).decodeBody(r) }
func (p *DataSMResp) encodeBody(w *bodyWriter)    { (*SubmitSMResp)(p).encodeBody(w) }
func (p *DataSMResp) decodeBody(r *bodyReader)    { (*SubmitSMResp)(p).decodeBody(r) }

// DataSM transfers data in either direction with the content in the
// message_payload TLV (SMPP 3.4, section 4.7). Some SMSCs send receipts as
// data_sm; their fields are then all TLVs.
type DataSM struct {
	ServiceType        string
	Source             Address // at most 64 characters
	Destination        Address // at most 64 characters
	ESMClass           ESMClass
	RegisteredDelivery RegisteredDelivery
	DataCoding         DataCoding
	TLVs               TLVs
}

// CommandID returns CmdDataSM.
func (*DataSM) CommandID() CommandID { return CmdDataSM }

func (p *DataSM) encodeBody(w *bodyWriter) {
	w.cstring("service_type", p.ServiceType, maxServiceType)
	w.address("source_addr", p.Source, maxDataSMAddr)
	w.address("destination_addr", p.Destination, maxDataSMAddr)
	w.u8(uint8(p.ESMClass))
	w.u8(uint8(p.RegisteredDelivery))
	w.u8(uint8(p.DataCoding))
	w.tlvs(p.TLVs)
}

func (p *DataSM) decodeBody(r *bodyReader) {
	p.ServiceType = r.cstring("service_type", maxServiceType, StatusInvServiceType)
	p.Source = r.address("source_addr", maxDataSMAddr, StatusInvSrcAddr)
	p.Destination = r.address("destination_addr", maxDataSMAddr, StatusInvDstAddr)
	p.ESMClass = ESMClass(r.u8("esm_class"))
	p.RegisteredDelivery = RegisteredDelivery(r.u8("registered_delivery"))
	p.DataCoding = DataCoding(r.u8("data_coding"))
	p.TLVs = r.tlvs()
}

// EnquireLink checks that the peer is alive; either side may send it.
type EnquireLink struct{}

// EnquireLinkResp answers an enquire_link.
type EnquireLinkResp struct{}

// Unbind asks the peer to end the session.
type Unbind struct{}

// UnbindResp answers an unbind; the connection may then be closed.
type UnbindResp struct{}

// GenericNack answers a PDU that could not be understood — an unknown
// command_id or an impossible command_length — with the reason in the
// header's command_status.
type GenericNack struct{}

// CommandID returns CmdEnquireLink.
func (*EnquireLink) CommandID() CommandID { return CmdEnquireLink }

// CommandID returns CmdEnquireLinkResp.
func (*EnquireLinkResp) CommandID() CommandID { return CmdEnquireLinkResp }

// CommandID returns CmdUnbind.
func (*Unbind) CommandID() CommandID { return CmdUnbind }

// CommandID returns CmdUnbindResp.
func (*UnbindResp) CommandID() CommandID { return CmdUnbindResp }

// CommandID returns CmdGenericNack.
func (*GenericNack) CommandID() CommandID { return CmdGenericNack }

func (*EnquireLink) encodeBody(*bodyWriter)       {}
func (*EnquireLinkResp) encodeBody(*bodyWriter)   {}
func (*Unbind) encodeBody(*bodyWriter)            {}
func (*UnbindResp) encodeBody(*bodyWriter)        {}
func (*GenericNack) encodeBody(*bodyWriter)       {}
func (*EnquireLink) decodeBody(r *bodyReader)     { r.end() }
func (*EnquireLinkResp) decodeBody(r *bodyReader) { r.end() }
func (*Unbind) decodeBody(r *bodyReader)          { r.end() }
func (*UnbindResp) decodeBody(r *bodyReader)      { r.end() }
func (*GenericNack) decodeBody(r *bodyReader)     { r.end() }

// Unknown is a PDU whose command_id this package has no type for — one
// SMPP 3.4 defines but otpd does not use (query_sm, submit_multi, ...) or
// one it does not define at all. Decode returns it beside a DecodeError so
// the session can nack it; Encode sends Body as it is, so a proxy can pass
// it on.
type Unknown struct {
	ID   CommandID
	Body []byte
}

// CommandID returns u.ID.
func (u *Unknown) CommandID() CommandID { return u.ID }

func (u *Unknown) encodeBody(w *bodyWriter) { w.b = append(w.b, u.Body...) }
func (u *Unknown) decodeBody(r *bodyReader) { u.Body = clone(r.b[r.off:]); r.off = len(r.b) }
