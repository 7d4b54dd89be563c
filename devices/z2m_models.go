package devices

import (
	"fmt"
	"slices"
)

// ModelRef names a device model as Zigbee2MQTT's bridge reports it in
// bridge/devices: definition.vendor and definition.model, exactly as
// spelled there (a white-label product has its own vendor and model).
type ModelRef struct {
	Vendor string `json:"vendor"`
	Model  string `json:"model"`
}

func (m ModelRef) String() string { return m.Vendor + " " + m.Model }

// Z2MModel is the record of one Zigbee2MQTT device model: what its state
// fields mean, as data. It is anxin's counterpart of a
// zigbee-herdsman-converters definition: a match rule (Match), decoders
// (Rules, shared field shapes written once), the kind of device it is, and
// its quirks as values (Quiet) rather than code.
//
// A device whose model has a record is decoded with the record's rules and
// the rules every Zigbee device shares (tamper, battery, link quality),
// whatever kind it was provisioned as: the record knows better than a
// global list what "single" means on this model. A model without a record
// is decoded by the generic field table (zigbee2mqttRules) and listed as
// "generic" so that an installer sees it.
type Z2MModel struct {
	// Match lists the models this record describes.
	Match []ModelRef
	// Kind is what the model is; an installer provisions it as this kind.
	Kind Kind
	// Rules say what the model's own fields mean.
	Rules []ModelRule
	// Source names where the field names and values come from.
	Source string
	// Note is for the reader: why the record exists.
	Note string
}

// ModelRule is a Rule with the values of its field that are known and
// deliberately raise nothing.
type ModelRule struct {
	Rule
	// Quiet lists values of the field that mean something but must not
	// raise the rule's event: a fall radar's pre-alarm states, the "off" a
	// button sends when its zone restores, a remote's other keys. Keeping
	// them as data lets a test hold every value the model can send to
	// either When or Quiet, and tells the reader they were considered.
	Quiet []any
}

// z2mModels is the table of model records. Field names and values are those
// of zigbee-herdsman-converters (src/devices/<vendor>.ts); Source names the
// file. Each record has a golden folder testdata/z2m_model_<vendor>_<model>.
var z2mModels = []Z2MModel{
	{
		Match:  []ModelRef{{"Heiman", "HS1EB/HS1EB-E"}},
		Kind:   KindCallButton,
		Source: "zigbee-herdsman-converters src/devices/heiman.ts (fingerprints SOS-EM, SOS-EF-3.0; fz.command_status_change_notification_action)",
		Note:   "Heiman's smart emergency button names a press single, double or hold, none of them an emergency word; off is the zone restoring after a press",
		Rules: []ModelRule{
			{Rule: Rule{Field: "action", Event: CallPress, Trigger: TriggerEvery, When: []any{"single", "double", "hold"}}, Quiet: []any{"off", ""}},
		},
	},
	{
		Match:  []ModelRef{{"MultIR", "MIR-SO100"}},
		Kind:   KindCallButton,
		Source: "zigbee-herdsman-converters src/devices/multir.ts (description \"SOS Button\", e.action([single, double, hold]))",
		Note:   "an SOS button whose presses are single, double and hold",
		Rules: []ModelRule{
			{Rule: Rule{Field: "action", Event: CallPress, Trigger: TriggerEvery, When: []any{"single", "double", "hold"}}, Quiet: []any{""}},
		},
	},
	{
		Match:  []ModelRef{{"Tuya", "TS0215A_sos"}, {"Woox", "R7052"}},
		Kind:   KindCallButton,
		Source: "zigbee-herdsman-converters src/devices/tuya.ts (TS0215A_sos, white label Woox R7052; fz.command_emergency, e.action([emergency]))",
		Note:   "the SOS button the generic table was written for; a record so that it is listed as known",
		Rules: []ModelRule{
			{Rule: Rule{Field: "action", Event: CallPress, Trigger: TriggerEvery, When: []any{"emergency"}}, Quiet: []any{""}},
		},
	},
	{
		Match:  []ModelRef{{"Heiman", "HS1RC-N"}},
		Kind:   KindCallButton,
		Source: "zigbee-herdsman-converters src/devices/heiman.ts (fz.command_arm, fz.command_emergency; e.action([emergency, disarm, arm_partial_zones, arm_all_zones]))",
		Note:   "a security remote with an emergency key; its arm and disarm keys are not calls",
		Rules: []ModelRule{
			{Rule: Rule{Field: "action", Event: CallPress, Trigger: TriggerEvery, When: []any{"emergency"}},
				Quiet: []any{"disarm", "arm_partial_zones", "arm_all_zones", ""}},
		},
	},
	{
		Match:  []ModelRef{{"MultIR", "MIR-SM200"}},
		Kind:   KindSmokeDetector,
		Source: "zigbee-herdsman-converters src/devices/multir.ts (m.iasZoneAlarm zoneType smoke, zoneAttributes alarm_1, tamper, battery_low)",
		Note:   "IAS smoke zone: alarm_1 is published as smoke",
		Rules: []ModelRule{
			{Rule: Rule{Field: "smoke", Event: SmokeAlarm, Trigger: TriggerEnter, When: []any{true}, Clear: SmokeClear}, Quiet: []any{false}},
		},
	},
	{
		Match:  []ModelRef{{"Heiman", "HS1CG-M"}, {"Heiman", "HS3CG"}, {"Heiman", "HS1CG_H"}},
		Kind:   KindGasDetector,
		Source: "zigbee-herdsman-converters src/devices/heiman.ts (fz.ias_gas_alarm_1 / _2; exposes gas, battery_low, tamper)",
		Note:   "mains-powered combustible gas detectors",
		Rules: []ModelRule{
			{Rule: Rule{Field: "gas", Event: GasAlarm, Trigger: TriggerEnter, When: []any{true}, Clear: GasClear}, Quiet: []any{false}},
		},
	},
	{
		Match:  []ModelRef{{"Heiman", "HS2FD-EF1-3.0"}},
		Kind:   KindFallSensor,
		Source: "zigbee-herdsman-converters src/devices/heiman.ts (heimanClusterRadarSenseExtend: occupancy; sensor_status none, activity, unknown; fall_status normal, fall_warning, fall_alarm, unknown)",
		Note:   "a ceiling radar: fall_warning is its pre-alarm, fall_alarm the confirmed fall; occupancy is presence in the room",
		Rules: []ModelRule{
			{Rule: Rule{Field: "fall_status", Event: BandFall, Trigger: TriggerEnter, When: []any{"fall_alarm"}},
				Quiet: []any{"normal", "fall_warning", "unknown"}},
			{Rule: Rule{Field: "occupancy", Event: ActivityMotion, Trigger: TriggerEnter, When: []any{true}}, Quiet: []any{false}},
		},
	},
}

// z2mCommonRules are the fields every Zigbee device may publish, decoded
// the same way for a model with a record and for a generic one. Init adds
// the battery threshold rule after them.
var z2mCommonRules = []Rule{
	{Field: "tamper", Event: DeviceTamper, Trigger: TriggerEnter, When: []any{true},
		Note: "IAS zone tamper bit"},
	{Field: "battery_low", Event: DeviceBatteryLow, Trigger: TriggerEnter, When: []any{true},
		Note: "IAS zone battery bit"},
	{Field: "battery", Telemetry: FieldBattery, Note: "percent"},
	{Field: "linkquality", Telemetry: FieldLinkQuality, Note: "LQI 0-255"},
}

// Z2MModels returns the model records, for listing and documentation.
func Z2MModels() []Z2MModel { return slices.Clone(z2mModels) }

// LookupZ2MModel returns the record of a model, if anxin has one. A model
// without a record is decoded by the generic field table.
func LookupZ2MModel(ref ModelRef) (Z2MModel, bool) {
	for _, m := range z2mModels {
		if slices.Contains(m.Match, ref) {
			return m, true
		}
	}
	return Z2MModel{}, false
}

// check validates a record: a known kind, rules that compile, Quiet values
// that are scalars and never also in When.
func (m Z2MModel) check() error {
	if len(m.Match) == 0 {
		return fmt.Errorf("model record without a match")
	}
	who := fmt.Sprintf("model %s", m.Match[0])
	if _, err := LookupKind(m.Kind); err != nil {
		return fmt.Errorf("%s: %w", who, err)
	}
	if m.Source == "" {
		return fmt.Errorf("%s: no source", who)
	}
	for _, r := range m.Rules {
		when := make([]scalar, 0, len(r.When))
		for _, w := range r.When {
			s, _ := toScalar(w)
			when = append(when, s)
		}
		for _, q := range r.Quiet {
			s, ok := toScalar(q)
			if !ok {
				return fmt.Errorf("%s: field %q: quiet value %v is not a scalar", who, r.Field, q)
			}
			if slices.Contains(when, s) {
				return fmt.Errorf("%s: field %q: %v is both a trigger and quiet", who, r.Field, q)
			}
		}
	}
	_, err := compileRules("zigbee2mqtt "+who, m.rules(), 0)
	return err
}

func (m Z2MModel) rules() []Rule {
	out := make([]Rule, 0, len(m.Rules)+len(z2mCommonRules))
	for _, r := range m.Rules {
		out = append(out, r.Rule)
	}
	return append(out, z2mCommonRules...)
}
