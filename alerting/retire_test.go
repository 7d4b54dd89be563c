package alerting_test

import (
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
)

// TestCancelDevice: the open alarms of a removed device, taken or not, are
// cancelled with outcome device_removed and stay in the store; other
// devices' and site alarms are untouched, and a new alarm of the same
// type can be raised afterwards (the slot is free).
func TestCancelDevice(t *testing.T) {
	store := alertingtest.NewMemStore()
	clock := alertingtest.NewClock(t0)
	eng, err := alerting.NewEngine(store, alerting.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	room := alerting.Location{Site: "room-12"}
	off, _, _ := eng.RaiseCondition("btn-1", room, alerting.TypeOffline, alerting.P3, "silent", false)
	low, _, _ := eng.RaiseCondition("btn-1", room, alerting.TypeBatteryLow, alerting.P3, "10%", false)
	other, _, _ := eng.RaiseCondition("btn-2", room, alerting.TypeOffline, alerting.P3, "silent", false)
	site, _, _ := eng.RaiseSiteCondition(alerting.Location{Site: "btn-1"}, alerting.IncidentFire, alerting.P1, "a site named like the device")
	if _, err := eng.Ack(low.ID, "li", ""); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	closed, err := eng.CancelDevice("btn-1", "zhao", "device btn-1 removed by zhao")
	if err != nil || len(closed) != 2 {
		t.Fatalf("CancelDevice: %d alarms, %v; want 2", len(closed), err)
	}
	for _, id := range []string{off.ID, low.ID} {
		a, err := eng.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		last := a.Timeline[len(a.Timeline)-1]
		if a.State != alerting.Cancelled || a.Outcome != alerting.OutcomeDeviceRemoved || last.Actor != "operator:zhao" || last.Action != alerting.ActCancelled {
			t.Fatalf("%s: %s/%s, last %+v", id, a.State, a.Outcome, last)
		}
	}
	for _, id := range []string{other.ID, site.ID} {
		if a, _ := eng.Get(id); !a.State.Open() {
			t.Fatalf("alarm %s of another subject is %s", id, a.State)
		}
	}
	if _, raised, _ := eng.RaiseCondition("btn-1", room, alerting.TypeOffline, alerting.P3, "again", false); !raised {
		t.Fatal("no new offline alarm after the old one was cancelled")
	}
}
