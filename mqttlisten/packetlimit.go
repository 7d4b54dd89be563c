package mqttlisten

import (
	"fmt"
	"net"
	"sync/atomic"

	"github.com/mochi-mqtt/server/v2/packets"
)

// PacketLimiter is what a connection served with WithPacketLimit offers
// the broker's hooks (as mochi's Client.Net.Conn): SetPacketLimit raises
// or lowers the largest packet the connection may send from the next
// packet header on, e.g. once the CONNECT has authenticated an account
// allowed bigger packets than a device.
type PacketLimiter interface {
	SetPacketLimit(n uint32)
}

// limitConn is a net.Conn whose Read tracks MQTT packet framing as the
// bytes pass (fixed header byte, the "remaining length" varint, then the
// body) and fails, before the body is read, once a packet's size as mochi
// counts it (remaining length + 1) is over the current limit. The error
// wraps packets.ErrPacketTooLarge, as mochi's own check does, so a hook's
// OnDisconnect sees the same reason.
//
// mochi reads through a bufio.Reader, so a Read here may hold the end of
// one packet and the start of the next, or a varint split across two
// Reads: the tracker keeps its state between calls. When a packet is too
// large, the bytes before its header's last length byte are still
// returned and the error comes with the next Read.
type limitConn struct {
	net.Conn
	limit atomic.Uint32
	fr    framer
	err   error // sticky, once a packet was over the limit
}

var _ PacketLimiter = (*limitConn)(nil)

func newLimitConn(c net.Conn, limit uint32) *limitConn {
	lc := &limitConn{Conn: c}
	lc.limit.Store(limit)
	return lc
}

// SetPacketLimit sets the largest packet (remaining length + 1) accepted
// from the next packet on.
func (c *limitConn) SetPacketLimit(n uint32) { c.limit.Store(n) }

// PacketLimit is the current limit.
func (c *limitConn) PacketLimit() uint32 { return c.limit.Load() }

func (c *limitConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(p)
	ok, ferr := c.fr.feed(p[:n], c.limit.Load())
	if ferr != nil {
		c.err = ferr
		if ok > 0 {
			return ok, nil
		}
		return 0, ferr
	}
	return n, err
}

// framer follows MQTT framing over a byte stream.
type framer struct {
	state     int    // stateHeader, stateLength or stateBody
	remaining uint64 // body bytes left (stateBody) or the length so far (stateLength)
	shift     uint
	lenBytes  int
}

const (
	stateHeader = iota
	stateLength
	stateBody
)

// feed advances the framer over b with limit as the largest packet
// (remaining length + 1; 0 means none). It returns how many bytes of b
// came before a violation, and the violation: a packet over the limit, or
// a remaining length longer than MQTT's four bytes.
func (f *framer) feed(b []byte, limit uint32) (int, error) {
	for i := 0; i < len(b); {
		switch f.state {
		case stateHeader:
			f.state, f.remaining, f.shift, f.lenBytes = stateLength, 0, 0, 0
			i++
		case stateLength:
			v := b[i]
			f.remaining |= uint64(v&0x7f) << f.shift
			f.shift += 7
			f.lenBytes++
			if v&0x80 != 0 {
				if f.lenBytes == 4 {
					return i, packets.ErrMalformedVariableByteInteger
				}
				i++
				continue
			}
			if limit > 0 && f.remaining+1 > uint64(limit) {
				return i, fmt.Errorf("mqtt packet of %d bytes over this connection's limit of %d: %w",
					f.remaining+1, limit, packets.ErrPacketTooLarge)
			}
			i++
			f.state = stateBody
			if f.remaining == 0 {
				f.state = stateHeader
			}
		case stateBody:
			take := uint64(len(b) - i)
			if take >= f.remaining {
				i += int(f.remaining)
				f.remaining = 0
				f.state = stateHeader
			} else {
				i = len(b)
				f.remaining -= take
			}
		}
	}
	return len(b), nil
}
