package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
)

// bigBridgeDevices is a bridge/devices as a real Zigbee2MQTT network
// publishes it: the coordinator and n devices, every other one a Heiman
// HS1EB (sos_N) and the rest Aqara door sensors (door_N), each with its
// full exposes.
func bigBridgeDevices(n int) []byte {
	type feature struct {
		Type        string   `json:"type"`
		Name        string   `json:"name"`
		Property    string   `json:"property"`
		Access      int      `json:"access"`
		Description string   `json:"description"`
		Unit        string   `json:"unit,omitempty"`
		ValueMin    *int     `json:"value_min,omitempty"`
		ValueMax    *int     `json:"value_max,omitempty"`
		Values      []string `json:"values,omitempty"`
		Category    string   `json:"category,omitempty"`
	}
	pct := func(v int) *int { return &v }
	common := []feature{
		{Type: "numeric", Name: "battery", Property: "battery", Access: 1, Description: "Remaining battery in %, can take up to 24 hours before reported", Unit: "%", ValueMin: pct(0), ValueMax: pct(100), Category: "diagnostic"},
		{Type: "numeric", Name: "voltage", Property: "voltage", Access: 1, Description: "Voltage of the battery in millivolts", Unit: "mV", Category: "diagnostic"},
		{Type: "binary", Name: "battery_low", Property: "battery_low", Access: 1, Description: "Indicates if the battery of this device is almost empty", Category: "diagnostic"},
		{Type: "binary", Name: "tamper", Property: "tamper", Access: 1, Description: "Indicates whether the device is tampered"},
		{Type: "numeric", Name: "linkquality", Property: "linkquality", Access: 1, Description: "Link quality (signal strength)", Unit: "lqi", ValueMin: pct(0), ValueMax: pct(255), Category: "diagnostic"},
	}
	list := []map[string]any{{"ieee_address": "0x00124b0029113f62", "type": "Coordinator", "friendly_name": "Coordinator",
		"supported": true, "definition": nil}}
	for i := range n {
		name, model, vendor, desc := fmt.Sprintf("door_%d", i), "MCCGQ11LM", "Aqara", "Door and window sensor"
		exposes := append([]feature{{Type: "binary", Name: "contact", Property: "contact", Access: 1,
			Description: "Indicates if the contact is closed (= true) or open (= false)"}}, common...)
		if i%2 == 0 {
			name, model, vendor, desc = fmt.Sprintf("sos_%d", i), "HS1EB/HS1EB-E", "Heiman", "Smart emergency button"
			exposes = append([]feature{{Type: "enum", Name: "action", Property: "action", Access: 1,
				Description: "Triggered action (e.g. a button click)", Values: []string{"single", "double", "hold", "off"}, Category: "diagnostic"}}, common...)
		}
		list = append(list, map[string]any{
			"ieee_address": fmt.Sprintf("0x54ef4410%08x", i), "network_address": 1000 + i, "type": "EndDevice",
			"friendly_name": name, "supported": true, "disabled": false, "interview_completed": true, "interviewing": false,
			"power_source": "Battery", "manufacturer": vendor, "model_id": model, "software_build_id": "3.0.1", "date_code": "20230410",
			"definition": map[string]any{"model": model, "vendor": vendor, "description": desc, "supports_ota": false,
				"exposes": exposes, "options": []feature{}},
			"endpoints": map[string]any{"1": map[string]any{"bindings": []any{}, "configured_reportings": []any{},
				"clusters": map[string]any{"input": []string{"genBasic", "genPowerCfg", "genIdentify", "ssIasZone"}, "output": []string{"genOta"}}}},
		})
	}
	b, err := json.Marshal(list)
	if err != nil {
		panic(err)
	}
	return b
}

// TestBridgeBigDevicesListWithMosquittoPub: the Zigbee2MQTT bridge
// (mosquitto_pub as z2m) publishes a retained bridge/devices of over 30 kB,
// far over a device's packet limit: it arrives and is the model table.
func TestBridgeBigDevicesListWithMosquittoPub(t *testing.T) {
	pub := gatewaytest.NeedBinary(t, "mosquitto_pub")
	g := z2mGateway(t)
	const n = 24
	list := bigBridgeDevices(n)
	if len(list) < 30000 {
		t.Fatalf("bridge/devices is %d bytes, want at least 30 kB", len(list))
	}
	for i := range n {
		kind, ref := "door_sensor", fmt.Sprintf("door_%d", i)
		if i%2 == 0 {
			kind, ref = "call_button", fmt.Sprintf("sos_%d", i)
		}
		g.ProvisionWith(map[string]any{"id": "z-" + ref, "kind": kind, "format": "zigbee2mqtt", "ref": ref})
	}
	host, port := mqttHostPort(t, g.MQTTAddr())
	for _, v := range []string{"mqttv311", "mqttv5"} {
		cmd := exec.Command(pub, "-V", v, "-h", host, "-p", port, "-i", "z2m", "-u", "z2m", "-P", bridgePassword,
			"-q", "1", "-r", "-t", "zigbee2mqtt/bridge/devices", "-s")
		cmd.Stdin = bytes.NewReader(list)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub -V %s of a %d-byte bridge/devices: %v: %s", v, len(list), err, out)
		}
	}
	t.Logf("bridge/devices of %d bytes published", len(list))
	var dev httpapi.DeviceView
	for i := range n {
		id, want := fmt.Sprintf("z-door_%d", i), "generic"
		if i%2 == 0 {
			id, want = fmt.Sprintf("z-sos_%d", i), "Heiman HS1EB/HS1EB-E"
		}
		pollUntil(t, 5*time.Second, id+" on its model record", func() bool {
			return g.Admin.Do("GET", "/api/v1/devices/"+id, nil, &dev) == 200 && dev.ModelStatus == want
		})
	}
	if got := rejections(t, g, "oversized"); got != 0 {
		t.Errorf("oversized rejections %v after the bridge's list, want 0", got)
	}
}

// TestOversizeDevicePacketOnTheWire: a device's 6 kB packet is refused on
// the wire (its connection closed) and counted as oversized, even though
// the broker now takes bigger packets from a bridge.
func TestOversizeDevicePacketOnTheWire(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	const id = "btn-big"
	pw := g.Provision(id, "call_button")
	good := g.ConnectDevice("btn-good", g.Provision("btn-good", "call_button"))
	before := rejections(t, g, "oversized")
	raw := gatewaytest.DialRaw(t, g.MQTTAddr())
	if ack, err := raw.Connect(gatewaytest.RawConnect{ClientID: id, User: id, Pass: pw}); err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect: %v %+v", err, ack)
	}
	raw.Publish("anxin/v1/"+id+"/event", 1, false, []byte(`{"seq":1,"type":"call.press","data":{"pad":"`+strings.Repeat("x", 6000)+`"}}`), 1)
	raw.WaitClosed(5 * time.Second)
	pollUntil(t, 5*time.Second, "oversized rejection counted", func() bool {
		return rejections(t, g, "oversized") == before+1
	})
	good.Expect(good.Press("call.press"), "received")
}

// A CONNECT claiming more than the limit is refused from its header,
// unread: testdata/hostile/mqtt.txt, "CONNECT claiming 256 MB"
// (TestHostileCorpus).
