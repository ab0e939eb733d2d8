package smpp_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
)

// cat concatenates PDU pieces: a string is raw octets (add "\x00" for a
// C-Octet string), an int one octet, a []byte itself.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = append(b, v...)
		case int:
			b = append(b, byte(v))
		case []byte:
			b = append(b, v...)
		default:
			panic("cat: unsupported part")
		}
	}
	return b
}

// frame prefixes body with a header whose command_length is right.
func frame(id smpp.CommandID, seq uint32, body ...any) []byte {
	b := cat(body...)
	h := make([]byte, 16, 16+len(b))
	binary.BigEndian.PutUint32(h[0:], uint32(16+len(b)))
	binary.BigEndian.PutUint32(h[4:], uint32(id))
	binary.BigEndian.PutUint32(h[12:], seq)
	return append(h, b...)
}

// submit returns a submit_sm body with the given strings and short message
// section (sm_length and octets), then extra.
func submit(service, src, dst, sched, valid string, sm any, extra ...any) []any {
	return append([]any{service + "\x00", 1, 1, src + "\x00", 1, 1, dst + "\x00", 0, 0, 0,
		sched + "\x00", valid + "\x00", 1, 0, 0, 0, sm}, extra...)
}

func tlv(tag uint16, value ...any) []byte {
	v := cat(value...)
	b := binary.BigEndian.AppendUint16(nil, tag)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

const malformedSeq = 0x2A

type malformedCase struct {
	name     string
	in       []byte
	status   smpp.CommandStatus
	sentinel error
	noHeader bool // fewer than 16 octets: nothing of the header is known
}

// malformedCases covers each way a PDU can be broken; FuzzDecode seeds from
// it too.
func malformedCases() []malformedCase {
	const seq = malformedSeq
	okBind := []any{"otpd\x00", "secret\x00", "\x00", 0x34, 1, 1, "\x00"}
	withLength := func(b []byte, n uint32) []byte {
		binary.BigEndian.PutUint32(b, n)
		return b
	}
	return []malformedCase{
		{name: "empty", in: nil, status: smpp.StatusInvCmdLen, sentinel: smpp.ErrCommandLength, noHeader: true},
		{name: "short header", in: frame(smpp.CmdEnquireLink, seq)[:15], status: smpp.StatusInvCmdLen, sentinel: smpp.ErrCommandLength, noHeader: true},
		{name: "command_length below 16", in: withLength(frame(smpp.CmdEnquireLink, seq), 15), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrCommandLength},
		{name: "command_length zero", in: withLength(frame(smpp.CmdEnquireLink, seq), 0), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrCommandLength},
		{name: "command_length beyond buffer", in: withLength(frame(smpp.CmdSubmitSMResp, seq, "1\x00"), 40), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrCommandLength},
		{name: "command_length short of buffer", in: withLength(frame(smpp.CmdSubmitSMResp, seq, "1\x00"), 17), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrCommandLength},
		{name: "command_length huge", in: withLength(frame(smpp.CmdEnquireLink, seq), 0xFFFFFFFF), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrCommandLength},

		{name: "unknown command", in: frame(0x00000099, seq, 1, 2, 3), status: smpp.StatusInvCmdID, sentinel: smpp.ErrUnknownCommand},
		{name: "unknown response", in: frame(0x80000099, seq), status: smpp.StatusInvCmdID, sentinel: smpp.ErrUnknownCommand},
		{name: "query_sm, defined but unsupported", in: frame(smpp.CmdQuerySM, seq, "1\x00", 0, 0, "\x00"), status: smpp.StatusInvCmdID, sentinel: smpp.ErrUnknownCommand},

		{name: "enquire_link with a body", in: frame(smpp.CmdEnquireLink, seq, 0), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrMalformed},
		{name: "unbind_resp with a body", in: frame(smpp.CmdUnbindResp, seq, "xx"), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrMalformed},
		{name: "generic_nack with a body", in: frame(smpp.CmdGenericNack, seq, 0, 0, 0, 0), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrMalformed},

		{name: "system_id without NUL", in: frame(smpp.CmdBindTransceiver, seq, "otpd"), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrMalformed},
		{name: "bind body ends before interface_version", in: frame(smpp.CmdBindTransmitter, seq, "otpd\x00", "pw\x00", "\x00"), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrMalformed},
		{name: "bind body ends before address_range", in: frame(smpp.CmdBindReceiver, seq, okBind[:6]...), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrMalformed},
		{name: "system_id of 16", in: frame(smpp.CmdBindTransceiver, seq, strings.Repeat("s", 16)+"\x00", "pw\x00", "\x00", 0x34, 0, 0, "\x00"), status: smpp.StatusInvSysID, sentinel: smpp.ErrFieldTooLong},
		{name: "password of 9", in: frame(smpp.CmdBindTransceiver, seq, "otpd\x00", "123456789\x00", "\x00", 0x34, 0, 0, "\x00"), status: smpp.StatusInvPassword, sentinel: smpp.ErrFieldTooLong},
		{name: "system_type of 13", in: frame(smpp.CmdBindTransmitter, seq, "otpd\x00", "pw\x00", strings.Repeat("t", 13)+"\x00", 0x34, 0, 0, "\x00"), status: smpp.StatusInvSysType, sentinel: smpp.ErrFieldTooLong},
		{name: "address_range of 41", in: frame(smpp.CmdBindReceiver, seq, "otpd\x00", "pw\x00", "\x00", 0x34, 0, 0, strings.Repeat("1", 41)+"\x00"), status: smpp.StatusBindFail, sentinel: smpp.ErrFieldTooLong},
		{name: "bind_resp system_id of 16", in: frame(smpp.CmdBindTransceiverResp, seq, strings.Repeat("s", 16)+"\x00"), status: smpp.StatusInvSysID, sentinel: smpp.ErrFieldTooLong},

		{name: "service_type of 6", in: frame(smpp.CmdSubmitSM, seq, submit("CMTCMT", "a", "1", "", "", 0)...), status: smpp.StatusInvServiceType, sentinel: smpp.ErrFieldTooLong},
		{name: "source_addr of 21", in: frame(smpp.CmdSubmitSM, seq, submit("", strings.Repeat("1", 21), "1", "", "", 0)...), status: smpp.StatusInvSrcAddr, sentinel: smpp.ErrFieldTooLong},
		{name: "destination_addr of 21", in: frame(smpp.CmdDeliverSM, seq, submit("", "1", strings.Repeat("1", 21), "", "", 0)...), status: smpp.StatusInvDstAddr, sentinel: smpp.ErrFieldTooLong},
		{name: "schedule_delivery_time of 17", in: frame(smpp.CmdSubmitSM, seq, submit("", "1", "1", strings.Repeat("0", 17), "", 0)...), status: smpp.StatusInvSched, sentinel: smpp.ErrFieldTooLong},
		{name: "validity_period of 17", in: frame(smpp.CmdSubmitSM, seq, submit("", "1", "1", "", strings.Repeat("0", 17), 0)...), status: smpp.StatusInvExpiry, sentinel: smpp.ErrFieldTooLong},
		{name: "destination_addr without NUL", in: frame(smpp.CmdSubmitSM, seq, "\x00", 1, 1, "1\x00", 1, 1, "4477"), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrMalformed},
		{name: "body ends before sm_length", in: frame(smpp.CmdSubmitSM, seq, submit("", "1", "1", "", "", "")...), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrMalformed},
		{name: "sm_length beyond body", in: frame(smpp.CmdSubmitSM, seq, submit("", "1", "1", "", "", cat(10, "short"))...), status: smpp.StatusInvMsgLen, sentinel: smpp.ErrMalformed},
		{name: "sm_length 255", in: frame(smpp.CmdSubmitSM, seq, submit("", "1", "1", "", "", cat(255, strings.Repeat("x", 255)))...), status: smpp.StatusInvMsgLen, sentinel: smpp.ErrFieldTooLong},
		{name: "message_id of 65", in: frame(smpp.CmdSubmitSMResp, seq, strings.Repeat("m", 65)+"\x00"), status: smpp.StatusInvMsgID, sentinel: smpp.ErrFieldTooLong},
		{name: "message_id without NUL", in: frame(smpp.CmdSubmitSMResp, seq, "1a2b"), status: smpp.StatusInvCmdLen, sentinel: smpp.ErrMalformed},
		{name: "data_sm source_addr of 65", in: frame(smpp.CmdDataSM, seq, "\x00", 1, 1, strings.Repeat("1", 65)+"\x00", 1, 1, "1\x00", 0, 0, 0), status: smpp.StatusInvSrcAddr, sentinel: smpp.ErrFieldTooLong},

		{name: "TLV header of 3 octets", in: frame(smpp.CmdSubmitSM, seq, submit("", "1", "1", "", "", 0, 0x04, 0x24, 0)...), status: smpp.StatusInvOptParStream, sentinel: smpp.ErrInvalidTLV},
		{name: "TLV value truncated", in: frame(smpp.CmdSubmitSM, seq, submit("", "1", "1", "", "", 0, tlv(0x0424, "abcdef")[:8])...), status: smpp.StatusInvOptParStream, sentinel: smpp.ErrInvalidTLV},
		{name: "second TLV truncated", in: frame(smpp.CmdDeliverSM, seq, submit("", "1", "1", "", "", 0, tlv(0x1400, "ok"), 0x04)...), status: smpp.StatusInvOptParStream, sentinel: smpp.ErrInvalidTLV},
		{name: "TLV after a response", in: frame(smpp.CmdSubmitSMResp, seq, "1\x00", 0x02), status: smpp.StatusInvOptParStream, sentinel: smpp.ErrInvalidTLV},
		{name: "message_state of 2", in: frame(smpp.CmdDeliverSM, seq, submit("", "1", "1", "", "", 0, tlv(0x0427, 0, 2))...), status: smpp.StatusInvParLen, sentinel: smpp.ErrInvalidTLV},
		{name: "network_error_code of 2", in: frame(smpp.CmdDeliverSM, seq, submit("", "1", "1", "", "", 0, tlv(0x0423, 3, 0))...), status: smpp.StatusInvParLen, sentinel: smpp.ErrInvalidTLV},
		{name: "receipted_message_id of 66", in: frame(smpp.CmdDeliverSM, seq, submit("", "1", "1", "", "", 0, tlv(0x001E, strings.Repeat("1", 65)+"\x00"))...), status: smpp.StatusInvParLen, sentinel: smpp.ErrInvalidTLV},
		{name: "sar_msg_ref_num of 1", in: frame(smpp.CmdSubmitSM, seq, submit("", "1", "1", "", "", 0, tlv(0x020C, 1))...), status: smpp.StatusInvParLen, sentinel: smpp.ErrInvalidTLV},
		{name: "sc_interface_version of 0", in: frame(smpp.CmdBindTransceiverResp, seq, "SMSC\x00", tlv(0x0210)), status: smpp.StatusInvParLen, sentinel: smpp.ErrInvalidTLV},
	}
}

func TestDecodeMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range malformedCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, p, err := smpp.Decode(tc.in)
			var de *smpp.DecodeError
			require.True(t, errors.As(err, &de), "want a *DecodeError, got %v", err)
			require.Equal(t, tc.status, de.Status, "%v", err)
			require.ErrorIs(t, err, tc.sentinel)
			require.Equal(t, h, de.Header)
			if tc.noHeader {
				require.Equal(t, smpp.Header{}, h)
				return
			}
			require.Equal(t, uint32(malformedSeq), h.Sequence)
			require.Equal(t, smpp.CommandID(binary.BigEndian.Uint32(tc.in[4:])), h.CommandID)
			if tc.status == smpp.StatusInvCmdID {
				// The session gets something to nack.
				u, ok := p.(*smpp.Unknown)
				require.True(t, ok)
				require.Equal(t, h.CommandID, u.ID)
				require.Equal(t, tc.in[16:], append([]byte{}, u.Body...))
				return
			}
			require.Nil(t, p)
		})
	}
}
