package gateway_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestReceivedWhateverTheOrder: a device's cmd subscription is part of its
// session from the moment it connects, so the "received" for a press sent
// before its SUBSCRIBE (or by a device that never subscribes) reaches it.
func TestReceivedWhateverTheOrder(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	for _, version := range []byte{4, 5} {
		for _, subscribe := range []bool{true, false} {
			t.Run(fmt.Sprintf("v%d subscribe after press %v", version, subscribe), func(t *testing.T) {
				id := fmt.Sprintf("btn-%d-%v", version, subscribe)
				pw := g.Provision(id, "call_button")
				raw := gatewaytest.DialRaw(t, g.MQTTAddr())
				if ack, err := raw.Connect(gatewaytest.RawConnect{Version: version, ClientID: id, User: id, Pass: pw}); err != nil || ack.ReasonCode != 0 {
					t.Fatalf("connect: %v %+v", err, ack)
				}
				raw.Publish("anxin/v1/"+id+"/event", 1, false, []byte(`{"seq":1,"type":"call.press"}`), 1)
				if subscribe {
					raw.Subscribe("anxin/v1/"+id+"/cmd", 1, 2)
				}
				var gotAck bool
				for deadline := time.Now().Add(5 * time.Second); ; {
					pk, err := raw.Next(time.Until(deadline))
					if err != nil {
						t.Fatalf("no received (PUBACK seen: %v): %v", gotAck, err)
					}
					switch pk.FixedHeader.Type {
					case packets.Puback:
						gotAck = true
						continue
					case packets.Suback:
						continue
					case packets.Publish:
						raw.Puback(pk.PacketID)
					}
					var r gateway.Reassure
					if json.Unmarshal(pk.Payload, &r) != nil || r.Seq != 1 || r.State != "received" {
						t.Fatalf("got %s on %s, want the received for seq 1", pk.Payload, pk.TopicName)
					}
					if pk.TopicName != "anxin/v1/"+id+"/cmd" || pk.FixedHeader.Qos != 1 {
						t.Fatalf("received on %q at QoS %d, want the device's cmd at QoS 1", pk.TopicName, pk.FixedHeader.Qos)
					}
					return
				}
			})
		}
	}
}
