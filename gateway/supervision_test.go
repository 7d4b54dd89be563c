package gateway_test

import (
	"slices"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/state"
)

// TestSupervisionOnFakeClock: a silent device raises a P3 offline alarm
// after its window, naming where it is and who uses it; its next message
// resolves the alarm by itself.
func TestSupervisionOnFakeClock(t *testing.T) {
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	g.SeedSites()
	pw := g.ProvisionWith(map[string]any{"id": "btn-9", "kind": "call_button",
		"site": "home-12-bedroom", "resident": "wang-xy", "location": "床头"})
	dev := g.ConnectDevice("btn-9", pw)
	if err := dev.Publish("telemetry", `{"battery":80}`); err != nil {
		t.Fatal(err)
	}
	start := clock.Now()
	g.Supervise(start)

	// A call button's window is 3 heartbeats of 60 s.
	g.Supervise(clock.Advance(3 * time.Minute))
	if _, ok := g.Engine().OpenOf("btn-9", alerting.TypeOffline); ok {
		t.Fatal("offline at exactly the window")
	}
	g.Supervise(clock.Advance(time.Second))
	a, ok := g.Engine().OpenOf("btn-9", alerting.TypeOffline)
	if !ok {
		t.Fatal("no offline alarm after 3 min 1 s of silence")
	}
	if a.Priority != alerting.P3 || a.Resident != "王秀英" || !slices.Equal(a.Location, []string{"青山市", "青山县", "青山镇", "青山村", "12号", "卧室", "床头"}) || a.Site != "home-12-bedroom" {
		t.Fatalf("offline alarm %+v does not name priority, room and resident", a)
	}
	// Still silent: no second alarm.
	g.Supervise(clock.Advance(time.Hour))
	if n := len(g.Engine().Open()); n != 1 {
		t.Fatalf("%d open alarms after an hour of silence, want 1", n)
	}
	// Traffic restores it.
	clock.Advance(time.Second)
	if err := dev.Publish("telemetry", `{"battery":79}`); err != nil {
		t.Fatal(err)
	}
	got, _ := g.Engine().Get(a.ID)
	if got.State != alerting.Resolved || got.Outcome != alerting.OutcomeRestored {
		t.Fatalf("after traffic the offline alarm is %s/%s, want resolved/restored", got.State, got.Outcome)
	}
	// A low battery reading raises P3 once.
	dev.Publish("telemetry", `{"battery":12}`)
	dev.Publish("telemetry", `{"battery":11}`)
	low, ok := g.Engine().OpenOf("btn-9", alerting.TypeBatteryLow)
	if !ok || low.Priority != alerting.P3 || low.Count != 1 {
		t.Fatalf("low battery: %+v %v", low, ok)
	}
}

// TestWalkTestNeverReachesOperators: while a device is in test mode its
// alarms go to the installer's view and watch, never to an operator, and
// never escalate.
func TestWalkTestNeverReachesOperators(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	op := g.AddUser("li", state.RoleOperator)
	inst := g.AddUser("zhao", state.RoleInstaller)
	opStream := op.Stream()
	instStream := inst.Stream()
	pw := g.ProvisionWith(map[string]any{"id": "smk-test", "kind": "smoke_detector", "test": true})
	watch := inst.Watch("smk-test")
	dev := g.ConnectDevice("smk-test", pw)

	seq := dev.Press("smoke.alarm")
	r := dev.Expect(seq, "received")
	if m := instStream.Next(t, "raised"); m.Alarm.ID != r.Alarm || !m.Alarm.Test {
		t.Fatalf("installer stream: %+v", m.Alarm)
	}
	// The installer standing in the room sees the event, the alarm and the reassurance.
	for _, want := range []string{"event", "alarm", "reassure"} {
		watch.NextKind(t, want)
	}
	var open struct{ Alarms []alerting.Alarm }
	op.Do("GET", "/api/v1/alarms?state=open", nil, &open)
	if len(open.Alarms) != 0 {
		t.Fatalf("operator sees %d walk-test alarms", len(open.Alarms))
	}
	// A real alarm still reaches the operator, and is the first thing they see.
	real := g.ConnectDevice("btn-real", g.Provision("btn-real", "call_button"))
	real.Expect(real.Press("call.press"), "received")
	if m := opStream.Next(t, "raised"); m.Alarm.Device != "btn-real" {
		t.Fatalf("operator stream showed %s first, want btn-real", m.Alarm.Device)
	}
	if err := g.Engine().Tick(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	a, _ := g.Engine().Get(r.Alarm)
	for _, e := range a.Timeline {
		if e.Action == alerting.ActEscalated {
			t.Fatal("a walk-test alarm escalated")
		}
	}
}
