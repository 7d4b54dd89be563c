package devices

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// goldenBridgeDevices returns the bridge/devices tables the golden folders
// z2m_model_* publish, by folder.
func goldenBridgeDevices(t *testing.T) map[string]Z2MDevices {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "z2m_model_*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no z2m_model_* golden folders (%v)", err)
	}
	out := map[string]Z2MDevices{}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "input.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		next := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "#topic zigbee2mqtt/bridge/devices":
				next = true
			case next && !strings.HasPrefix(line, "#"):
				devs, skipped, err := DecodeZ2MDevices([]byte(line))
				if err != nil || len(skipped) > 0 {
					t.Fatalf("%s: bridge/devices: %v %v", dir, err, skipped)
				}
				out[filepath.Base(dir)] = devs
				next = false
			}
		}
	}
	return out
}

// TestZ2MModelRecords holds the table to its sources: every record
// validates, every model it matches appears in some golden folder's
// bridge/devices, and every value a golden definition exposes for a field a
// record reads is either a trigger (When) or known to be quiet (Quiet), so
// that a press named in a new way cannot slip through unnoticed.
func TestZ2MModelRecords(t *testing.T) {
	tables := goldenBridgeDevices(t)
	seen := map[ModelRef]bool{}
	for dir, devs := range tables {
		for name, d := range devs {
			if d.Definition == nil {
				continue
			}
			ref := ModelRef{Vendor: d.Definition.Vendor, Model: d.Definition.Model}
			m, ok := LookupZ2MModel(ref)
			if !ok {
				continue
			}
			seen[ref] = true
			for _, r := range m.Rules {
				for _, e := range flatExposes(d.Definition.Exposes) {
					if e.Property != r.Field || e.Type != "enum" && e.Type != "binary" {
						continue
					}
					values := e.Values
					if e.Type == "binary" {
						values = []any{e.ValueOn, e.ValueOff}
					}
					for _, v := range values {
						s, _ := toScalar(v)
						in := func(list []any) bool {
							return slices.ContainsFunc(list, func(w any) bool { x, _ := toScalar(w); return x == s })
						}
						if !in(r.When) && !in(r.Quiet) {
							t.Errorf("%s: %s (%s) exposes %s=%v, which model %s neither triggers on nor lists as quiet", dir, name, ref, r.Field, v, m.Match[0])
						}
					}
				}
			}
		}
	}
	for _, m := range z2mModels {
		if err := m.check(); err != nil {
			t.Error(err)
		}
		for _, ref := range m.Match {
			if !seen[ref] {
				t.Errorf("model %s has no golden folder testdata/z2m_model_* listing it in bridge/devices", ref)
			}
		}
	}
}

func flatExposes(es []Z2MExpose) []Z2MExpose {
	var out []Z2MExpose
	for _, e := range es {
		out = append(out, e)
		out = append(out, flatExposes(e.Features)...)
	}
	return out
}

func TestZigbee2MQTTBridge(t *testing.T) {
	z := newZigbee2MQTT(t, `{}`)
	tests := []struct {
		topic string
		want  BridgeTopic
	}{
		{"zigbee2mqtt/bridge/devices", BridgeDevices},
		{"zigbee2mqtt/bridge/state", BridgeMeta},
		{"zigbee2mqtt/bridge/info", BridgeMeta},
		{"zigbee2mqtt/bridge/logging", BridgeMeta},
		{"zigbee2mqtt/bridge/event", BridgeMeta},
		{"zigbee2mqtt/bridge/groups", BridgeMeta},
		{"zigbee2mqtt/bridge/definitions", BridgeMeta},
		{"zigbee2mqtt/bridge/response/device/rename", BridgeMeta},
		{"zigbee2mqtt/bridge/request/permit_join", BridgeMeta},
		{"zigbee2mqtt/bridge", BridgeMeta},
		{"homeassistant/binary_sensor/0x01/smoke/config", BridgeMeta},
		{"zigbee2mqtt/kitchen_smoke", BridgeNone},
		{"zigbee2mqtt/bridge_sos", BridgeNone},
		{"zigbee2mqtt/kitchen_smoke/availability", BridgeNone},
		{"other/bridge/devices", BridgeNone},
	}
	for _, tt := range tests {
		if got := z.Bridge(tt.topic); got != tt.want {
			t.Errorf("Bridge(%q) = %v, want %v", tt.topic, got, tt.want)
		}
		if _, ok := z.Match(tt.topic); ok && tt.want != BridgeNone {
			t.Errorf("Match(%q) matches a bridge topic: it would be decoded as a device", tt.topic)
		}
	}
	site := newZigbee2MQTT(t, `{"base_topic": "site7/z2m"}`)
	if got := site.Bridge("site7/z2m/bridge/devices"); got != BridgeDevices {
		t.Errorf("Bridge with base_topic site7/z2m = %v", got)
	}
}

func TestZigbee2MQTTKnown(t *testing.T) {
	z := newZigbee2MQTT(t, `{}`)
	for _, m := range z2mModels {
		for _, ref := range m.Match {
			if !z.Known(ref) {
				t.Errorf("Known(%s) = false", ref)
			}
		}
	}
	for _, ref := range []ModelRef{{}, {"Xiaomi", "WXKG01LM"}, {"heiman", "HS1EB/HS1EB-E"}} {
		if z.Known(ref) {
			t.Errorf("Known(%s) = true", ref)
		}
	}
}

// TestZigbee2MQTTModelOverridesGlobalList: the same payload raises a call
// from a model whose record says "single" is a press, and nothing from a
// device whose model is unknown.
func TestZigbee2MQTTModelOverridesGlobalList(t *testing.T) {
	z := newZigbee2MQTT(t, `{}`)
	in := Input{Topic: "zigbee2mqtt/sos", Payload: []byte(`{"action":"single"}`), Kind: KindCallButton, Received: goldenStart}
	dec, _, err := z.Decode(in, AdapterState{})
	if err != nil || len(dec.Events) != 0 {
		t.Fatalf("generic: %+v, %v; want no events", dec, err)
	}
	in.Model = ModelRef{"Heiman", "HS1EB/HS1EB-E"}
	dec, _, err = z.Decode(in, AdapterState{})
	if err != nil || len(dec.Events) != 1 || dec.Events[0].Type != CallPress {
		t.Fatalf("with the model: %+v, %v; want one call.press", dec, err)
	}
}

func FuzzZ2MDevices(f *testing.F) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "z2m_*", "input.jsonl"))
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			if strings.HasPrefix(line, "[") {
				f.Add([]byte(line))
			}
		}
	}
	f.Add([]byte(`[{"friendly_name":"a","definition":{"exposes":[{"type":"composite","features":[{"property":"x"}]}]}}]`))
	f.Add([]byte(`[null, 1, "x", {"friendly_name": 5}]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		devs, skipped, err := DecodeZ2MDevices(payload)
		if err != nil {
			checkReject(t, err)
			if devs != nil || skipped != nil {
				t.Fatalf("a refused payload produced a table")
			}
			return
		}
		for _, s := range skipped {
			checkReject(t, s)
		}
		for name, d := range devs {
			if name == "" || name != d.FriendlyName || strings.ContainsAny(name, "+#") {
				t.Fatalf("table holds unusable name %q", name)
			}
			if d.Definition != nil {
				d.Definition.Properties()
			}
		}
		l := devs.Listing()
		if len(l) != len(devs) {
			t.Fatalf("listing has %d lines for %d devices", len(l), len(devs))
		}
		if _, err := json.Marshal(l); err != nil {
			t.Fatal(err)
		}
	})
}

func TestZ2MDeviceSupervisionClass(t *testing.T) {
	for power, want := range map[string]string{
		"Battery": ClassZigbeeBattery, "Mains (single phase)": ClassZigbeeMains, "Mains (3 phase)": ClassZigbeeMains,
		"DC Source": ClassZigbeeMains, "": "", "Unknown": "",
	} {
		if got := (Z2MDevice{PowerSource: power}).SupervisionClass(); got != want {
			t.Errorf("SupervisionClass(%q) = %q, want %q", power, got, want)
		}
	}
}
