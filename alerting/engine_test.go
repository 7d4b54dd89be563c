package alerting_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/devices"
)

var t0 = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	store *alertingtest.MemStore
	clock *alertingtest.Clock
	eng   *alerting.Engine
	seen  []alerting.Change
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, store: alertingtest.NewMemStore(), clock: alertingtest.NewClock(t0)}
	f.restart()
	return f
}

// restart builds a new engine on the same store, as a gateway restart does.
func (f *fixture) restart() {
	f.t.Helper()
	eng, err := alerting.NewEngine(f.store, alerting.Options{Now: f.clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	f.eng = eng
	eng.Subscribe(func(c alerting.Change) { f.seen = append(f.seen, c) })
}

func (f *fixture) event(device string, seq uint64, typ devices.EventType) alerting.Result {
	f.t.Helper()
	ev := devices.Event{Device: device, Seq: seq, Type: typ, Received: f.clock.Now(),
		DeviceTime: f.clock.Now().Add(-time.Duration(seq) * time.Millisecond)}
	r, err := f.eng.HandleEvent(ev, false)
	if err != nil {
		f.t.Fatalf("HandleEvent(%s %d %s): %v", device, seq, typ, err)
	}
	return r
}

func actions(a *alerting.Alarm) []alerting.Action {
	var out []alerting.Action
	for _, e := range a.Timeline {
		out = append(out, e.Action)
	}
	return out
}

func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	r := f.event("btn-1", 1, devices.CallPress)
	if r.Alarm == nil || r.Alarm.State != alerting.Raised || r.Alarm.Priority != alerting.P1 || r.Alarm.Type != alerting.TypeCall {
		t.Fatalf("press raised %+v, want a raised P1 call alarm", r.Alarm)
	}
	id := r.Alarm.ID
	f.clock.Advance(12 * time.Second)
	if _, err := f.eng.Ack(id, "li", "on it"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	if _, err := f.eng.Dispatch(id, "li", "Wang is going"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Note(id, "li", "door code 1234"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Minute)
	if _, err := f.eng.Resolve(id, "li", "bogus", ""); !errors.Is(err, alerting.ErrOutcome) {
		t.Fatalf("resolve with unknown outcome: err %v, want ErrOutcome", err)
	}
	a, err := f.eng.Resolve(id, "li", "assisted", "helped back to bed")
	if err != nil {
		t.Fatal(err)
	}
	want := []alerting.Action{alerting.ActRaised, alerting.ActAcknowledged, alerting.ActDispatched,
		alerting.ActNote, alerting.ActResolved}
	if got := actions(a); !equal(got, want) {
		t.Fatalf("timeline %v, want %v", got, want)
	}
	if a.Acked.Sub(a.Raised) != 12*time.Second || a.Outcome != "assisted" || a.Owner != "li" {
		t.Fatalf("resolved alarm %+v", a)
	}
	if a.Timeline[1].Actor != "operator:li" || a.Timeline[0].Actor != "device:btn-1" {
		t.Fatalf("actors %q %q", a.Timeline[0].Actor, a.Timeline[1].Actor)
	}
	if len(f.eng.Open()) != 0 {
		t.Fatal("resolved alarm still open")
	}
	// After a restart the closed alarm is still readable with its whole timeline.
	f.restart()
	got, err := f.eng.Get(id)
	if err != nil || len(got.Timeline) != 5 || got.State != alerting.Resolved {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	if _, err := f.eng.Ack(id, "li", ""); !errors.Is(err, alerting.ErrTransition) {
		t.Fatalf("ack of resolved alarm: %v, want ErrTransition", err)
	}
	if len(f.seen) != 5 {
		t.Fatalf("subscribers heard %d changes, want 5", len(f.seen))
	}
}

func TestTransitionsRefused(t *testing.T) {
	f := newFixture(t)
	id := f.event("btn-1", 1, devices.CallPress).Alarm.ID
	if _, err := f.eng.Ack("A-nope", "li", ""); !errors.Is(err, alerting.ErrNotFound) {
		t.Errorf("ack unknown: %v", err)
	}
	if _, err := f.eng.Dispatch(id, "li", ""); err != nil {
		t.Fatalf("dispatch from raised: %v", err)
	}
	if _, err := f.eng.Ack(id, "li", ""); !errors.Is(err, alerting.ErrTransition) {
		t.Errorf("ack after dispatch: %v, want ErrTransition", err)
	}
	if _, err := f.eng.Note(id, "li", ""); !errors.Is(err, alerting.ErrEmptyNote) {
		t.Errorf("empty note: %v", err)
	}
}

func TestDeduplicationAndClear(t *testing.T) {
	f := newFixture(t)
	first := f.event("smk-1", 1, devices.SmokeAlarm).Alarm.ID
	if r := f.event("smk-1", 2, devices.SmokeAlarm); r.Alarm.ID != first || r.Alarm.Count != 2 {
		t.Fatalf("second smoke.alarm: alarm %s count %d, want repeat of %s", r.Alarm.ID, r.Alarm.Count, first)
	}
	// Repeats share one timeline line that keeps the latest count.
	if r := f.event("smk-1", 9, devices.SmokeAlarm); len(r.Alarm.Timeline) != 2 || r.Alarm.Count != 3 ||
		r.Alarm.Timeline[1].Note != "smoke.alarm again (3 times)" || r.Alarm.Timeline[1].Seq != 9 {
		t.Fatalf("after three presses: count %d, timeline %+v", r.Alarm.Count, r.Alarm.Timeline)
	}
	// A different type at the same device is its own alarm.
	if r := f.event("smk-1", 3, devices.DeviceTamper); r.Alarm.ID == first || r.Alarm.Priority != alerting.P3 {
		t.Fatalf("tamper joined the smoke alarm")
	}
	// Clear before anyone acknowledged: the alarm is cancelled, and stays visible as such.
	r := f.event("smk-1", 4, devices.SmokeClear)
	if r.Alarm.ID != first || r.Alarm.State != alerting.Cancelled {
		t.Fatalf("clear: %+v, want %s cancelled", r.Alarm, first)
	}
	// A fresh alarm after a clear is a new alarm.
	second := f.event("smk-1", 5, devices.SmokeAlarm).Alarm
	if second.ID == first || second.Count != 1 || second.State != alerting.Raised {
		t.Fatalf("smoke after clear: %+v, want a new alarm", second)
	}
	// Acknowledged, then cleared: it stays open for the operator, but the next
	// smoke.alarm is again a new alarm.
	if _, err := f.eng.Ack(second.ID, "li", ""); err != nil {
		t.Fatal(err)
	}
	if r := f.event("smk-1", 6, devices.SmokeClear); r.Alarm.State != alerting.Acknowledged || !r.Alarm.Cleared {
		t.Fatalf("clear of acknowledged alarm: %+v", r.Alarm)
	}
	third := f.event("smk-1", 7, devices.SmokeAlarm).Alarm
	if third.ID == second.ID {
		t.Fatal("smoke after clear of an acknowledged alarm repeated it")
	}
	// A clear with nothing open touches nothing.
	if r := f.event("gas-1", 1, devices.GasClear); r.Alarm != nil {
		t.Fatalf("lone clear touched %+v", r.Alarm)
	}
	// A smoke.test raises nothing but is accepted.
	if r := f.event("smk-1", 8, devices.SmokeTest); r.Alarm != nil {
		t.Fatalf("smoke.test raised %+v", r.Alarm)
	}
}

func TestIdempotency(t *testing.T) {
	f := newFixture(t)
	ev := devices.Event{Device: "btn-1", Seq: 7, Type: devices.CallPress, Received: t0, DeviceTime: t0.Add(-time.Second)}
	r1, err := f.eng.HandleEvent(ev, false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		restart bool
		mutate  func(devices.Event) devices.Event
		dup     bool
	}{
		{"redelivered (DUP)", false, func(e devices.Event) devices.Event { return e }, true},
		{"resent after a gateway restart", true, func(e devices.Event) devices.Event { return e }, true},
		{"same seq, other type", false, func(e devices.Event) devices.Event { e.Type = devices.CallPullcord; return e }, false},
		{"counter reset: same seq, later timestamp", false, func(e devices.Event) devices.Event {
			e.DeviceTime = e.DeviceTime.Add(time.Hour)
			return e
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.restart {
				f.restart()
			}
			r, err := f.eng.HandleEvent(tt.mutate(ev), false)
			if err != nil {
				t.Fatal(err)
			}
			if r.Duplicate != tt.dup {
				t.Fatalf("duplicate = %v, want %v", r.Duplicate, tt.dup)
			}
			if tt.dup && (r.Alarm == nil || r.Alarm.ID != r1.Alarm.ID || r.Alarm.Count != 1) {
				t.Fatalf("duplicate answered with %+v, want the first alarm unchanged", r.Alarm)
			}
		})
	}
}

// TestNoClockNoCounterIsNeverSilenced: a device without a clock whose
// counter restarted presses seq 1 again after its first alarm was
// cancelled: that is a new press, not a resend.
func TestNoClockNoCounterIsNeverSilenced(t *testing.T) {
	f := newFixture(t)
	press := devices.Event{Device: "btn-9", Seq: 1, Type: devices.CallPress, Received: t0}
	first, err := f.eng.HandleEvent(press, false)
	if err != nil {
		t.Fatal(err)
	}
	// A resend while the alarm is open is a duplicate.
	if r, _ := f.eng.HandleEvent(press, false); !r.Duplicate {
		t.Fatal("a resend of an open alarm's press raised again")
	}
	f.eng.HandleEvent(devices.Event{Device: "btn-9", Seq: 2, Type: devices.CallCancel, Received: t0}, false)
	f.clock.Advance(3 * time.Minute) // the battery is swapped; the counter starts again
	again, err := f.eng.HandleEvent(devices.Event{Device: "btn-9", Seq: 1, Type: devices.CallPress, Received: f.clock.Now()}, false)
	if err != nil {
		t.Fatal(err)
	}
	if again.Duplicate || again.Alarm == nil || again.Alarm.ID == first.Alarm.ID || again.Alarm.State != alerting.Raised {
		t.Fatalf("the new press was silenced: %+v", again)
	}
}

// TestStoreFailureIsRetried: a press the store refused is not kept (the
// device is not acknowledged and sends again); the resend raises it once.
func TestStoreFailureIsRetried(t *testing.T) {
	f := newFixture(t)
	f.store.Fail = errors.New("disk full")
	_, err := f.eng.HandleEvent(devices.Event{Device: "btn-1", Seq: 1, Type: devices.CallPress, Received: t0}, false)
	if !errors.Is(err, alerting.ErrStoreFailure) {
		t.Fatalf("err %v, want ErrStoreFailure so the device is not acknowledged", err)
	}
	if len(f.eng.Open()) != 0 || len(f.seen) != 0 {
		t.Fatal("an alarm the disk could not keep stayed in memory: the resend would be taken as a repeat")
	}
	// The device resends; once the store is back the same key is accepted, not a duplicate.
	f.store.Fail = nil
	r, err := f.eng.HandleEvent(devices.Event{Device: "btn-1", Seq: 1, Type: devices.CallPress, Received: t0}, false)
	if err != nil || r.Duplicate {
		t.Fatalf("resend after failure: %+v %v", r, err)
	}
	if open, _ := f.store.OpenAlarms(); len(open) != 1 || open[0].Count != 1 || len(f.eng.Open()) != 1 {
		t.Fatalf("store has %d open alarms after the resend, want 1 with count 1", len(open))
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNotifiedEntriesAreBounded(t *testing.T) {
	f := newFixture(t)
	id := f.event("btn-1", 1, devices.CallPress).Alarm.ID
	for i := range 150 {
		if err := f.eng.RecordNotification(id, alerting.Entry{Note: fmt.Sprintf("attempt %d", i+1)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.eng.Note(id, "li", "still here"); err != nil {
		t.Fatal(err)
	}
	a, _ := f.eng.Get(id)
	var notified []string
	for _, e := range a.Timeline {
		if e.Action == alerting.ActNotified {
			notified = append(notified, e.Note)
		}
	}
	if len(notified) != 100 || notified[0] != "attempt 51" || notified[99] != "attempt 150" {
		t.Fatalf("kept %d attempts (%v … %v), want the last 100", len(notified), notified[0], notified[len(notified)-1])
	}
	if a.Timeline[0].Action != alerting.ActRaised || a.Timeline[len(a.Timeline)-1].Note != "still here" {
		t.Fatal("pruning attempts lost other entries")
	}
}
