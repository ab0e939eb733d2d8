package smpp_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/smpp"
)

func TestReadPDUStream(t *testing.T) {
	t.Parallel()
	var stream []byte
	for _, v := range vectors {
		stream = append(stream, unhex(t, v.hex)...)
	}
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := wrap(bytes.NewReader(stream))
			for _, v := range vectors {
				h, p, err := smpp.ReadPDU(r, 0)
				require.NoError(t, err, v.name)
				require.Equal(t, v.seq, h.Sequence, v.name)
				require.Equal(t, v.status, h.Status, v.name)
				require.Equal(t, v.pdu, p, v.name)
			}
			_, _, err := smpp.ReadPDU(r, 0)
			require.ErrorIs(t, err, io.EOF)
		})
	}
}

func TestReadPDUTruncated(t *testing.T) {
	t.Parallel()
	b, _ := vectorNamed(t, "bind_transmitter")
	for _, n := range []int{1, 15} {
		_, _, err := smpp.ReadPDU(iotest.OneByteReader(bytes.NewReader(b[:n])), 0)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "header cut at %d", n)
	}
	for _, n := range []int{16, len(b) - 1} {
		h, _, err := smpp.ReadPDU(iotest.OneByteReader(bytes.NewReader(b[:n])), 0)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "body cut at %d", n)
		require.Equal(t, smpp.CmdBindTransmitter, h.CommandID)
	}
	// A read error is passed on as it is.
	boom := errors.New("boom")
	_, _, err := smpp.ReadPDU(io.MultiReader(bytes.NewReader(b[:20]), iotest.ErrReader(boom)), 0)
	require.ErrorIs(t, err, boom)
}

// failAfterHeader fails the test if anyone reads past the first 16 octets:
// an impossible command_length must be refused before the body is read.
type failAfterHeader struct {
	t *testing.T
	r io.Reader
	n int
}

func (f *failAfterHeader) Read(p []byte) (int, error) {
	if f.n >= 16 {
		f.t.Error("ReadPDU read past a header it should have refused")
		return 0, io.EOF
	}
	if len(p) > 16-f.n {
		p = p[:16-f.n]
	}
	n, err := f.r.Read(p)
	f.n += n
	return n, err
}

func TestReadPDURefusesLength(t *testing.T) {
	t.Parallel()
	header := func(length uint32) []byte {
		b := make([]byte, 16, 1<<20)
		binary.BigEndian.PutUint32(b[0:], length)
		binary.BigEndian.PutUint32(b[4:], uint32(smpp.CmdSubmitSM))
		binary.BigEndian.PutUint32(b[12:], 77)
		return b[:cap(b)] // plenty of "body" behind it, which must not be read
	}
	for _, tc := range []struct {
		name   string
		length uint32
		max    int
	}{
		{"zero", 0, 0},
		{"below header", 15, 0},
		{"above default", smpp.DefaultMaxLength + 1, 0},
		{"above given", 75, 74},
		{"4 GiB", 0xFFFFFFFF, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, p, err := smpp.ReadPDU(&failAfterHeader{t: t, r: bytes.NewReader(header(tc.length))}, tc.max)
			var de *smpp.DecodeError
			require.True(t, errors.As(err, &de))
			require.Equal(t, smpp.StatusInvCmdLen, de.Status)
			require.ErrorIs(t, err, smpp.ErrCommandLength)
			require.Equal(t, uint32(77), h.Sequence)
			require.Nil(t, p)
		})
	}
	// Exactly at the limit is fine.
	b, want := vectorNamed(t, "submit_sm")
	_, p, err := smpp.ReadPDU(bytes.NewReader(b), len(b))
	require.NoError(t, err)
	require.Equal(t, want, p)
}

// After a PDU whose body is bad, or whose command is unknown, the stream is
// still framed: the session answers it and reads on.
func TestReadPDUResyncsAfterBadBody(t *testing.T) {
	t.Parallel()
	var stream []byte
	stream = append(stream, frame(smpp.CmdSubmitSM, 1, submit("", "1", "1", "", "", cat(200, "short"))...)...)
	stream = append(stream, frame(0x00000111, 2, "broadcast")...)
	stream = append(stream, frame(smpp.CmdEnquireLink, 3, 0)...)
	enquire, _ := vectorNamed(t, "enquire_link") // seq 7
	stream = append(stream, enquire...)
	r := iotest.OneByteReader(bytes.NewReader(stream))

	h, _, err := smpp.ReadPDU(r, 0)
	require.ErrorIs(t, err, smpp.ErrMalformed)
	require.NotErrorIs(t, err, smpp.ErrCommandLength)
	require.Equal(t, uint32(1), h.Sequence)

	h, p, err := smpp.ReadPDU(r, 0)
	require.ErrorIs(t, err, smpp.ErrUnknownCommand)
	require.Equal(t, &smpp.Unknown{ID: 0x111, Body: []byte("broadcast")}, p)
	require.Equal(t, uint32(2), h.Sequence)

	h, _, err = smpp.ReadPDU(r, 0)
	require.ErrorIs(t, err, smpp.ErrMalformed)
	require.Equal(t, uint32(3), h.Sequence)

	h, p, err = smpp.ReadPDU(r, 0)
	require.NoError(t, err)
	require.Equal(t, &smpp.EnquireLink{}, p)
	require.Equal(t, uint32(7), h.Sequence)

	_, _, err = smpp.ReadPDU(r, 0)
	require.ErrorIs(t, err, io.EOF)
}
