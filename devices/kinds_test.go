package devices

import (
	"slices"
	"testing"
)

// TestKindsTable checks the records of the kind table against each other:
// every event a kind may report is in the vocabulary, activity kinds report
// nothing that could raise an alarm, and the foreign supervision class
// agrees with the power source the battery threshold implies.
func TestKindsTable(t *testing.T) {
	for _, k := range kinds {
		t.Run(string(k.Kind), func(t *testing.T) {
			if len(k.Events) == 0 {
				t.Fatal("no events")
			}
			for _, ev := range k.Events {
				if !ev.Known() {
					t.Errorf("event %q is not in the vocabulary", ev)
				}
			}
			want := ClassZigbeeMains
			if k.BatteryLow > 0 {
				want = ClassZigbeeBattery
			}
			if k.ForeignClass != want {
				t.Errorf("ForeignClass = %q, want %q for BatteryLow %v", k.ForeignClass, want, k.BatteryLow)
			}
			if _, err := SupervisionWindow(k.ForeignClass, k.Kind); err != nil {
				t.Errorf("SupervisionWindow: %v", err)
			}
			if k.SupervisionWindow() <= 0 {
				t.Errorf("native supervision window %v", k.SupervisionWindow())
			}
		})
	}
	for _, k := range []Kind{KindMotionSensor, KindDoorSensor} {
		ki, err := LookupKind(k)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range ki.Events {
			if !ev.Activity() && ev != DeviceBatteryLow && ev != DeviceTamper {
				t.Errorf("%s may report %s: activity kinds report activity and their own health only", k, ev)
			}
		}
	}
	fall, _ := LookupKind(KindFallSensor)
	if !slices.Contains(fall.Events, BandFall) {
		t.Errorf("fall_sensor does not report %s", BandFall)
	}
}
