package devices

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newZigbee2MQTT(t testing.TB, config string) *Zigbee2MQTT {
	t.Helper()
	a, err := NewAdapter(AdapterConfig{Type: "zigbee2mqtt", Config: json.RawMessage(config)})
	if err != nil {
		t.Fatal(err)
	}
	return a.(*Zigbee2MQTT)
}

func TestZigbee2MQTTMatch(t *testing.T) {
	z := newZigbee2MQTT(t, `{}`)
	tests := []struct {
		topic, ref string
		ok         bool
	}{
		{"zigbee2mqtt/kitchen_smoke", "kitchen_smoke", true},
		{"zigbee2mqtt/kitchen/smoke", "kitchen/smoke", true},
		{"zigbee2mqtt/0x00124b0029a1b2c3", "0x00124b0029a1b2c3", true},
		{"zigbee2mqtt/kitchen_smoke/availability", "kitchen_smoke", true},
		{"zigbee2mqtt/kitchen/smoke/availability", "kitchen/smoke", true},
		{"zigbee2mqtt/kitchen_smoke/set", "", false},
		{"zigbee2mqtt/kitchen_smoke/get", "", false},
		{"zigbee2mqtt/kitchen/smoke/set/state", "", false},
		{"zigbee2mqtt/bridge/state", "", false},
		{"zigbee2mqtt/bridge/devices", "", false},
		{"zigbee2mqtt/", "", false},
		{"zigbee2mqtt", "", false},
		{"zigbee2mqttx/kitchen_smoke", "", false},
		{"anxin/v1/CB-1/event", "", false},
	}
	for _, tt := range tests {
		ref, ok := z.Match(tt.topic)
		if ref != tt.ref || ok != tt.ok {
			t.Errorf("Match(%q) = %q, %v; want %q, %v", tt.topic, ref, ok, tt.ref, tt.ok)
		}
	}
	other := newZigbee2MQTT(t, `{"base_topic": "site7/z2m"}`)
	if ref, ok := other.Match("site7/z2m/hall_sos"); !ok || ref != "hall_sos" {
		t.Errorf("Match with base_topic site7/z2m = %q, %v", ref, ok)
	}
}

// TestZigbee2MQTTSmokeRaisesExactlyTwoAlarms states the requirement
// outright, so that an -update of the golden files cannot quietly lose it.
func TestZigbee2MQTTSmokeRaisesExactlyTwoAlarms(t *testing.T) {
	res := runGolden(t, readGoldenCase(t, filepath.Join("testdata", "z2m_smoke_alarm_repeat_clear_again")), false)
	count := map[EventType]int{}
	for _, m := range res.Messages {
		for _, ev := range m.Events {
			count[ev.Type]++
		}
	}
	if count[SmokeAlarm] != 2 || count[SmokeClear] != 1 || len(count) != 2 {
		t.Fatalf("events = %v, want 2 smoke.alarm and 1 smoke.clear", count)
	}
}

func TestZigbee2MQTTInitErrors(t *testing.T) {
	tests := []struct{ config, want string }{
		{`{"base_topic": "z2m/#"}`, `zigbee2mqtt: base_topic "z2m/#" must be a topic without wildcards`},
		{`{"base_topic": "z2m/"}`, `zigbee2mqtt: base_topic "z2m/" must be a topic without wildcards`},
		{`{"battery_low": 150}`, `zigbee2mqtt: battery_low must be a percentage in (0, 100], got 150`},
		{`{"rules": [{"field": "water_leak", "event": "water.leak", "trigger": "enter"}]}`,
			`zigbee2mqtt rule 1: event type "water.leak" is not in the vocabulary`},
		{`{"rules": [{"field": "voltage", "telemetry": "battery"}]}`,
			`zigbee2mqtt rule 1: telemetry field "battery" is already written by built-in rule 14 (field "battery")`},
		{`{"rules": [{"field": "temperature", "telemetry": "temp_c"}, {"field": "smoke", "event": "smoke.alarm", "trigger": "enter"}]}`,
			`zigbee2mqtt rule 2: has the same field and event as built-in rule 1 (field "smoke")`},
	}
	for _, tt := range tests {
		_, err := NewAdapter(AdapterConfig{Type: "zigbee2mqtt", Config: json.RawMessage(tt.config)})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("config %s: error = %v, want it to contain %q", tt.config, err, tt.want)
		}
	}
}

func TestZigbee2MQTTExtraRule(t *testing.T) {
	z := newZigbee2MQTT(t, `{"rules": [{"field": "temperature", "telemetry": "temp_c"},
		{"field": "fall", "when": [true], "event": "band.fall", "trigger": "enter", "note": "a site's own fall sensor"}]}`)
	in := Input{Topic: "zigbee2mqtt/room_3", Payload: []byte(`{"fall":true,"temperature":21.5}`), Received: goldenStart}
	dec, _, err := z.Decode(in, AdapterState{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dec.Events) != 1 || dec.Events[0].Type != BandFall || dec.Telemetry.Fields[FieldTempC] != 21.5 {
		t.Fatalf("Decode = %+v", dec)
	}
}

func TestZigbee2MQTTRejects(t *testing.T) {
	z := newZigbee2MQTT(t, `{}`)
	tests := []struct {
		topic   string
		payload string
		reason  Reason
	}{
		{"zigbee2mqtt/bridge/state", `{"state":"online"}`, ReasonBadTopic},
		{"other/kitchen_smoke", `{"smoke":true}`, ReasonBadTopic},
		{"zigbee2mqtt/" + strings.Repeat("x", maxFriendlyName+1), `{"smoke":true}`, ReasonBadTopic},
		{"zigbee2mqtt/kitchen_smoke", `{"smoke":` + strings.Repeat(" ", MaxAdapterPayload) + `true}`, ReasonOversized},
		{"zigbee2mqtt/kitchen_smoke", `{"smoke":true`, ReasonMalformed},
		{"zigbee2mqtt/kitchen_smoke/availability", `{"state":1}`, ReasonMalformed},
		{"zigbee2mqtt/kitchen_smoke/availability", `maybe`, ReasonBadField},
	}
	for _, tt := range tests {
		prior := AdapterState{Seq: 7, On: []string{"smoke smoke.alarm"}}
		_, next, err := z.Decode(Input{Topic: tt.topic, Payload: []byte(tt.payload), Received: goldenStart}, prior)
		var re *RejectError
		if !errors.As(err, &re) || re.Reason != tt.reason {
			t.Errorf("Decode(%q, %.40q) error = %v, want reason %s", tt.topic, tt.payload, err, tt.reason)
		}
		if !stateEqual(next, prior) {
			t.Errorf("Decode(%q) changed the state on a rejection: %+v", tt.topic, next)
		}
	}
}

// TestZigbee2MQTTSeqSurvivesLostState: a device whose state was lost starts
// its seq at the receive time, above every seq it used before.
func TestZigbee2MQTTSeqSurvivesLostState(t *testing.T) {
	z := newZigbee2MQTT(t, `{}`)
	in := Input{Topic: "zigbee2mqtt/kitchen_smoke", Payload: []byte(`{"smoke":true}`), Received: goldenStart}
	dec, st, err := z.Decode(in, AdapterState{})
	if err != nil {
		t.Fatal(err)
	}
	first := dec.Events[0].Seq
	in.Payload, in.Received = []byte(`{"smoke":false}`), goldenStart.Add(time.Minute)
	if _, st, err = z.Decode(in, st); err != nil {
		t.Fatal(err)
	}
	// The store is wiped; a day later the kitchen burns again.
	in.Payload, in.Received = []byte(`{"smoke":true}`), goldenStart.Add(24*time.Hour)
	dec, _, err = z.Decode(in, AdapterState{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dec.Events[0].Seq; got <= st.Seq || got <= first {
		t.Fatalf("seq after a lost state = %d, want above %d", got, st.Seq)
	}
}

func FuzzZigbee2MQTT(f *testing.F) {
	z := newZigbee2MQTT(f, `{}`)
	seedFuzz(f, z, func(topic string, payload []byte) {
		f.Add(strings.TrimPrefix(topic, "zigbee2mqtt/"), payload, false, "", []byte(`{}`))
	})
	f.Add("kitchen_smoke", []byte(`{"smoke":true,"battery":15,"battery_low":true}`), false, "smoke_detector",
		[]byte(`{"seq":3,"on":["battery device.battery_low","smoke smoke.alarm"]}`))
	f.Add("hall_sos", []byte(`{"action":"emergency","alarm":true}`), true, "call_button",
		[]byte(`{"seq":18446744073709551615,"last":"x"}`))
	f.Add("a/availability", []byte(`{"state":"online"}`), false, "", []byte(`null`))
	f.Fuzz(func(t *testing.T, name string, payload []byte, retained bool, kind string, state []byte) {
		var prior AdapterState
		_ = json.Unmarshal(state, &prior) // any state the store might hold, or none
		in := Input{Topic: "zigbee2mqtt/" + name, Payload: payload, Kind: Kind(kind), Retained: retained, Received: goldenStart}
		if _, ok := z.Match(in.Topic); !ok {
			return
		}
		dec, next, err := z.Decode(in, prior)
		checkDecoded(t, prior, dec, next, err)
		if err == nil {
			in.Retained = false
			checkRedelivery(t, z, in, next)
		}
	})
}

// TestZigbee2MQTTActivityNeedsKind: occupancy and contact mean activity only
// on devices provisioned as activity kinds; elsewhere (a siren's contact, a
// light's occupancy) they raise nothing.
func TestZigbee2MQTTActivityNeedsKind(t *testing.T) {
	z := newZigbee2MQTT(t, `{}`)
	for _, tt := range []struct {
		payload string
		kind    Kind
		want    int
	}{
		{`{"occupancy":true}`, KindMotionSensor, 1},
		{`{"occupancy":true}`, KindFallSensor, 1},
		{`{"occupancy":true}`, KindCallButton, 0},
		{`{"occupancy":true}`, "", 0},
		{`{"contact":false}`, KindDoorSensor, 1},
		{`{"contact":false}`, KindSmokeDetector, 0},
	} {
		in := Input{Topic: "zigbee2mqtt/x", Payload: []byte(tt.payload), Kind: tt.kind, Received: goldenStart}
		dec, _, err := z.Decode(in, AdapterState{})
		if err != nil || len(dec.Events) != tt.want {
			t.Errorf("%s as %q: %+v, %v; want %d events", tt.payload, tt.kind, dec.Events, err, tt.want)
		}
		for _, ev := range dec.Events {
			if !ev.Type.Activity() {
				t.Errorf("%s as %q raised %s", tt.payload, tt.kind, ev.Type)
			}
		}
	}
}

// FuzzZigbee2MQTTModels feeds arbitrary payloads to devices of every model
// with a record: the same contract as FuzzZigbee2MQTT.
func FuzzZigbee2MQTTModels(f *testing.F) {
	z := newZigbee2MQTT(f, `{}`)
	seedFuzz(f, z, func(topic string, payload []byte) {
		for i := range z2mModels {
			f.Add(uint8(i), payload, []byte(`{}`))
		}
	})
	f.Add(uint8(0), []byte(`{"action":["single","off"]}`), []byte(`{"seq":3,"on":["fall_status band.fall"]}`))
	f.Fuzz(func(t *testing.T, model uint8, payload []byte, state []byte) {
		var prior AdapterState
		_ = json.Unmarshal(state, &prior)
		m := z2mModels[int(model)%len(z2mModels)]
		in := Input{Topic: "zigbee2mqtt/dev", Payload: payload, Model: m.Match[0], Received: goldenStart}
		dec, next, err := z.Decode(in, prior)
		checkDecoded(t, prior, dec, next, err)
		if err == nil {
			checkRedelivery(t, z, in, next)
		}
	})
}
