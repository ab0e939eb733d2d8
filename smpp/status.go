package smpp

import "fmt"

// CommandStatus is the command_status of a response: 0 for success, an error
// code otherwise. Requests carry 0.
type CommandStatus uint32

// Command status codes of SMPP 3.4, section 5.1.3. Each comment gives the
// spec's name. Codes 0x400–0x4FF are reserved for SMSC vendors and have no
// names here.
const (
	StatusOK               CommandStatus = 0x00000000 // ESME_ROK
	StatusInvMsgLen        CommandStatus = 0x00000001 // ESME_RINVMSGLEN
	StatusInvCmdLen        CommandStatus = 0x00000002 // ESME_RINVCMDLEN
	StatusInvCmdID         CommandStatus = 0x00000003 // ESME_RINVCMDID
	StatusInvBindStatus    CommandStatus = 0x00000004 // ESME_RINVBNDSTS
	StatusAlreadyBound     CommandStatus = 0x00000005 // ESME_RALYBND
	StatusInvPriorityFlag  CommandStatus = 0x00000006 // ESME_RINVPRTFLG
	StatusInvRegDlvFlag    CommandStatus = 0x00000007 // ESME_RINVREGDLVFLG
	StatusSysErr           CommandStatus = 0x00000008 // ESME_RSYSERR
	StatusInvSrcAddr       CommandStatus = 0x0000000A // ESME_RINVSRCADR
	StatusInvDstAddr       CommandStatus = 0x0000000B // ESME_RINVDSTADR
	StatusInvMsgID         CommandStatus = 0x0000000C // ESME_RINVMSGID
	StatusBindFail         CommandStatus = 0x0000000D // ESME_RBINDFAIL
	StatusInvPassword      CommandStatus = 0x0000000E // ESME_RINVPASWD
	StatusInvSysID         CommandStatus = 0x0000000F // ESME_RINVSYSID
	StatusCancelFail       CommandStatus = 0x00000011 // ESME_RCANCELFAIL
	StatusReplaceFail      CommandStatus = 0x00000013 // ESME_RREPLACEFAIL
	StatusMsgQueueFull     CommandStatus = 0x00000014 // ESME_RMSGQFUL
	StatusInvServiceType   CommandStatus = 0x00000015 // ESME_RINVSERTYP
	StatusInvNumDests      CommandStatus = 0x00000033 // ESME_RINVNUMDESTS
	StatusInvDLName        CommandStatus = 0x00000034 // ESME_RINVDLNAME
	StatusInvDestFlag      CommandStatus = 0x00000040 // ESME_RINVDESTFLAG
	StatusInvSubRep        CommandStatus = 0x00000042 // ESME_RINVSUBREP
	StatusInvESMClass      CommandStatus = 0x00000043 // ESME_RINVESMCLASS
	StatusCantSubmitDL     CommandStatus = 0x00000044 // ESME_RCNTSUBDL
	StatusSubmitFail       CommandStatus = 0x00000045 // ESME_RSUBMITFAIL
	StatusInvSrcTON        CommandStatus = 0x00000048 // ESME_RINVSRCTON
	StatusInvSrcNPI        CommandStatus = 0x00000049 // ESME_RINVSRCNPI
	StatusInvDstTON        CommandStatus = 0x00000050 // ESME_RINVDSTTON
	StatusInvDstNPI        CommandStatus = 0x00000051 // ESME_RINVDSTNPI
	StatusInvSysType       CommandStatus = 0x00000053 // ESME_RINVSYSTYP
	StatusInvReplaceFlag   CommandStatus = 0x00000054 // ESME_RINVREPFLAG
	StatusInvNumMsgs       CommandStatus = 0x00000055 // ESME_RINVNUMMSGS
	StatusThrottled        CommandStatus = 0x00000058 // ESME_RTHROTTLED
	StatusInvSched         CommandStatus = 0x00000061 // ESME_RINVSCHED
	StatusInvExpiry        CommandStatus = 0x00000062 // ESME_RINVEXPIRY
	StatusInvDftMsgID      CommandStatus = 0x00000063 // ESME_RINVDFTMSGID
	StatusTempAppErr       CommandStatus = 0x00000064 // ESME_RX_T_APPN
	StatusPermAppErr       CommandStatus = 0x00000065 // ESME_RX_P_APPN
	StatusRejectAppErr     CommandStatus = 0x00000066 // ESME_RX_R_APPN
	StatusQueryFail        CommandStatus = 0x00000067 // ESME_RQUERYFAIL
	StatusInvOptParStream  CommandStatus = 0x000000C0 // ESME_RINVOPTPARSTREAM
	StatusOptParNotAllowed CommandStatus = 0x000000C1 // ESME_ROPTPARNOTALLWD
	StatusInvParLen        CommandStatus = 0x000000C2 // ESME_RINVPARLEN
	StatusMissingOptParam  CommandStatus = 0x000000C3 // ESME_RMISSINGOPTPARAM
	StatusInvOptParamVal   CommandStatus = 0x000000C4 // ESME_RINVOPTPARAMVAL
	StatusDeliveryFailure  CommandStatus = 0x000000FE // ESME_RDELIVERYFAILURE
	StatusUnknownErr       CommandStatus = 0x000000FF // ESME_RUNKNOWNERR
)

type statusInfo struct {
	name, desc string
	temporary  bool
}

// statusTable holds each code's name, the spec's description and whether
// retrying the same message later can succeed. The classification errs
// towards "temporary" where the spec leaves room (ESME_RSYSERR,
// ESME_RSUBMITFAIL, ESME_RUNKNOWNERR): for a one-time code a bounded retry
// costs little, while giving up on a message the SMSC could have sent costs a
// user their login.
var statusTable = map[CommandStatus]statusInfo{
	StatusOK:               {"ESME_ROK", "no error", false},
	StatusInvMsgLen:        {"ESME_RINVMSGLEN", "message length is invalid", false},
	StatusInvCmdLen:        {"ESME_RINVCMDLEN", "command length is invalid", false},
	StatusInvCmdID:         {"ESME_RINVCMDID", "invalid command ID", false},
	StatusInvBindStatus:    {"ESME_RINVBNDSTS", "incorrect bind status for given command", true}, // rebind, then resend
	StatusAlreadyBound:     {"ESME_RALYBND", "ESME already in bound state", false},
	StatusInvPriorityFlag:  {"ESME_RINVPRTFLG", "invalid priority flag", false},
	StatusInvRegDlvFlag:    {"ESME_RINVREGDLVFLG", "invalid registered delivery flag", false},
	StatusSysErr:           {"ESME_RSYSERR", "system error", true},
	StatusInvSrcAddr:       {"ESME_RINVSRCADR", "invalid source address", false},
	StatusInvDstAddr:       {"ESME_RINVDSTADR", "invalid destination address", false},
	StatusInvMsgID:         {"ESME_RINVMSGID", "message ID is invalid", false},
	StatusBindFail:         {"ESME_RBINDFAIL", "bind failed", false},
	StatusInvPassword:      {"ESME_RINVPASWD", "invalid password", false},
	StatusInvSysID:         {"ESME_RINVSYSID", "invalid system ID", false},
	StatusCancelFail:       {"ESME_RCANCELFAIL", "cancel_sm failed", false},
	StatusReplaceFail:      {"ESME_RREPLACEFAIL", "replace_sm failed", false},
	StatusMsgQueueFull:     {"ESME_RMSGQFUL", "message queue full", true},
	StatusInvServiceType:   {"ESME_RINVSERTYP", "invalid service type", false},
	StatusInvNumDests:      {"ESME_RINVNUMDESTS", "invalid number of destinations", false},
	StatusInvDLName:        {"ESME_RINVDLNAME", "invalid distribution list name", false},
	StatusInvDestFlag:      {"ESME_RINVDESTFLAG", "destination flag is invalid", false},
	StatusInvSubRep:        {"ESME_RINVSUBREP", "invalid submit with replace request", false},
	StatusInvESMClass:      {"ESME_RINVESMCLASS", "invalid esm_class field data", false},
	StatusCantSubmitDL:     {"ESME_RCNTSUBDL", "cannot submit to distribution list", false},
	StatusSubmitFail:       {"ESME_RSUBMITFAIL", "submit_sm or submit_multi failed", true},
	StatusInvSrcTON:        {"ESME_RINVSRCTON", "invalid source address TON", false},
	StatusInvSrcNPI:        {"ESME_RINVSRCNPI", "invalid source address NPI", false},
	StatusInvDstTON:        {"ESME_RINVDSTTON", "invalid destination address TON", false},
	StatusInvDstNPI:        {"ESME_RINVDSTNPI", "invalid destination address NPI", false},
	StatusInvSysType:       {"ESME_RINVSYSTYP", "invalid system_type field", false},
	StatusInvReplaceFlag:   {"ESME_RINVREPFLAG", "invalid replace_if_present flag", false},
	StatusInvNumMsgs:       {"ESME_RINVNUMMSGS", "invalid number of messages", false},
	StatusThrottled:        {"ESME_RTHROTTLED", "throttling error (ESME has exceeded allowed message limits)", true},
	StatusInvSched:         {"ESME_RINVSCHED", "invalid scheduled delivery time", false},
	StatusInvExpiry:        {"ESME_RINVEXPIRY", "invalid message validity period (expiry time)", false},
	StatusInvDftMsgID:      {"ESME_RINVDFTMSGID", "predefined message invalid or not found", false},
	StatusTempAppErr:       {"ESME_RX_T_APPN", "ESME receiver temporary app error code", true},
	StatusPermAppErr:       {"ESME_RX_P_APPN", "ESME receiver permanent app error code", false},
	StatusRejectAppErr:     {"ESME_RX_R_APPN", "ESME receiver reject message error code", false},
	StatusQueryFail:        {"ESME_RQUERYFAIL", "query_sm request failed", false},
	StatusInvOptParStream:  {"ESME_RINVOPTPARSTREAM", "error in the optional part of the PDU body", false},
	StatusOptParNotAllowed: {"ESME_ROPTPARNOTALLWD", "optional parameter not allowed", false},
	StatusInvParLen:        {"ESME_RINVPARLEN", "invalid parameter length", false},
	StatusMissingOptParam:  {"ESME_RMISSINGOPTPARAM", "expected optional parameter missing", false},
	StatusInvOptParamVal:   {"ESME_RINVOPTPARAMVAL", "invalid optional parameter value", false},
	StatusDeliveryFailure:  {"ESME_RDELIVERYFAILURE", "delivery failure (used for data_sm_resp)", true},
	StatusUnknownErr:       {"ESME_RUNKNOWNERR", "unknown error", true},
}

// String returns the spec's name ("ESME_RTHROTTLED"), or the hexadecimal
// value of a code the spec does not name (such as a vendor-specific one).
func (s CommandStatus) String() string {
	if i, ok := statusTable[s]; ok {
		return i.name
	}
	return fmt.Sprintf("command_status(0x%08X)", uint32(s))
}

// Description returns the spec's one-line description of s, or "" for a code
// it does not define.
func (s CommandStatus) Description() string { return statusTable[s].desc }

// Temporary reports whether a message refused with s may succeed if
// submitted again later: throttling, a full queue, a system error or a lost
// bind. Every other code, including the vendor range 0x400–0x4FF and any code
// unknown to SMPP 3.4, counts as permanent; a route that knows its SMSC's
// vendor codes can override this.
func (s CommandStatus) Temporary() bool { return statusTable[s].temporary }
