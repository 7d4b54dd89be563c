package gateway_test

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
)

// z2mBridgeDevices is a bridge/devices as Zigbee2MQTT 1.x/2.x publishes it
// (trimmed): the coordinator, a Heiman emergency button anxin has a record
// of, a door sensor it decodes by the generic table, and an entry without
// a friendly name, which is left out and counted as bad_field.
const z2mBridgeDevices = `[
 {"ieee_address":"0x00124b0029113f62","type":"Coordinator","friendly_name":"Coordinator","supported":true,"definition":null},
 {"ieee_address":"0x54ef441000a1b2c3","type":"EndDevice","friendly_name":"sos_button","supported":true,"power_source":"Battery",
  "definition":{"model":"HS1EB/HS1EB-E","vendor":"Heiman","description":"Smart emergency button",
   "exposes":[{"type":"enum","name":"action","property":"action","values":["single","double","hold","off"]},
              {"type":"numeric","name":"battery","property":"battery"}]}},
 {"ieee_address":"0x54ef441000a1b2c4","type":"EndDevice","friendly_name":"sos_button_2","supported":true,"power_source":"Battery",
  "definition":{"model":"HS1EB/HS1EB-E","vendor":"Heiman","description":"Smart emergency button","exposes":[]}},
 {"ieee_address":"0x00158d0001a2b3c4","type":"EndDevice","friendly_name":"hall_door","supported":true,"power_source":"Battery",
  "definition":{"model":"MCCGQ11LM","vendor":"Aqara","description":"Door and window sensor","exposes":[]}},
 {"ieee_address":"0x00158d0001a2b3c5","type":"EndDevice","friendly_name":"","supported":true,"definition":null}
]`

// lockedBuffer is a log sink the test reads while the gateway writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func allRejections(t *testing.T, g *gatewaytest.Gateway) float64 {
	t.Helper()
	var n float64
	for _, r := range devices.Reasons() {
		n += rejections(t, g, string(r))
	}
	return n
}

// TestZigbee2MQTTModelAwareWithMosquittoPub: mosquitto_pub as the
// Zigbee2MQTT bridge (MQTT 3.1.1, then 5) publishes its retained
// bridge/devices and then a press of a Heiman HS1EB, whose "single" is no
// word of the generic table: exactly one P1 call. The list survives a restart; the API tells the
// installer which device runs on a model record and which on generic
// rules; the entry without a name counts as one bad_field.
func TestZigbee2MQTTModelAwareWithMosquittoPub(t *testing.T) {
	pub := gatewaytest.NeedBinary(t, "mosquitto_pub")
	g := z2mGateway(t)
	for _, d := range []struct{ id, kind, ref string }{
		{"sos-1", "call_button", "sos_button"}, {"sos-2", "call_button", "sos_button_2"}, {"door-1", "door_sensor", "hall_door"},
	} {
		g.ProvisionWith(map[string]any{"id": d.id, "kind": d.kind, "format": "zigbee2mqtt", "ref": d.ref})
	}
	host, port := mqttHostPort(t, g.MQTTAddr())
	version := "mqttv311" // then MQTT 5 after the restart
	send := func(topic, payload string, retain bool) {
		t.Helper()
		args := []string{"-V", version, "-h", host, "-p", port, "-i", "z2m", "-u", "z2m", "-P", bridgePassword, "-q", "1", "-t", topic, "-m", payload}
		if retain {
			args = append(args, "-r")
		}
		if out, err := exec.Command(pub, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub %s: %v: %s", topic, err, out)
		}
	}
	calls := func(device string) []*alerting.Alarm {
		var out []*alerting.Alarm
		for _, a := range mustAlarms(t, g, "all") {
			if a.Device == device && a.Type == alerting.TypeCall {
				out = append(out, a)
			}
		}
		return out
	}

	badField := rejections(t, g, "bad_field")
	send("zigbee2mqtt/bridge/devices", z2mBridgeDevices, true)
	if got := rejections(t, g, "bad_field"); got != badField+1 {
		t.Errorf("bad_field %v after a list with one unusable entry, want %v", got, badField+1)
	}
	send("zigbee2mqtt/sos_button", `{"action":"single","battery":90,"linkquality":96}`, false)
	got := calls("sos-1")
	if len(got) != 1 || got[0].Priority != alerting.P1 {
		t.Fatalf("after an HS1EB press (action single): %d call alarms %+v, want exactly one P1", len(got), got)
	}
	send("zigbee2mqtt/sos_button", `{"action":"off","battery":90,"linkquality":95}`, false) // the zone restoring
	if n := len(calls("sos-1")); n != 1 {
		t.Fatalf("%d call alarms after the button's off, want still 1", n)
	}

	var dev httpapi.DeviceView
	for id, want := range map[string]string{"sos-1": "Heiman HS1EB/HS1EB-E", "door-1": "generic"} {
		if code := g.Admin.Do("GET", "/api/v1/devices/"+id, nil, &dev); code != 200 || dev.ModelStatus != want {
			t.Errorf("GET device %s: HTTP %d, model_status %q, want %q", id, code, dev.ModelStatus, want)
		}
	}

	// After a restart the stored list decodes the other button by its
	// model before any bridge/devices comes again.
	g = g.Restart()
	host, port = mqttHostPort(t, g.MQTTAddr())
	version = "mqttv5"
	send("zigbee2mqtt/sos_button_2", `{"action":"hold","battery":88,"linkquality":90}`, false)
	if got := calls("sos-2"); len(got) != 1 || got[0].Priority != alerting.P1 {
		t.Fatalf("after a restart, an HS1EB hold over MQTT 5: %d call alarms, want exactly one P1", len(got))
	}
	send("zigbee2mqtt/bridge/devices", z2mBridgeDevices, true) // the bridge reconnecting over MQTT 5
	send("zigbee2mqtt/sos_button", `{"action":"double","battery":90}`, false)
	if got := calls("sos-1"); len(got) != 1 || got[0].Count != 2 {
		t.Fatalf("an HS1EB double over MQTT 5: call alarms %+v, want the open one pressed again (count 2)", got)
	}
}

// TestZigbee2MQTTBridgeTopicsQuiet: the bridge's own topics and Home
// Assistant discovery, over MQTT 3.1.1 and 5, are taken without a
// rejection, a warning or a disconnect, and raise nothing.
func TestZigbee2MQTTBridgeTopicsQuiet(t *testing.T) {
	pub := gatewaytest.NeedBinary(t, "mosquitto_pub")
	var logs lockedBuffer
	g := gatewaytest.Start(t, gateway.Config{
		Adapters: []devices.AdapterConfig{{Type: "zigbee2mqtt"}},
		Bridges:  []gateway.Bridge{{User: "z2m", Password: bridgePassword, Topics: []string{"zigbee2mqtt/#"}}},
	}, gatewaytest.WithLog(&logs))
	host, port := mqttHostPort(t, g.MQTTAddr())
	discovery := fmt.Sprintf(`{"availability":[{"topic":"zigbee2mqtt/bridge/state"}],"device":{"identifiers":["zigbee2mqtt_0x54ef441000a1b2c3"],"manufacturer":"Heiman","model":"Smart emergency button (HS1EB/HS1EB-E)","name":"sos_button"},"json_attributes_topic":"zigbee2mqtt/sos_button","name":null,"object_id":"sos_button_action","origin":{"name":"Zigbee2MQTT","sw":"1.42.0","url":"https://www.zigbee2mqtt.io"},"state_topic":"zigbee2mqtt/sos_button","unique_id":"0x54ef441000a1b2c3_action_zigbee2mqtt","value_template":"{{ value_json.action }}","pad":%q}`, strings.Repeat("x", 1500))
	msgs := []struct {
		topic, payload string
		retain         bool
	}{
		{"zigbee2mqtt/bridge/state", `{"state":"online"}`, true},
		{"zigbee2mqtt/bridge/info", `{"version":"1.42.0","coordinator":{"type":"zStack3x0"},"config":{}}`, true},
		{"zigbee2mqtt/bridge/logging", `{"level":"info","message":"Zigbee: allowing new devices to join."}`, false},
		{"zigbee2mqtt/bridge/event", `{"type":"device_announce","data":{"friendly_name":"sos_button","ieee_address":"0x54ef441000a1b2c3"}}`, false},
		{"zigbee2mqtt/bridge/response/device/rename", `{"data":{"from":"a","to":"b"},"status":"ok"}`, false},
		{"zigbee2mqtt/bridge/groups", `[]`, true},
		{"homeassistant/sensor/0x54ef441000a1b2c3/action/config", discovery, true},
		{"homeassistant/device_automation/0x54ef441000a1b2c3/action_single/config", `{"automation_type":"trigger","type":"action","subtype":"single"}`, true},
	}
	before := allRejections(t, g)
	for _, v := range []string{"mqttv311", "mqttv5"} {
		for _, m := range msgs {
			args := []string{"-V", v, "-h", host, "-p", port, "-i", "z2m", "-u", "z2m", "-P", bridgePassword, "-q", "1", "-t", m.topic, "-m", m.payload}
			if m.retain {
				args = append(args, "-r")
			}
			if out, err := exec.Command(pub, args...).CombinedOutput(); err != nil {
				t.Errorf("mosquitto_pub -V %s %s: %v: %s", v, m.topic, err, out)
			}
		}
	}
	if after := allRejections(t, g); after != before {
		t.Errorf("rejections went from %v to %v on the bridge's own topics", before, after)
	}
	if n := len(mustAlarms(t, g, "all")); n != 0 {
		t.Errorf("the bridge's own topics raised %d alarms", n)
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") || strings.Contains(line, "disconnect") {
			t.Errorf("log line on the bridge's own topics: %.300s", line)
		}
	}
}
