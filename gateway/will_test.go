package gateway_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// refusedCode is the CONNACK code of a CONNECT refused for what it asks,
// not for its credentials: "not authorized".
func refusedCode(version byte) byte {
	if version == 5 {
		return packets.ErrNotAuthorized.Code
	}
	return packets.Err3NotAuthorized.Code
}

// TestWillObeysACL: a will is a publish the client causes; it obeys the
// rule its account publishes under. A device's will may only be its own
// status with {"online": false}; a bridge's only under its topics. Anything
// else refuses the CONNECT, counted; the forged "cancelled" of the attack
// never reaches the other device, neither live nor retained.
func TestWillObeysACL(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{
		Adapters: []devices.AdapterConfig{{Type: "zigbee2mqtt"}},
		Bridges:  []gateway.Bridge{{User: "z2m", Password: bridgePassword, Topics: []string{"zigbee2mqtt/#"}}},
	})
	pwA := g.Provision("band-a", "safety_band")
	pwB := g.Provision("band-b", "safety_band")
	b := g.ConnectDevice("band-b", pwB)
	fake := `{"type":"reassure","seq":7,"alarm":"A-fake","state":"cancelled"}`

	tests := []struct {
		name, user, pass, topic, payload string
		ok                               bool
	}{
		{"on another device's cmd", "band-a", pwA, "anxin/v1/band-b/cmd", fake, false},
		{"on a bridge's request topic", "band-a", pwA, "zigbee2mqtt/bridge/request/device/remove", `{"id":"kitchen_smoke"}`, false},
		{"on its own event", "band-a", pwA, "anxin/v1/band-a/event", `{"seq":1,"type":"band.sos"}`, false},
		{"on its own status saying online", "band-a", pwA, "anxin/v1/band-a/status", `{"online":true}`, false},
		{"on its own status with more", "band-a", pwA, "anxin/v1/band-a/status", `{"online":false,"fw":"9"}`, false},
		{"on its own status, not JSON", "band-a", pwA, "anxin/v1/band-a/status", `offline`, false},
		{"the protocol's will", "band-a", pwA, "anxin/v1/band-a/status", `{"online": false}`, true},
		{"bridge on a device's cmd", "z2m", bridgePassword, "anxin/v1/band-b/cmd", fake, false},
		{"bridge on its own state", "z2m", bridgePassword, "zigbee2mqtt/bridge/state", `{"state":"offline"}`, true},
	}
	for _, version := range []byte{4, 5} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("v%d %s", version, tt.name), func(t *testing.T) {
				before := g.Metric(`anxin_mqtt_connects_refused_total{reason="will"}`)
				raw := gatewaytest.DialRaw(t, g.MQTTAddr())
				ack, err := raw.Connect(gatewaytest.RawConnect{Version: version, ClientID: tt.user, User: tt.user, Pass: tt.pass,
					WillTopic: tt.topic, WillPayload: tt.payload, WillQos: 1, WillRetain: true})
				if err != nil {
					t.Fatalf("no CONNACK: %v", err)
				}
				if tt.ok {
					if ack.ReasonCode != 0 {
						t.Fatalf("CONNACK %#x, want 0 (accepted)", ack.ReasonCode)
					}
					return
				}
				if ack.ReasonCode != refusedCode(version) {
					t.Fatalf("CONNACK %#x, want %#x (not authorized)", ack.ReasonCode, refusedCode(version))
				}
				if version == 5 && ack.Properties.ReasonString == "" {
					t.Error("an MQTT 5 refusal without a reason string")
				}
				raw.WaitClosed(5 * time.Second)
				if after := g.Metric(`anxin_mqtt_connects_refused_total{reason="will"}`); after != before+1 {
					t.Errorf("refusals for a will: %v → %v, want one more", before, after)
				}
			})
		}
	}

	// B hears its own "received" first: no forged cancel came before it.
	seq := b.Press("band.sos")
	select {
	case r := <-b.Cmds:
		if r.Seq != seq || r.State != "received" {
			t.Fatalf("B's first command is %+v, want its own received for seq %d", r, seq)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("B got no received")
	}
	// Nothing forged is retained on B's cmd: a new subscriber's first
	// message is the next real command (retained ones come first).
	listen := gatewaytest.DialRaw(t, g.MQTTAddr())
	if ack, err := listen.Connect(gatewaytest.RawConnect{ClientID: "band-b:listen", User: "band-b", Pass: pwB}); err != nil || ack.ReasonCode != 0 {
		t.Fatalf("listener connect: %v %+v", err, ack)
	}
	listen.Subscribe("anxin/v1/band-b/cmd", 1, 1)
	if pk, err := listen.Next(5 * time.Second); err != nil || pk.FixedHeader.Type != packets.Suback {
		t.Fatalf("no SUBACK: %v %+v", err, pk)
	}
	seq = b.Press("band.fall")
	pk, err := listen.NextPublish(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r gateway.Reassure
	if json.Unmarshal(pk.Payload, &r); r.Seq != seq || pk.FixedHeader.Retain {
		t.Fatalf("a new subscriber of B's cmd first got %s (retain %v), want the received for seq %d", pk.Payload, pk.FixedHeader.Retain, seq)
	}
}

// TestTopicAliasesRefused: mochi checks the ACL before it resolves an MQTT 5
// topic alias, so the broker accepts none (its CONNACK advertises none): a
// publish that sets one is refused with "topic alias invalid" and goes
// nowhere, and a publish that only names one cannot reach another
// device's topic.
func TestTopicAliasesRefused(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	pwA := g.Provision("band-a", "safety_band")
	pwB := g.Provision("band-b", "safety_band")
	b := g.ConnectDevice("band-b", pwB)
	for _, topic := range []string{"anxin/v1/band-a/event", "anxin/v1/band-b/cmd", ""} {
		raw := gatewaytest.DialRaw(t, g.MQTTAddr())
		ack, err := raw.Connect(gatewaytest.RawConnect{Version: 5, ClientID: "band-a", User: "band-a", Pass: pwA})
		if err != nil || ack.ReasonCode != 0 {
			t.Fatalf("connect: %v %+v", err, ack)
		}
		if ack.Properties.TopicAliasMaximum != 0 {
			t.Fatalf("CONNACK advertises topic alias maximum %d", ack.Properties.TopicAliasMaximum)
		}
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Qos: 1}, PacketID: 1, TopicName: topic,
			Payload: []byte(`{"type":"reassure","seq":1,"state":"cancelled"}`)}
		pk.Properties.TopicAlias, pk.Properties.TopicAliasFlag = 1, true
		raw.PublishPacket(pk)
		got, err := raw.Next(5 * time.Second)
		if err != nil || got.FixedHeader.Type != packets.Disconnect || got.ReasonCode != packets.ErrTopicAliasInvalid.Code {
			t.Fatalf("publish with alias on %q: %+v %v, want DISCONNECT topic alias invalid", topic, got.FixedHeader, err)
		}
		raw.WaitClosed(5 * time.Second)
	}
	// B's first command is its own received: nothing came through an alias.
	seq := b.Press("band.sos")
	select {
	case r := <-b.Cmds:
		if r.Seq != seq || r.State != "received" {
			t.Fatalf("B's first command is %+v, want its received for seq %d", r, seq)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("B got no received")
	}
}
