package devices

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// BridgeTopic says what a message on one of Zigbee2MQTT's own topics is for.
type BridgeTopic int

// The bridge topics. None of them is a device's message, and none of them
// is ever a rejection: Zigbee2MQTT publishes them on its own, retained or
// not, whatever anxin subscribes to.
const (
	// BridgeNone: not a bridge topic; a device topic, or not Zigbee2MQTT's.
	BridgeNone BridgeTopic = iota
	// BridgeMeta: bridge/state, bridge/info, bridge/logging, bridge/event,
	// bridge/extensions, bridge/groups, bridge/definitions,
	// bridge/response/..., bridge/request/... and Home Assistant discovery
	// (homeassistant/...). Ignore quietly; at most log at debug level.
	BridgeMeta
	// BridgeDevices: bridge/devices, the retained list of every device with
	// its model. Decode it with DecodeZ2MDevices and replace the table.
	BridgeDevices
)

func (b BridgeTopic) String() string {
	switch b {
	case BridgeMeta:
		return "bridge_meta"
	case BridgeDevices:
		return "bridge_devices"
	}
	return "none"
}

// HomeAssistantDiscoveryPrefix is the topic root Zigbee2MQTT publishes Home
// Assistant discovery configs under, when that integration is on.
const HomeAssistantDiscoveryPrefix = "homeassistant/"

// Bridge classifies a topic of Zigbee2MQTT itself. The gateway asks it
// before Match: a BridgeMeta message is dropped without counting,
// a BridgeDevices message updates the model table, anything else goes to
// Match and Decode as before.
func (z *Zigbee2MQTT) Bridge(topic string) BridgeTopic {
	if strings.HasPrefix(topic, HomeAssistantDiscoveryPrefix) {
		return BridgeMeta
	}
	rest, ok := strings.CutPrefix(topic, z.prefix)
	if !ok {
		return BridgeNone
	}
	switch {
	case rest == "bridge/devices":
		return BridgeDevices
	case rest == "bridge" || strings.HasPrefix(rest, "bridge/"):
		return BridgeMeta
	}
	return BridgeNone
}

// MaxBridgeDevicesPayload bounds bridge/devices: Zigbee2MQTT repeats every
// device's definition with all its exposes, some tens of KiB for a large
// network; this leaves room for a few hundred devices.
const MaxBridgeDevicesPayload = 4 << 20

// maxBridgeNesting bounds how deep bridge/devices may nest: the list, a
// device, its definition, exposes, composite features and their features.
const maxBridgeNesting = 16

// Z2MDevice is one entry of bridge/devices, the fields anxin uses.
type Z2MDevice struct {
	IEEEAddress  string `json:"ieee_address"`
	FriendlyName string `json:"friendly_name"`
	// Type is Coordinator, Router or EndDevice.
	Type        string `json:"type"`
	Supported   bool   `json:"supported"`
	Disabled    bool   `json:"disabled,omitempty"`
	PowerSource string `json:"power_source,omitempty"`
	// Definition is nil for the coordinator and for devices Zigbee2MQTT
	// does not support (it then publishes no useful state for them).
	Definition *Z2MDefinition `json:"definition"`
}

// SupervisionClass is the supervision class the device's power source
// calls for: Zigbee2MQTT reports "Battery", or a mains or DC source. It is
// "" when the bridge does not say, and the kind's ForeignClass applies.
func (d Z2MDevice) SupervisionClass() string {
	switch p := strings.ToLower(d.PowerSource); {
	case p == "battery":
		return ClassZigbeeBattery
	case strings.HasPrefix(p, "mains") || strings.HasPrefix(p, "dc"):
		return ClassZigbeeMains
	}
	return ""
}

// Z2MDefinition is a device's definition from zigbee-herdsman-converters.
type Z2MDefinition struct {
	Model       string `json:"model"`
	Vendor      string `json:"vendor"`
	Description string `json:"description"`
	// Exposes lists what the device publishes.
	Exposes []Z2MExpose `json:"exposes"`
}

// Z2MExpose is one exposed property; composite and specific exposes (a
// light, a climate) carry their properties in Features.
type Z2MExpose struct {
	Type     string      `json:"type"`
	Name     string      `json:"name,omitempty"`
	Property string      `json:"property,omitempty"`
	Values   []any       `json:"values,omitempty"`
	ValueOn  any         `json:"value_on,omitempty"`
	ValueOff any         `json:"value_off,omitempty"`
	Features []Z2MExpose `json:"features,omitempty"`
}

// Properties lists the state fields a definition's exposes publish, sorted.
func (d *Z2MDefinition) Properties() []string {
	var out []string
	var walk func([]Z2MExpose)
	walk = func(es []Z2MExpose) {
		for _, e := range es {
			if e.Property != "" {
				out = append(out, e.Property)
			}
			walk(e.Features)
		}
	}
	walk(d.Exposes)
	slices.Sort(out)
	return slices.Compact(out)
}

// Z2MDevices is the table bridge/devices gives: friendly name → device.
// It is a value the gateway replaces whole on each bridge/devices message
// (Zigbee2MQTT republishes the whole list on every change) and reads
// without locking as long as it is not modified after DecodeZ2MDevices.
type Z2MDevices map[string]Z2MDevice

// Model returns the model of the device with friendly name ref, for
// Input.Model; zero when the bridge did not list it or has no definition.
func (t Z2MDevices) Model(ref string) ModelRef {
	d, ok := t[ref]
	if !ok || d.Definition == nil {
		return ModelRef{}
	}
	return ModelRef{Vendor: d.Definition.Vendor, Model: d.Definition.Model}
}

// DecodeZ2MDevices decodes the payload of bridge/devices. A payload that is
// not a JSON array of devices is refused whole; an entry that cannot be
// used (no friendly name, a name no topic can carry, a name listed twice)
// is left out and reported in skipped, and the rest still counts: one odd
// device must not hide every other device's model. The coordinator is left
// out silently.
func DecodeZ2MDevices(payload []byte) (devs Z2MDevices, skipped []*RejectError, err error) {
	if len(payload) > MaxBridgeDevicesPayload {
		return nil, nil, reject(ReasonOversized, "bridge/devices is %d bytes, the limit is %d", len(payload), MaxBridgeDevicesPayload)
	}
	if nesting(payload, maxBridgeNesting) > maxBridgeNesting {
		return nil, nil, reject(ReasonTooDeep, "bridge/devices nests deeper than %d levels", maxBridgeNesting)
	}
	var raw []json.RawMessage
	if err := strictJSON(payload, &raw); err != nil {
		return nil, nil, reject(ReasonMalformed, "bridge/devices must be a JSON array of devices: %v", err)
	}
	if raw == nil {
		return nil, nil, reject(ReasonMalformed, "bridge/devices must be a JSON array of devices, got null")
	}
	devs = make(Z2MDevices, len(raw))
	for i, r := range raw {
		var d Z2MDevice
		if err := json.Unmarshal(r, &d); err != nil {
			skipped = append(skipped, reject(ReasonBadField, "device %d: %v", i+1, err))
			continue
		}
		if d.Type == "Coordinator" {
			continue
		}
		name := d.FriendlyName
		switch {
		case name == "" || len(name) > maxFriendlyName || !utf8.ValidString(name) || strings.ContainsAny(name, "+#"):
			skipped = append(skipped, reject(ReasonBadField, "device %d (%s): friendly name %q is not usable", i+1, truncate(d.IEEEAddress, 24), truncate(name, 64)))
			continue
		case name == "bridge" || strings.HasPrefix(name, "bridge/"):
			skipped = append(skipped, reject(ReasonBadField, "device %d: friendly name %q is Zigbee2MQTT's own topic", i+1, truncate(name, 64)))
			continue
		}
		if _, dup := devs[name]; dup {
			skipped = append(skipped, reject(ReasonBadField, "device %d: friendly name %q is listed twice", i+1, truncate(name, 64)))
			continue
		}
		devs[name] = d
	}
	return devs, skipped, nil
}

// strictJSON decodes one JSON value and refuses trailing data.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errTrailing
	}
	return nil
}

var errTrailing = &RejectError{Reason: ReasonMalformed, Detail: "trailing data after the JSON value"}

// Z2MSupport says how anxin decodes a device the bridge listed.
type Z2MSupport string

// The support levels an installer sees.
const (
	// Z2MModelRecord: anxin has a record of the model.
	Z2MModelRecord Z2MSupport = "model"
	// Z2MGeneric: no record; the generic field table decodes the device,
	// which may miss what its vendor calls a press. Worth a look.
	Z2MGeneric Z2MSupport = "generic"
	// Z2MUnsupported: Zigbee2MQTT itself has no definition for the device.
	Z2MUnsupported Z2MSupport = "unsupported"
)

// Z2MListing is one line of the installer's list of Zigbee devices.
type Z2MListing struct {
	FriendlyName string     `json:"friendly_name"`
	IEEEAddress  string     `json:"ieee_address"`
	Vendor       string     `json:"vendor,omitempty"`
	Model        string     `json:"model,omitempty"`
	Description  string     `json:"description,omitempty"`
	Support      Z2MSupport `json:"support"`
	// Kind is the kind the model record says the device is; empty when
	// generic: the installer chooses.
	Kind Kind `json:"kind,omitempty"`
	// Supervision is the class its power source calls for (SupervisionClass).
	Supervision string `json:"supervision,omitempty"`
}

// Listing lists the bridge's devices with how anxin decodes each, sorted by
// friendly name, so that an installer sees which devices run on generic
// rules.
func (t Z2MDevices) Listing() []Z2MListing {
	out := make([]Z2MListing, 0, len(t))
	for name, d := range t {
		l := Z2MListing{FriendlyName: name, IEEEAddress: d.IEEEAddress, Support: Z2MUnsupported,
			Supervision: d.SupervisionClass()}
		if def := d.Definition; def != nil {
			l.Vendor, l.Model, l.Description = def.Vendor, def.Model, def.Description
			l.Support = Z2MGeneric
			if m, ok := LookupZ2MModel(ModelRef{Vendor: def.Vendor, Model: def.Model}); ok {
				l.Support, l.Kind = Z2MModelRecord, m.Kind
			}
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Z2MListing) int { return strings.Compare(a.FriendlyName, b.FriendlyName) })
	return out
}
