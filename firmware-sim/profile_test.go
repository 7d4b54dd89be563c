package firmwaresim

import (
	"testing"
	"time"

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
	calm := s.telemetry(time.Now())[devices.FieldSmokeObscuration]
	s.observe(devices.SmokeAlarm)
	smoky := s.telemetry(time.Now())[devices.FieldSmokeObscuration]
	s.observe(devices.SmokeClear)
	clear := s.telemetry(time.Now())[devices.FieldSmokeObscuration]
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

// A band's heart rate follows the day: its mean over many samples is higher
// mid-afternoon than in the small hours.
func TestBandVitalsHaveADayNightRhythm(t *testing.T) {
	s := newSensors("band-1", profileOf(devices.KindSafetyBand))
	mean := func(hour int) float64 {
		at := time.Date(2026, 3, 1, hour, 0, 0, 0, time.Local)
		sum := 0.0
		for range 200 {
			sum += s.telemetry(at)[devices.FieldHR]
		}
		return sum / 200
	}
	day, night := mean(15), mean(3)
	if day-night < 10 {
		t.Errorf("heart rate mean 15:00 %.1f, 03:00 %.1f: want the day at least 10 bpm higher", day, night)
	}
}
