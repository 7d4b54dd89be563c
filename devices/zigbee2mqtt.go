package devices

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Zigbee2MQTT decodes the device state that Zigbee2MQTT publishes on
// {base_topic}/{friendly_name}, and the availability it publishes on
// {base_topic}/{friendly_name}/availability. Bridge topics and the /set and
// /get command topics are not its business and do not match.
//
// What the fields mean depends on the device's model, which the bridge
// lists in its retained bridge/devices (DecodeZ2MDevices; the gateway passes
// the model in Input.Model). A model with a record in z2mModels is decoded
// by that record: its own fields and values (an SOS button whose press is
// "single"), whatever kind it was provisioned as. Any other model falls
// back to the generic table zigbee2mqttRules, one rule per common field
// shape, and is listed as "generic" (Z2MDevices.Listing) so that an
// installer sees it. Both share z2mCommonRules (tamper, battery, link
// quality). A new model is a new record and a golden folder
// testdata/z2m_model_<vendor>_<model>; on site, an extra rule in the config
// applies to every model.
//
// Zigbee2MQTT's own topics (bridge/..., homeassistant/...) are classified
// by Bridge, never matched as devices and never rejections.
//
// Config:
//
//	{"base_topic": "zigbee2mqtt", "battery_low": 20,
//	 "rules": [{"field": "water_leak", "event": "device.fault", "trigger": "enter"}]}
type Zigbee2MQTT struct {
	// BaseTopic is Zigbee2MQTT's mqtt.base_topic; default "zigbee2mqtt".
	BaseTopic string `json:"base_topic,omitempty"`
	// BatteryLow is the battery percentage at or below which
	// device.battery_low fires; default Zigbee2MQTTBatteryLow.
	BatteryLow float64 `json:"battery_low,omitempty"`
	// Rules are added after the built-in table, for a field shape it lacks.
	Rules []Rule `json:"rules,omitempty"`

	prefix string
	rules  ruleSet
	// models holds the compiled rules of each model record, by ModelRef.
	models map[ModelRef]*z2mModelRules
}

type z2mModelRules struct {
	name  string // "Heiman HS1EB/HS1EB-E", for Event.Data
	rules ruleSet
}

var _ Adapter = (*Zigbee2MQTT)(nil)

// The Zigbee2MQTT defaults.
const (
	Zigbee2MQTTBaseTopic  = "zigbee2mqtt"
	Zigbee2MQTTBatteryLow = 20
	// zigbee2mqttBatteryHysteresis re-arms battery_low only once the battery
	// is clearly above the threshold (it was changed), not on jitter.
	zigbee2mqttBatteryHysteresis = 5
	// maxFriendlyName bounds a friendly name taken from a topic.
	maxFriendlyName = 128
)

// zigbee2mqttRules is the table of Zigbee2MQTT state fields anxin
// understands. Field names and values are those of zigbee-herdsman-converters
// (src/devices/*.ts, src/lib/exposes.ts), the library Zigbee2MQTT decodes
// with; the notes name models that publish them.
//
// SOS and emergency buttons raise call.press, not band.sos: a Zigbee panic
// button is a fixed or carried call button (一键呼叫) and is provisioned as
// kind call_button; band.sos belongs to the safety band's own protocol.
// A fall sensor raises band.fall, the vocabulary's one fall event, when the
// device confirms the fall; its pre-alarm states ("maybe_fall",
// "fall_warning") are the device's own wait for the person to get up.
var zigbee2mqttRules = []Rule{
	{Field: "smoke", Event: SmokeAlarm, Trigger: TriggerEnter, When: []any{true}, Clear: SmokeClear,
		Note: "IAS smoke detectors: Heiman HS1SA, HS3SA; Tuya TS0205"},
	{Field: "test", Event: SmokeTest, Trigger: TriggerEnter, When: []any{true}, Kinds: []Kind{KindSmokeDetector},
		Note: "IAS zone test bit; other device classes use it for other things"},
	{Field: "gas", Event: GasAlarm, Trigger: TriggerEnter, When: []any{true}, Clear: GasClear,
		Note: "IAS gas detectors: Heiman HS1CG, Feibit SGA01ZB"},

	{Field: "action", Event: CallPress, Trigger: TriggerEvery, When: []any{"emergency", "sos", "panic"},
		Note: "emergency: Tuya TS0215A_sos, TS0601_sos, Heiman HS1RC-N; sos: Immax 07505L; panic: Adeo, Linkind keypads"},
	{Field: "sos", Event: CallPress, Trigger: TriggerEnter, When: []any{true},
		Note: "IAS SOS zone: Feibit SEB01ZB"},
	{Field: "alarm", Event: CallPress, Trigger: TriggerEnter, When: []any{true}, Kinds: []Kind{KindCallButton},
		Note: "IAS alarm zone of emergency buttons; sirens and CO alarms use the same name, hence the kind"},

	{Field: "fall_down_status", Event: BandFall, Trigger: TriggerEnter, When: []any{"fall"},
		Note: "Tuya MIR-HE200-TY radar: none, maybe_fall, fall"},
	{Field: "fall_status", Event: BandFall, Trigger: TriggerEnter, When: []any{"fall_alarm"},
		Note: "Heiman HS2FD-EF1-3.0 radar: normal, fall_warning, fall_alarm"},
	{Field: "status", Event: BandFall, Trigger: TriggerEnter, When: []any{"falling"},
		Note: "OWON FDS315 radar: unoccupied, occupied, sitting, on_the_bed, low_posture, falling"},

	{Field: "occupancy", Event: ActivityMotion, Trigger: TriggerEnter, When: []any{true},
		Kinds: []Kind{KindMotionSensor, KindFallSensor},
		Note:  "IAS and occupancy-cluster motion sensors, presence radars; other devices use the name for other things, hence the kinds"},
	{Field: "contact", Event: ActivityDoor, Trigger: TriggerEnter, When: []any{false},
		Kinds: []Kind{KindDoorSensor},
		Note:  "door and window contacts: contact true is closed, false is open"},
	// Then z2mCommonRules, and the battery threshold rule Init adds with the
	// configured level.
}

// Init checks the config and fills in defaults.
func (z *Zigbee2MQTT) Init() error {
	if z.BaseTopic == "" {
		z.BaseTopic = Zigbee2MQTTBaseTopic
	}
	if strings.ContainsAny(z.BaseTopic, "+#") || strings.HasPrefix(z.BaseTopic, "/") || strings.HasSuffix(z.BaseTopic, "/") {
		return fmt.Errorf("zigbee2mqtt: base_topic %q must be a topic without wildcards or a leading or trailing '/'", z.BaseTopic)
	}
	if z.BatteryLow == 0 {
		z.BatteryLow = Zigbee2MQTTBatteryLow
	}
	if z.BatteryLow < 0 || z.BatteryLow > 100 || math.IsNaN(z.BatteryLow) {
		return fmt.Errorf("zigbee2mqtt: battery_low must be a percentage in (0, 100], got %v", z.BatteryLow)
	}
	low := z.BatteryLow
	threshold := Rule{Field: "battery", Event: DeviceBatteryLow, Trigger: TriggerEnter,
		AtOrBelow: &low, Hysteresis: zigbee2mqttBatteryHysteresis}
	rules := append(append(slices.Clone(zigbee2mqttRules), z2mCommonRules...), threshold)
	rs, err := compileRules("zigbee2mqtt", append(rules, z.Rules...), len(rules))
	if err != nil {
		return err
	}
	models := map[ModelRef]*z2mModelRules{}
	for _, m := range z2mModels {
		if err := m.check(); err != nil {
			return fmt.Errorf("zigbee2mqtt: %w", err)
		}
		rules := append(m.rules(), threshold)
		mrs, err := compileRules(fmt.Sprintf("zigbee2mqtt (model %s)", m.Match[0]), append(rules, z.Rules...), len(rules))
		if err != nil {
			return err
		}
		for _, ref := range m.Match {
			if _, dup := models[ref]; dup {
				return fmt.Errorf("zigbee2mqtt: model %s has two records", ref)
			}
			models[ref] = &z2mModelRules{name: ref.String(), rules: mrs}
		}
	}
	z.rules, z.models = rs, models
	z.prefix = z.BaseTopic + "/"
	return nil
}

// Known reports whether a model has a record: false means its devices are
// decoded by the generic field table and listed as "generic".
func (z *Zigbee2MQTT) Known(ref ModelRef) bool {
	_, ok := z.models[ref]
	return ok
}

// z2mTopic is what a Zigbee2MQTT topic addresses.
type z2mTopic int

const (
	z2mNone z2mTopic = iota
	z2mState
	z2mAvailability
)

func (z *Zigbee2MQTT) parse(topic string) (string, z2mTopic) {
	rest, ok := strings.CutPrefix(topic, z.prefix)
	if !ok || rest == "" {
		return "", z2mNone
	}
	levels := strings.Split(rest, "/")
	if levels[0] == "bridge" {
		return "", z2mNone
	}
	// Friendly names may hold '/', so a command topic is recognised by a
	// set or get level anywhere after the first (kitchen/smoke/set/state).
	for _, l := range levels[1:] {
		if l == "set" || l == "get" {
			return "", z2mNone
		}
	}
	if n := len(levels); n > 1 && levels[n-1] == "availability" {
		return strings.Join(levels[:n-1], "/"), z2mAvailability
	}
	return rest, z2mState
}

// Match returns the friendly name of a device state or availability topic.
func (z *Zigbee2MQTT) Match(topic string) (string, bool) {
	ref, t := z.parse(topic)
	return ref, t != z2mNone
}

// Decode decodes a state message into events and telemetry, or an
// availability message into a Status.
func (z *Zigbee2MQTT) Decode(in Input, prior AdapterState) (Decoded, AdapterState, error) {
	ref, t := z.parse(in.Topic)
	if t == z2mNone {
		return Decoded{}, prior, reject(ReasonBadTopic, "topic %q is not a Zigbee2MQTT device topic under %s", truncate(in.Topic, 128), z.prefix)
	}
	if len(ref) > maxFriendlyName || !utf8.ValidString(ref) || strings.ContainsAny(ref, "+#") {
		return Decoded{}, prior, reject(ReasonBadTopic, "friendly name %q is not usable", truncate(ref, 64))
	}
	device := in.Device
	if device == "" {
		device = ref
	}
	if t == z2mAvailability {
		st, err := z2mAvailabilityStatus(device, in)
		return Decoded{Status: st}, prior, err
	}
	if m, ok := z.models[in.Model]; ok {
		return m.rules.decode(in, device, prior, z2mLastSeen, map[string]any{"model": m.name})
	}
	return z.rules.decode(in, device, prior, z2mLastSeen, nil)
}

// z2mAvailabilityStatus reads {"state":"online"}, or the bare online/offline
// of Zigbee2MQTT's legacy availability payload.
func z2mAvailabilityStatus(device string, in Input) (*Status, error) {
	if len(in.Payload) > MaxAdapterPayload {
		return nil, reject(ReasonOversized, "payload is %d bytes, the limit is %d", len(in.Payload), MaxAdapterPayload)
	}
	p := bytes.TrimSpace(in.Payload)
	state := string(p)
	if bytes.HasPrefix(p, []byte("{")) {
		var raw struct {
			State string `json:"state"`
		}
		if err := decodeObject(p, &raw); err != nil {
			return nil, err
		}
		state = raw.State
	}
	switch state {
	case "online", "offline":
		return &Status{Device: device, Online: state == "online", Time: in.Received.UTC()}, nil
	}
	return nil, reject(ReasonBadField, "availability must be online or offline, got %q", truncate(state, 32))
}

// z2mLastSeen reads Zigbee2MQTT's optional last_seen: epoch milliseconds, or
// an ISO 8601 time. It is the coordinator's clock, when the device last spoke.
func z2mLastSeen(obj map[string]any) (time.Time, *RejectError) {
	v, ok := obj["last_seen"]
	if !ok || v == nil {
		return time.Time{}, nil
	}
	return readTime(v, time.Millisecond, "last_seen")
}

// readTime reads a device timestamp: a number of units since the epoch, or
// an RFC 3339 string. Whether it is plausible is for the caller to check
// against the gateway's clock.
func readTime(v any, unit time.Duration, field string) (time.Time, *RejectError) {
	if s, ok := v.(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC(), nil
		}
	}
	f, ok := number(v)
	if !ok || f < 0 || f*float64(unit/time.Millisecond) > math.MaxInt64/2 {
		return time.Time{}, reject(ReasonBadField, "field %q: not a time", field)
	}
	return time.UnixMilli(int64(f * float64(unit/time.Millisecond))).UTC(), nil
}
