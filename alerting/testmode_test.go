package alerting_test

import (
	"errors"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
)

// TestWalkTestHandOverAfterRestart: a P1 walk-test alarm whose grace ran
// out while the gateway was down is handed to operators at the first Tick,
// and a P2 walk-test alarm never is.
func TestWalkTestHandOverAfterRestart(t *testing.T) {
	f := newFixture(t)
	raise := func(device string, typ devices.EventType) string {
		t.Helper()
		ev := devices.Event{Device: device, Seq: 1, Type: typ, Received: f.clock.Now()}
		r, err := f.eng.HandleEvent(ev, alerting.Location{}, true)
		if err != nil || r.Alarm == nil || !r.Alarm.Test {
			t.Fatalf("walk-test %s: %+v %v", typ, r.Alarm, err)
		}
		return r.Alarm.ID
	}
	p1, p2 := raise("btn-1", devices.CallPress), raise("band-1", devices.BandGeofenceExit)
	f.clock.Advance(10 * time.Minute)
	f.restart()
	if err := f.eng.Tick(f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if a, _ := f.eng.Get(p1); a.Test || !a.TestMode || actions(a)[1] != alerting.ActTestUnwatched {
		t.Fatalf("P1 after restart: test %v test_mode %v timeline %v", a.Test, a.TestMode, actions(a))
	}
	if a, _ := f.eng.Get(p2); !a.Test || a.TestMode {
		t.Fatalf("P2 walk-test alarm handed over: %+v", a)
	}
}

// TestWalkTestHandOverRefusedByStore: a hand-over the store refuses is
// undone, so the alarm is not shown to operators as handed over when the
// disk does not say so, and the next Tick hands it over again.
func TestWalkTestHandOverRefusedByStore(t *testing.T) {
	f := newFixture(t)
	r, err := f.eng.HandleEvent(devices.Event{Device: "btn-1", Seq: 1, Type: devices.CallPress, Received: f.clock.Now()}, alerting.Location{}, true)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	f.store.Fail = errors.New("disk full")
	if err := f.eng.Tick(f.clock.Now()); !errors.Is(err, alerting.ErrStoreFailure) {
		t.Fatalf("Tick on a failing store: %v", err)
	}
	if a, _ := f.eng.Get(r.Alarm.ID); !a.Test || a.TestMode {
		t.Fatalf("refused hand-over kept in memory: test %v test_mode %v", a.Test, a.TestMode)
	}
	f.store.Fail = nil
	if err := f.eng.Tick(f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if a, _ := f.eng.Get(r.Alarm.ID); a.Test || !a.TestMode {
		t.Fatalf("after the store recovered: test %v test_mode %v", a.Test, a.TestMode)
	}
}
