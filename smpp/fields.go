package smpp

// TON is an address's Type of Number (SMPP 3.4, section 5.2.5).
type TON uint8

// Types of number.
const (
	TONUnknown          TON = 0x00
	TONInternational    TON = 0x01
	TONNational         TON = 0x02
	TONNetworkSpecific  TON = 0x03
	TONSubscriberNumber TON = 0x04
	TONAlphanumeric     TON = 0x05
	TONAbbreviated      TON = 0x06
)

// NPI is an address's Numbering Plan Indicator (SMPP 3.4, section 5.2.6).
type NPI uint8

// Numbering plan indicators.
const (
	NPIUnknown    NPI = 0x00
	NPIISDN       NPI = 0x01 // E.163/E.164: ordinary phone numbers
	NPIData       NPI = 0x03 // X.121
	NPITelex      NPI = 0x04 // F.69
	NPILandMobile NPI = 0x06 // E.212
	NPINational   NPI = 0x08
	NPIPrivate    NPI = 0x09
	NPIERMES      NPI = 0x0A
	NPIInternet   NPI = 0x0E // IP address
	NPIWAPClient  NPI = 0x12 // WAP client id
)

// Address is an SME address: its TON, NPI and the address itself (a
// C-Octet string on the wire, at most 20 characters in submit_sm and
// deliver_sm, 64 in data_sm, 40 as a bind's address_range).
type Address struct {
	TON  TON
	NPI  NPI
	Addr string
}

// ESMClass is the esm_class field (SMPP 3.4, section 5.2.12): messaging mode
// in bits 0–1, message type in bits 2–5, GSM features in bits 6–7.
type ESMClass uint8

// esm_class values. In deliver_sm the message type bits say whether the PDU
// is a short message or one of the kinds of receipt.
const (
	ESMDefaultMode         ESMClass = 0x00 // messaging mode: SMSC default
	ESMDatagramMode        ESMClass = 0x01
	ESMForwardMode         ESMClass = 0x02 // transaction mode
	ESMStoreAndForwardMode ESMClass = 0x03
	ESMModeMask            ESMClass = 0x03

	ESMDeliveryReceipt     ESMClass = 0x04 // SMSC delivery receipt
	ESMDeliveryAck         ESMClass = 0x08 // SME delivery acknowledgement
	ESMManualAck           ESMClass = 0x10 // SME manual/user acknowledgement
	ESMConversationAbort   ESMClass = 0x18 // Korean CDMA
	ESMIntermediateReceipt ESMClass = 0x20 // intermediate delivery notification
	ESMTypeMask            ESMClass = 0x3C

	ESMUDHI      ESMClass = 0x40 // short_message starts with a user data header
	ESMReplyPath ESMClass = 0x80
)

// MessageType returns the message type bits of c (ESMDeliveryReceipt, ...),
// zero for an ordinary short message.
func (c ESMClass) MessageType() ESMClass { return c & ESMTypeMask }

// UDHI reports whether the short message begins with a user data header,
// as concatenated messages do.
func (c ESMClass) UDHI() bool { return c&ESMUDHI != 0 }

// IsReceipt reports whether a deliver_sm with this esm_class is an SMSC
// delivery receipt or an intermediate delivery notification.
func (c ESMClass) IsReceipt() bool {
	t := c.MessageType()
	return t == ESMDeliveryReceipt || t == ESMIntermediateReceipt
}

// RegisteredDelivery is the registered_delivery field (SMPP 3.4, section
// 5.2.17): which receipts and acknowledgements the ESME asks for.
type RegisteredDelivery uint8

// registered_delivery values; combine one SMSC receipt value with the others.
const (
	NoReceipt               RegisteredDelivery = 0x00
	ReceiptOnFinal          RegisteredDelivery = 0x01 // SMSC receipt on success or failure
	ReceiptOnFailure        RegisteredDelivery = 0x02 // SMSC receipt on failure only
	SMEDeliveryAckRequested RegisteredDelivery = 0x04
	SMEManualAckRequested   RegisteredDelivery = 0x08
	IntermediateRequested   RegisteredDelivery = 0x10
)

// DataCoding is the data_coding field (SMPP 3.4, section 5.2.19): how
// short_message is encoded. Encoding text is package gsm's concern.
type DataCoding uint8

// Common data_coding values.
const (
	CodingDefault DataCoding = 0x00 // SMSC default alphabet, usually GSM 03.38
	CodingIA5     DataCoding = 0x01 // IA5 (CCITT T.50)/ASCII
	CodingBinary8 DataCoding = 0x02 // octet unspecified (8-bit binary)
	CodingLatin1  DataCoding = 0x03 // ISO-8859-1
	CodingBinary  DataCoding = 0x04 // octet unspecified (8-bit binary)
	CodingUCS2    DataCoding = 0x08 // UCS-2 (ISO/IEC-10646), big-endian
)

// InterfaceVersion34 is the interface_version an SMPP 3.4 ESME binds with
// and the sc_interface_version an SMPP 3.4 SMSC answers with.
const InterfaceVersion34 uint8 = 0x34
