package smsc_test

import (
	"bufio"
	"context"
	"fmt"
	"net"

	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/smsc"
)

// The in-process wiring of `otpd serve --dev`: listen on a loopback port
// first, so the address is known before the SMPP route dials it, then
// serve until the context ends and read what arrived with WaitFor.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	srv := smsc.New(smsc.Config{SystemID: "otpd", Password: "dev"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	// The SMPP route would be smpp://otpd:dev@<ln.Addr()>; here a bare
	// ESME made from the codec stands in for it.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	call := func(seq uint32, p smpp.PDU) smpp.Header {
		b, _ := smpp.Encode(p, seq, smpp.StatusOK)
		conn.Write(b)
		h, _, _ := smpp.ReadPDU(r, 0)
		return h
	}
	fmt.Println(call(1, &smpp.BindTransceiver{SystemID: "otpd", Password: "dev", InterfaceVersion: smpp.InterfaceVersion34}).Status)
	fmt.Println(call(2, &smpp.SubmitSM{
		Source:       smpp.Address{TON: smpp.TONAlphanumeric, Addr: "Acme"},
		Destination:  smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "447700900123"},
		ShortMessage: []byte("Your Acme code is 123456"),
	}).Status)

	m, err := srv.WaitFor(ctx, smsc.To("+447700900123"))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %s\n", m.To, m.Text)

	cancel()
	fmt.Println(<-done)
	// Output:
	// ESME_ROK
	// ESME_ROK
	// +447700900123: Your Acme code is 123456
	// <nil>
}
