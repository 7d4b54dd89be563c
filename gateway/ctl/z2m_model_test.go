package ctl_test

import (
	"strings"
	"testing"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/apiclient"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestDeviceListShowsZigbeeModelStatus: device ls tells the installer
// which Zigbee devices are decoded by a model record and which by the
// generic rules, once the bridge has published its device list.
func TestDeviceListShowsZigbeeModelStatus(t *testing.T) {
	const pw = "z2m-bridge-password"
	g := gatewaytest.Start(t, gateway.Config{
		Adapters: []devices.AdapterConfig{{Type: "zigbee2mqtt"}},
		Bridges:  []gateway.Bridge{{User: "z2m", Password: pw, Topics: []string{"zigbee2mqtt/#"}}},
	})
	c := newCLI(t, g)
	c.login()
	g.ProvisionWith(map[string]any{"id": "sos-1", "kind": "call_button", "format": "zigbee2mqtt", "ref": "sos_button"})
	g.ProvisionWith(map[string]any{"id": "door-1", "kind": "door_sensor", "format": "zigbee2mqtt", "ref": "hall_door"})
	b, err := g.TryConnect("z2m", "z2m", pw)
	if err != nil {
		t.Fatal(err)
	}
	list := `[{"ieee_address":"0x1","type":"EndDevice","friendly_name":"sos_button","supported":true,"definition":{"model":"HS1EB/HS1EB-E","vendor":"Heiman","description":"Smart emergency button"}},
	          {"ieee_address":"0x2","type":"EndDevice","friendly_name":"hall_door","supported":true,"definition":{"model":"MCCGQ11LM","vendor":"Aqara","description":"Door sensor"}}]`
	if tok := b.Client.Publish("zigbee2mqtt/bridge/devices", 1, true, list); !tok.WaitTimeout(5e9) || tok.Error() != nil {
		t.Fatalf("publish bridge/devices: %v", tok.Error())
	}
	ls := c.ok("device", "ls")
	for _, s := range []string{"model Heiman HS1EB/HS1EB-E", "generic rules"} {
		if !strings.Contains(ls, s) {
			t.Errorf("device ls lacks %q:\n%s", s, ls)
		}
	}
	var out []apiclient.Device
	c.jsonOut(&out, "device", "ls")
	got := map[string]string{}
	for _, d := range out {
		got[d.ID] = d.ModelStatus
	}
	if got["sos-1"] != "Heiman HS1EB/HS1EB-E" || got["door-1"] != "generic" {
		t.Fatalf("device ls -o json model_status: %v", got)
	}
}
