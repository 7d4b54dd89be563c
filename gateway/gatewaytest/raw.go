package gatewaytest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// Raw is an MQTT client on a bare TCP socket that writes exactly the
// packets a test asks for, in that order, and reads what the broker sends
// back: it shows what a library such as paho would hide (subscribing after
// publishing, a will on any topic, the CONNACK's reason code). It uses
// mochi's packet codec, not its client logic.
type Raw struct {
	t       testing.TB
	Conn    net.Conn
	r       *bufio.Reader
	version byte
}

// RawConnect is what a Raw client puts in its CONNECT.
type RawConnect struct {
	Version              byte // 4 (MQTT 3.1.1, the default) or 5
	ClientID, User, Pass string
	Persistent           bool // clean session (clean start) off
	WillTopic            string
	WillPayload          string
	WillQos              byte
	WillRetain           bool
}

// DialRaw opens a TCP connection to addr without sending anything.
func DialRaw(t testing.TB, addr string) *Raw {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &Raw{t: t, Conn: c, r: bufio.NewReader(c), version: 4}
}

// Connect sends a CONNECT and returns the broker's CONNACK; err is set when
// the broker closed the connection instead of answering.
func (r *Raw) Connect(c RawConnect) (packets.Packet, error) {
	r.t.Helper()
	if c.Version == 0 {
		c.Version = 4
	}
	r.version = c.Version
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: c.Version,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: c.ClientID,
			Username: []byte(c.User), UsernameFlag: c.User != "", Password: []byte(c.Pass), PasswordFlag: c.Pass != "",
			Clean: !c.Persistent, Keepalive: 60}}
	if c.WillTopic != "" {
		pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload = true, c.WillTopic, []byte(c.WillPayload)
		pk.Connect.WillQos, pk.Connect.WillRetain = c.WillQos, c.WillRetain
	}
	r.write(&pk, pk.ConnectEncode)
	ack, err := r.Next(5 * time.Second)
	if err != nil {
		return ack, err
	}
	if ack.FixedHeader.Type != packets.Connack {
		r.t.Fatalf("raw: got packet type %d, want a CONNACK", ack.FixedHeader.Type)
	}
	return ack, nil
}

// Publish sends a PUBLISH (id is the packet id, 0 for QoS 0).
func (r *Raw) Publish(topic string, qos byte, retain bool, payload []byte, id uint16) {
	r.t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain},
		TopicName: topic, Payload: payload, PacketID: id}
	r.write(&pk, pk.PublishEncode)
}

// PublishPacket sends a PUBLISH built by the test (e.g. with MQTT 5 properties).
func (r *Raw) PublishPacket(pk packets.Packet) {
	r.t.Helper()
	pk.FixedHeader.Type = packets.Publish
	r.write(&pk, pk.PublishEncode)
}

// Subscribe sends a SUBSCRIBE to one filter.
func (r *Raw) Subscribe(filter string, qos byte, id uint16) {
	r.t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: id,
		Filters: packets.Subscriptions{{Filter: filter, Qos: qos}}}
	r.write(&pk, pk.SubscribeEncode)
}

// Puback acknowledges a QoS 1 message.
func (r *Raw) Puback(id uint16) {
	r.t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: id}
	r.write(&pk, pk.PubackEncode)
}

// write encodes pk with encode, a method value of the same *pk.
func (r *Raw) write(pk *packets.Packet, encode func(*bytes.Buffer) error) {
	r.t.Helper()
	var buf bytes.Buffer
	pk.ProtocolVersion = r.version
	if err := encode(&buf); err != nil {
		r.t.Fatalf("raw: encode: %v", err)
	}
	r.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.Conn.Write(buf.Bytes()); err != nil {
		r.t.Fatalf("raw: write: %v", err)
	}
}

// Next reads the broker's next packet, waiting at most timeout. An error
// (io.EOF when the broker closed the connection) means no packet came.
func (r *Raw) Next(timeout time.Duration) (packets.Packet, error) {
	r.Conn.SetReadDeadline(time.Now().Add(timeout))
	var pk packets.Packet
	b, err := r.r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(b); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(r.r)
	if err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(r.r, body); err != nil {
		return pk, err
	}
	pk.ProtocolVersion = r.version
	decode := map[byte]func([]byte) error{
		packets.Connack: pk.ConnackDecode, packets.Publish: pk.PublishDecode, packets.Puback: pk.PubackDecode,
		packets.Suback: pk.SubackDecode, packets.Disconnect: pk.DisconnectDecode, packets.Pingresp: pk.PingrespDecode,
	}[pk.FixedHeader.Type]
	if decode == nil {
		return pk, fmt.Errorf("raw: unexpected packet type %d", pk.FixedHeader.Type)
	}
	return pk, decode(body)
}

// NextPublish reads packets until a PUBLISH arrives (acknowledging it at
// QoS 1) and returns it.
func (r *Raw) NextPublish(timeout time.Duration) (packets.Packet, error) {
	deadline := time.Now().Add(timeout)
	for {
		pk, err := r.Next(time.Until(deadline))
		if err != nil {
			return pk, err
		}
		if pk.FixedHeader.Type == packets.Publish {
			if pk.FixedHeader.Qos == 1 {
				r.Puback(pk.PacketID)
			}
			return pk, nil
		}
	}
}

// WaitClosed waits until the broker closes the connection, reading and
// dropping whatever it sends before; it fails the test after timeout.
func (r *Raw) WaitClosed(timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := r.Next(time.Until(deadline)); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				break
			}
			return
		}
	}
	r.t.Fatalf("raw: the broker kept the connection open for %v", timeout)
}
