package smpp

import (
	"errors"
	"fmt"
)

// Sentinel errors wrapped by the errors this package returns, for callers to
// branch on with errors.Is.
var (
	// ErrCommandLength: command_length is below 16, above the reader's limit,
	// or disagrees with the bytes given to Decode. A stream that produced it
	// can no longer be framed: answer with generic_nack and close.
	ErrCommandLength = errors.New("smpp: invalid command_length")
	// ErrUnknownCommand: the command_id is not one this package decodes.
	ErrUnknownCommand = errors.New("smpp: unsupported command_id")
	// ErrMalformed: the body ends inside a mandatory field, a C-Octet string
	// lacks its NUL, or a header-only PDU has a body.
	ErrMalformed = errors.New("smpp: malformed PDU body")
	// ErrFieldTooLong: a field exceeds the size SMPP 3.4 allows it.
	ErrFieldTooLong = errors.New("smpp: field too long")
	// ErrInvalidTLV: the optional parameters are truncated, or a TLV this
	// package interprets has the wrong length.
	ErrInvalidTLV = errors.New("smpp: malformed optional parameter")
	// ErrInvalidField: a value cannot be encoded, such as a C-Octet string
	// containing NUL.
	ErrInvalidField = errors.New("smpp: invalid field value")
)

// DecodeError reports a PDU that could not be decoded. Status is the
// command_status to answer it with and Header what was read of its header
// (zero if fewer than 16 octets arrived), so a session can reply with a
// generic_nack — or the command's own response — carrying Header.Sequence.
type DecodeError struct {
	Header Header
	Status CommandStatus
	Err    error
}

// Error describes the failure with the command, sequence number and status.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("smpp: decode %s (seq %d): %v [%s]", e.Header.CommandID, e.Header.Sequence, e.Err, e.Status)
}

// Unwrap returns the underlying error, which wraps one of the sentinels.
func (e *DecodeError) Unwrap() error { return e.Err }

// decodeErr returns a DecodeError whose header Decode fills in.
func decodeErr(status CommandStatus, sentinel error, format string, args ...any) *DecodeError {
	return &DecodeError{Status: status, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}
