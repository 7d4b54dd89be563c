package registry

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

// A resident's response plan (预案): per alarm type, what to do and whom
// to call, in order — "smoke: call 119, then the daughter; the key is with
// the neighbour in No. 14". The console shows it first in an alarm's
// detail. It is stored with the resident (a field of the resident's
// record, so an older anxin reading the file ignores it), and changed as a
// whole by PUT /api/v1/residents/{id}/plan.
//
// A key is an event type (smoke.alarm, band.fall), an alarm type (smoke,
// fall, hr_abnormal) or an event family (band, device). For an alarm the
// plan's steps are those of its event type if the plan has it, else of its
// alarm type, else of its event's family (PlanFor).

// Plan maps an alarm type or family to the steps to take, in order.
type Plan map[string][]PlanStep

// PlanStep is one thing to do: "call 119", optionally with the number to
// call (the console makes it a tel: link).
type PlanStep struct {
	Do    string `json:"do"`
	Phone string `json:"phone,omitempty"`
}

// Plan limits.
const (
	MaxPlanKeys  = 30
	MaxPlanSteps = 10
	maxPlanDo    = 200
)

// alarmTypes are the alarm types a plan key may name; eventFamilies the
// event families (the part of an event type before the dot).
var (
	alarmTypes = []string{alerting.TypeCall, alerting.TypePullcord, alerting.TypeSmoke, alerting.TypeGas, alerting.TypeSOS,
		alerting.TypeFall, alerting.TypeBandOff, alerting.TypeGeofence, alerting.TypeHeartRate, alerting.TypeBedExit,
		alerting.TypeTamper, alerting.TypeBatteryLow, alerting.TypeFault, alerting.TypeOffline}
	eventFamilies = []string{"call", "smoke", "gas", "band", "bed", "device"}
)

// Check validates a plan, naming the field at fault as plan.<key>[i].do.
func (p Plan) Check() error {
	if len(p) > MaxPlanKeys {
		return state.FieldErrorf("plan", "at most %d alarm types, got %d", MaxPlanKeys, len(p))
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !devices.EventType(k).Known() && !slices.Contains(alarmTypes, k) && !slices.Contains(eventFamilies, k) {
			return state.FieldErrorf("plan."+k, "%q is not an alarm type: want an event type (smoke.alarm), an alarm type (%s) or a family (%s)",
				k, strings.Join(alarmTypes, ", "), strings.Join(eventFamilies, ", "))
		}
		steps := p[k]
		if len(steps) == 0 || len(steps) > MaxPlanSteps {
			return state.FieldErrorf("plan."+k, "%d steps: want 1 to %d", len(steps), MaxPlanSteps)
		}
		for i := range steps {
			f := fmt.Sprintf("plan.%s[%d]", k, i)
			steps[i].Do, steps[i].Phone = strings.TrimSpace(steps[i].Do), strings.TrimSpace(steps[i].Phone)
			if steps[i].Do == "" || state.ValidText(steps[i].Do, maxPlanDo) != nil {
				return state.FieldErrorf(f+".do", "want 1-%d characters of text saying what to do, e.g. \"call 119\"", maxPlanDo)
			}
			if steps[i].Phone != "" {
				if err := validPlanPhone(steps[i].Phone); err != nil {
					return &state.FieldError{Field: f + ".phone", Err: err}
				}
			}
		}
	}
	return nil
}

// validPlanPhone accepts a phone number, or an emergency service's short
// number (119 fire, 120 ambulance, 110 police), which a plan calls first.
func validPlanPhone(p string) error {
	if len(p) >= 3 && len(p) <= 5 && strings.Trim(p, "0123456789") == "" {
		return nil
	}
	if err := state.ValidPhone(p); err != nil {
		return fmt.Errorf("%w, or a short number such as 119 or 120", err)
	}
	return nil
}

// PlanFor returns the steps of p for an alarm raised by event of alarm
// type typ: the event type's, else the alarm type's, else the family's;
// nil when the plan says nothing about it.
func (p Plan) PlanFor(event, typ string) []PlanStep {
	family, _, _ := strings.Cut(event, ".")
	for _, k := range []string{event, typ, family} {
		if steps, ok := p[k]; ok && k != "" {
			return slices.Clone(steps)
		}
	}
	return nil
}

func (p Plan) clone() Plan {
	if p == nil {
		return nil
	}
	c := make(Plan, len(p))
	for k, v := range p {
		c[k] = slices.Clone(v)
	}
	return c
}
