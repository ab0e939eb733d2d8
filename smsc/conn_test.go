package smsc_test

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
	"github.com/otpd/otpd/smsc"
)

func TestBind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        smsc.Config
		as         bindAs
		systemID   string
		password   string
		wantStatus smpp.CommandStatus
	}{
		{name: "any credentials when unset", as: asTransceiver, systemID: "whoever", password: "x", wantStatus: smpp.StatusOK},
		{name: "transmitter", cfg: smsc.Config{SystemID: "otpd", Password: "secret"}, as: asTransmitter, systemID: "otpd", password: "secret", wantStatus: smpp.StatusOK},
		{name: "receiver", cfg: smsc.Config{SystemID: "otpd", Password: "secret"}, as: asReceiver, systemID: "otpd", password: "secret", wantStatus: smpp.StatusOK},
		{name: "transceiver", cfg: smsc.Config{SystemID: "otpd", Password: "secret"}, as: asTransceiver, systemID: "otpd", password: "secret", wantStatus: smpp.StatusOK},
		{name: "password only", cfg: smsc.Config{Password: "secret"}, as: asTransceiver, systemID: "anyone", password: "secret", wantStatus: smpp.StatusOK},
		{name: "wrong password", cfg: smsc.Config{SystemID: "otpd", Password: "secret"}, as: asTransceiver, systemID: "otpd", password: "guess", wantStatus: smpp.StatusInvPassword},
		{name: "wrong system_id", cfg: smsc.Config{SystemID: "otpd", Password: "secret"}, as: asTransmitter, systemID: "other", password: "secret", wantStatus: smpp.StatusInvSysID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg)
			c := b.dial(t)
			require.Equal(t, tt.wantStatus, c.bind(tt.as, tt.systemID, tt.password))
			st := b.srv.Stats()
			if tt.wantStatus != smpp.StatusOK {
				c.requireClosed()
				require.Equal(t, 1, st.BindFailures)
				require.Zero(t, st.Binds)
				return
			}
			require.Equal(t, 1, st.Binds)
			require.Equal(t, 1, st.ActiveBinds)
			c.sync() // still open
		})
	}
}

func TestBindResponse(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	c := b.dial(t)
	r := c.call(&smpp.BindTransceiver{SystemID: "otpd", InterfaceVersion: smpp.InterfaceVersion34})
	resp := r.p.(*smpp.BindTransceiverResp)
	require.Equal(t, smsc.SMSCSystemID, resp.SystemID)
	v, ok := resp.TLVs.SCInterfaceVersion()
	require.True(t, ok)
	require.Equal(t, smpp.InterfaceVersion34, v)

	// A second bind on a bound connection is refused; the first stands.
	require.Equal(t, smpp.StatusAlreadyBound, c.bind(asTransmitter, "otpd", ""))
	st, id := c.submit(sms(testTo, "still bound"))
	require.Equal(t, smpp.StatusOK, st)
	require.NotEmpty(t, id)
}

func TestSubmitNeedsTransmitBind(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})

	unboundConn := b.dial(t)
	st, _ := unboundConn.submit(sms(testTo, "too early"))
	require.Equal(t, smpp.StatusInvBindStatus, st)

	rx := b.bound(t, asReceiver, "otpd")
	st, _ = rx.submit(sms(testTo, "receivers cannot submit"))
	require.Equal(t, smpp.StatusInvBindStatus, st)
	r := rx.call(&smpp.DataSM{Destination: smpp.Address{TON: smpp.TONInternational, NPI: smpp.NPIISDN, Addr: testTo}})
	require.Equal(t, smpp.CmdDataSMResp, r.h.CommandID)
	require.Equal(t, smpp.StatusInvBindStatus, r.h.Status)

	require.Empty(t, b.srv.Messages(""))
	require.Zero(t, b.srv.Stats().Submits)
}

func TestEnquireLinkAndUnbind(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	c := b.dial(t)
	c.sync() // enquire_link works before a bind too
	require.Equal(t, smpp.StatusOK, c.bind(asTransceiver, "otpd", ""))
	c.sync()
	r := c.call(&smpp.Unbind{})
	require.Equal(t, smpp.CmdUnbindResp, r.h.CommandID)
	require.Equal(t, smpp.StatusOK, r.h.Status)
	c.requireClosed()
	require.Eventually(t, func() bool { return b.srv.Stats().ActiveBinds == 0 }, waitTimeout, time.Millisecond)
}

// rawPDU builds a PDU by hand, for what Encode refuses to write.
func rawPDU(id smpp.CommandID, seq uint32, body []byte) []byte {
	b := make([]byte, 16, 16+len(body))
	binary.BigEndian.PutUint32(b[0:], uint32(16+len(body)))
	binary.BigEndian.PutUint32(b[4:], uint32(id))
	binary.BigEndian.PutUint32(b[12:], seq)
	return append(b, body...)
}

func TestMalformedPDUs(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	c := b.bound(t, asTransceiver, "otpd")

	// An unknown command.
	c.writeRaw(rawPDU(0x00000099, 77, nil))
	r := c.recv()
	require.Equal(t, smpp.CmdGenericNack, r.h.CommandID)
	require.Equal(t, smpp.StatusInvCmdID, r.h.Status)
	require.Equal(t, uint32(77), r.h.Sequence)

	// A command SMPP 3.4 defines but the simulator does not take.
	c.writeRaw(rawPDU(smpp.CmdQuerySM, 78, []byte("1\x00\x01\x01447700900123\x00")))
	r = c.recv()
	require.Equal(t, smpp.CmdGenericNack, r.h.CommandID)
	require.Equal(t, smpp.StatusInvCmdID, r.h.Status)
	require.Equal(t, uint32(78), r.h.Sequence)

	// A submit_sm whose destination is longer than SMPP allows.
	body := []byte("\x00\x05\x00Acme\x00\x01\x01123456789012345678901234567890\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02hi")
	c.writeRaw(rawPDU(smpp.CmdSubmitSM, 79, body))
	r = c.recv()
	require.Equal(t, smpp.CmdGenericNack, r.h.CommandID)
	require.Equal(t, smpp.StatusInvDstAddr, r.h.Status)
	require.Equal(t, uint32(79), r.h.Sequence)

	// A body cut short inside a field.
	c.writeRaw(rawPDU(smpp.CmdSubmitSM, 80, []byte("\x00\x05\x00Acme")))
	r = c.recv()
	require.Equal(t, smpp.CmdGenericNack, r.h.CommandID)
	require.Equal(t, uint32(80), r.h.Sequence)

	// An enquire_link with a body.
	c.writeRaw(rawPDU(smpp.CmdEnquireLink, 81, []byte{1}))
	r = c.recv()
	require.Equal(t, smpp.CmdGenericNack, r.h.CommandID)
	require.Equal(t, smpp.StatusInvCmdLen, r.h.Status)

	// The connection survived all of it.
	st, id := c.submit(sms(testTo, "after the noise"))
	require.Equal(t, smpp.StatusOK, st)
	require.NotEmpty(t, id)
	require.Len(t, b.srv.Messages(testTo), 1)
}

func TestUnframeablePDUClosesConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, smsc.Config{})
	c := b.bound(t, asTransceiver, "otpd")
	huge := rawPDU(smpp.CmdSubmitSM, 5, nil)
	binary.BigEndian.PutUint32(huge, 1<<30) // command_length beyond any limit
	c.writeRaw(huge)
	r := c.recv()
	require.Equal(t, smpp.CmdGenericNack, r.h.CommandID)
	require.Equal(t, smpp.StatusInvCmdLen, r.h.Status)
	require.Equal(t, uint32(5), r.h.Sequence)
	c.requireClosed()
}

func TestShutdownUnbindsAndCloses(t *testing.T) {
	t.Parallel()
	srv := smsc.New(smsc.Config{DLRDelay: time.Hour})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln) }()
	b := &testBundle{srv: srv, addr: ln.Addr().String()}
	require.Eventually(t, func() bool { return srv.Addr() != nil }, waitTimeout, time.Millisecond)
	require.Equal(t, ln.Addr().String(), srv.Addr().String())

	c := b.bound(t, asTransceiver, "otpd")
	// A receipt an hour away: Serve must not wait for it.
	st, _ := c.submit(sms(testTo, "receipt pending"))
	require.Equal(t, smpp.StatusOK, st)
	require.Equal(t, 1, srv.Stats().ReceiptsScheduled)
	cancel()
	r := c.recv()
	require.Equal(t, smpp.CmdUnbind, r.h.CommandID)
	c.requireClosed()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("Serve did not return")
	}
	require.Nil(t, srv.Addr())
}

func TestServeRefusesInvalidConfig(t *testing.T) {
	t.Parallel()
	srv := smsc.New(smsc.Config{SystemID: "a-system-id-far-too-long"})
	err := srv.ListenAndServe(context.Background(), "127.0.0.1:0")
	require.ErrorIs(t, err, smsc.ErrInvalidConfig)
}
