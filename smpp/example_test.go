package smpp_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/otpd/otpd/smpp"
)

func ExampleEncode() {
	b, err := smpp.Encode(&smpp.EnquireLink{}, 7, smpp.StatusOK)
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b)
	// Output: 00 00 00 10 00 00 00 15 00 00 00 00 00 00 00 07
}

func ExampleReadPDU() {
	var conn bytes.Buffer // a net.Conn in the session
	for seq, p := range []smpp.PDU{&smpp.EnquireLink{}, &smpp.SubmitSMResp{MessageID: "1a2b"}} {
		b, _ := smpp.Encode(p, uint32(seq+1), smpp.StatusOK)
		conn.Write(b)
	}
	conn.Write([]byte{0, 0, 0, 16, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 3}) // an unknown command

	for {
		h, p, err := smpp.ReadPDU(&conn, 0)
		var de *smpp.DecodeError
		switch {
		case errors.As(err, &de):
			// Answer with generic_nack (or the command's response) carrying
			// de.Status and h.Sequence; close if the framing is lost.
			fmt.Printf("nack seq %d with %s, close=%t\n", h.Sequence, de.Status, errors.Is(err, smpp.ErrCommandLength))
			continue
		case err != nil:
			return // io.EOF: the peer closed
		}
		fmt.Printf("%s %T\n", h, p)
	}
	// Output:
	// enquire_link seq=1 status=ESME_ROK len=16 *smpp.EnquireLink
	// submit_sm_resp seq=2 status=ESME_ROK len=21 *smpp.SubmitSMResp
	// nack seq 3 with ESME_RINVCMDID, close=false
}

func ExampleParseReceipt() {
	d := &smpp.DeliverSM{
		ESMClass:     smpp.ESMDeliveryReceipt,
		ShortMessage: []byte("id:1A2B3C sub:001 dlvrd:001 submit date:2601021504 done date:2601021505 stat:DELIVRD err:000 text:Your code is 12"),
	}
	r, err := smpp.ParseReceipt(d)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.MessageID, r.State, r.State.Final(), r.DoneDate.Format("2006-01-02 15:04"))
	fmt.Println(smpp.SameMessageID("1715004", r.MessageID)) // the SMSC answered submit_sm in decimal
	// Output:
	// 1A2B3C DELIVERED true 2026-01-02 15:05
	// true
}

func ExampleFormatReceipt() {
	fmt.Println(smpp.FormatReceipt(smpp.Receipt{MessageID: "42", Submitted: 1, State: smpp.StateExpired, Text: "Your otpd code is 123456"}))
	// Output: id:42 sub:001 dlvrd:000 submit date:0000000000 done date:0000000000 stat:EXPIRED err:000 text:Your otpd code is 12
}
