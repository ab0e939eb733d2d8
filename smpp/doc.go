// Package smpp speaks SMPP 3.4 (Short Message Peer-to-Peer, issue 1.2, 1999):
// the wire codec that otpd's ESME session and its development SMSC build on.
//
// # Wire format
//
// Every PDU is a 16-octet [Header] — command_length, command_id,
// command_status and sequence_number, each a big-endian uint32 — followed by
// a body of mandatory fields and then optional parameters ([TLV]s). The
// mandatory fields are 1-octet integers, C-Octet strings (NUL-terminated; the
// spec's "max" sizes include the NUL, so system_id "Var. max 16" holds at most
// 15 characters) and, for short_message, an octet string prefixed by its
// 1-octet sm_length (0–254).
//
// [Encode] turns a [PDU] into bytes; [Decode] parses one whole PDU and
// [ReadPDU] reads exactly one from a stream, refusing a command_length under
// 16 or above a limit before allocating anything.
//
// # Errors
//
// Decoding never panics. Every failure is a [*DecodeError] whose Status is the
// command_status a peer should be answered with (ESME_RINVCMDLEN for a bad
// command_length, ESME_RINVCMDID for an unknown command, ESME_RINVOPTPARSTREAM
// or ESME_RINVPARLEN for bad TLVs, a field-specific status such as
// ESME_RINVSRCADR for an over-long field) and whose Header carries the
// sequence number to answer. A command the codec has no type for decodes to an
// [*Unknown] alongside the error, so a session can generic_nack it. Only
// errors wrapping [ErrCommandLength] leave a stream unframeable; after any
// other [*DecodeError] from [ReadPDU] the next PDU can still be read.
//
// # Leniency
//
// The codec is strict about framing and lenient where real SMSCs differ:
// response bodies may be empty (SMPP 3.4 omits them on error), any body may
// carry TLVs after its mandatory fields, and unknown TLV tags are kept, in
// order, so a decoded PDU re-encodes to what was received. Delivery receipts
// ([ParseReceipt]) are read from TLVs where present and otherwise from the
// de-facto text format of the spec's Appendix B, whatever the case, spacing,
// id base or date length.
package smpp
