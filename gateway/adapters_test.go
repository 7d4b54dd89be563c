package gateway_test

import (
	"os/exec"
	"slices"
	"testing"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

const bridgePassword = "z2m-bridge-password"

func z2mGateway(t *testing.T) *gatewaytest.Gateway {
	t.Helper()
	return gatewaytest.Start(t, gateway.Config{
		Adapters: []devices.AdapterConfig{{Type: "zigbee2mqtt"}},
		Bridges:  []gateway.Bridge{{User: "z2m", Password: bridgePassword, Topics: []string{"zigbee2mqtt/#"}}},
	})
}

// TestZigbee2MQTTSmokeWithMosquittoPub: Zigbee2MQTT's state messages, sent
// by Debian's mosquitto_pub as the Z2M bridge, raise a P1 smoke alarm at
// the detector's room and resident; a repeated state is no new fire, a
// clear and a new "smoke": true is.
func TestZigbee2MQTTSmokeWithMosquittoPub(t *testing.T) {
	pub := gatewaytest.NeedBinary(t, "mosquitto_pub")
	g := z2mGateway(t)
	g.SeedSites()
	g.ProvisionWith(map[string]any{"id": "smk-kitchen", "kind": "smoke_detector", "format": "zigbee2mqtt",
		"ref": "kitchen_smoke", "site": "home-12-kitchen", "resident": "wang-xy"})
	host, port := mqttHostPort(t, g.MQTTAddr())
	send := func(payload string) {
		t.Helper()
		out, err := exec.Command(pub, "-h", host, "-p", port, "-i", "z2m:pub", "-u", "z2m", "-P", bridgePassword,
			"-q", "1", "-t", "zigbee2mqtt/kitchen_smoke", "-m", payload).CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub %s: %v: %s", payload, err, out)
		}
	}
	smokeAlarms := func() []*alerting.Alarm {
		var out []*alerting.Alarm
		for _, a := range mustAlarms(t, g, "all") {
			if a.Device == "smk-kitchen" && a.Type == alerting.TypeSmoke {
				out = append(out, a)
			}
		}
		return out
	}

	send(`{"smoke":false,"battery":95,"linkquality":120}`)
	send(`{"smoke":true,"battery":95,"linkquality":118}`)
	got := smokeAlarms()
	if len(got) != 1 {
		t.Fatalf("%d smoke alarms after smoke: true, want 1", len(got))
	}
	a := got[0]
	if a.Priority != alerting.P1 || a.Resident != "王秀英" || !slices.Equal(a.Location, []string{"青山市", "青山县", "青山镇", "青山村", "12号", "厨房"}) || a.Site != "home-12-kitchen" {
		t.Fatalf("smoke alarm %+v: want P1 at 青山村/12号/厨房 for 王秀英", a)
	}
	send(`{"smoke":true,"battery":94,"linkquality":117}`) // state repeated with a battery update
	if a, _ := g.Engine().Get(a.ID); a.Count != 1 || len(smokeAlarms()) != 1 {
		t.Fatalf("a repeated state counted as a new fire (count %d, %d alarms)", a.Count, len(smokeAlarms()))
	}
	send(`{"smoke":false,"battery":94}`)
	send(`{"smoke":true,"battery":94}`)
	if n := len(smokeAlarms()); n != 2 {
		t.Fatalf("%d smoke alarms after clear and smoke again, want exactly 2", n)
	}
}

func TestBridgeACL(t *testing.T) {
	g := z2mGateway(t)
	pw := g.Provision("btn-1", "call_button")
	if _, err := g.TryConnect("z2m", "z2m", "wrong-password-000"); err == nil {
		t.Fatal("bridge connected with a wrong password")
	}
	bridge, err := g.TryConnect("z2m", "z2m", bridgePassword)
	if err != nil {
		t.Fatal(err)
	}
	// A bridge cannot speak the native protocol as a device.
	tok := bridge.Client.Publish(devices.Topic("btn-1", devices.ChannelEvent), 1, false, `{"seq":1,"type":"call.press"}`)
	tok.Wait()
	if n := len(g.Engine().Open()); n != 0 {
		t.Fatalf("a bridge raised %d native alarms", n)
	}
	// A device cannot publish on the bridge's topics.
	dev := g.ConnectDevice("btn-1", pw)
	tok = dev.Client.Publish("zigbee2mqtt/btn-1", 1, false, `{"action":"emergency"}`)
	tok.Wait()
	if n := len(g.Engine().Open()); n != 0 {
		t.Fatalf("a device's publish on zigbee2mqtt/ raised %d alarms", n)
	}
}

func mustAlarms(t *testing.T, g *gatewaytest.Gateway, state string) []*alerting.Alarm {
	t.Helper()
	var out struct{ Alarms []*alerting.Alarm }
	if code := g.Admin.Do("GET", "/api/v1/alarms?state="+state, nil, &out); code != 200 {
		t.Fatalf("alarms: HTTP %d", code)
	}
	return out.Alarms
}

// TestZigbee2MQTTStateSurvivesRestart: the adapter's remembered state is
// durable, so a detector still sounding when the gateway restarts is not a
// new fire, and its next false → true is.
func TestZigbee2MQTTStateSurvivesRestart(t *testing.T) {
	g := z2mGateway(t)
	g.SeedSites()
	g.ProvisionWith(map[string]any{"id": "smk-k", "kind": "smoke_detector", "format": "zigbee2mqtt",
		"ref": "kitchen_smoke", "site": "home-12-kitchen", "resident": "wang-xy"})
	send := func(g *gatewaytest.Gateway, payload string) {
		t.Helper()
		b, err := g.TryConnect("z2m", "z2m", bridgePassword)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Client.Disconnect(0)
		if tok := b.Client.Publish("zigbee2mqtt/kitchen_smoke", 1, false, payload); !tok.WaitTimeout(5e9) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	count := func(g *gatewaytest.Gateway) int {
		n := 0
		for _, a := range mustAlarms(t, g, "all") {
			if a.Device == "smk-k" && a.Type == alerting.TypeSmoke {
				n++
			}
		}
		return n
	}
	send(g, `{"smoke":true,"battery":90}`)
	// The operator has dealt with it (burnt toast) while it still sounds.
	id := mustAlarms(t, g, "open")[0].ID
	if code := g.Admin.Do("POST", "/api/v1/alarms/"+id+"/resolve", map[string]string{"outcome": "false_alarm"}, nil); code != 200 {
		t.Fatalf("resolve: HTTP %d", code)
	}
	g = g.Restart()
	send(g, `{"smoke":true,"battery":89}`)
	if n := count(g); n != 1 {
		t.Fatalf("%d smoke alarms after a restart while sounding, want 1: the state was forgotten", n)
	}
	send(g, `{"smoke":false,"battery":89}`)
	send(g, `{"smoke":true,"battery":89}`)
	if n := count(g); n != 2 {
		t.Fatalf("%d smoke alarms after clear and smoke again, want 2", n)
	}
}
