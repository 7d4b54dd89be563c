package firmwaresim

import (
	"testing"

	"github.com/anxin-care/anxin/devices"
)

// Every kind in the devices table needs a simulator profile whose primary
// and clear events the kind can actually report.
func TestProfilesCoverEveryKind(t *testing.T) {
	for _, k := range devices.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			p, ok := profiles[k]
			if !ok {
				t.Fatalf("no profile for %s", k)
			}
			info, _ := devices.LookupKind(k)
			for _, e := range []devices.EventType{p.primary, p.clear} {
				if e != "" && !contains(info.Events, e) {
					t.Errorf("profile event %s is not among %s's events %v", e, k, info.Events)
				}
			}
			for _, r := range p.readings {
				if !devices.KnownField(r.field) {
					t.Errorf("reading %q is not in the telemetry vocabulary", r.field)
				}
			}
		})
	}
}

func TestSmokeReadingFollowsAlarm(t *testing.T) {
	s := newSensors("sd-1", profiles[devices.KindSmokeDetector])
	calm := s.telemetry()[devices.FieldSmokeObscuration]
	s.observe(devices.SmokeAlarm)
	smoky := s.telemetry()[devices.FieldSmokeObscuration]
	s.observe(devices.SmokeClear)
	clear := s.telemetry()[devices.FieldSmokeObscuration]
	if !(smoky > 5*calm && clear < smoky/5) {
		t.Errorf("obscuration calm %v, in alarm %v, cleared %v: want a clear rise and fall", calm, smoky, clear)
	}
}

func contains(es []devices.EventType, e devices.EventType) bool {
	for _, x := range es {
		if x == e {
			return true
		}
	}
	return false
}
