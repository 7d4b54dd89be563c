package devices

import (
	"fmt"
	"strings"
	"time"
)

// VendorJSON decodes the JSON a vendor's devices publish, as an installer
// describes it in the config file: no code per vendor. The topic pattern
// captures the device id in its {device} level; each rule maps one field
// (a dotted path) onto an event or a telemetry field, with the same
// transition semantics as the Zigbee2MQTT adapter (see Rule and Trigger).
//
// Config:
//
//	{
//	  "vendor": "acme",
//	  "topic": "vendor/acme/{device}/up",
//	  "time": {"field": "ts", "unit": "s"},
//	  "rules": [
//	    {"field": "evt", "when": ["SOS"], "event": "band.sos", "trigger": "every"},
//	    {"field": "fall", "when": [1], "event": "band.fall", "trigger": "enter"},
//	    {"field": "bat", "telemetry": "battery"},
//	    {"field": "bat", "at_or_below": 15, "event": "device.battery_low", "trigger": "enter"},
//	    {"field": "body.temp", "telemetry": "temp_c", "scale": 0.1}
//	  ]
//	}
type VendorJSON struct {
	// Vendor names the mapping in errors and in each event's data.
	Vendor string `json:"vendor"`
	// Topic is the topic pattern: literal levels, '+' for any one level, and
	// exactly one {device} level, which captures the device id.
	Topic string `json:"topic"`
	// Time optionally reads the device's clock from the payload.
	Time *TimeField `json:"time,omitempty"`
	// Rules map fields onto events and telemetry; at least one.
	Rules []Rule `json:"rules"`

	levels []string
	rules  ruleSet
}

// TimeField says where a payload carries the device's clock.
type TimeField struct {
	Field string `json:"field"`
	// Unit of a numeric time since the epoch: "ms" (default) or "s". An
	// RFC 3339 string is read whatever the unit.
	Unit string `json:"unit,omitempty"`

	path []string
	unit time.Duration
}

var _ Adapter = (*VendorJSON)(nil)

// deviceLevel is the topic level that captures the device id.
const deviceLevel = "{device}"

// Init checks the mapping; errors name the vendor and the rule.
func (v *VendorJSON) Init() error {
	if v.Vendor == "" || len(v.Vendor) > 64 || strings.TrimSpace(v.Vendor) != v.Vendor {
		return fmt.Errorf("vendor json: \"vendor\" must be a name of 1-64 characters, got %q", v.Vendor)
	}
	who := fmt.Sprintf("vendor %q", v.Vendor)
	levels, err := parseTopicPattern(v.Topic)
	if err != nil {
		return fmt.Errorf("%s: topic %q: %w", who, v.Topic, err)
	}
	if t := v.Time; t != nil {
		switch t.Unit {
		case "", "ms":
			t.unit = time.Millisecond
		case "s":
			t.unit = time.Second
		default:
			return fmt.Errorf("%s: time unit must be \"ms\" or \"s\", got %q", who, t.Unit)
		}
		if t.Field == "" || strings.Contains("."+t.Field+".", "..") {
			return fmt.Errorf("%s: time field %q is not a dotted path", who, t.Field)
		}
		t.path = strings.Split(t.Field, ".")
	}
	if len(v.Rules) == 0 {
		return fmt.Errorf("%s: no rules: a mapping needs at least one", who)
	}
	rs, err := compileRules(who, v.Rules, 0)
	if err != nil {
		return err
	}
	v.levels, v.rules = levels, rs
	return nil
}

func parseTopicPattern(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("is required")
	}
	levels := strings.Split(p, "/")
	devices := 0
	for _, l := range levels {
		switch {
		case l == deviceLevel:
			devices++
		case l == "":
			return nil, fmt.Errorf("has an empty level")
		case l == "#":
			return nil, fmt.Errorf("'#' would match any depth; use '+' for one level")
		case l != "+" && strings.ContainsAny(l, "+#{}"):
			return nil, fmt.Errorf("level %q mixes a wildcard or brace with text", l)
		}
	}
	if devices != 1 {
		return nil, fmt.Errorf("needs exactly one %s level, has %d", deviceLevel, devices)
	}
	if strings.HasPrefix(p, "$") {
		return nil, fmt.Errorf("topics starting with '$' are the broker's")
	}
	return levels, nil
}

// Match returns the device id captured by the topic pattern. The id is
// checked by Decode, so that a bad one is counted as a rejection.
func (v *VendorJSON) Match(topic string) (string, bool) {
	levels := strings.Split(topic, "/")
	if len(levels) != len(v.levels) {
		return "", false
	}
	var ref string
	for i, p := range v.levels {
		switch p {
		case deviceLevel:
			ref = levels[i]
		case "+":
		default:
			if levels[i] != p {
				return "", false
			}
		}
	}
	return ref, true
}

// Decode applies the mapping to one message.
func (v *VendorJSON) Decode(in Input, prior AdapterState) (Decoded, AdapterState, error) {
	ref, ok := v.Match(in.Topic)
	if !ok {
		return Decoded{}, prior, reject(ReasonBadTopic, "topic %q does not match %s", truncate(in.Topic, 128), v.Topic)
	}
	if err := ValidateID(ref); err != nil {
		detail := err.Error()
		if re, ok := err.(*RejectError); ok {
			detail = re.Detail
		}
		return Decoded{}, prior, reject(ReasonBadTopic, "topic %q: %s", truncate(in.Topic, 128), detail)
	}
	device := in.Device
	if device == "" {
		device = ref
	}
	var clock func(map[string]any) (time.Time, *RejectError)
	if t := v.Time; t != nil {
		clock = func(obj map[string]any) (time.Time, *RejectError) {
			x, ok := lookup(obj, t.path)
			if !ok || x == nil {
				return time.Time{}, nil
			}
			return readTime(x, t.unit, t.Field)
		}
	}
	return v.rules.decode(in, device, prior, clock, map[string]any{"vendor": v.Vendor})
}
