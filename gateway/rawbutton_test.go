package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// rawButton is a well-behaved device on a bare MQTT 3.1.1 connection, for
// tests that judge the gateway from outside: a press counts as delivered
// only on the PUBACK of the connection it was sent on, and as answered
// when the "received" reassurance for its seq arrives. Safe for one
// sender goroutine; its reader runs on its own.
type rawButton struct {
	id   string
	conn net.Conn

	wmu    sync.Mutex // one packet written at a time
	nextID uint16

	mu       sync.Mutex
	acks     map[uint16]chan struct{}
	received map[uint64]chan struct{}
	// stray are the commands that were not the "received" of a press
	// being waited for: on a device nobody acts for, a forged one.
	stray  [][]byte
	err    error
	closed chan struct{}
}

// errButtonClosed is a rawButton whose connection ended.
var errButtonClosed = errors.New("raw button: connection closed")

// dialButton connects as device id (client id and user) with password,
// from local (nil: any loopback address).
func dialButton(addr, id, password string, local net.Addr) (*rawButton, error) {
	dialer := net.Dialer{Timeout: 5 * time.Second, LocalAddr: local}
	conn, err := dialer.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	d := &rawButton{id: id, conn: conn, acks: map[uint16]chan struct{}{}, received: map[uint64]chan struct{}{},
		closed: make(chan struct{})}
	connect := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: true, Keepalive: 60,
			Username: []byte(id), UsernameFlag: true, Password: []byte(password), PasswordFlag: true}}
	if err := d.write(&connect, connect.ConnectEncode); err != nil {
		conn.Close()
		return nil, err
	}
	r := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	ack, err := readButtonPacket(r)
	if err != nil || ack.FixedHeader.Type != packets.Connack || ack.ReasonCode != 0 {
		conn.Close()
		return nil, fmt.Errorf("connect %s: %v (CONNACK %#x)", id, err, ack.ReasonCode)
	}
	conn.SetReadDeadline(time.Time{})
	go d.read(r)
	return d, nil
}

func (d *rawButton) write(pk *packets.Packet, encode func(*bytes.Buffer) error) error {
	var buf bytes.Buffer
	pk.ProtocolVersion = 4
	if err := encode(&buf); err != nil {
		return err
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	d.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := d.conn.Write(buf.Bytes())
	return err
}

// read handles what the gateway sends until the connection ends: PUBACKs
// and reassurances (acknowledged at once, as firmware does).
func (d *rawButton) read(r *bufio.Reader) {
	defer close(d.closed)
	for {
		pk, err := readButtonPacket(r)
		if err != nil {
			d.mu.Lock()
			d.err = err
			d.mu.Unlock()
			return
		}
		switch pk.FixedHeader.Type {
		case packets.Puback:
			d.mu.Lock()
			if ch, ok := d.acks[pk.PacketID]; ok {
				close(ch)
				delete(d.acks, pk.PacketID)
			}
			d.mu.Unlock()
		case packets.Publish:
			if pk.FixedHeader.Qos > 0 {
				ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID}
				d.write(&ack, ack.PubackEncode)
			}
			var cmd struct {
				Seq   uint64 `json:"seq"`
				State string `json:"state"`
			}
			json.Unmarshal(pk.Payload, &cmd)
			d.mu.Lock()
			if ch, ok := d.received[cmd.Seq]; ok && cmd.State == "received" {
				close(ch)
				delete(d.received, cmd.Seq)
			} else {
				d.stray = append(d.stray, pk.Payload)
			}
			d.mu.Unlock()
		}
	}
}

// publish sends one PUBLISH; at QoS 1 it returns a channel closed on its PUBACK.
func (d *rawButton) publish(channel string, qos byte, payload []byte) (<-chan struct{}, error) {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos},
		TopicName: "anxin/v1/" + d.id + "/" + channel, Payload: payload}
	var ack chan struct{}
	if qos > 0 {
		ack = make(chan struct{})
		d.mu.Lock()
		d.nextID = d.nextID%65535 + 1
		pk.PacketID = d.nextID
		d.acks[pk.PacketID] = ack
		d.mu.Unlock()
	}
	return ack, d.write(&pk, pk.PublishEncode)
}

// press sends event typ with seq and waits up to timeout for its PUBACK
// and its "received": how long each took after the press was sent. A
// press without a PUBACK returns an error (and is not delivered).
func (d *rawButton) press(seq uint64, typ string, timeout time.Duration) (puback, received time.Duration, err error) {
	got := make(chan struct{})
	d.mu.Lock()
	d.received[seq] = got
	d.mu.Unlock()
	start := time.Now()
	ack, err := d.publish("event", 1, fmt.Appendf(nil, `{"seq":%d,"ts":%d,"type":%q}`, seq, start.UnixMilli(), typ))
	if err != nil {
		return 0, 0, err
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for ack != nil || got != nil {
		select {
		case <-ack:
			puback, ack = time.Since(start), nil
		case <-got:
			received, got = time.Since(start), nil
		case <-d.closed:
			if ack != nil {
				return 0, 0, errButtonClosed
			}
			return puback, 0, errButtonClosed
		case <-deadline.C:
			if ack != nil {
				return 0, 0, fmt.Errorf("%s seq %d: no PUBACK in %v", d.id, seq, timeout)
			}
			return puback, 0, fmt.Errorf("%s seq %d: PUBACKed but no received in %v", d.id, seq, timeout)
		}
	}
	return puback, received, nil
}

// close disconnects politely (DISCONNECT, so that no will is sent) and
// waits for the reader to end.
func (d *rawButton) close() {
	d.wmu.Lock()
	d.conn.SetWriteDeadline(time.Now().Add(time.Second))
	d.conn.Write([]byte{0xe0, 0})
	d.wmu.Unlock()
	d.conn.Close()
	<-d.closed
}

// readPacket reads one packet of any type the broker sends a 3.1.1 client.
func readButtonPacket(r *bufio.Reader) (packets.Packet, error) {
	var pk packets.Packet
	b, err := r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(b); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(r)
	if err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return pk, err
	}
	pk.ProtocolVersion = 4
	switch pk.FixedHeader.Type {
	case packets.Connack:
		return pk, pk.ConnackDecode(body)
	case packets.Puback:
		return pk, pk.PubackDecode(body)
	case packets.Publish:
		return pk, pk.PublishDecode(body)
	case packets.Suback:
		return pk, pk.SubackDecode(body)
	case packets.Pingresp:
		return pk, nil
	}
	return pk, fmt.Errorf("unexpected packet type %d", pk.FixedHeader.Type)
}
