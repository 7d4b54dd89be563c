package alerting_test

import (
	"errors"
	"testing"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
)

// TestDeviceStateGoesWithItsEvent: the caller's device state handed with an
// event is stored by the event's own write, so it is durable exactly when
// the event is. After a failed write neither is kept, and the resend raises
// the alarm once; a duplicate still stores the state it brings.
func TestDeviceStateGoesWithItsEvent(t *testing.T) {
	f := newFixture(t)
	smoke := devices.Event{Device: "smk-1", Seq: 7, Type: devices.SmokeAlarm, Received: t0, DeviceTime: t0}
	state := func(s string) alerting.With { return alerting.With{DeviceState: map[string][]byte{"smk-1": []byte(s)}} }

	f.store.Fail = errors.New("no space left on device")
	if _, err := f.eng.HandleEventWith(smoke, alerting.Location{}, false, state(`{"seq":7}`)); !errors.Is(err, alerting.ErrStoreFailure) {
		t.Fatalf("err %v, want ErrStoreFailure", err)
	}
	if got := f.store.DeviceState("smk-1"); got != nil {
		t.Fatalf("device state %s kept after its event's write failed", got)
	}
	f.store.Fail = nil
	commits := f.store.Commits
	r, err := f.eng.HandleEventWith(smoke, alerting.Location{}, false, state(`{"seq":7}`))
	if err != nil || r.Duplicate || r.Alarm == nil || r.Alarm.Count != 1 {
		t.Fatalf("resend after the failure: %+v %v, want a new alarm", r, err)
	}
	if n := f.store.Commits - commits; n != 1 {
		t.Fatalf("%d commits for one event with its state, want 1", n)
	}
	if got := string(f.store.DeviceState("smk-1")); got != `{"seq":7}` {
		t.Fatalf("device state %q after the event, want it stored with it", got)
	}
	// A resend of a durable event is a duplicate; the state it brings is
	// stored all the same, in a write of its own.
	r, err = f.eng.HandleEventWith(smoke, alerting.Location{}, false, state(`{"seq":7,"last":"x"}`))
	if err != nil || !r.Duplicate {
		t.Fatalf("resend of a durable event: %+v %v, want a duplicate", r, err)
	}
	if got := string(f.store.DeviceState("smk-1")); got != `{"seq":7,"last":"x"}` {
		t.Fatalf("device state %q after a duplicate, want the one it brought", got)
	}
	if open, _ := f.store.OpenAlarms(); len(open) != 1 || open[0].Count != 1 {
		t.Fatalf("%d open alarms after resends, want 1 with count 1", len(open))
	}
}

// TestReceiptGoesWithItsEvent: a receipt handed with an event is stored by
// the event's own write: not after a failed one, and in the one write of
// the event after it.
func TestReceiptGoesWithItsEvent(t *testing.T) {
	f := newFixture(t)
	smoke := devices.Event{Device: "smk-nb", Seq: 3, Type: devices.SmokeAlarm, Received: t0}
	with := alerting.With{Receipts: []alerting.Receipt{{Source: "ctwing_smoke", ID: "m-1", Device: "smk-nb", At: t0}}}
	f.store.Fail = errors.New("no space left on device")
	if _, err := f.eng.HandleEventWith(smoke, alerting.Location{}, false, with); !errors.Is(err, alerting.ErrStoreFailure) {
		t.Fatalf("err %v, want ErrStoreFailure", err)
	}
	if f.store.HasReceipt("ctwing_smoke", "m-1") {
		t.Fatal("receipt kept after its event's write failed")
	}
	f.store.Fail = nil
	commits := f.store.Commits
	if r, err := f.eng.HandleEventWith(smoke, alerting.Location{}, false, with); err != nil || r.Alarm == nil {
		t.Fatalf("resend: %+v %v", r, err)
	}
	if n := f.store.Commits - commits; n != 1 || !f.store.HasReceipt("ctwing_smoke", "m-1") {
		t.Fatalf("%d commits, receipt held %v; want 1 commit holding it", n, f.store.HasReceipt("ctwing_smoke", "m-1"))
	}
}
