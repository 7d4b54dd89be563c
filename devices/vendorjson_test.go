package devices

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vendorConfig builds a vendor_json config with the given rules JSON.
func vendorConfig(topic, rules string) string {
	return `{"vendor": "acme", "topic": "` + topic + `", "rules": [` + rules + `]}`
}

func TestVendorJSONInitErrors(t *testing.T) {
	const ok = `{"field": "bat", "telemetry": "battery"}`
	tests := []struct{ name, config, want string }{
		{"no vendor", `{"topic": "a/{device}", "rules": [` + ok + `]}`,
			`vendor json: "vendor" must be a name of 1-64 characters, got ""`},
		{"no topic", vendorConfig("", ok), `vendor "acme": topic "": is required`},
		{"no device level", vendorConfig("vendor/acme/up", ok), `vendor "acme": topic "vendor/acme/up": needs exactly one {device} level, has 0`},
		{"two device levels", vendorConfig("{device}/{device}", ok), `needs exactly one {device} level, has 2`},
		{"partial device level", vendorConfig("vendor/dev-{device}", ok), `level "dev-{device}" mixes a wildcard or brace with text`},
		{"hash wildcard", vendorConfig("vendor/{device}/#", ok), `'#' would match any depth`},
		{"empty level", vendorConfig("vendor//{device}", ok), `has an empty level`},
		{"system topic", vendorConfig("$SYS/{device}", ok), `topics starting with '$' are the broker's`},
		{"no rules", vendorConfig("a/{device}", ``), `vendor "acme": no rules: a mapping needs at least one`},
		{"bad time unit", `{"vendor": "acme", "topic": "a/{device}", "time": {"field": "ts", "unit": "us"}, "rules": [` + ok + `]}`,
			`vendor "acme": time unit must be "ms" or "s", got "us"`},
		{"event not in vocabulary", vendorConfig("a/{device}", ok+`, {"field": "evt", "when": ["CALL"], "event": "call.prss", "trigger": "every"}`),
			`vendor "acme" rule 2: event type "call.prss" is not in the vocabulary`},
		{"clear not in vocabulary", vendorConfig("a/{device}", `{"field": "smoke", "event": "smoke.alarm", "trigger": "enter", "clear": "smoke.off"}`),
			`vendor "acme" rule 1: clear event type "smoke.off" is not in the vocabulary`},
		{"telemetry not in vocabulary", vendorConfig("a/{device}", `{"field": "t", "telemetry": "temperature"}`),
			`vendor "acme" rule 1: telemetry field "temperature" is not in the vocabulary`},
		{"no field", vendorConfig("a/{device}", `{"telemetry": "battery"}`), `vendor "acme" rule 1: "field" is required`},
		{"empty path segment", vendorConfig("a/{device}", `{"field": "a..b", "telemetry": "battery"}`),
			`vendor "acme" rule 1: field "a..b" has an empty path segment`},
		{"neither", vendorConfig("a/{device}", `{"field": "x"}`), `vendor "acme" rule 1: needs "event" or "telemetry"`},
		{"both", vendorConfig("a/{device}", `{"field": "x", "event": "call.press", "telemetry": "battery"}`),
			`vendor "acme" rule 1: a rule maps to an event or to telemetry, not both`},
		{"no trigger", vendorConfig("a/{device}", `{"field": "x", "event": "call.press"}`),
			`vendor "acme" rule 1: "trigger" must be "enter" or "every", got ""`},
		{"clear on every", vendorConfig("a/{device}", `{"field": "x", "event": "call.press", "trigger": "every", "clear": "call.cancel"}`),
			`vendor "acme" rule 1: "clear" needs trigger "enter"`},
		{"when and threshold", vendorConfig("a/{device}", `{"field": "b", "event": "device.battery_low", "trigger": "enter", "when": [1], "at_or_below": 10}`),
			`vendor "acme" rule 1: use "when" or "at_or_below", not both`},
		{"threshold on every", vendorConfig("a/{device}", `{"field": "b", "event": "device.battery_low", "trigger": "every", "at_or_below": 10}`),
			`vendor "acme" rule 1: "at_or_below" needs trigger "enter"`},
		{"hysteresis alone", vendorConfig("a/{device}", `{"field": "b", "event": "device.battery_low", "trigger": "enter", "hysteresis": 5}`),
			`vendor "acme" rule 1: "hysteresis" must be a non-negative number and needs "at_or_below"`},
		{"object in when", vendorConfig("a/{device}", `{"field": "b", "event": "call.press", "trigger": "every", "when": ["x", {"y": 1}]}`),
			`vendor "acme" rule 1: when value 2 must be a string, number or boolean`},
		{"zero scale", vendorConfig("a/{device}", `{"field": "t", "telemetry": "temp_c", "scale": 0}`),
			`vendor "acme" rule 1: scale must be a non-zero number`},
		{"scale on event", vendorConfig("a/{device}", `{"field": "t", "event": "call.press", "trigger": "every", "scale": 2}`),
			`vendor "acme" rule 1: "scale" belongs to telemetry rules`},
		{"when on telemetry", vendorConfig("a/{device}", `{"field": "t", "telemetry": "temp_c", "when": [1]}`),
			`vendor "acme" rule 1: "when", "at_or_below", "hysteresis", "trigger" and "clear" belong to event rules`},
		{"telemetry twice", vendorConfig("a/{device}", ok+`, {"field": "x", "telemetry": "hr"}, {"field": "power", "telemetry": "battery"}`),
			`vendor "acme" rule 3: telemetry field "battery" is already written by rule 1`},
		{"same condition twice", vendorConfig("a/{device}", `{"field": "s", "event": "smoke.alarm", "trigger": "enter"}, {"field": "s", "event": "smoke.alarm", "trigger": "enter", "when": [1]}`),
			`vendor "acme" rule 2: has the same field and event as rule 1`},
		{"clears disagree", vendorConfig("a/{device}", `{"field": "a", "event": "band.removed", "trigger": "enter", "clear": "band.worn"}, {"field": "b", "event": "band.removed", "trigger": "enter", "clear": "call.cancel"}`),
			`vendor "acme" rule 2: clears "band.removed" with "call.cancel", but an earlier rule clears it with "band.worn"`},
		{"unknown kind", vendorConfig("a/{device}", `{"field": "a", "event": "call.press", "trigger": "every", "kinds": ["doorbell"]}`),
			`vendor "acme" rule 1: unknown device kind "doorbell"`},
		{"unknown field in a rule", vendorConfig("a/{device}", ok+`, {"field": "a", "evnet": "call.press"}`),
			`vendor "acme" rule 2: json: unknown field "evnet"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewAdapter(AdapterConfig{Type: "vendor_json", Config: json.RawMessage(tt.config)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestVendorJSONMatch(t *testing.T) {
	a, err := NewAdapter(AdapterConfig{Type: "vendor_json",
		Config: json.RawMessage(vendorConfig("xiaoan/+/{device}/evt", `{"field": "rssi", "telemetry": "rssi"}`))})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		topic, ref string
		ok         bool
	}{
		{"xiaoan/gw-7/XA-1/evt", "XA-1", true},
		{"xiaoan/gw-8/XA-2/evt", "XA-2", true},
		{"xiaoan/gw-7/XA-1/cmd", "", false},
		{"xiaoan/XA-1/evt", "", false},
		{"xiaoan/gw-7/XA-1/evt/more", "", false},
		{"acme/gw-7/XA-1/evt", "", false},
	}
	for _, tt := range tests {
		ref, ok := a.Match(tt.topic)
		if ref != tt.ref || ok != tt.ok {
			t.Errorf("Match(%q) = %q, %v; want %q, %v", tt.topic, ref, ok, tt.ref, tt.ok)
		}
	}
}

// vendorFuzzConfig is the Acme band mapping of the golden case.
func vendorFuzzConfig(f *testing.F) AdapterConfig {
	b, err := os.ReadFile(filepath.Join("testdata", "vendorjson_acme_band", "config.json"))
	if err != nil {
		f.Fatal(err)
	}
	var c AdapterConfig
	if err := json.Unmarshal(b, &c); err != nil {
		f.Fatal(err)
	}
	return c
}

func FuzzVendorJSON(f *testing.F) {
	a, err := NewAdapter(vendorFuzzConfig(f))
	if err != nil {
		f.Fatal(err)
	}
	seedFuzz(f, a, func(topic string, payload []byte) {
		f.Add("BAND-0042", payload, []byte(`{}`))
	})
	f.Add("bad id", []byte(`{"evt":"SOS"}`), []byte(`{}`))
	f.Add("B", []byte(`{"ts":1e300,"bat":"1e400","body":{"temp":[1]},"worn":[0,1]}`), []byte(`{"on":["worn band.removed"]}`))
	f.Fuzz(func(t *testing.T, device string, payload []byte, state []byte) {
		var prior AdapterState
		_ = json.Unmarshal(state, &prior)
		in := Input{Topic: "vendor/acme/" + device + "/up", Payload: payload, Received: goldenStart}
		if _, ok := a.Match(in.Topic); !ok {
			return
		}
		dec, next, err := a.Decode(in, prior)
		checkDecoded(t, prior, dec, next, err)
		if err == nil {
			checkRedelivery(t, a, in, next)
		}
	})
}

// FuzzVendorJSONConfig: an installer's config file can hold anything. Init
// either refuses it with an error or yields an adapter that decodes without
// panicking.
func FuzzVendorJSONConfig(f *testing.F) {
	c := vendorFuzzConfig(f)
	f.Add([]byte(c.Config), []byte(`{"evt":"SOS","fall":1,"bat":10}`))
	for _, dir := range []string{"vendorjson_xiaoan_call_points", "vendorjson_bad_event_type", "vendorjson_bad_missing_trigger"} {
		b, err := os.ReadFile(filepath.Join("testdata", dir, "config.json"))
		if err != nil {
			f.Fatal(err)
		}
		var c AdapterConfig
		if err := json.Unmarshal(b, &c); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(c.Config), []byte(`{"data":{"key":"btn","alarms":["TAMPER"]},"rssi":-70}`))
	}
	f.Fuzz(func(t *testing.T, config, payload []byte) {
		a, err := NewAdapter(AdapterConfig{Type: "vendor_json", Config: config})
		if err != nil {
			return
		}
		v := a.(*VendorJSON)
		topic := strings.ReplaceAll(strings.ReplaceAll(v.Topic, "+", "x"), deviceLevel, "D-1")
		if _, ok := a.Match(topic); !ok {
			t.Fatalf("pattern %q does not match its own instance %q", v.Topic, topic)
		}
		in := Input{Topic: topic, Payload: payload, Received: goldenStart}
		dec, next, err := a.Decode(in, AdapterState{})
		checkDecoded(t, AdapterState{}, dec, next, err)
		if err == nil {
			checkRedelivery(t, a, in, next)
		}
	})
}
