package devices

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Trigger says when an event rule fires.
type Trigger string

// The triggers.
const (
	// TriggerEnter fires once, on the message where the field enters a
	// matching value (false → true, "none" → "fall", 25 → 19 under an
	// at_or_below threshold); Clear fires when it leaves again. A value that
	// is merely repeated fires nothing. This is the trigger for state fields.
	TriggerEnter Trigger = "enter"
	// TriggerEvery fires on every message whose field holds a matching value.
	// It is for button actions, where each message is a press and there is
	// no state to leave.
	TriggerEvery Trigger = "every"
)

// Rule maps one field of a JSON payload onto an event or a telemetry field.
// It is data: the Zigbee2MQTT adapter's model table and an installer's vendor
// mapping are lists of rules, and one engine evaluates both.
//
// A rule is an event rule (Event set) or a telemetry rule (Telemetry set),
// never both. Rules whose Event is the same form one condition: the event
// fires when the first of them turns on and Clear fires when the last turns
// off, so a device that says both "battery": 15 and "battery_low": true
// raises one device.battery_low, not two.
type Rule struct {
	// Field is the dotted path of the value in the payload: "smoke",
	// "alarm.code", "events.0.type" (a number indexes an array).
	Field string `json:"field"`
	// Note is free text for the reader of a config file (JSON has no comments).
	Note string `json:"note,omitempty"`

	// Event is the event type this rule raises, from the vocabulary.
	Event EventType `json:"event,omitempty"`
	// Trigger is "enter" or "every"; required with Event.
	Trigger Trigger `json:"trigger,omitempty"`
	// When lists the JSON scalars (true, "fall", 2) for which the field is
	// on. Strings match exactly, numbers by value. Empty means [true] unless
	// AtOrBelow is set. A field holding an array (a list of active alarms)
	// is on when any element matches, and off when none does.
	When []any `json:"when,omitempty"`
	// AtOrBelow makes a numeric field on when it is at or below this number
	// (a battery percentage); only with trigger "enter".
	AtOrBelow *float64 `json:"at_or_below,omitempty"`
	// Hysteresis keeps an AtOrBelow condition on until the value rises above
	// AtOrBelow+Hysteresis, so a battery jittering 19–21 % does not fire on
	// every report.
	Hysteresis float64 `json:"hysteresis,omitempty"`
	// Clear is the event raised when an "enter" condition turns off
	// (smoke.clear after smoke.alarm); empty for none.
	Clear EventType `json:"clear,omitempty"`
	// Kinds limits the rule to devices provisioned as one of these kinds;
	// empty means every device. A kind-limited rule never applies to a device
	// of unknown kind.
	Kinds []Kind `json:"kinds,omitempty"`

	// Telemetry is the telemetry field this rule writes, from the vocabulary
	// (KnownField). The value must be a number or a string holding one.
	Telemetry string `json:"telemetry,omitempty"`
	// Scale multiplies the value (0.1 turns tenths of a degree into °C);
	// absent means 1.
	Scale *float64 `json:"scale,omitempty"`
}

// scalar is a JSON string, number or boolean, comparable across the ways
// config and payloads spell them (2 and 2.0 are equal).
type scalar struct {
	kind byte // 's', 'n' or 'b'
	s    string
	n    float64
	b    bool
}

func toScalar(v any) (scalar, bool) {
	switch x := v.(type) {
	case string:
		return scalar{kind: 's', s: x}, true
	case bool:
		return scalar{kind: 'b', b: x}, true
	case float64:
		return scalar{kind: 'n', n: x}, !math.IsNaN(x) && !math.IsInf(x, 0)
	case int:
		return scalar{kind: 'n', n: float64(x)}, true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return scalar{kind: 'n', n: f}, err == nil
	}
	return scalar{}, false
}

// value is the scalar as it goes into Event.Data.
func (s scalar) value() any {
	switch s.kind {
	case 's':
		return truncate(s.s, 64)
	case 'b':
		return s.b
	}
	return s.n
}

// compiledRule is a validated Rule with its path split and values parsed.
type compiledRule struct {
	Rule
	path []string
	when []scalar
	// key names the rule's on/off condition in AdapterState.On; empty for
	// telemetry and "every" rules, which keep no state.
	key   string
	group int
}

// eventGroup is the condition of one event type: the rules that raise it.
type eventGroup struct {
	event EventType
	clear EventType
	rules []int
}

// ruleSet is a compiled list of rules, safe for concurrent use.
type ruleSet struct {
	rules  []compiledRule
	groups []eventGroup
}

// compileRules validates rules. who prefixes errors ("vendor \"acme\"").
// The first builtin rules are an adapter's own table; the rest come from the
// config and are numbered from 1, as the installer counts them.
func compileRules(who string, rules []Rule, builtin int) (ruleSet, error) {
	var rs ruleSet
	label := func(i int) string {
		if i < builtin {
			return fmt.Sprintf("built-in rule %d (field %q)", i+1, rules[i].Field)
		}
		return fmt.Sprintf("rule %d", i+1-builtin)
	}
	keys := map[string]int{}
	telemetry := map[string]int{}
	groups := map[EventType]int{}
	for i, r := range rules {
		fail := func(format string, args ...any) (ruleSet, error) {
			return ruleSet{}, fmt.Errorf("%s %s: %s", who, label(i), fmt.Sprintf(format, args...))
		}
		cr := compiledRule{Rule: r, group: -1}
		if r.Field == "" {
			return fail("\"field\" is required")
		}
		cr.path = strings.Split(r.Field, ".")
		if slices.Contains(cr.path, "") {
			return fail("field %q has an empty path segment", r.Field)
		}
		for _, k := range r.Kinds {
			if _, err := LookupKind(k); err != nil {
				return fail("%v", err)
			}
		}
		switch {
		case r.Event != "" && r.Telemetry != "":
			return fail("a rule maps to an event or to telemetry, not both")
		case r.Event == "" && r.Telemetry == "":
			return fail("needs \"event\" or \"telemetry\"")
		case r.Telemetry != "":
			if !KnownField(r.Telemetry) {
				return fail("telemetry field %q is not in the vocabulary", r.Telemetry)
			}
			if len(r.When) > 0 || r.AtOrBelow != nil || r.Trigger != "" || r.Clear != "" || r.Hysteresis != 0 {
				return fail("\"when\", \"at_or_below\", \"hysteresis\", \"trigger\" and \"clear\" belong to event rules")
			}
			if r.Scale != nil && (*r.Scale == 0 || math.IsNaN(*r.Scale) || math.IsInf(*r.Scale, 0)) {
				return fail("scale must be a non-zero number")
			}
			if m, ok := telemetry[r.Telemetry]; ok {
				return fail("telemetry field %q is already written by %s", r.Telemetry, label(m))
			}
			telemetry[r.Telemetry] = i
		default:
			if !r.Event.Known() {
				return fail("event type %q is not in the vocabulary", r.Event)
			}
			if r.Scale != nil {
				return fail("\"scale\" belongs to telemetry rules")
			}
			if r.Trigger != TriggerEnter && r.Trigger != TriggerEvery {
				return fail("\"trigger\" must be %q or %q, got %q", TriggerEnter, TriggerEvery, r.Trigger)
			}
			if r.Clear != "" {
				if r.Trigger != TriggerEnter {
					return fail("\"clear\" needs trigger %q: an %q event has no state to leave", TriggerEnter, r.Trigger)
				}
				if !r.Clear.Known() {
					return fail("clear event type %q is not in the vocabulary", r.Clear)
				}
			}
			if r.AtOrBelow != nil {
				if len(r.When) > 0 {
					return fail("use \"when\" or \"at_or_below\", not both")
				}
				if r.Trigger != TriggerEnter {
					return fail("\"at_or_below\" needs trigger %q", TriggerEnter)
				}
				if math.IsNaN(*r.AtOrBelow) || math.IsInf(*r.AtOrBelow, 0) {
					return fail("at_or_below must be a finite number")
				}
			}
			if r.Hysteresis < 0 || math.IsNaN(r.Hysteresis) || math.IsInf(r.Hysteresis, 0) ||
				(r.Hysteresis != 0 && r.AtOrBelow == nil) {
				return fail("\"hysteresis\" must be a non-negative number and needs \"at_or_below\"")
			}
			when := r.When
			if len(when) == 0 && r.AtOrBelow == nil {
				when = []any{true}
			}
			for j, w := range when {
				s, ok := toScalar(w)
				if !ok {
					return fail("when value %d must be a string, number or boolean", j+1)
				}
				cr.when = append(cr.when, s)
			}
			if r.Trigger == TriggerEnter {
				cr.key = r.Field + " " + string(r.Event)
				if m, ok := keys[cr.key]; ok {
					return fail("has the same field and event as %s", label(m))
				}
				keys[cr.key] = i
			}
			g, ok := groups[r.Event]
			if !ok {
				g = len(rs.groups)
				groups[r.Event] = g
				rs.groups = append(rs.groups, eventGroup{event: r.Event})
			}
			if r.Clear != "" {
				if c := rs.groups[g].clear; c != "" && c != r.Clear {
					return fail("clears %q with %q, but an earlier rule clears it with %q", r.Event, r.Clear, c)
				}
				rs.groups[g].clear = r.Clear
			}
			rs.groups[g].rules = append(rs.groups[g].rules, i)
			cr.group = g
		}
		rs.rules = append(rs.rules, cr)
	}
	return rs, nil
}

// lookup walks a dotted path through decoded JSON objects and arrays.
func lookup(v any, path []string) (any, bool) {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[p]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// number reads a telemetry or threshold value: a JSON number, or a string
// holding one (some vendors quote every value).
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

// firing is an event the rules raised, before it gets a device and a seq.
type firing struct {
	typ   EventType
	field string
	value any
}

// outcome is what the rules made of one payload.
type outcome struct {
	events      []firing
	fields      map[string]float64
	fieldErrors []*RejectError
	on          []string
}

// reading is the rules' view of one payload, before events are decided.
type reading struct {
	was, is     map[string]bool // conditions on before and after this payload
	values      []any           // per rule, the value it saw, for Event.Data
	hit         []bool          // per "every" rule, whether it matched
	fields      map[string]float64
	fieldErrors []*RejectError
}

// apply evaluates the rules against a decoded payload. prevOn is the set of
// conditions that were on before this message (AdapterState.On); suppressEvery
// drops "every" events because the payload is a repeat (see RepeatWindow).
func (rs *ruleSet) apply(obj map[string]any, kind Kind, prevOn []string, suppressEvery bool) outcome {
	rd := rs.read(obj, kind, prevOn)
	out := outcome{events: rs.fire(rd, suppressEvery), fields: rd.fields, fieldErrors: rd.fieldErrors}
	for k, on := range rd.is {
		if on {
			out.on = append(out.on, k)
		}
	}
	slices.Sort(out.on)
	return out
}

// read evaluates every rule that applies to the device's kind.
func (rs *ruleSet) read(obj map[string]any, kind Kind, prevOn []string) reading {
	rd := reading{was: map[string]bool{}, is: map[string]bool{},
		values: make([]any, len(rs.rules)), hit: make([]bool, len(rs.rules))}
	for _, k := range prevOn {
		rd.was[k] = true
	}
	for _, r := range rs.rules {
		if r.key != "" && rd.was[r.key] {
			rd.is[r.key] = true // a field absent from this message keeps its state
		}
	}
	reported := map[string]bool{}
	bad := func(r compiledRule, format string, args ...any) {
		if !reported[r.Field] { // once per field, however many rules read it
			reported[r.Field] = true
			rd.fieldErrors = append(rd.fieldErrors,
				reject(ReasonBadField, "field %q: %s", r.Field, fmt.Sprintf(format, args...)))
		}
	}
	for i, r := range rs.rules {
		if len(r.Kinds) > 0 && !slices.Contains(r.Kinds, kind) {
			continue
		}
		v, ok := lookup(obj, r.path)
		if !ok || v == nil {
			continue // Zigbee2MQTT publishes null for a value it does not know yet
		}
		switch {
		case r.Telemetry != "":
			f, ok := number(v)
			if r.Scale != nil {
				f *= *r.Scale
			}
			if !ok || math.IsInf(f, 0) {
				bad(r, "%s must be a number", r.Telemetry)
				continue
			}
			if rd.fields == nil {
				rd.fields = map[string]float64{}
			}
			rd.fields[r.Telemetry] = f
		case r.AtOrBelow != nil:
			f, ok := number(v)
			if !ok {
				bad(r, "must be a number to compare with %v", *r.AtOrBelow)
				continue
			}
			limit := *r.AtOrBelow
			if rd.was[r.key] {
				limit += r.Hysteresis
			}
			rd.is[r.key], rd.values[i] = f <= limit, f
		default:
			on, val, ok := r.matches(v)
			if !ok {
				// A value of the wrong type says nothing about the condition:
				// keep its state rather than clear an alarm on garbage.
				bad(r, "has a value of unexpected type")
				continue
			}
			rd.values[i] = val
			if r.Trigger == TriggerEvery {
				rd.hit[i] = on
			} else {
				rd.is[r.key] = on
			}
		}
	}
	return rd
}

// matches reports whether v is one of the rule's When values; ok is false
// when v is of a type none of them has. An array is on when any element
// matches.
func (r compiledRule) matches(v any) (on bool, val any, ok bool) {
	if list, isList := v.([]any); isList {
		for _, e := range list {
			if s, ok := toScalar(e); ok && slices.Contains(r.when, s) {
				return true, s.value(), true
			}
		}
		return false, nil, true
	}
	s, ok := toScalar(v)
	if !ok || !slices.ContainsFunc(r.when, func(w scalar) bool { return w.kind == s.kind }) {
		return false, nil, false
	}
	return slices.Contains(r.when, s), s.value(), true
}

// fire decides the events: per event type, the condition entering (event)
// or leaving (clear), or else an "every" rule matching. One message raises
// an event type at most once.
func (rs *ruleSet) fire(rd reading, suppressEvery bool) []firing {
	var out []firing
	for _, g := range rs.groups {
		wasOn, isOn, entered, left := false, false, -1, -1
		for _, i := range g.rules {
			k := rs.rules[i].key
			if k == "" {
				continue
			}
			wasOn, isOn = wasOn || rd.was[k], isOn || rd.is[k]
			if rd.is[k] && !rd.was[k] && entered < 0 {
				entered = i
			}
			if rd.was[k] && !rd.is[k] && left < 0 {
				left = i
			}
		}
		switch {
		case !wasOn && isOn:
			out = append(out, firing{g.event, rs.rules[entered].Field, rd.values[entered]})
			continue
		case wasOn && !isOn && g.clear != "":
			out = append(out, firing{g.clear, rs.rules[left].Field, rd.values[left]})
		}
		if suppressEvery {
			continue
		}
		if j := slices.IndexFunc(g.rules, func(i int) bool { return rd.hit[i] }); j >= 0 {
			i := g.rules[j]
			out = append(out, firing{g.event, rs.rules[i].Field, rd.values[i]})
		}
	}
	return out
}
