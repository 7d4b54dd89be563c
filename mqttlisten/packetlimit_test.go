package mqttlisten

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// packet is the fixed header of an MQTT packet of type byte t whose
// remaining length is n.
func packet(t byte, n int) []byte {
	b := []byte{t}
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			break
		}
	}
	return b
}

// full is packet with its body of n bytes.
func full(t byte, n int) []byte { return append(packet(t, n), bytes.Repeat([]byte{'x'}, n)...) }

// chunkConn is a net.Conn whose Reads return the chunks given, one each.
type chunkConn struct {
	net.Conn
	chunks [][]byte
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	if len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

// readAll reads lc to its end, in Reads of up to bufSize bytes.
func readAll(lc *limitConn, bufSize int) ([]byte, error) {
	var out []byte
	buf := make([]byte, bufSize)
	for {
		n, err := lc.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

func TestPacketLimitFraming(t *testing.T) {
	const limit = 4608
	connect := full(0x10, 100)
	cases := []struct {
		name   string
		chunks [][]byte
		buf    int
		raise  bool // SetPacketLimit(512 KiB) before reading
		// wantGood is how many bytes must come through before the refusal
		// (or all of them when !tooLarge).
		tooLarge bool
		wantGood int
	}{
		{name: "small packets", chunks: [][]byte{connect, full(0x30, 4000), full(0xc0, 0)}, buf: 2048},
		{name: "exactly the limit", chunks: [][]byte{full(0x30, limit-1)}, buf: 2048},
		{name: "one byte over", chunks: [][]byte{full(0x30, limit)}, buf: 2048, tooLarge: true, wantGood: 2},
		{name: "connect of 20 kB", chunks: [][]byte{full(0x10, 20000)}, buf: 2048, tooLarge: true, wantGood: 3},
		{name: "raised for a bridge", chunks: [][]byte{full(0x30, 40000), full(0x30, 5)}, buf: 2048, raise: true},
		{name: "over the raised limit", chunks: [][]byte{full(0x30, 512<<10)}, buf: 2048, raise: true, tooLarge: true, wantGood: 3},
		{name: "several packets in one read, the last too big",
			chunks: [][]byte{append(append(append([]byte{}, connect...), full(0x30, 10)...), packet(0x30, 6000)...)},
			buf:    4096, tooLarge: true, wantGood: len(connect) + 12 + 2},
		{name: "varint split across reads",
			chunks: [][]byte{connect, {0x30, 0x80 | (4000 % 128)}, {4000 / 128}, bytes.Repeat([]byte{'x'}, 4000), full(0xc0, 0)}, buf: 2048},
		{name: "varint split across reads, too big",
			chunks: [][]byte{connect, {0x30, 0x80 | (6000 % 128)}, {6000 / 128}, bytes.Repeat([]byte{'x'}, 100)}, buf: 2048,
			tooLarge: true, wantGood: len(connect) + 2},
		{name: "body split into many small reads",
			chunks: [][]byte{full(0x30, 3000)[:1], full(0x30, 3000)[1:7], full(0x30, 3000)[7:], full(0x30, 3)}, buf: 5},
		{name: "length of five bytes", chunks: [][]byte{{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}}, buf: 2048, tooLarge: true, wantGood: 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := bytes.Join(c.chunks, nil)
			chunks := make([][]byte, len(c.chunks))
			for i, ch := range c.chunks {
				chunks[i] = append([]byte{}, ch...)
			}
			lc := newLimitConn(&chunkConn{chunks: chunks}, limit)
			if c.raise {
				lc.SetPacketLimit(512 << 10)
			}
			got, err := readAll(lc, c.buf)
			if !c.tooLarge {
				if err != io.EOF || !bytes.Equal(got, want) {
					t.Fatalf("read %d of %d bytes, err %v; want all and EOF", len(got), len(want), err)
				}
				return
			}
			if c.name == "length of five bytes" {
				if !errors.Is(err, packets.ErrMalformedVariableByteInteger) {
					t.Fatalf("err %v, want malformed length", err)
				}
			} else if !errors.Is(err, packets.ErrPacketTooLarge) {
				t.Fatalf("err %v, want packet too large", err)
			}
			if len(got) != c.wantGood || !bytes.Equal(got, want[:len(got)]) {
				t.Fatalf("%d bytes came through before the refusal, want %d", len(got), c.wantGood)
			}
			if n, err2 := lc.Read(make([]byte, 10)); n != 0 || err2 == nil {
				t.Fatalf("a Read after the refusal: %d, %v", n, err2)
			}
		})
	}
}

// TestPacketLimitRaisedAfterConnect: the limit is applied per packet; a
// raise between packets (as the hook does once CONNECT is read) lets the
// next, bigger one through.
func TestPacketLimitRaisedAfterConnect(t *testing.T) {
	connect := full(0x10, 50)
	big := full(0x30, 30000)
	lc := newLimitConn(&chunkConn{chunks: [][]byte{connect, big}}, 4608)
	buf := make([]byte, len(connect))
	if _, err := io.ReadFull(lc, buf); err != nil {
		t.Fatal(err)
	}
	lc.SetPacketLimit(512 << 10)
	if lc.PacketLimit() != 512<<10 {
		t.Fatalf("limit %d", lc.PacketLimit())
	}
	got, err := readAll(lc, 1024)
	if err != io.EOF || !bytes.Equal(got, big) {
		t.Fatalf("after the raise: %d of %d bytes, %v", len(got), len(big), err)
	}
}
