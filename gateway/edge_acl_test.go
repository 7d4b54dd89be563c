package gateway_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
)

// edgeSite is a gateway with the shared site tree, an edge box box-1 at
// home-12, btn-1 behind it and btn-2 connecting directly. It returns the
// box's password and btn-2's.
func edgeSite(t *testing.T) (g *gatewaytest.Gateway, boxPW, btn2PW string) {
	t.Helper()
	g = gatewaytest.Start(t, gateway.Config{})
	g.SeedSites()
	boxPW = g.ProvisionWith(map[string]any{"id": "box-1", "kind": "edge_box", "site": "home-12"})
	g.ProvisionWith(map[string]any{"id": "btn-1", "kind": "call_button", "site": "home-12-bedroom", "edge": "box-1"})
	btn2PW = g.ProvisionWith(map[string]any{"id": "btn-2", "kind": "call_button", "site": "home-12-kitchen"})
	return g, boxPW, btn2PW
}

// boxListen subscribes the box's connection to a device's cmd topic and
// returns what arrives there.
func boxListen(t *testing.T, box *gatewaytest.Device, device string) chan gateway.Reassure {
	t.Helper()
	ch := make(chan gateway.Reassure, 16)
	topic := "anxin/v1/" + device + "/cmd"
	tok := box.Client.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		var r gateway.Reassure
		if json.Unmarshal(m.Payload(), &r) == nil && r.Type == "reassure" {
			ch <- r
		}
	}).(*paho.SubscribeToken)
	if !tok.WaitTimeout(5*time.Second) || tok.Result()[topic] != 1 {
		t.Fatalf("box subscribing to %s: SUBACK %#x, err %v", topic, tok.Result()[topic], tok.Error())
	}
	return ch
}

func expectReassure(t *testing.T, ch chan gateway.Reassure, seq uint64, state string) gateway.Reassure {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case r := <-ch:
			if r.Seq == seq && r.State == state {
				return r
			}
		case <-deadline:
			t.Fatalf("no reassurance %q for seq %d within 5 s", state, seq)
		}
	}
}

// TestEdgeBoxForwardsForItsDevices: a box publishes a press for a device
// behind it over TCP; central raises the alarm as if the device had
// pressed, answers on the device's cmd topic (which the box reads), is
// idempotent on (device, seq), and tells the device of the operator's
// acknowledgement the same way.
func TestEdgeBoxForwardsForItsDevices(t *testing.T) {
	g, boxPW, _ := edgeSite(t)
	op := g.AddUser("zhao", state.RoleOperator)
	box := g.ConnectDevice("box-1", boxPW)
	cmds := boxListen(t, box, "btn-1")

	press := fmt.Sprintf(`{"seq":41,"ts":%d,"type":"call.press"}`, time.Now().UnixMilli())
	if tok := box.Client.Publish("anxin/v1/btn-1/event", 1, false, press); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("box publishing btn-1's press: %v", tok.Error())
	}
	r := expectReassure(t, cmds, 41, "received")
	var a alerting.Alarm
	if code := op.Do("GET", "/api/v1/alarms/"+r.Alarm, nil, &a); code != 200 {
		t.Fatalf("GET alarm %s: HTTP %d", r.Alarm, code)
	}
	if a.Device != "btn-1" || a.Type != alerting.TypeCall || a.Priority != alerting.P1 || a.Seq != 41 || a.Site != "home-12-bedroom" {
		t.Fatalf("alarm from the box's forward: %+v, want btn-1's call at home-12-bedroom, seq 41", a)
	}

	// The box resends after a lost PUBACK: the same alarm, not a second.
	if tok := box.Client.Publish("anxin/v1/btn-1/event", 1, false, press); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("resend: %v", tok.Error())
	}
	if again := expectReassure(t, cmds, 41, "received"); again.Alarm != a.ID {
		t.Fatalf("resend answered for alarm %s, want %s", again.Alarm, a.ID)
	}
	if n := len(g.Engine().Open()); n != 1 {
		t.Fatalf("%d open alarms after a resend, want 1", n)
	}

	if code := op.Do("POST", "/api/v1/alarms/"+a.ID+"/ack", map[string]string{"note": "calling her"}, nil); code != 200 {
		t.Fatalf("ack: HTTP %d", code)
	}
	expectReassure(t, cmds, 41, "acknowledged")

	// The box's own status and heartbeat are its own device's messages.
	if err := box.Publish("status", `{"online":true,"fw":"0.3.0","model":"anxin-edge"}`); err != nil {
		t.Fatalf("box status: %v", err)
	}
	if err := box.Publish("telemetry", `{"ts":0,"queue_depth":3,"queue_oldest_ts":0}`); err != nil {
		t.Fatalf("box telemetry: %v", err)
	}
	var dv httpapi.DeviceView
	g.Admin.Do("GET", "/api/v1/devices/box-1", nil, &dv)
	if dv.Health.Firmware != "0.3.0" || dv.Health.Readings["queue_depth"] != 3 {
		t.Fatalf("box health %+v, want fw 0.3.0 and queue_depth 3", dv.Health)
	}
}

// TestEdgeBoxACL: what a box may not do, over TCP with paho.
func TestEdgeBoxACL(t *testing.T) {
	g, boxPW, btn2PW := edgeSite(t)
	btn2 := g.ConnectDevice("btn-2", btn2PW)
	t.Run("subscribe", func(t *testing.T) {
		box := g.ConnectDevice("box-1", boxPW)
		for _, c := range []struct {
			filter string
			want   byte
		}{
			{"anxin/v1/box-1/cmd", 1},
			{"anxin/v1/btn-1/cmd", 1},
			{"anxin/v1/btn-2/cmd", 0x80}, // not behind it
			{"anxin/v1/+/cmd", 0x80},
			{"anxin/v1/btn-1/event", 0x80},
			{"anxin/v1/box-1/sync", 0x80},
			{"#", 0x80},
		} {
			tok := box.Client.Subscribe(c.filter, 1, nil).(*paho.SubscribeToken)
			tok.WaitTimeout(5 * time.Second)
			if got := tok.Result()[c.filter]; got != c.want {
				t.Errorf("SUBACK for %q: %#x, want %#x", c.filter, got, c.want)
			}
		}
	})
	for _, topic := range []string{"anxin/v1/btn-2/event", "anxin/v1/btn-9/event", "anxin/v1/btn-1/cmd", "anxin/v1/btn-1/sync"} {
		t.Run("publish "+topic, func(t *testing.T) {
			box := g.ConnectDevice("box-1", boxPW)
			box.Client.Publish(topic, 1, false, fmt.Sprintf(`{"seq":1,"ts":%d,"type":"call.press"}`, time.Now().UnixMilli())).WaitTimeout(3 * time.Second)
			// MQTT 3.1.1 has no refusal code: the broker drops the connection.
			waitClosed(t, box.Client)
			if n := len(g.Engine().Open()); n != 0 {
				t.Fatalf("%d alarms raised by a forged publish", n)
			}
		})
	}
	t.Run("a device cannot publish for the box's devices", func(t *testing.T) {
		btn2.Client.Publish("anxin/v1/btn-1/event", 1, false, `{"seq":1,"type":"call.press"}`).WaitTimeout(3 * time.Second)
		waitClosed(t, btn2.Client)
		if n := len(g.Engine().Open()); n != 0 {
			t.Fatalf("%d alarms raised by a forged publish", n)
		}
	})
	for _, c := range []struct {
		name, topic, payload string
		ok                   bool
	}{
		{"will on its own status", "anxin/v1/box-1/status", `{"online":false}`, true},
		{"will on a device's status", "anxin/v1/btn-1/status", `{"online":false}`, false},
		{"will on a device's event", "anxin/v1/btn-1/event", `{"seq":1,"type":"call.press"}`, false},
		{"will on its sync", "anxin/v1/box-1/sync", `{"type":"ack"}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://"+g.MQTTAddr()).SetClientID("box-1").
				SetUsername("box-1").SetPassword(boxPW).SetWill(c.topic, c.payload, 1, false).
				SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
			tok := cl.Connect()
			ok := tok.WaitTimeout(5*time.Second) && tok.Error() == nil
			if ok {
				cl.Disconnect(0)
			}
			if ok != c.ok {
				t.Fatalf("connect with %s: ok %v (err %v), want %v", c.name, ok, tok.Error(), c.ok)
			}
		})
	}
	t.Run("a device moved away is refused at once", func(t *testing.T) {
		box := g.ConnectDevice("box-1", boxPW)
		if code := g.Admin.Do("PATCH", "/api/v1/devices/btn-1", map[string]any{"edge": ""}, nil); code != 200 {
			t.Fatalf("patch edge: HTTP %d", code)
		}
		box.Client.Publish("anxin/v1/btn-1/event", 1, false, `{"seq":2,"type":"call.press"}`).WaitTimeout(3 * time.Second)
		waitClosed(t, box.Client)
		if n := len(g.Engine().Open()); n != 0 {
			t.Fatalf("%d alarms raised for a device no longer behind the box", n)
		}
	})
}

func waitClosed(t *testing.T, c paho.Client) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for c.IsConnectionOpen() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c.IsConnectionOpen() {
		t.Fatal("still connected after a publish outside its ACL")
	}
}

// TestMosquittoEdgeBox: the same through Debian's mosquitto clients acting
// as the box: mosquitto_pub publishes btn-1's press, mosquitto_sub (the
// box's second connection) hears "received" on btn-1's cmd, and a
// subscription to another device's cmd is denied.
func TestMosquittoEdgeBox(t *testing.T) {
	pub := gatewaytest.NeedBinary(t, "mosquitto_pub")
	subBin := gatewaytest.NeedBinary(t, "mosquitto_sub")
	g, boxPW, _ := edgeSite(t)
	host, port := mqttHostPort(t, g.MQTTAddr())
	box := []string{"-h", host, "-p", port, "-u", "box-1", "-P", boxPW}

	sub := startMosquittoSub(t, subBin, append(box, "-i", "box-1:sub", "-t", "anxin/v1/btn-1/cmd", "-q", "1", "-C", "1", "-W", "10"))
	press := fmt.Sprintf(`{"seq":9,"ts":%d,"type":"call.press"}`, time.Now().UnixMilli())
	if out, err := exec.Command(pub, append(box, "-i", "box-1:pub", "-t", "anxin/v1/btn-1/event", "-q", "1", "-m", press)...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	if r := sub.reassurance(t); r.Seq != 9 || r.State != "received" {
		t.Fatalf("mosquitto_sub got %+v, want seq 9 received", r)
	}
	if a, ok := g.Engine().OpenOf("btn-1", alerting.TypeCall); !ok || a.Seq != 9 {
		t.Fatalf("no open call alarm of btn-1 with seq 9 after the box's publish: %+v", a)
	}

	// mosquitto_sub says so and exits (with status 0) when every filter is refused.
	out, err := exec.Command(subBin, append(box, "-i", "box-1:deny", "-t", "anxin/v1/btn-2/cmd", "-q", "1", "-C", "1", "-W", "5")...).CombinedOutput()
	if !strings.Contains(string(out), "All subscription requests were denied") {
		t.Fatalf("mosquitto_sub on btn-2's cmd as box-1: err %v, output %q; want it denied", err, out)
	}
}
