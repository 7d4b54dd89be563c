package gateway_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// hostileConn is one TCP connection of a hostile MQTT case: it writes
// whatever the case says, valid or not, and records what the broker sends
// back until the broker closes it.
type hostileConn struct {
	conn    net.Conn
	version atomic.Uint32
	nextID  uint16
	qos1    int // QoS 1 publishes sent

	mu        sync.Mutex
	connack   *packets.Packet
	pubacks   []byte // reason codes
	subacks   []byte
	pingresps int
	changed   chan struct{}
	closed    chan struct{}

	// extra are the case's other sockets ("sockets n="), silent.
	extra []net.Conn
}

func dialHostile(addr string) (*hostileConn, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &hostileConn{conn: conn, changed: make(chan struct{}, 1), closed: make(chan struct{})}
	c.version.Store(4)
	go c.read()
	return c, nil
}

func (c *hostileConn) read() {
	defer close(c.closed)
	r := bufio.NewReader(c.conn)
	for {
		var pk packets.Packet
		b, err := r.ReadByte()
		if err != nil {
			return
		}
		if pk.FixedHeader.Decode(b) != nil {
			return
		}
		n, _, err := packets.DecodeLength(r)
		if err != nil {
			return
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		pk.ProtocolVersion, pk.FixedHeader.Remaining = byte(c.version.Load()), n
		c.mu.Lock()
		switch pk.FixedHeader.Type {
		case packets.Connack:
			if pk.ConnackDecode(body) == nil {
				c.connack = &pk
			}
		case packets.Puback:
			if pk.PubackDecode(body) == nil {
				c.pubacks = append(c.pubacks, pk.ReasonCode)
			}
		case packets.Suback:
			if pk.SubackDecode(body) == nil && len(pk.ReasonCodes) > 0 {
				c.subacks = append(c.subacks, pk.ReasonCodes[0])
			}
		case packets.Pingresp:
			c.pingresps++
		case packets.Publish:
			if pk.PublishDecode(body) == nil && pk.FixedHeader.Qos == 1 {
				ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID,
					ProtocolVersion: pk.ProtocolVersion}
				var buf bytes.Buffer
				ack.PubackEncode(&buf)
				c.conn.Write(buf.Bytes())
			}
		}
		c.mu.Unlock()
		select {
		case c.changed <- struct{}{}:
		default:
		}
	}
}

// waitFor waits until cond (called with c.mu held) holds; false on timeout
// or when the connection closed first.
func (c *hostileConn) waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-c.changed:
		case <-c.closed:
			c.mu.Lock()
			defer c.mu.Unlock()
			return cond()
		case <-deadline.C:
			return false
		}
	}
}

// send writes b; a write refused because the broker already closed is
// no error of the case (closing is often the right answer).
func (c *hostileConn) send(b []byte) {
	c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	c.conn.Write(b)
}

func (c *hostileConn) sendPacket(pk *packets.Packet, encode func(*bytes.Buffer) error) error {
	var buf bytes.Buffer
	pk.ProtocolVersion = byte(c.version.Load())
	if err := encode(&buf); err != nil {
		return err
	}
	c.send(buf.Bytes())
	return nil
}

// isClosed reports whether the broker has closed the connection.
func (c *hostileConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// mqttCaseTimeout bounds every wait of a case but a "closed within=".
const mqttCaseTimeout = 15 * time.Second

// runMQTTStep performs one step of a case on c.
func runMQTTStep(c *hostileConn, st corpusStep, vars *strings.Replacer) error {
	arg := func(k string) string { v, _ := st.arg(k, vars); return v }
	has := func(k string) bool { _, ok := st.args[k]; return ok }
	num := func(k string, def int) int {
		if v, ok := st.arg(k, vars); ok {
			if n, err := strconv.ParseInt(v, 0, 64); err == nil {
				return int(n)
			}
		}
		return def
	}
	switch st.verb {
	case "hex":
		c.send(st.raw)
	case "send":
		c.send([]byte(arg("data")))
	case "connect":
		v := byte(num("v", 4))
		c.version.Store(uint32(v))
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect},
			Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: arg("id"),
				Clean: !has("persistent"), Keepalive: uint16(num("keepalive", 60))}}
		pk.ProtocolVersion = v
		if has("user") {
			pk.Connect.Username, pk.Connect.UsernameFlag = []byte(arg("user")), true
		}
		if has("pass") {
			pk.Connect.Password, pk.Connect.PasswordFlag = []byte(arg("pass")), true
		}
		if has("will") {
			pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload = true, arg("will"), []byte(arg("willmsg"))
			pk.Connect.WillQos, pk.Connect.WillRetain = byte(num("willqos", 1)), has("willretain")
		}
		if err := c.sendPacket(&pk, pk.ConnectEncode); err != nil {
			return err
		}
		c.waitFor(mqttCaseTimeout, func() bool { return c.connack != nil })
	case "publish":
		qos := byte(num("qos", 1))
		payload := []byte(arg("payload"))
		for range num("times", 1) {
			pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: has("retain")},
				TopicName: arg("topic"), Payload: payload}
			if qos > 0 {
				c.nextID = c.nextID%65535 + 1
				pk.PacketID = c.nextID
				c.qos1++
			}
			if err := c.sendPacket(&pk, pk.PublishEncode); err != nil {
				return err
			}
			if c.isClosed() {
				break
			}
		}
	case "subscribe":
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
			Filters: packets.Subscriptions{{Filter: arg("filter"), Qos: byte(num("qos", 1))}}}
		c.mu.Lock()
		before := len(c.subacks)
		c.mu.Unlock()
		if err := c.sendPacket(&pk, pk.SubscribeEncode); err != nil {
			return err
		}
		c.waitFor(mqttCaseTimeout, func() bool { return len(c.subacks) > before })
	case "sockets":
		for range num("n", 1) {
			conn, err := net.DialTimeout("tcp", c.conn.RemoteAddr().String(), 5*time.Second)
			if err != nil {
				return fmt.Errorf("line %d: socket %d: %w", st.line, len(c.extra)+1, err)
			}
			c.extra = append(c.extra, conn)
		}
	case "close":
		c.conn.Close()
	default:
		return fmt.Errorf("line %d: unknown step %q", st.line, st.verb)
	}
	return nil
}

// countedAs are the expectations that a refusal was counted, by the
// /metrics counter that counts it (its label is the expectation's reason).
var countedAs = map[string]string{
	"rejected":   "anxin_rejections_total",             // a payload refused by its decoder, or over the rate
	"refused":    "anxin_mqtt_connects_refused_total",  // a CONNECT refused
	"pubrefused": "anxin_mqtt_publishes_refused_total", // a PUBLISH outside the ACL
}

// metricSeries is the /metrics series an expectation says must rise.
func metricSeries(st corpusStep, vars *strings.Replacer) (string, bool) {
	name, ok := countedAs[st.verb]
	if !ok {
		return "", false
	}
	reason, _ := st.arg("reason", vars)
	return fmt.Sprintf("%s{reason=%q}", name, reason), true
}

// checkMQTTExpect checks one expectation of a case on c; "" when met.
func checkMQTTExpect(c *hostileConn, st corpusStep, vars *strings.Replacer) string {
	arg := func(k string) (string, bool) { return st.arg(k, vars) }
	if st.verb == "closed" {
		within := 5 * time.Second
		if w, ok := arg("within"); ok {
			within, _ = time.ParseDuration(w)
		}
		deadline := time.Now().Add(within)
		select {
		case <-c.closed:
		case <-time.After(within):
			return fmt.Sprintf("the gateway kept the connection open for %v", within)
		}
		open := 0
		for _, x := range c.extra {
			x.SetReadDeadline(deadline)
			if _, err := x.Read(make([]byte, 1)); err != nil && isTimeout(err) {
				open++
			}
			x.Close()
		}
		if open > 0 {
			return fmt.Sprintf("the gateway kept %d of %d other sockets open for %v", open, len(c.extra), within)
		}
		return ""
	}
	switch st.verb {
	case "open":
		c.mu.Lock()
		before := c.pingresps
		c.mu.Unlock()
		c.send([]byte{0xc0, 0})
		if !c.waitFor(mqttCaseTimeout, func() bool { return c.pingresps > before }) {
			return "no PINGRESP: the connection is not open"
		}
	case "connack":
		want, _ := arg("code")
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.connack == nil {
			return "no CONNACK (the connection closed)"
		}
		if got := fmt.Sprintf("%#02x", c.connack.ReasonCode); got != want {
			return fmt.Sprintf("CONNACK %s, want %s", got, want)
		}
		if says, ok := arg("says"); ok && !strings.Contains(c.connack.Properties.ReasonString, says) {
			return fmt.Sprintf("CONNACK reason %q does not say %q", c.connack.Properties.ReasonString, says)
		}
	case "serverkeepalive":
		want, _ := arg("s")
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.connack == nil {
			return "no CONNACK"
		}
		if got := strconv.Itoa(int(c.connack.Properties.ServerKeepAlive)); !c.connack.Properties.ServerKeepAliveFlag || got != want {
			return fmt.Sprintf("CONNACK server keep alive %s (set %v), want %s", got, c.connack.Properties.ServerKeepAliveFlag, want)
		}
	case "puback":
		want, _ := arg("code")
		if !c.waitFor(mqttCaseTimeout, func() bool { return len(c.pubacks) >= c.qos1 }) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return fmt.Sprintf("%d of %d QoS 1 publishes PUBACKed", len(c.pubacks), c.qos1)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, code := range c.pubacks {
			if got := fmt.Sprintf("%#02x", code); want != "" && got != want {
				return fmt.Sprintf("PUBACK %s, want %s", got, want)
			}
		}
	case "suback":
		want, _ := arg("code")
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.subacks) == 0 {
			return "no SUBACK"
		}
		if got := fmt.Sprintf("%#02x", c.subacks[len(c.subacks)-1]); got != want {
			return fmt.Sprintf("SUBACK %s, want %s", got, want)
		}
	case "rejected", "refused", "pubrefused":
		// metric expectations are checked over the whole case
	default:
		return fmt.Sprintf("line %d: unknown expectation %q", st.line, st.verb)
	}
	return ""
}

// slowCase is a case that waits longer than an ordinary one (a socket that
// must be closed by a timeout): it runs in the background for the whole
// attack.
func slowCase(c corpusCase) bool {
	for _, e := range c.expects {
		if w, ok := e.args["within"]; ok {
			if d, _ := time.ParseDuration(w.String(nil)); d > 5*time.Second {
				return true
			}
		}
	}
	return false
}

// playMQTTCase runs a case (each repetition on a fresh connection) and
// returns what went against its expectations.
func playMQTTCase(t *testing.T, addr, base string, c corpusCase, vars *strings.Replacer) []string {
	var series []string
	before := map[string]float64{}
	for _, e := range c.expects {
		if s, ok := metricSeries(e, vars); ok {
			series = append(series, s)
			before[s] = gatewaytest.Metric(t, base, s)
		}
	}
	var problems []string
	for i := range c.repeat {
		conn, err := dialHostile(addr)
		if err != nil {
			return append(problems, fmt.Sprintf("dial: %v", err))
		}
		for _, st := range c.steps {
			if err := runMQTTStep(conn, st, vars); err != nil {
				problems = append(problems, err.Error())
			}
		}
		for _, e := range c.expects {
			if p := checkMQTTExpect(conn, e, vars); p != "" {
				problems = append(problems, fmt.Sprintf("round %d, line %d: %s", i+1, e.line, p))
			}
		}
		conn.conn.Close()
		if len(problems) > 0 {
			break
		}
	}
	// Some counters are counted just after the answer went out
	// (OnPacketProcessed): wait for them a moment.
	deadline := time.Now().Add(5 * time.Second)
	for _, s := range series {
		after := gatewaytest.Metric(t, base, s)
		for after <= before[s] && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			after = gatewaytest.Metric(t, base, s)
		}
		if after <= before[s] {
			problems = append(problems, fmt.Sprintf("%s did not rise (%v)", s, after))
		}
	}
	return problems
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
