package smpp

import "fmt"

// CommandID identifies the kind of a PDU (command_id). A response's id is its
// request's id with the high bit set.
type CommandID uint32

// Command ids of SMPP 3.4, section 5.1.2.1.
const (
	CmdGenericNack         CommandID = 0x80000000
	CmdBindReceiver        CommandID = 0x00000001
	CmdBindReceiverResp    CommandID = 0x80000001
	CmdBindTransmitter     CommandID = 0x00000002
	CmdBindTransmitterResp CommandID = 0x80000002
	CmdQuerySM             CommandID = 0x00000003
	CmdQuerySMResp         CommandID = 0x80000003
	CmdSubmitSM            CommandID = 0x00000004
	CmdSubmitSMResp        CommandID = 0x80000004
	CmdDeliverSM           CommandID = 0x00000005
	CmdDeliverSMResp       CommandID = 0x80000005
	CmdUnbind              CommandID = 0x00000006
	CmdUnbindResp          CommandID = 0x80000006
	CmdReplaceSM           CommandID = 0x00000007
	CmdReplaceSMResp       CommandID = 0x80000007
	CmdCancelSM            CommandID = 0x00000008
	CmdCancelSMResp        CommandID = 0x80000008
	CmdBindTransceiver     CommandID = 0x00000009
	CmdBindTransceiverResp CommandID = 0x80000009
	CmdOutbind             CommandID = 0x0000000B
	CmdEnquireLink         CommandID = 0x00000015
	CmdEnquireLinkResp     CommandID = 0x80000015
	CmdSubmitMulti         CommandID = 0x00000021
	CmdSubmitMultiResp     CommandID = 0x80000021
	CmdAlertNotification   CommandID = 0x00000102
	CmdDataSM              CommandID = 0x00000103
	CmdDataSMResp          CommandID = 0x80000103
	responseBit            CommandID = 0x80000000
)

var commandNames = map[CommandID]string{
	CmdGenericNack:         "generic_nack",
	CmdBindReceiver:        "bind_receiver",
	CmdBindReceiverResp:    "bind_receiver_resp",
	CmdBindTransmitter:     "bind_transmitter",
	CmdBindTransmitterResp: "bind_transmitter_resp",
	CmdQuerySM:             "query_sm",
	CmdQuerySMResp:         "query_sm_resp",
	CmdSubmitSM:            "submit_sm",
	CmdSubmitSMResp:        "submit_sm_resp",
	CmdDeliverSM:           "deliver_sm",
	CmdDeliverSMResp:       "deliver_sm_resp",
	CmdUnbind:              "unbind",
	CmdUnbindResp:          "unbind_resp",
	CmdReplaceSM:           "replace_sm",
	CmdReplaceSMResp:       "replace_sm_resp",
	CmdCancelSM:            "cancel_sm",
	CmdCancelSMResp:        "cancel_sm_resp",
	CmdBindTransceiver:     "bind_transceiver",
	CmdBindTransceiverResp: "bind_transceiver_resp",
	CmdOutbind:             "outbind",
	CmdEnquireLink:         "enquire_link",
	CmdEnquireLinkResp:     "enquire_link_resp",
	CmdSubmitMulti:         "submit_multi",
	CmdSubmitMultiResp:     "submit_multi_resp",
	CmdAlertNotification:   "alert_notification",
	CmdDataSM:              "data_sm",
	CmdDataSMResp:          "data_sm_resp",
}

// String returns the spec's name for the command ("submit_sm_resp"), or its
// hexadecimal value when the id is not one SMPP 3.4 defines.
func (c CommandID) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	return fmt.Sprintf("command_id(0x%08X)", uint32(c))
}

// IsResponse reports whether c is a response (its high bit is set);
// generic_nack counts as one.
func (c CommandID) IsResponse() bool { return c&responseBit != 0 }

// Response returns the id of the response to request c.
func (c CommandID) Response() CommandID { return c | responseBit }

// Known reports whether SMPP 3.4 defines c, whether or not this package has a
// type for it.
func (c CommandID) Known() bool {
	_, ok := commandNames[c]
	return ok
}
