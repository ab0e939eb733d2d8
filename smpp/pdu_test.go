package smpp_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
)

// unhex decodes hex written with spaces and newlines between fields and
// "# comments" to the end of a line.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for line := range strings.Lines(s) {
		line, _, _ = strings.Cut(line, "#")
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	require.NoError(t, err)
	return b
}

// The vectors below are written field by field from the layouts in SMPP 3.4
// section 4, not produced by the encoder: header (command_length, command_id,
// command_status, sequence_number), then the body in spec order.
var vectors = []struct {
	name   string
	hex    string
	status smpp.CommandStatus
	seq    uint32
	pdu    smpp.PDU
}{
	{
		name: "bind_transmitter",
		hex: `00000021 00000002 00000000 00000001
			6f74706400  # system_id "otpd"
			73656372657400  # password "secret"
			00  # system_type ""
			34  # interface_version 3.4
			01 01 00  # addr_ton, addr_npi, address_range ""`,
		seq: 1,
		pdu: &smpp.BindTransmitter{SystemID: "otpd", Password: "secret", InterfaceVersion: 0x34,
			AddressRange: smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN}},
	},
	{
		name: "bind_receiver",
		hex: `00000021 00000001 00000000 00000001
			6f74706400 73656372657400 00 34 01 01 00`,
		seq: 1,
		pdu: &smpp.BindReceiver{SystemID: "otpd", Password: "secret", InterfaceVersion: 0x34,
			AddressRange: smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN}},
	},
	{
		name: "bind_transceiver with system_type and address_range",
		hex: `00000028 00000009 00000000 7fffffff
			6f74706400  # system_id "otpd"
			73656372657400  # password "secret"
			4f545000  # system_type "OTP"
			34
			01 01 3434373700  # address_range "4477"`,
		seq: 0x7fffffff,
		pdu: &smpp.BindTransceiver{SystemID: "otpd", Password: "secret", SystemType: "OTP", InterfaceVersion: 0x34,
			AddressRange: smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "4477"}},
	},
	{
		name: "bind_transceiver_resp with sc_interface_version",
		hex: `0000001a 80000009 00000000 00000001
			534d534300  # system_id "SMSC"
			0210 0001 34  # sc_interface_version 0x34`,
		seq: 1,
		pdu: &smpp.BindTransceiverResp{SystemID: "SMSC",
			TLVs: smpp.TLVs{{Tag: smpp.TagSCInterfaceVersion, Value: []byte{0x34}}}},
	},
	{
		name: "bind_transmitter_resp failed",
		hex: `00000011 80000002 0000000e 00000001
			00`,
		status: smpp.StatusInvPassword,
		seq:    1,
		pdu:    &smpp.BindTransmitterResp{},
	},
	{
		name: "bind_receiver_resp",
		hex:  `00000015 80000001 00000000 00000003 534d534300`,
		seq:  3,
		pdu:  &smpp.BindReceiverResp{SystemID: "SMSC"},
	},
	{
		name: "submit_sm",
		hex: `0000004a 00000004 00000000 00000002
			00  # service_type ""
			05 00 4f54504400  # source: alphanumeric "OTPD"
			01 01 34343737303039303031323300  # destination: +447700900123
			00 00 00  # esm_class, protocol_id, priority_flag
			00 00  # schedule_delivery_time, validity_period
			01 00 00 00  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
			13  # sm_length 19
			596f757220636f6465206973203132333435 36
			0204 0002 0007  # user_message_reference 7`,
		seq: 2,
		pdu: &smpp.SubmitSM{
			Source:             smpp.Address{TON: smpp.TONAlphanumeric, NPI: smpp.NPIUnknown, Addr: "OTPD"},
			Destination:        smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "447700900123"},
			RegisteredDelivery: smpp.ReceiptOnFinal,
			ShortMessage:       []byte("Your code is 123456"),
			TLVs:               smpp.TLVs{{Tag: smpp.TagUserMessageReference, Value: []byte{0, 7}}},
		},
	},
	{
		name: "submit_sm_resp",
		hex:  `00000019 80000004 00000000 00000002 3161326233633464 00`,
		seq:  2,
		pdu:  &smpp.SubmitSMResp{MessageID: "1a2b3c4d"},
	},
	{
		name:   "submit_sm_resp throttled",
		hex:    `00000011 80000004 00000058 00000002 00`,
		status: smpp.StatusThrottled,
		seq:    2,
		pdu:    &smpp.SubmitSMResp{},
	},
	{
		name: "deliver_sm receipt",
		hex: `00000054 00000005 00000000 00000007
			00
			01 01 34343737303039303031323300  # source +447700900123
			05 00 4f54504400  # destination "OTPD"
			04 00 00  # esm_class: SMSC delivery receipt
			00 00
			00 00 00 00
			11 69643a37207374 61743a44454c49565244  # "id:7 stat:DELIVRD"
			001e 0002 3700  # receipted_message_id "7"
			0427 0001 02  # message_state DELIVERED
			0423 0003 030000  # network_error_code GSM 0`,
		seq: 7,
		pdu: &smpp.DeliverSM{
			Source:       smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "447700900123"},
			Destination:  smpp.Address{TON: smpp.TONAlphanumeric, Addr: "OTPD"},
			ESMClass:     smpp.ESMDeliveryReceipt,
			ShortMessage: []byte("id:7 stat:DELIVRD"),
			TLVs: smpp.TLVs{
				{Tag: smpp.TagReceiptedMessageID, Value: []byte("7\x00")},
				{Tag: smpp.TagMessageState, Value: []byte{2}},
				{Tag: smpp.TagNetworkErrorCode, Value: []byte{3, 0, 0}},
			},
		},
	},
	{
		name: "deliver_sm_resp",
		hex:  `00000011 80000005 00000000 00000007 00`,
		seq:  7,
		pdu:  &smpp.DeliverSMResp{},
	},
	{
		name: "data_sm",
		hex: `00000032 00000103 00000000 00000009
			00
			01 01 34343737303039303031323300
			05 00 4f54504400
			00 00 08  # esm_class, registered_delivery, data_coding UCS-2
			0424 0004 00480069  # message_payload "Hi"`,
		seq: 9,
		pdu: &smpp.DataSM{
			Source:      smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "447700900123"},
			Destination: smpp.Address{TON: smpp.TONAlphanumeric, Addr: "OTPD"},
			DataCoding:  smpp.CodingUCS2,
			TLVs:        smpp.TLVs{{Tag: smpp.TagMessagePayload, Value: []byte{0, 'H', 0, 'i'}}},
		},
	},
	{
		name: "data_sm_resp",
		hex:  `00000013 80000103 00000000 00000009 783100`,
		seq:  9,
		pdu:  &smpp.DataSMResp{MessageID: "x1"},
	},
	{name: "enquire_link", hex: `00000010 00000015 00000000 00000007`, seq: 7, pdu: &smpp.EnquireLink{}},
	{name: "enquire_link_resp", hex: `00000010 80000015 00000000 00000007`, seq: 7, pdu: &smpp.EnquireLinkResp{}},
	{name: "unbind", hex: `00000010 00000006 00000000 0000000d`, seq: 13, pdu: &smpp.Unbind{}},
	{name: "unbind_resp", hex: `00000010 80000006 00000000 0000000d`, seq: 13, pdu: &smpp.UnbindResp{}},
	{
		name:   "generic_nack",
		hex:    `00000010 80000000 00000003 00000005`,
		status: smpp.StatusInvCmdID,
		seq:    5,
		pdu:    &smpp.GenericNack{},
	},
}

// vectorNamed returns the vector called name.
func vectorNamed(t testing.TB, name string) (b []byte, p smpp.PDU) {
	t.Helper()
	for _, v := range vectors {
		if v.name == name {
			return unhex(t, v.hex), v.pdu
		}
	}
	t.Fatalf("no vector %q", name)
	return nil, nil
}

func TestEncodeDecodeVectors(t *testing.T) {
	t.Parallel()
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			want := unhex(t, v.hex)

			got, err := smpp.Encode(v.pdu, v.seq, v.status)
			require.NoError(t, err)
			require.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got))

			h, p, err := smpp.Decode(want)
			require.NoError(t, err)
			require.Equal(t, smpp.Header{Length: uint32(len(want)), CommandID: v.pdu.CommandID(), Status: v.status, Sequence: v.seq}, h)
			require.Equal(t, v.pdu, p)
		})
	}
}

// Published PDUs from another SMPP implementation's test suite
// (github.com/NiceLabs/go-smpp, pdu/packet_test.go); the deliver_sm is a
// concatenated UCS-2 message from China Unicom's 10010 service. They check
// our reading of the layouts against an independent one.
type publishedCase struct {
	name string
	hex  string
	seq  uint32
	want smpp.PDU
}

func publishedCases(t testing.TB) []publishedCase {
	alice := smpp.Address{TON: 13, NPI: 15, Addr: "Alice"}
	bob := smpp.Address{TON: 19, NPI: 7, Addr: "Bob"}
	ucs2 := unhex(t, `006e006700681eaf0020006e00670068006900ea006e00670020006e0067006800691ec5006e00670020006e00671ea3`)
	unicom := unhex(t, `0500030503015C0A656C768475286237FF0C60A853EF4EE576F463A556DE590D63074EE48FDB884C4E1A52A167E58BE26216529E7406FF1A007F007F002000300030FF1A624B673A4E0A7F516D4191CF67E58BE2007F007F002000300031FF1A8D2662374F59989D007F007F002000300032FF1A5B9E65F68BDD8D39007F007F002000300033FF1A5E387528529E74064E1A`)
	return []publishedCase{
		{
			name: "deliver_sm from 10010, UDHI, UCS-2",
			hex:  `000000BC00000005000000000000000958585800020131303031300002013000400000000000000800920500030503015C0A656C768475286237FF0C60A853EF4EE576F463A556DE590D63074EE48FDB884C4E1A52A167E58BE26216529E7406FF1A007F007F002000300030FF1A624B673A4E0A7F516D4191CF67E58BE2007F007F002000300031FF1A8D2662374F59989D007F007F002000300032FF1A5B9E65F68BDD8D39007F007F002000300033FF1A5E387528529E74064E1A`,
			seq:  9,
			want: &smpp.DeliverSM{ServiceType: "XXX",
				Source:      smpp.Address{TON: smpp.TONNational, NPI: smpp.NPIISDN, Addr: "10010"},
				Destination: smpp.Address{TON: smpp.TONNational, NPI: smpp.NPIISDN, Addr: "0"},
				ESMClass:    smpp.ESMUDHI, DataCoding: smpp.CodingUCS2, ShortMessage: unicom},
		},
		{
			name: "submit_sm",
			hex:  `0000005c00000004000000000000000d585858000d0f416c696365001307426f62000d633d00001301080030006e006700681eaf0020006e00670068006900ea006e00670020006e0067006800691ec5006e00670020006e00671ea3`,
			seq:  13,
			want: &smpp.SubmitSM{ServiceType: "XXX", Source: alice, Destination: bob, ESMClass: 0x0d,
				ProtocolID: 99, PriorityFlag: 61, RegisteredDelivery: 0x13, ReplaceIfPresent: 1,
				DataCoding: smpp.CodingUCS2, ShortMessage: ucs2},
		},
		{
			name: "bind_transceiver",
			hex:  `00000024000000090000000000000001706f72742d31006d616e61676564000034000000`,
			seq:  1,
			want: &smpp.BindTransceiver{SystemID: "port-1", Password: "managed", InterfaceVersion: 0x34},
		},
		{
			name: "bind_receiver",
			hex:  `0000003600000001000000000000000d73797374656d5f69645f66616b650070617373776f7264006f6e6c7900500d0f416c69636500`,
			seq:  13,
			want: &smpp.BindReceiver{SystemID: "system_id_fake", Password: "password", SystemType: "only",
				InterfaceVersion: 0x50, AddressRange: alice},
		},
		{
			name: "data_sm with an unknown TLV",
			hex:  `0000002a00000103000000000000000d616263000d0f416c696365001307426f62000d135b000700015f`,
			seq:  13,
			want: &smpp.DataSM{ServiceType: "abc", Source: alice, Destination: bob, ESMClass: 0x0d,
				RegisteredDelivery: 0x13, DataCoding: 0x5b, TLVs: smpp.TLVs{{Tag: smpp.TagDestBearerType, Value: []byte{0x5f}}}},
		},
		{name: "enquire_link", hex: `00000010000000150000000000000007`, seq: 7, want: &smpp.EnquireLink{}},
		{name: "unbind_resp", hex: `0000001080000006000000000000000D`, seq: 13, want: &smpp.UnbindResp{}},
	}
}

func TestDecodePublished(t *testing.T) {
	t.Parallel()
	for _, tc := range publishedCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := unhex(t, tc.hex)
			h, p, err := smpp.Decode(b)
			require.NoError(t, err)
			require.Equal(t, tc.seq, h.Sequence)
			require.Equal(t, tc.want, p)
			again, err := smpp.Encode(p, h.Sequence, h.Status)
			require.NoError(t, err)
			require.Equal(t, b, again)
		})
	}
}

// Responses to failed requests often come without a body (SMPP 3.4 says
// submit_sm_resp does); they decode to the zero value.
func TestDecodeEmptyResponseBodies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		hex  string
		want smpp.PDU
	}{
		{`00000010 80000002 0000000e 00000001`, &smpp.BindTransmitterResp{}},
		{`00000010 80000001 0000000d 00000001`, &smpp.BindReceiverResp{}},
		{`00000010 80000009 0000000f 00000001`, &smpp.BindTransceiverResp{}},
		{`00000010 80000004 00000014 00000001`, &smpp.SubmitSMResp{}},
		{`00000010 80000005 00000000 00000001`, &smpp.DeliverSMResp{}},
		{`00000010 80000103 000000fe 00000001`, &smpp.DataSMResp{}},
	} {
		t.Run(tc.want.CommandID().String(), func(t *testing.T) {
			t.Parallel()
			_, p, err := smpp.Decode(unhex(t, tc.hex))
			require.NoError(t, err)
			require.Equal(t, tc.want, p)
		})
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte{'x'}, smpp.MaxShortMessage)
	payload := bytes.Repeat([]byte("0123456789"), 300)
	for _, p := range []smpp.PDU{
		&smpp.BindTransceiver{SystemID: strings.Repeat("s", 15), Password: strings.Repeat("p", 8),
			SystemType: strings.Repeat("t", 12), InterfaceVersion: 0x34,
			AddressRange: smpp.Address{TON: 1, NPI: 1, Addr: strings.Repeat("9", 40)}},
		&smpp.SubmitSM{ServiceType: "CMT", Source: smpp.Address{TON: 5, Addr: strings.Repeat("A", 20)},
			Destination: smpp.Address{TON: 1, NPI: 1, Addr: strings.Repeat("4", 20)},
			ESMClass:    smpp.ESMUDHI | smpp.ESMStoreAndForwardMode, ProtocolID: 0x40, PriorityFlag: 1,
			ScheduleDeliveryTime: "260102150405000+", ValidityPeriod: "000000001000000R",
			RegisteredDelivery: smpp.ReceiptOnFinal | smpp.IntermediateRequested, ReplaceIfPresent: 1,
			DataCoding: smpp.CodingUCS2, SMDefaultMsgID: 3, ShortMessage: long},
		// Unknown and vendor tags survive, in order, around known ones.
		&smpp.SubmitSM{Destination: smpp.Address{Addr: "1"}, TLVs: smpp.TLVs{
			{Tag: 0x1400, Value: []byte("vendor")},
			{Tag: smpp.TagMessagePayload, Value: payload},
			{Tag: 0x0005, Value: []byte{1}},
			{Tag: 0x3fff},
			{Tag: 0x1400, Value: []byte("again")},
		}},
		&smpp.DeliverSM{ESMClass: smpp.ESMDeliveryReceipt, ShortMessage: []byte("id:1 stat:EXPIRED")},
		&smpp.SubmitSMResp{MessageID: strings.Repeat("m", 64)},
		&smpp.DataSM{Source: smpp.Address{Addr: strings.Repeat("a", 64)}, Destination: smpp.Address{Addr: strings.Repeat("b", 64)}},
		&smpp.Unknown{ID: 0x00000021, Body: []byte{1, 2, 3}},
	} {
		t.Run(p.CommandID().String(), func(t *testing.T) {
			t.Parallel()
			b, err := smpp.Encode(p, 42, smpp.StatusOK)
			require.NoError(t, err)
			h, got, err := smpp.Decode(b)
			if _, unknown := p.(*smpp.Unknown); unknown {
				require.ErrorIs(t, err, smpp.ErrUnknownCommand)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, uint32(42), h.Sequence)
			require.Equal(t, p, got)
			again, err := smpp.Encode(got, h.Sequence, h.Status)
			require.NoError(t, err)
			require.Equal(t, b, again)
		})
	}
}

func TestDecodeNeverAliasesInput(t *testing.T) {
	t.Parallel()
	b, _ := vectorNamed(t, "deliver_sm receipt")
	_, p, err := smpp.Decode(b)
	require.NoError(t, err)
	want, _ := vectorNamed(t, "deliver_sm receipt")
	for i := range b {
		b[i] = 0xAA
	}
	_, p2, err := smpp.Decode(want)
	require.NoError(t, err)
	require.Equal(t, p2, p)
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		pdu  smpp.PDU
		want error
	}{
		{"nil", nil, smpp.ErrInvalidField},
		{"system_id 16", &smpp.BindTransceiver{SystemID: strings.Repeat("s", 16)}, smpp.ErrFieldTooLong},
		{"password 9", &smpp.BindTransmitter{Password: strings.Repeat("p", 9)}, smpp.ErrFieldTooLong},
		{"system_type 13", &smpp.BindReceiver{SystemType: strings.Repeat("t", 13)}, smpp.ErrFieldTooLong},
		{"address_range 41", &smpp.BindReceiver{AddressRange: smpp.Address{Addr: strings.Repeat("1", 41)}}, smpp.ErrFieldTooLong},
		{"service_type 6", &smpp.SubmitSM{ServiceType: "CMTCMT"}, smpp.ErrFieldTooLong},
		{"source_addr 21", &smpp.SubmitSM{Source: smpp.Address{Addr: strings.Repeat("1", 21)}}, smpp.ErrFieldTooLong},
		{"destination_addr 21", &smpp.DeliverSM{Destination: smpp.Address{Addr: strings.Repeat("1", 21)}}, smpp.ErrFieldTooLong},
		{"data_sm source_addr 65", &smpp.DataSM{Source: smpp.Address{Addr: strings.Repeat("1", 65)}}, smpp.ErrFieldTooLong},
		{"schedule 17", &smpp.SubmitSM{ScheduleDeliveryTime: strings.Repeat("0", 17)}, smpp.ErrFieldTooLong},
		{"short_message 255", &smpp.SubmitSM{ShortMessage: make([]byte, 255)}, smpp.ErrFieldTooLong},
		{"message_id 65", &smpp.SubmitSMResp{MessageID: strings.Repeat("m", 65)}, smpp.ErrFieldTooLong},
		{"NUL in address", &smpp.SubmitSM{Destination: smpp.Address{Addr: "44\x0077"}}, smpp.ErrInvalidField},
		{"TLV of 64 KiB", &smpp.SubmitSM{TLVs: smpp.TLVs{{Tag: smpp.TagMessagePayload, Value: make([]byte, 1<<16)}}}, smpp.ErrFieldTooLong},
		{"message_state of 2 octets", &smpp.DeliverSM{TLVs: smpp.TLVs{{Tag: smpp.TagMessageState, Value: []byte{0, 2}}}}, smpp.ErrInvalidTLV},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := smpp.Encode(tc.pdu, 1, 0)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestCommandID(t *testing.T) {
	t.Parallel()
	require.Equal(t, "submit_sm", smpp.CmdSubmitSM.String())
	require.Equal(t, "deliver_sm_resp", smpp.CmdDeliverSMResp.String())
	require.Equal(t, "command_id(0x00000099)", smpp.CommandID(0x99).String())
	require.Equal(t, smpp.CmdSubmitSMResp, smpp.CmdSubmitSM.Response())
	require.Equal(t, smpp.CmdEnquireLinkResp, smpp.CmdEnquireLink.Response())
	require.True(t, smpp.CmdGenericNack.IsResponse())
	require.False(t, smpp.CmdBindTransceiver.IsResponse())
	require.True(t, smpp.CmdQuerySM.Known())
	require.False(t, smpp.CommandID(0x99).Known())
	// The ids the codec must agree with the spec on.
	for id, want := range map[smpp.CommandID]uint32{
		smpp.CmdBindReceiver: 0x1, smpp.CmdBindTransmitter: 0x2, smpp.CmdQuerySM: 0x3, smpp.CmdSubmitSM: 0x4,
		smpp.CmdDeliverSM: 0x5, smpp.CmdUnbind: 0x6, smpp.CmdReplaceSM: 0x7, smpp.CmdCancelSM: 0x8,
		smpp.CmdBindTransceiver: 0x9, smpp.CmdOutbind: 0xB, smpp.CmdEnquireLink: 0x15, smpp.CmdSubmitMulti: 0x21,
		smpp.CmdAlertNotification: 0x102, smpp.CmdDataSM: 0x103, smpp.CmdGenericNack: 0x80000000,
	} {
		require.Equal(t, want, uint32(id), id.String())
	}
}

func TestCommandStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status    smpp.CommandStatus
		code      uint32
		name      string
		temporary bool
	}{
		{smpp.StatusOK, 0x00, "ESME_ROK", false},
		{smpp.StatusInvMsgLen, 0x01, "ESME_RINVMSGLEN", false},
		{smpp.StatusInvCmdLen, 0x02, "ESME_RINVCMDLEN", false},
		{smpp.StatusInvCmdID, 0x03, "ESME_RINVCMDID", false},
		{smpp.StatusInvBindStatus, 0x04, "ESME_RINVBNDSTS", true},
		{smpp.StatusAlreadyBound, 0x05, "ESME_RALYBND", false},
		{smpp.StatusSysErr, 0x08, "ESME_RSYSERR", true},
		{smpp.StatusInvSrcAddr, 0x0A, "ESME_RINVSRCADR", false},
		{smpp.StatusInvDstAddr, 0x0B, "ESME_RINVDSTADR", false},
		{smpp.StatusInvMsgID, 0x0C, "ESME_RINVMSGID", false},
		{smpp.StatusBindFail, 0x0D, "ESME_RBINDFAIL", false},
		{smpp.StatusInvPassword, 0x0E, "ESME_RINVPASWD", false},
		{smpp.StatusInvSysID, 0x0F, "ESME_RINVSYSID", false},
		{smpp.StatusMsgQueueFull, 0x14, "ESME_RMSGQFUL", true},
		{smpp.StatusSubmitFail, 0x45, "ESME_RSUBMITFAIL", true},
		{smpp.StatusThrottled, 0x58, "ESME_RTHROTTLED", true},
		{smpp.StatusTempAppErr, 0x64, "ESME_RX_T_APPN", true},
		{smpp.StatusPermAppErr, 0x65, "ESME_RX_P_APPN", false},
		{smpp.StatusInvOptParStream, 0xC0, "ESME_RINVOPTPARSTREAM", false},
		{smpp.StatusOptParNotAllowed, 0xC1, "ESME_ROPTPARNOTALLWD", false},
		{smpp.StatusInvParLen, 0xC2, "ESME_RINVPARLEN", false},
		{smpp.StatusMissingOptParam, 0xC3, "ESME_RMISSINGOPTPARAM", false},
		{smpp.StatusInvOptParamVal, 0xC4, "ESME_RINVOPTPARAMVAL", false},
		{smpp.StatusDeliveryFailure, 0xFE, "ESME_RDELIVERYFAILURE", true},
		{smpp.StatusUnknownErr, 0xFF, "ESME_RUNKNOWNERR", true},
		{smpp.CommandStatus(0x400), 0x400, "command_status(0x00000400)", false},
	} {
		require.Equal(t, tc.code, uint32(tc.status), tc.name)
		require.Equal(t, tc.name, tc.status.String())
		require.Equal(t, tc.temporary, tc.status.Temporary(), tc.name)
	}
	require.Equal(t, "message queue full", smpp.StatusMsgQueueFull.Description())
}

func TestHeaderString(t *testing.T) {
	t.Parallel()
	h := smpp.Header{Length: 17, CommandID: smpp.CmdSubmitSMResp, Status: smpp.StatusThrottled, Sequence: 5}
	require.Equal(t, "submit_sm_resp seq=5 status=ESME_RTHROTTLED len=17", h.String())
}

func TestDecodeErrorMessage(t *testing.T) {
	t.Parallel()
	_, _, err := smpp.Decode(unhex(t, `00000011 00000015 00000000 00000009 00`))
	var de *smpp.DecodeError
	require.True(t, errors.As(err, &de))
	require.Contains(t, err.Error(), "enquire_link")
	require.Contains(t, err.Error(), "seq 9")
	require.Contains(t, err.Error(), "ESME_RINVCMDLEN")
}
