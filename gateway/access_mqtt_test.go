package gateway_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// The MQTT access table: every topic pattern of the protocol (DESIGN.md
// §2, gateway/EDGE.md) and the ones an attacker tries ($SYS, wildcards,
// "..", shared subscriptions, bridges' topics), for a device account and
// an edge box account, on its own id, a device behind the box, and other
// devices and boxes, by publish, subscribe, will and retain. Every case is
// a raw MQTT 5 connection over TCP to the gateway's own broker (so that
// each refusal has its reason code and nothing is resent behind the
// test's back), and what it did is checked from the other side: an
// admin-side tap inside the broker (an inline subscription to "#", past
// the ACL) for publishes and wills, the broker's retained store for
// retain, and a probe the gateway publishes for subscriptions.
//
// The accounts and devices:
//
//	dev-a   a call button (the "device" account)
//	dev-b   another call button, connected directly
//	box-1   an edge box (the "box" account), dev-e behind it
//	box-2   another edge box, dev-f behind it

// mqttCase is one row of the table.
type mqttCase struct {
	account string // "device" (dev-a) or "box" (box-1)
	op      string // publish, subscribe, will, retain
	topic   string
	// payload overrides the channel's default payload (publish, will).
	payload string
	// allow: the broker accepts it (PUBACK 0, a granted SUBACK, a CONNACK
	// 0) and, for publish, subscribe and will, the message is delivered.
	allow bool
	// kept: for retain, the broker keeps it retained.
	kept bool
	// probe is the topic a subscription case publishes on to see whether
	// the subscription hears it (the topic itself when empty).
	probe string
}

func (c mqttCase) String() string {
	s := c.account + "/" + c.op + "/" + c.topic
	if c.payload != "" {
		s += "/" + c.payload
	}
	return s
}

// mqttAccessCases is the table.
func mqttAccessCases() []mqttCase {
	var cs []mqttCase
	add := func(account, op string, allow bool, topics ...string) {
		for _, t := range topics {
			cs = append(cs, mqttCase{account: account, op: op, topic: t, allow: allow})
		}
	}
	ch := func(id string, chans ...string) []string {
		var out []string
		for _, c := range chans {
			out = append(out, "anxin/v1/"+id+"/"+c)
		}
		return out
	}
	hostile := []string{
		"$SYS/broker/clients/connected", "$SYS/anxin",
		"anxin/v1/dev-a/../dev-b/event", "anxin/v1/../event", "anxin/v1/./event", "anxin/v1/.../event", "anxin/v1/dev-a/event/extra",
		"anxin/v1/dev-a", "anxin/v1/dev-a/", "anxin/v1//event", "anxin/v2/dev-a/event", "anxin/v1/DEV-A/event",
		"zigbee2mqtt/dev-b", "zigbee2mqtt/bridge/request/permit_join", "anxin/v1/dev-a/unknown",
	}
	wildPublish := []string{"anxin/v1/+/event", "anxin/v1/#", "#"}
	wildFilters := []string{
		"#", "+/#", "anxin/#", "anxin/v1/#", "anxin/v1/+/cmd", "anxin/v1/+/+", "anxin/v1/dev-a/#", "anxin/v1/dev-a/+",
		"+/v1/dev-b/cmd", "$SYS/#", "$SYS/broker/clients/connected", "$share/g/anxin/v1/dev-b/cmd",
		"$share/g/anxin/v1/+/cmd", "anxin/v1/../cmd", "anxin/v1/dev-a/../dev-b/cmd", "zigbee2mqtt/#",
	}

	// The device: its own event, telemetry and status; nothing else.
	add("device", "publish", true, ch("dev-a", "event", "telemetry", "status")...)
	add("device", "publish", false, ch("dev-a", "cmd", "sync")...)
	add("device", "publish", false, ch("dev-b", "event", "telemetry", "status", "cmd", "sync")...)
	add("device", "publish", false, ch("box-1", "event", "status", "sync")...)
	add("device", "publish", false, ch("dev-e", "event", "status")...)
	add("device", "publish", false, hostile...)
	add("device", "publish", false, wildPublish...)
	add("device", "subscribe", true, ch("dev-a", "cmd")...)
	add("device", "subscribe", false, ch("dev-a", "event", "telemetry", "status", "sync")...)
	add("device", "subscribe", false, ch("dev-b", "cmd", "event", "status")...)
	add("device", "subscribe", false, ch("box-1", "cmd", "sync")...)
	add("device", "subscribe", false, ch("dev-e", "cmd")...)
	for _, f := range wildFilters {
		probe := "anxin/v1/dev-b/cmd"
		if strings.HasPrefix(f, "$SYS") {
			probe = "$SYS/broker/clients/connected"
		} else if strings.HasPrefix(f, "zigbee2mqtt") {
			probe = "zigbee2mqtt/dev-b"
		}
		cs = append(cs, mqttCase{account: "device", op: "subscribe", topic: f, probe: probe})
	}
	cs = append(cs,
		mqttCase{account: "device", op: "will", topic: "anxin/v1/dev-a/status", payload: `{"online":false}`, allow: true},
		mqttCase{account: "device", op: "will", topic: "anxin/v1/dev-a/status", payload: `{"online":true}`},
		mqttCase{account: "device", op: "will", topic: "anxin/v1/dev-a/status", payload: `{"online":false,"fw":"x"}`},
		mqttCase{account: "device", op: "will", topic: "anxin/v1/dev-a/event", payload: `{"seq":1,"type":"call.press"}`},
		mqttCase{account: "device", op: "will", topic: "anxin/v1/dev-a/telemetry", payload: `{"battery":1}`},
		mqttCase{account: "device", op: "will", topic: "anxin/v1/dev-b/status", payload: `{"online":false}`},
		mqttCase{account: "device", op: "will", topic: "anxin/v1/dev-b/cmd", payload: `{"type":"silence"}`},
		mqttCase{account: "device", op: "will", topic: "$SYS/anxin", payload: `{"online":false}`},
		mqttCase{account: "device", op: "will", topic: "anxin/v1/+/status", payload: `{"online":false}`},
		// retain: only the device's own status stays retained; its event
		// and telemetry are handled and not kept; another's nothing.
		mqttCase{account: "device", op: "retain", topic: "anxin/v1/dev-a/status", allow: true, kept: true},
		mqttCase{account: "device", op: "retain", topic: "anxin/v1/dev-a/event", allow: true},
		mqttCase{account: "device", op: "retain", topic: "anxin/v1/dev-a/telemetry", allow: true},
		mqttCase{account: "device", op: "retain", topic: "anxin/v1/dev-b/status"},
		mqttCase{account: "device", op: "retain", topic: "anxin/v1/dev-b/cmd"},
		mqttCase{account: "device", op: "retain", topic: "$SYS/anxin"},
	)

	// The edge box: for itself and dev-e, behind it; its own sync.
	add("box", "publish", true, ch("box-1", "event", "telemetry", "status", "sync")...)
	add("box", "publish", true, ch("dev-e", "event", "telemetry", "status")...)
	add("box", "publish", false, ch("box-1", "cmd")...)
	add("box", "publish", false, ch("dev-e", "cmd", "sync")...)
	add("box", "publish", false, ch("dev-b", "event", "telemetry", "status", "cmd")...)
	add("box", "publish", false, ch("box-2", "event", "status", "sync")...)
	add("box", "publish", false, ch("dev-f", "event", "telemetry", "status")...)
	add("box", "publish", false, "$SYS/anxin", "anxin/v1/box-1/../dev-b/event", "anxin/v1/+/event", "#")
	add("box", "subscribe", true, ch("box-1", "cmd")...)
	add("box", "subscribe", true, ch("dev-e", "cmd")...)
	add("box", "subscribe", false, ch("box-1", "sync", "event")...)
	add("box", "subscribe", false, ch("dev-e", "event", "status")...)
	add("box", "subscribe", false, ch("dev-b", "cmd")...)
	add("box", "subscribe", false, ch("box-2", "cmd", "sync")...)
	add("box", "subscribe", false, ch("dev-f", "cmd")...)
	for _, f := range []string{"#", "anxin/v1/+/cmd", "anxin/v1/+/sync", "$SYS/#", "$share/g/anxin/v1/dev-f/cmd"} {
		probe := "anxin/v1/dev-f/cmd"
		if f == "anxin/v1/+/sync" {
			probe = "anxin/v1/box-2/sync"
		} else if f == "$SYS/#" {
			probe = "$SYS/broker/clients/connected"
		}
		cs = append(cs, mqttCase{account: "box", op: "subscribe", topic: f, probe: probe})
	}
	cs = append(cs,
		mqttCase{account: "box", op: "will", topic: "anxin/v1/box-1/status", payload: `{"online":false}`, allow: true},
		mqttCase{account: "box", op: "will", topic: "anxin/v1/dev-e/status", payload: `{"online":false}`},
		mqttCase{account: "box", op: "will", topic: "anxin/v1/dev-e/event", payload: `{"seq":1,"type":"call.press"}`},
		mqttCase{account: "box", op: "will", topic: "anxin/v1/box-1/sync", payload: `{"online":false}`},
		mqttCase{account: "box", op: "will", topic: "anxin/v1/box-2/status", payload: `{"online":false}`},
		mqttCase{account: "box", op: "will", topic: "anxin/v1/dev-f/status", payload: `{"online":false}`},
		mqttCase{account: "box", op: "retain", topic: "anxin/v1/box-1/status", allow: true, kept: true},
		mqttCase{account: "box", op: "retain", topic: "anxin/v1/dev-e/status", allow: true, kept: true},
		mqttCase{account: "box", op: "retain", topic: "anxin/v1/dev-e/event", allow: true},
		mqttCase{account: "box", op: "retain", topic: "anxin/v1/dev-f/status"},
		mqttCase{account: "box", op: "retain", topic: "anxin/v1/box-2/status"},
	)
	return cs
}

// mqttWorld is the gateway of the MQTT table, its admin-side tap and the
// accounts' passwords.
type mqttWorld struct {
	g   *gatewaytest.Gateway
	tap <-chan gateway.TapMessage
	pw  map[string]string // account → password
	n   int
}

var mqttUser = map[string]string{"device": "dev-a", "box": "box-1"}

// unique is a number no other case's payload has.
func (w *mqttWorld) unique() int {
	w.n++
	return w.n
}

// payloadFor is a well-formed payload for topic's channel, made unique by
// n, so that a refusal is the ACL's and not the payload's.
func payloadFor(topic string, n int) string {
	switch {
	case strings.HasSuffix(topic, "/event"):
		return fmt.Sprintf(`{"seq":%d,"ts":%d,"type":"call.press"}`, n, time.Now().UnixMilli())
	case strings.HasSuffix(topic, "/status"):
		return fmt.Sprintf(`{"online":true,"fw":"1.0.%d"}`, n)
	case strings.HasSuffix(topic, "/cmd"):
		return fmt.Sprintf(`{"type":"reassure","seq":%d,"state":"on_the_way"}`, n)
	case strings.HasSuffix(topic, "/sync"):
		return fmt.Sprintf(`{"seq":%d}`, n)
	}
	return fmt.Sprintf(`{"steps":%d}`, n)
}

// connect opens a raw MQTT 5 connection as account with a client id of
// its own ("{user}:{n}", which gets no cmd subscription by itself).
func (w *mqttWorld) connect(t *testing.T, account string) *gatewaytest.Raw {
	t.Helper()
	raw := gatewaytest.DialRaw(t, w.g.MQTTAddr())
	user := mqttUser[account]
	ack, err := raw.Connect(gatewaytest.RawConnect{Version: 5, ClientID: fmt.Sprintf("%s:%d", user, w.unique()), User: user, Pass: w.pw[account]})
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect as %s: %v, reason %#x", user, err, ack.ReasonCode)
	}
	return raw
}

// seen reads the tap up to a marker: account's own telemetry with a
// unique payload, published on the case's connection raw after its
// PUBLISH (the broker handles one connection's packets in order, routing
// included, and it sends the PUBACK before it routes), or on a fresh one
// when raw is nil (the broker closed the case's connection, which ends
// its handling). It reports whether the tap saw payload on topic.
func (w *mqttWorld) seen(t *testing.T, raw *gatewaytest.Raw, account, topic, payload string) bool {
	t.Helper()
	if raw == nil {
		raw = w.connect(t, account)
	}
	marker := fmt.Sprintf(`{"steps":%d}`, w.unique())
	markerTopic := "anxin/v1/" + mqttUser[account] + "/telemetry"
	raw.Publish(markerTopic, 1, false, []byte(marker), 1)
	found := false
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-w.tap:
			if m.Topic == markerTopic && m.Payload == marker {
				raw.Conn.Close()
				return found
			}
			if m.Topic == topic && m.Payload == payload {
				found = true
			}
		case <-deadline:
			t.Fatal("the tap did not see the marker within 5 s")
		}
	}
}

// noAnswer is puback's code for a PUBLISH the broker dropped without a
// word: mochi does so with a topic no client may use ($SYS…).
const noAnswer = 0xff

// puback sends one QoS 1 PUBLISH and a PINGREQ behind it, and returns the
// PUBLISH's PUBACK reason code; noAnswer when the PINGRESP came first (the
// broker handles one connection's packets in order); closed when the
// broker closed the connection instead.
func puback(t *testing.T, raw *gatewaytest.Raw, topic, payload string, retain bool) (code byte, closed bool) {
	t.Helper()
	raw.Publish(topic, 1, retain, []byte(payload), 7)
	if _, err := raw.Conn.Write([]byte{packets.Pingreq << 4, 0}); err != nil {
		return 0, true
	}
	code = noAnswer
	for {
		pk, err := raw.Next(5 * time.Second)
		if err != nil {
			return code, true
		}
		switch pk.FixedHeader.Type {
		case packets.Puback:
			code = pk.ReasonCode
		case packets.Pingresp: // read, so that the next call starts clean
			return code, false
		case packets.Disconnect:
			raw.WaitClosed(5 * time.Second)
			return pk.ReasonCode, true
		}
	}
}

// TestMQTTAccessTable runs the table.
func TestMQTTAccessTable(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{EventRate: 1000, EventBurst: 1000})
	g.SeedSites()
	w := &mqttWorld{g: g, pw: map[string]string{}}
	w.pw["device"] = g.ProvisionWith(map[string]any{"id": "dev-a", "kind": "call_button", "site": "home-12-bedroom"})
	devB := g.ConnectDevice("dev-b", g.ProvisionWith(map[string]any{"id": "dev-b", "kind": "call_button", "site": "home-12-kitchen"}))
	w.pw["box"] = g.ProvisionWith(map[string]any{"id": "box-1", "kind": "edge_box", "site": "home-12"})
	g.ProvisionWith(map[string]any{"id": "dev-e", "kind": "call_button", "site": "home-12-bedroom", "edge": "box-1"})
	g.ProvisionWith(map[string]any{"id": "box-2", "kind": "edge_box", "site": "home-12-kitchen"})
	g.ProvisionWith(map[string]any{"id": "dev-f", "kind": "call_button", "site": "home-12-kitchen", "edge": "box-2"})
	tap, stop := g.Tap("#")
	defer stop()
	w.tap = tap

	cases := mqttAccessCases()
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			switch c.op {
			case "publish":
				w.publish(t, c)
			case "subscribe":
				w.subscribe(t, c)
			case "will":
				w.will(t, c)
			case "retain":
				w.retain(t, c)
			}
		})
	}
	// The forged events raised nothing: only dev-a, dev-e and box-1 have
	// alarms, and dev-b heard nothing it did not cause.
	for _, a := range g.Engine().Open() {
		if a.Device != "dev-a" && a.Device != "dev-e" && a.Device != "box-1" {
			t.Errorf("alarm %s of %s raised by a refused publish", a.ID, a.Device)
		}
	}
	for len(devB.Cmds) > 0 { // every publish on its cmd topic was refused before its case's marker
		if r := <-devB.Cmds; r.Type != "probe" {
			t.Errorf("dev-b received %+v", r)
		}
	}
	t.Logf("%d MQTT access cases", len(cases))
}

// publish: PUBACK 0 and delivered, or refused (0x87, or the connection
// closed for a topic that is no topic) and never delivered.
func (w *mqttWorld) publish(t *testing.T, c mqttCase) {
	raw := w.connect(t, c.account)
	payload := c.payload
	if payload == "" {
		payload = payloadFor(c.topic, w.unique())
	}
	code, closed := puback(t, raw, c.topic, payload, false)
	switch {
	case c.allow && strings.HasSuffix(c.topic, "/sync"):
		// The ACL lets it through; the payload is no sync central knows,
		// which is refused as a bad payload, not as forbidden.
		if closed || code == packets.ErrNotAuthorized.Code {
			t.Fatalf("PUBACK %#x (closed %v), want past the ACL", code, closed)
		}
		raw.Conn.Close()
		return
	case c.allow && (closed || code != 0):
		t.Fatalf("PUBACK %#x (closed %v), want 0", code, closed)
	case !c.allow && !closed && code != packets.ErrNotAuthorized.Code && code != noAnswer:
		t.Fatalf("PUBACK %#x, want refused (0x87 not authorized)", code)
	}
	if closed {
		raw = nil
	}
	if got := w.seen(t, raw, c.account, c.topic, payload); got != c.allow {
		t.Fatalf("delivered %v, want %v", got, c.allow)
	}
}

// subscribe: a granted SUBACK and the probe heard, or a refused one
// (0x87, or the connection closed for a malformed filter) and the probe
// never heard. The probe is published by the gateway itself, then a
// marker on the case's own cmd topic: a subscription that should not
// exist would deliver the probe before the marker.
func (w *mqttWorld) subscribe(t *testing.T, c mqttCase) {
	raw := w.connect(t, c.account)
	own := "anxin/v1/" + mqttUser[c.account] + "/cmd"
	raw.Subscribe(own, 1, 1)
	if pk, err := raw.Next(5 * time.Second); err != nil || pk.FixedHeader.Type != packets.Suback || pk.ReasonCodes[0] > 2 {
		t.Fatalf("subscribing to its own cmd: %v %+v", err, pk.ReasonCodes)
	}
	raw.Subscribe(c.topic, 1, 2)
	pk, err := raw.Next(5 * time.Second)
	closed := err != nil || pk.FixedHeader.Type == packets.Disconnect
	switch {
	case closed && c.allow:
		t.Fatalf("the broker closed the connection: %v", err)
	case closed:
		return // a malformed filter: no subscription, no connection
	case pk.FixedHeader.Type != packets.Suback:
		t.Fatalf("got packet type %d, want a SUBACK", pk.FixedHeader.Type)
	case c.allow && pk.ReasonCodes[0] > 2:
		t.Fatalf("SUBACK %#x, want granted", pk.ReasonCodes[0])
	case !c.allow && pk.ReasonCodes[0] < 0x80:
		t.Fatalf("SUBACK %#x, want refused", pk.ReasonCodes[0])
	}
	probe := c.probe
	if probe == "" {
		probe = c.topic
	}
	probePayload := fmt.Sprintf(`{"type":"probe","seq":%d}`, w.unique())
	marker := payloadFor(own, w.unique())
	if err := w.g.BrokerPublish(probe, probePayload); err != nil {
		t.Fatal(err)
	}
	if err := w.g.BrokerPublish(own, marker); err != nil {
		t.Fatal(err)
	}
	heard := false
	for {
		pk, err := raw.NextPublish(5 * time.Second)
		if err != nil {
			t.Fatalf("the marker on its own cmd did not arrive: %v", err)
		}
		if string(pk.Payload) == marker {
			break
		}
		if string(pk.Payload) == probePayload {
			heard = true
		}
	}
	if heard != c.allow {
		t.Fatalf("heard the probe on %s: %v, want %v", probe, heard, c.allow)
	}
}

// will: a will the rule allows is accepted (CONNACK 0) and published when
// the connection drops; any other is refused at CONNECT, so it is never
// held and never published.
func (w *mqttWorld) will(t *testing.T, c mqttCase) {
	raw := gatewaytest.DialRaw(t, w.g.MQTTAddr())
	user := mqttUser[c.account]
	ack, err := raw.Connect(gatewaytest.RawConnect{Version: 5, ClientID: fmt.Sprintf("%s:%d", user, w.unique()), User: user,
		Pass: w.pw[c.account], WillTopic: c.topic, WillPayload: c.payload, WillQos: 1})
	accepted := err == nil && ack.ReasonCode == 0
	if accepted != c.allow {
		t.Fatalf("CONNECT with the will: accepted %v (reason %#x, %v), want %v", accepted, ack.ReasonCode, err, c.allow)
	}
	if accepted {
		raw.Conn.Close() // an unclean end: the will goes out
	} else {
		raw.WaitClosed(5 * time.Second)
	}
	if c.allow {
		deadline := time.After(5 * time.Second)
		for {
			select {
			case m := <-w.tap:
				if m.Topic == c.topic && m.Payload == c.payload {
					return
				}
			case <-deadline:
				t.Fatal("the will was not published within 5 s of the connection dropping")
			}
		}
	}
	if w.seen(t, nil, c.account, c.topic, c.payload) {
		t.Fatal("a refused will was published")
	}
}

// retain: a retained PUBLISH; the broker keeps it only on the sender's
// (or its box's device's) own status.
func (w *mqttWorld) retain(t *testing.T, c mqttCase) {
	raw := w.connect(t, c.account)
	payload := payloadFor(c.topic, w.unique())
	code, closed := puback(t, raw, c.topic, payload, true)
	if accepted := !closed && code == 0; accepted != c.allow {
		t.Fatalf("PUBACK %#x (closed %v): accepted %v, want %v", code, closed, accepted, c.allow)
	}
	raw.Conn.Close()
	got, ok := w.g.Retained(c.topic)
	if kept := ok && got == payload; kept != c.kept {
		t.Fatalf("retained %v (%q), want %v", kept, got, c.kept)
	}
	// A new subscriber of the topic gets what is retained there, if
	// anything, and never this payload unless it is kept.
	if !c.kept {
		if ok {
			var v any
			if json.Unmarshal([]byte(got), &v) != nil || got == payload {
				t.Fatalf("retained %q", got)
			}
		}
	}
}

// TestMQTTAccessEnds: a device's or a box's rights end at once when an
// installer changes them, on connections already open: a device moved off
// its box is no longer spoken for or heard by the box; a removed device's
// connections close and its password is refused; a replaced device's old
// password is refused and its old connection closed.
func TestMQTTAccessEnds(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	g.SeedSites()
	w := &mqttWorld{g: g, pw: map[string]string{}}
	w.pw["box"] = g.ProvisionWith(map[string]any{"id": "box-1", "kind": "edge_box", "site": "home-12"})
	g.ProvisionWith(map[string]any{"id": "dev-e", "kind": "call_button", "site": "home-12-bedroom", "edge": "box-1"})
	tap, stop := g.Tap("#")
	defer stop()
	w.tap = tap

	t.Run("moved off its box", func(t *testing.T) {
		// The box's own connection: subscribed to dev-e's cmd when it connects.
		box := gatewaytest.DialRaw(t, g.MQTTAddr())
		if ack, err := box.Connect(gatewaytest.RawConnect{Version: 5, ClientID: "box-1", User: "box-1", Pass: w.pw["box"]}); err != nil || ack.ReasonCode != 0 {
			t.Fatalf("box connect: %v %#x", err, ack.ReasonCode)
		}
		if code, closed := puback(t, box, "anxin/v1/dev-e/telemetry", `{"battery":90}`, false); closed || code != 0 {
			t.Fatalf("box speaking for dev-e before the move: PUBACK %#x closed %v", code, closed)
		}
		if got := g.Admin.Do("PATCH", "/api/v1/devices/dev-e", map[string]any{"edge": ""}, nil); got != 200 {
			t.Fatalf("move dev-e: HTTP %d", got)
		}
		if code, closed := puback(t, box, "anxin/v1/dev-e/telemetry", `{"battery":91}`, false); !closed && code != packets.ErrNotAuthorized.Code {
			t.Fatalf("box speaking for dev-e after the move: PUBACK %#x, want 0x87", code)
		}
		probe, marker := `{"type":"probe","seq":1}`, `{"type":"probe","seq":2}`
		g.BrokerPublish("anxin/v1/dev-e/cmd", probe)
		g.BrokerPublish("anxin/v1/box-1/cmd", marker)
		for {
			pk, err := box.NextPublish(5 * time.Second)
			if err != nil {
				t.Fatalf("the marker on the box's own cmd did not arrive: %v", err)
			}
			if string(pk.Payload) == probe {
				t.Fatal("the box still hears dev-e's commands after dev-e was moved off it")
			}
			if string(pk.Payload) == marker {
				break
			}
		}
	})

	for _, c := range []struct{ name, method, suffix string }{
		{"removed", "DELETE", ""},
		{"replaced", "POST", "/replace"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := "dev-" + c.name
			pw := g.Provision(id, "call_button")
			conns := []*gatewaytest.Raw{}
			for _, cid := range []string{id, id + ":tool"} {
				raw := gatewaytest.DialRaw(t, g.MQTTAddr())
				if ack, err := raw.Connect(gatewaytest.RawConnect{Version: 5, ClientID: cid, User: id, Pass: pw}); err != nil || ack.ReasonCode != 0 {
					t.Fatalf("connect %s: %v %#x", cid, err, ack.ReasonCode)
				}
				conns = append(conns, raw)
			}
			var body any
			if c.method == "POST" {
				body = map[string]any{}
			}
			if got := g.Admin.Do(c.method, "/api/v1/devices/"+id+c.suffix, body, nil); got >= 300 {
				t.Fatalf("%s %s: HTTP %d", c.method, id, got)
			}
			for _, raw := range conns {
				raw.WaitClosed(5 * time.Second)
			}
			raw := gatewaytest.DialRaw(t, g.MQTTAddr())
			ack, err := raw.Connect(gatewaytest.RawConnect{Version: 5, ClientID: id, User: id, Pass: pw})
			if err == nil && ack.ReasonCode == 0 {
				t.Fatalf("the %s device's old password still connects", c.name)
			}
		})
	}
}
