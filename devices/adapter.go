package devices

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Adapter decodes one foreign wire format (Zigbee2MQTT, a vendor's JSON)
// into canonical events, telemetry and status.
//
// An adapter is configured from JSON (NewAdapter), checked once by Init, and
// is then immutable: Match and Decode may be called from many goroutines.
//
// Foreign devices publish state, not events: Zigbee2MQTT repeats the whole
// state ("smoke": true, "battery": 87) on every change of any field. So an
// adapter works on transitions, and needs what the device said before: the
// caller keeps one AdapterState per device, passes it to Decode, and stores
// the state Decode returns in the same transaction as the events it
// produced (a lost state would re-raise or miss a transition). Decode is a
// pure function of (Input, prior state): calls for one device must be made
// one at a time, in arrival order.
//
// Decisions, so that a reader need not reverse-engineer them:
//   - A device seen for the first time (no state) is assumed to have had
//     every condition off: a first message saying "smoke": true is a fire
//     and raises smoke.alarm. Safety first: the price is one repeated
//     alarm if the state is lost while a detector is still sounding.
//   - Foreign devices have no event seq. The adapter numbers the events it
//     emits with a per-device counter kept in AdapterState.Seq. A redelivered
//     message re-applies no transition, so it emits nothing and uses no
//     number; a new transition takes the next number, a new (device, seq)
//     key. The first event of a device without state starts the counter at
//     the receive time in milliseconds, so a state lost with a wiped store
//     never reuses a key the gateway still holds, which would hide a new
//     alarm as a repeat.
//   - "every" events (button actions) have no state to dedupe on. A payload
//     byte-identical to the device's previous one is a redelivery when it
//     comes within RepeatWindow of it or is a retained replay; its "every"
//     events are dropped. A retained message we have not seen before still
//     counts: it may be a press made while the gateway was down.
//   - A field the rules cannot use (a string where a number belongs) does
//     not cost the rest of the message: it is reported in
//     Decoded.FieldErrors and everything else still counts. Only a payload
//     that is not a JSON object at all is refused.
type Adapter interface {
	// Init checks the configuration and prepares the adapter; errors name
	// the field or rule at fault.
	Init() error
	// Match reports whether topic belongs to this adapter and returns the
	// device reference it carries: a Zigbee2MQTT friendly name, a vendor's
	// device id. The caller maps the reference to a provisioned device.
	Match(topic string) (ref string, ok bool)
	// Decode decodes one message. A refused payload returns a *RejectError
	// and the prior state unchanged.
	Decode(in Input, prior AdapterState) (Decoded, AdapterState, error)
}

// Input is one MQTT message handed to an adapter.
type Input struct {
	Topic   string
	Payload []byte
	// Device is the provisioned device id that Match's reference maps to;
	// events carry it. Empty means the reference itself.
	Device string
	// Kind is the provisioned kind of the device, when known; rules limited
	// to kinds apply only when it is one of theirs.
	Kind Kind
	// Model is the device's model as Zigbee2MQTT's bridge reported it
	// (Z2MDevices.Model), zero when unknown; the Zigbee2MQTT adapter decodes
	// a model that has a record with that record's rules. Other adapters
	// ignore it.
	Model ModelRef
	// Retained is set when the broker replays a retained message.
	Retained bool
	// Received is the gateway's clock when the message arrived.
	Received time.Time
}

// Decoded is what one message said.
type Decoded struct {
	Events    []Event
	Telemetry *Telemetry
	Status    *Status
	// FieldErrors lists fields the message had but the rules could not use;
	// the rest of the message still counted. Count them like rejections.
	FieldErrors []*RejectError
}

// AdapterState is what an adapter remembers of one device between messages.
// It is small and JSON-serialisable; the gateway persists it per device.
type AdapterState struct {
	// Seq is the last seq given to an event of this device.
	Seq uint64 `json:"seq,omitempty"`
	// On lists the conditions that are on, as "field event" keys, sorted.
	On []string `json:"on,omitempty"`
	// Last is a digest of the previous payload, LastAt when it came.
	Last   string    `json:"last,omitempty"`
	LastAt time.Time `json:"last_at,omitzero"`
}

// RepeatWindow is how long after a payload an identical one is taken as a
// redelivery rather than a second button press. A real second press that
// soon is the same emergency, and its alarm is still open.
const RepeatWindow = 10 * time.Second

// maxAdapterSeq is far above any seq a counter started at a millisecond
// clock can reach; a state holding more is corrupt and the counter restarts.
const maxAdapterSeq = 1 << 62

// MaxAdapterPayload bounds a foreign payload. It is larger than the native
// MaxPayload because Zigbee2MQTT repeats every field of a device in each
// message.
const MaxAdapterPayload = 16 << 10

// AdapterConfig selects and configures one adapter, as it appears in the
// gateway's config file:
//
//	{"type": "zigbee2mqtt", "config": {"battery_low": 25}}
type AdapterConfig struct {
	Type   string          `json:"type"`
	Config json.RawMessage `json:"config,omitempty"`
}

// adapterTypes is the registry of adapter constructors, by config type.
var adapterTypes = map[string]func() Adapter{
	"zigbee2mqtt": func() Adapter { return new(Zigbee2MQTT) },
	"vendor_json": func() Adapter { return new(VendorJSON) },
}

// AdapterTypes lists the adapter types NewAdapter knows, sorted.
func AdapterTypes() []string { return slices.Sorted(maps.Keys(adapterTypes)) }

// NewAdapter builds the adapter c names, decodes its config strictly (an
// unknown field is an error, not a silently ignored typo) and runs Init.
func NewAdapter(c AdapterConfig) (Adapter, error) {
	mk, ok := adapterTypes[c.Type]
	if !ok {
		return nil, fmt.Errorf("adapter type %q is not known (known: %s)", c.Type, strings.Join(AdapterTypes(), ", "))
	}
	a := mk()
	if len(c.Config) > 0 && string(c.Config) != "null" {
		if err := decodeStrict(c.Config, a); err != nil {
			return nil, fmt.Errorf("adapter %q: %w", c.Type, whichRule(c.Config, err))
		}
	}
	if err := a.Init(); err != nil {
		return nil, fmt.Errorf("adapter %q: %w", c.Type, err)
	}
	return a, nil
}

func decodeStrict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}

// whichRule turns a decoding error inside a config's "rules" list into one
// that names the rule, the way Init's errors do.
func whichRule(config []byte, err error) error {
	var raw struct {
		Vendor string            `json:"vendor"`
		Rules  []json.RawMessage `json:"rules"`
	}
	if json.Unmarshal(config, &raw) != nil {
		return err
	}
	who := "rule"
	if raw.Vendor != "" {
		who = fmt.Sprintf("vendor %q rule", raw.Vendor)
	}
	for i, r := range raw.Rules {
		var rule Rule
		if e := decodeStrict(r, &rule); e != nil {
			return fmt.Errorf("%s %d: %w", who, i+1, e)
		}
	}
	return err
}

// decode is the part of Decode that every rule-based adapter shares:
// it checks the payload, applies the rules against the prior state and
// numbers the events. clock, when set, reads the device's own time from
// the payload (kept only when plausible, like a native device's ts); extra is added to every event's Data.
func (rs *ruleSet) decode(in Input, device string, prior AdapterState, clock func(map[string]any) (time.Time, *RejectError), extra map[string]any) (Decoded, AdapterState, error) {
	if len(in.Payload) > MaxAdapterPayload {
		return Decoded{}, prior, reject(ReasonOversized, "payload is %d bytes, the limit is %d", len(in.Payload), MaxAdapterPayload)
	}
	var obj map[string]any
	if err := decodeObject(in.Payload, &obj); err != nil {
		return Decoded{}, prior, err
	}
	if obj == nil {
		return Decoded{}, prior, reject(ReasonMalformed, "payload must be a JSON object")
	}
	now := in.Received.UTC()
	digest := payloadDigest(in.Payload)
	since := now.Sub(prior.LastAt)
	repeat := prior.Last == digest && (in.Retained || (!prior.LastAt.IsZero() && since >= 0 && since < RepeatWindow))

	out := rs.apply(obj, in.Kind, prior.On, repeat)
	dec := Decoded{FieldErrors: out.fieldErrors}
	at := now
	var devTime time.Time
	if clock != nil {
		t, bad := clock(obj)
		if bad != nil {
			dec.FieldErrors = append(dec.FieldErrors, bad)
		}
		if t = deviceTime(t.UnixMilli(), now); !t.IsZero() {
			devTime, at = t, t
		}
	}
	next := AdapterState{Seq: prior.Seq, On: out.on, Last: digest, LastAt: now}
	for _, f := range out.events {
		if next.Seq == 0 || next.Seq >= maxAdapterSeq {
			next.Seq = uint64(max(now.UnixMilli(), 0))
		}
		next.Seq++
		data := map[string]any{"field": f.field, "value": f.value}
		maps.Copy(data, extra)
		dec.Events = append(dec.Events, Event{Device: device, Seq: next.Seq, Type: f.typ,
			DeviceTime: devTime, Received: now, Data: data})
	}
	if len(out.fields) > 0 {
		dec.Telemetry = &Telemetry{Device: device, Time: at, Fields: out.fields}
	}
	return dec, next, nil
}

func payloadDigest(p []byte) string {
	h := fnv.New64a()
	h.Write(p)
	return strconv.FormatUint(h.Sum64(), 16)
}
