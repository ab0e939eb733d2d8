package smsc

import (
	"fmt"
	"slices"
	"strings"

	"github.com/otpd/otpd/gsm"
	"github.com/otpd/otpd/smpp"
)

// inbound is what submit_sm and data_sm have in common.
type inbound struct {
	systemID string
	src, dst smpp.Address
	esm      smpp.ESMClass
	rd       smpp.RegisteredDelivery
	dc       smpp.DataCoding
	sm       []byte
	tlvs     smpp.TLVs
	dataSM   bool
}

// outcome is what becomes of a submit.
type outcome struct {
	id       string // set when accepted
	status   smpp.CommandStatus
	withhold bool // leave it unanswered
	drop     bool // leave it unanswered and close the connection
}

// content is the text of one submit: a whole message, or one part of a
// concatenated one.
type content struct {
	part   gsm.Part   // its UDH, if any, holds the concatenation element
	concat gsm.Concat // valid when multi
	multi  bool       // one part of several
}

// accept decides on a submit, stores it and schedules its receipt.
func (s *Server) accept(c *conn, in inbound) outcome {
	log := c.log
	to, digits, status := destination(in.dst)
	var ct content
	if status == smpp.StatusOK && in.dataSM && len(in.src.Addr) >= 21 {
		// data_sm allows 64 characters, deliver_sm (the receipt) 20.
		status = smpp.StatusInvSrcAddr
	}
	if status == smpp.StatusOK {
		ct, status = parseContent(in)
	}

	s.mu.Lock()
	f := s.faults // SetFaults replaces the maps, never changes them: safe to read after Unlock
	out := outcome{withhold: f.WithholdResponses, drop: f.DropAfter > 0 && c.submits >= f.DropAfter}
	if status == smpp.StatusOK {
		s.faultSeq++
		switch k := s.faultSeq; {
		case f.Throttle.picks(k):
			status = smpp.StatusThrottled
		case f.QueueFull.picks(k):
			status = smpp.StatusMsgQueueFull
		default:
			status = f.failStatus(digits)
		}
	}
	if status != smpp.StatusOK {
		s.stats.Rejected++
		s.mu.Unlock()
		log.Info("smsc refused submit", "to", mask(to), "status", status.String())
		out.status = status
		return out
	}

	now := s.cfg.Now().UTC()
	state := smpp.StateDelivered
	if f.undeliverable(digits) {
		state = smpp.StateUndeliverable
	}
	out.id = s.newID()
	s.stats.Submits++
	stored, complete := s.store.add(&s.stats, submitted{
		id: out.id, systemID: in.systemID, to: to, from: source(in.src), dc: in.dc,
		state: state, at: now, content: ct,
	})
	wantReceipt := !f.NoReceipts && wantsReceipt(in.rd, state)
	if wantReceipt {
		s.stats.ReceiptsScheduled++
		// The serve goroutine of c holds a slot of sv.wg, so adding to it
		// here cannot race with Serve's Wait.
		c.sv.wg.Add(1)
	}
	s.mu.Unlock()

	log.Debug("smsc accepted submit", "id", out.id, "system_id", in.systemID, "to", mask(to), "receipt", wantReceipt)
	if complete {
		log.Info("smsc stored message", "ids", strings.Join(stored.MessageIDs, ","), "to", mask(to),
			"parts", stored.Parts, "duplicate", stored.Duplicate)
		if s.cfg.OnMessage != nil {
			stored.MessageIDs = slices.Clone(stored.MessageIDs)
			s.cfg.OnMessage(stored)
		}
	}
	if wantReceipt {
		r := smpp.Receipt{
			MessageID:  out.id,
			Submitted:  1,
			SubmitDate: now,
			State:      state,
			Err:        "000",
			Text:       partText(in.dc, ct.part),
		}
		if state == smpp.StateDelivered {
			r.Delivered = 1
		} else {
			r.Err = "001"
			r.NetworkError = &smpp.NetworkErrorCode{Type: smpp.NetworkTypeGSM, Code: 1}
		}
		job := receiptJob{receipt: r, systemID: in.systemID, origin: c, from: in.dst, to: in.src,
			toOther: f.ReceiptsToOtherBind}
		go func() {
			defer c.sv.wg.Done()
			s.sendReceipt(c.sv.ctx, job)
		}()
	}
	return out
}

// wantsReceipt reads registered_delivery: an SMSC receipt on any final
// state, or only on failure.
func wantsReceipt(rd smpp.RegisteredDelivery, st smpp.MessageState) bool {
	switch rd & 0x03 {
	case smpp.ReceiptOnFinal, 0x03: // 0x03 is reserved; taken as "always"
		return true
	case smpp.ReceiptOnFailure:
		return st != smpp.StateDelivered
	}
	return false
}

// destination checks a destination address and returns it as stored
// ("+" and digits for an international number, the digits otherwise) and
// its digits alone, for prefix faults.
func destination(a smpp.Address) (to, digits string, status smpp.CommandStatus) {
	switch a.TON {
	case smpp.TONUnknown, smpp.TONInternational, smpp.TONNational, smpp.TONNetworkSpecific,
		smpp.TONSubscriberNumber, smpp.TONAbbreviated:
	default: // alphanumeric: nobody can receive at a name
		return "", "", smpp.StatusInvDstTON
	}
	switch a.NPI {
	case smpp.NPIUnknown, smpp.NPIISDN:
	case smpp.NPINational, smpp.NPIPrivate, smpp.NPILandMobile:
		if a.TON == smpp.TONInternational {
			return "", "", smpp.StatusInvDstNPI
		}
	default:
		return "", "", smpp.StatusInvDstNPI
	}
	d, plus := strings.CutPrefix(a.Addr, "+")
	if plus && a.TON != smpp.TONUnknown && a.TON != smpp.TONInternational {
		return "", "", smpp.StatusInvDstAddr
	}
	if d == "" || len(d) > 20 || !allDigits(d) {
		return "", "", smpp.StatusInvDstAddr
	}
	if plus || a.TON == smpp.TONInternational {
		if len(d) > 15 { // E.164
			return "", "", smpp.StatusInvDstAddr
		}
		return "+" + d, d, smpp.StatusOK
	}
	return d, d, smpp.StatusOK
}

// source returns a source address as stored: "+" and digits for an
// international number, as given otherwise (an alphanumeric sender id).
func source(a smpp.Address) string {
	if a.TON == smpp.TONInternational && a.Addr != "" && allDigits(a.Addr) {
		return "+" + a.Addr
	}
	return a.Addr
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseContent finds the text of a submit and where it belongs: in
// short_message or message_payload, marked as a part by a UDH
// concatenation element or by the sar_* TLVs.
func parseContent(in inbound) (content, smpp.CommandStatus) {
	data := in.sm
	if payload, ok := in.tlvs.MessagePayload(); ok {
		if len(in.sm) > 0 {
			// SMPP 3.4 §5.3.2.32: with message_payload, sm_length is 0.
			return content{}, smpp.StatusInvMsgLen
		}
		data = payload
	} else if in.dataSM {
		return content{}, smpp.StatusMissingOptParam
	}
	part, err := gsm.ParsePart(data, in.esm.UDHI())
	if err != nil {
		return content{}, smpp.StatusInvESMClass
	}
	concat, ok, err := part.Concat()
	if err != nil {
		return content{}, smpp.StatusInvESMClass
	}
	if !ok {
		sar, present, status := sarOf(in.tlvs)
		if status != smpp.StatusOK {
			return content{}, status
		}
		if present {
			// Give the part the 16-bit concatenation header the SAR TLVs
			// stand for, so one reassembly path serves both.
			part.UDH = []byte{6, 0x08, 4, byte(sar.Ref >> 8), byte(sar.Ref), sar.Total, sar.Seq}
			concat, ok = gsm.Concat{Ref: sar.Ref, Ref16: true, Total: int(sar.Total), Seq: int(sar.Seq)}, true
		}
	}
	return content{part: part, concat: concat, multi: ok && concat.Total > 1}, smpp.StatusOK
}

// sarOf returns the sar_* TLVs; all three or none must be present.
func sarOf(t smpp.TLVs) (smpp.SAR, bool, smpp.CommandStatus) {
	_, ref := t.Get(smpp.TagSARMsgRefNum)
	_, total := t.Get(smpp.TagSARTotalSegments)
	_, seq := t.Get(smpp.TagSARSegmentSeqnum)
	if !ref && !total && !seq {
		return smpp.SAR{}, false, smpp.StatusOK
	}
	sar, ok := t.SAR()
	switch {
	case !ok:
		return smpp.SAR{}, false, smpp.StatusMissingOptParam
	case sar.Total == 0 || sar.Seq == 0 || sar.Seq > sar.Total:
		return smpp.SAR{}, false, smpp.StatusInvOptParamVal
	}
	return sar, true, smpp.StatusOK
}

// codingOf returns the gsm.Coding for a data_coding, with IA5 read as
// Latin-1 (ASCII is a subset of both).
func codingOf(dc smpp.DataCoding) (gsm.Coding, bool) {
	if dc == smpp.CodingIA5 {
		return gsm.Latin1, true
	}
	return gsm.CodingOf(byte(dc))
}

// decodeText returns the text the parts of one message carry. Text that
// does not decode in its data_coding, and binary data, are kept as hex
// behind a marker rather than lost: the simulator shows what it was sent.
// ok is false for text that should have decoded and did not.
func decodeText(dc smpp.DataCoding, parts []gsm.Part) (text string, ok bool) {
	c, known := codingOf(dc)
	if known {
		if text, err := gsm.Reassemble(c, parts...); err == nil {
			return text, true
		}
	}
	// Latin-1 maps octets one to one: decode as it to get the octets in
	// order, whatever the coding.
	var raw []byte
	if s, err := gsm.Reassemble(gsm.Latin1, parts...); err == nil {
		for _, r := range s {
			raw = append(raw, byte(r))
		}
	} else {
		for _, p := range parts {
			raw = append(raw, p.Text...)
		}
	}
	if known {
		return fmt.Sprintf("[undecodable %s] %x", c, raw), false
	}
	return fmt.Sprintf("[binary data_coding 0x%02X] %x", uint8(dc), raw), true
}

// partText is the text of one part alone, for its receipt; "" when it does
// not decode by itself.
func partText(dc smpp.DataCoding, p gsm.Part) string {
	c, ok := codingOf(dc)
	if !ok {
		return ""
	}
	text, err := gsm.Reassemble(c, gsm.Part{Text: p.Text})
	if err != nil {
		return ""
	}
	return text
}

// mask hides most of a destination for logs.
func mask(to string) string {
	if len(to) <= 6 {
		return strings.Repeat("*", len(to))
	}
	return to[:4] + strings.Repeat("*", len(to)-6) + to[len(to)-2:]
}
