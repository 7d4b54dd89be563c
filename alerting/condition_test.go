package alerting_test

import (
	"slices"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
)

func TestConditionRaiseOnceAndRestore(t *testing.T) {
	store := alertingtest.NewMemStore()
	clock := alertingtest.NewClock(t0)
	eng, err := alerting.NewEngine(store, alerting.Options{Now: clock.Now, Locate: func(d string) alerting.Location {
		return alerting.Location{Site: "room-12", Path: []string{"青山县", "青山村", "12号", "卧室"}, Resident: "王秀英"}
	}})
	if err != nil {
		t.Fatal(err)
	}
	a, raised, err := eng.RaiseCondition("btn-1", alerting.TypeOffline, alerting.P3, "silent since 02:00", false)
	if err != nil || !raised {
		t.Fatalf("raise: %v %v", raised, err)
	}
	if a.Site != "room-12" || a.Resident != "王秀英" || !slices.Equal(a.Location, []string{"青山县", "青山村", "12号", "卧室"}) {
		t.Fatalf("offline alarm does not say where: %+v", a)
	}
	again, raised, _ := eng.RaiseCondition("btn-1", alerting.TypeOffline, alerting.P3, "still silent", false)
	if raised || again.ID != a.ID || again.Count != 1 {
		t.Fatalf("second raise: raised %v, %+v", raised, again)
	}
	clock.Advance(time.Minute)
	done, err := eng.EndCondition("btn-1", alerting.TypeOffline, "heard again")
	if err != nil || done.State != alerting.Resolved || done.Outcome != alerting.OutcomeRestored {
		t.Fatalf("restore: %+v %v", done, err)
	}
	if none, err := eng.EndCondition("btn-1", alerting.TypeOffline, ""); none != nil || err != nil {
		t.Fatalf("second restore: %+v %v", none, err)
	}
	if _, raised, _ := eng.RaiseCondition("btn-1", alerting.TypeOffline, alerting.P3, "silent again", false); !raised {
		t.Fatal("a new silence after a restore must raise a new alarm")
	}
}
