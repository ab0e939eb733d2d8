package main_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
)

var smscListenRe = regexp.MustCompile(`msg="otpd smsc listening" smpp_addr=(\S+) http_addr=(\S+)`)

// TestSMSCCommand runs `otpd smsc` and talks SMPP to it with the codec: a
// bind with the right credentials, a submit with a receipt, and the message
// listed over HTTP.
func TestSMSCCommand(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binary, "smsc", "--smpp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--system-id", "otpd", "--password", "secret", "--dlr-delay", "0")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	var smppAddr, httpAddr string
	for sc.Scan() {
		if m := smscListenRe.FindStringSubmatch(sc.Text()); m != nil {
			smppAddr, httpAddr = m[1], m[2]
			break
		}
	}
	require.NotEmpty(t, smppAddr, "otpd smsc did not say where it listens")
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	conn, err := net.DialTimeout("tcp", smppAddr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	r := bufio.NewReader(conn)
	send := func(p smpp.PDU, seq uint32) {
		b, err := smpp.Encode(p, seq, smpp.StatusOK)
		require.NoError(t, err)
		_, err = conn.Write(b)
		require.NoError(t, err)
	}

	send(&smpp.BindTransceiver{SystemID: "otpd", Password: "wrong", InterfaceVersion: 0x34}, 1)
	h, _, err := smpp.ReadPDU(r, 0)
	require.NoError(t, err)
	require.NotEqual(t, smpp.StatusOK, h.Status, "a wrong password is refused")

	conn, err = net.DialTimeout("tcp", smppAddr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	r = bufio.NewReader(conn)
	send(&smpp.BindTransceiver{SystemID: "otpd", Password: "secret", InterfaceVersion: 0x34}, 1)
	h, _, err = smpp.ReadPDU(r, 0)
	require.NoError(t, err)
	require.Equal(t, smpp.StatusOK, h.Status)

	send(&smpp.SubmitSM{
		Destination:        smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: "447700900123"},
		RegisteredDelivery: smpp.ReceiptOnFinal,
		ShortMessage:       []byte("Your code is 123456."),
	}, 2)
	// With --dlr-delay 0 the receipt may overtake the submit_sm_resp.
	var id string
	var receipt smpp.Receipt
	for id == "" || receipt.MessageID == "" {
		h, p, err := smpp.ReadPDU(r, 0)
		require.NoError(t, err)
		switch p := p.(type) {
		case *smpp.SubmitSMResp:
			require.Equal(t, smpp.StatusOK, h.Status)
			id = p.MessageID
			require.NotEmpty(t, id)
		case *smpp.DeliverSM:
			receipt, err = smpp.ParseReceipt(p)
			require.NoError(t, err)
			send(&smpp.DeliverSMResp{}, h.Sequence)
		default:
			t.Fatalf("unexpected %T", p)
		}
	}
	require.True(t, smpp.SameMessageID(id, receipt.MessageID))

	res, err := http.Get("http://" + httpAddr + "/messages?to=" + url.QueryEscape("+447700900123"))
	require.NoError(t, err)
	defer res.Body.Close()
	var msgs []struct {
		To, Channel, Text string
		CreatedAt         time.Time `json:"created_at"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&msgs))
	require.Len(t, msgs, 1)
	require.Equal(t, "+447700900123", msgs[0].To)
	require.Equal(t, "sms", msgs[0].Channel)
	require.Equal(t, "Your code is 123456.", msgs[0].Text)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "otpd smsc exits 0 on SIGTERM")
}
