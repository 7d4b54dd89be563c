package alerting_test

import (
	"maps"
	"testing"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
)

// TestOpenCounts: the gauges' counts agree with Open, walk-test alarms
// counted only when asked, closed alarms not at all.
func TestOpenCounts(t *testing.T) {
	f := newFixture(t)
	f.event("btn-1", 1, devices.CallPress)
	f.event("smk-1", 1, devices.SmokeAlarm)
	f.event("btn-2", 1, devices.CallPress)
	f.event("btn-2", 2, devices.CallCancel)
	if _, err := f.eng.HandleEvent(devices.Event{Device: "btn-3", Seq: 1, Type: devices.CallPress, Received: f.clock.Now()},
		alerting.Location{}, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.eng.RaiseCondition("band-1", alerting.Location{}, alerting.TypeOffline, alerting.P3, "silent", false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		withTest bool
		want     map[alerting.Priority]int
	}{
		{"operators' alarms", false, map[alerting.Priority]int{alerting.P1: 2, alerting.P2: 0, alerting.P3: 1}},
		{"with walk tests", true, map[alerting.Priority]int{alerting.P1: 3, alerting.P2: 0, alerting.P3: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := f.eng.OpenCounts(c.withTest); !maps.Equal(got, c.want) {
				t.Fatalf("OpenCounts(%v) = %v, want %v", c.withTest, got, c.want)
			}
			fromOpen := map[alerting.Priority]int{alerting.P1: 0, alerting.P2: 0, alerting.P3: 0}
			for _, a := range f.eng.Open() {
				if c.withTest || !a.Test {
					fromOpen[a.Priority]++
				}
			}
			if !maps.Equal(fromOpen, c.want) {
				t.Fatalf("Open counts %v, want %v", fromOpen, c.want)
			}
		})
	}
}
