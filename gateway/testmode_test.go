package gateway_test

import (
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

var testModeStart = time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)

// setTest switches walk-test mode through the API and returns the device.
func setTest(t *testing.T, c *gatewaytest.Client, id string, body map[string]any) httpapi.DeviceView {
	t.Helper()
	var v httpapi.DeviceView
	if code := c.Do("POST", "/api/v1/devices/"+id+"/test", body, &v); code != 200 {
		t.Fatalf("POST test %v: HTTP %d", body, code)
	}
	return v
}

func getDevice(t *testing.T, c *gatewaytest.Client, id string) httpapi.DeviceView {
	t.Helper()
	var v httpapi.DeviceView
	if code := c.Do("GET", "/api/v1/devices/"+id, nil, &v); code != 200 {
		t.Fatalf("GET device %s: HTTP %d", id, code)
	}
	return v
}

// nextConfig waits for the next config command on the device's cmd topic.
func nextConfig(t *testing.T, d *gatewaytest.Device) gateway.DeviceConfig {
	t.Helper()
	select {
	case c := <-d.Configs:
		return c
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no config command within 5 s", d.ID)
	}
	return gateway.DeviceConfig{}
}

// TestWalkTestExpires: test mode turned on and forgotten ends by itself at
// its deadline (2 h by default); the device, the device list and /metrics
// show it while it lasts, and the next press after it goes to operators.
func TestWalkTestExpires(t *testing.T) {
	clock := alertingtest.NewClock(testModeStart)
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	inst := g.AddUser("zhao", state.RoleInstaller)
	op := g.AddUser("li", state.RoleOperator)
	dev := g.ConnectDevice("btn-1", g.Provision("btn-1", "call_button"))

	v := setTest(t, inst, "btn-1", map[string]any{"on": true})
	until := testModeStart.Add(registry.DefaultTestDuration)
	if !v.TestMode || !v.TestUntil.Equal(until) || registry.DefaultTestDuration != 2*time.Hour {
		t.Fatalf("after on: test_mode %v test_until %v, want true %v", v.TestMode, v.TestUntil, until)
	}
	if c := nextConfig(t, dev); !c.TestMode || c.TestUntil != until.UnixMilli() {
		t.Fatalf("device told %+v, want test_mode true until %d", c, until.UnixMilli())
	}
	if n := g.Metric("anxin_devices_in_test_mode"); n != 1 {
		t.Fatalf("anxin_devices_in_test_mode = %v, want 1", n)
	}
	var list struct{ Devices []httpapi.DeviceView }
	op.Do("GET", "/api/v1/devices", nil, &list)
	if len(list.Devices) != 1 || !list.Devices[0].TestMode || !list.Devices[0].TestUntil.Equal(until) {
		t.Fatalf("device list: %+v", list.Devices)
	}

	// One second past the deadline, before any sweep: a press is real.
	clock.Advance(registry.DefaultTestDuration + time.Second)
	opStream := op.Stream()
	r := dev.Expect(dev.Press("call.press"), "received")
	// (The silent device's own offline alarm may come first on this clock.)
	m := opStream.Next(t, "raised")
	for m.Alarm.ID != r.Alarm {
		m = opStream.Next(t, "raised")
	}
	if m.Alarm.Test {
		t.Fatalf("operator stream after expiry: %+v", m.Alarm)
	}
	if v := getDevice(t, op, "btn-1"); v.TestMode || !v.TestUntil.IsZero() {
		t.Fatalf("after the deadline the API shows test_mode %v until %v", v.TestMode, v.TestUntil)
	}
	// The sweep ends it in the registry and tells the device.
	g.Supervise(clock.Now())
	if c := nextConfig(t, dev); c.TestMode {
		t.Fatalf("device told %+v after expiry, want test_mode false", c)
	}
	if n := g.Metric("anxin_devices_in_test_mode"); n != 0 {
		t.Fatalf("anxin_devices_in_test_mode = %v after expiry, want 0", n)
	}
	if d, _ := g.Registry().Get("btn-1"); d.Test {
		t.Fatal("the registry still has the device in test mode after the sweep")
	}
}

// TestWalkTestDuration: the installer may give a duration, at most a day.
func TestWalkTestDuration(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	inst := g.AddUser("zhao", state.RoleInstaller)
	g.Provision("btn-1", "call_button")
	for _, tc := range []struct {
		duration any
		code     int
	}{
		{"30m", 200}, {"24h", 200}, {"24h1s", 400}, {"0s", 400}, {"-5m", 400}, {"soon", 400}, {1800, 200},
	} {
		var e struct{ Field string }
		code := inst.Do("POST", "/api/v1/devices/btn-1/test", map[string]any{"on": true, "duration": tc.duration}, &e)
		if code != tc.code || code == 400 && e.Field != "duration" {
			t.Errorf("duration %v: HTTP %d field %q, want %d", tc.duration, code, e.Field, tc.code)
		}
	}
	before := time.Now()
	v := setTest(t, inst, "btn-1", map[string]any{"on": true, "duration": "30m"})
	if d := v.TestUntil.Sub(before); d < 30*time.Minute-time.Second || d > 30*time.Minute+time.Minute {
		t.Fatalf("30m test mode ends in %v", d)
	}
	if v := setTest(t, inst, "btn-1", map[string]any{"on": false}); v.TestMode || !v.TestUntil.IsZero() {
		t.Fatalf("after off: %v %v", v.TestMode, v.TestUntil)
	}
}

// TestWalkTestExpirySurvivesRestart: the deadline is stored, so a gateway
// restarted during a walk test still ends it on time.
func TestWalkTestExpirySurvivesRestart(t *testing.T) {
	clock := alertingtest.NewClock(testModeStart)
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	pw := g.Provision("btn-1", "call_button")
	setTest(t, g.Admin, "btn-1", map[string]any{"on": true, "duration": "30m"})
	g = g.Restart()
	if v := getDevice(t, g.Admin, "btn-1"); !v.TestMode || !v.TestUntil.Equal(testModeStart.Add(30*time.Minute)) {
		t.Fatalf("after restart: test_mode %v until %v", v.TestMode, v.TestUntil)
	}
	dev := g.ConnectDevice("btn-1", pw)
	clock.Advance(31 * time.Minute)
	r := dev.Expect(dev.Press("call.press"), "received")
	if a, _ := g.Engine().Get(r.Alarm); a.Test {
		t.Fatal("a press after the stored deadline was still a walk-test alarm")
	}
}

// TestUnwatchedWalkTestP1ReachesOperators: a P1 from a device in test mode
// that no installer watches or takes within a minute goes to operators,
// marked test_mode, and escalates from then on.
func TestUnwatchedWalkTestP1ReachesOperators(t *testing.T) {
	clock := alertingtest.NewClock(testModeStart)
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	op := g.AddUser("li", state.RoleOperator)
	dev := g.ConnectDevice("btn-1", g.ProvisionWith(map[string]any{"id": "btn-1", "kind": "call_button", "test": true}))
	opStream := op.Stream()

	r := dev.Expect(dev.Press("call.press"), "received")
	tick := func(d time.Duration) *alerting.Alarm {
		t.Helper()
		if err := g.Engine().Tick(clock.Advance(d)); err != nil {
			t.Fatal(err)
		}
		a, err := g.Engine().Get(r.Alarm)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := tick(alerting.DefaultTestGrace - time.Second); !a.Test {
		t.Fatal("handed to operators before the grace minute was over")
	}
	var open struct{ Alarms []alerting.Alarm }
	op.Do("GET", "/api/v1/alarms?state=open", nil, &open)
	if len(open.Alarms) != 0 {
		t.Fatalf("operator sees %d alarms within the grace minute", len(open.Alarms))
	}
	a := tick(time.Second)
	if a.Test || !a.TestMode {
		t.Fatalf("after a minute unwatched: test %v test_mode %v, want false, true", a.Test, a.TestMode)
	}
	m := opStream.Next(t, string(alerting.ActTestUnwatched))
	if m.Alarm.ID != r.Alarm || !m.Alarm.TestMode {
		t.Fatalf("operator stream: %+v", m.Alarm)
	}
	op.Do("GET", "/api/v1/alarms?state=open", nil, &open)
	if len(open.Alarms) != 1 || !open.Alarms[0].TestMode {
		t.Fatalf("operator's open alarms: %+v", open.Alarms)
	}
	// It escalates like any P1 now: the 30 s and 60 s steps are overdue.
	a = tick(0)
	steps := 0
	for _, e := range a.Timeline {
		if e.Action == alerting.ActEscalated {
			steps++
		}
	}
	if steps == 0 {
		t.Fatalf("handed-over alarm did not escalate: %+v", a.Timeline)
	}
}

// TestWatchedWalkTestStaysWithInstaller: an installer who has the device's
// watch open, or who took the test alarm, is watching: the alarm stays a
// walk-test alarm.
func TestWatchedWalkTestStaysWithInstaller(t *testing.T) {
	clock := alertingtest.NewClock(testModeStart)
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	inst := g.AddUser("zhao", state.RoleInstaller)
	watched := g.ConnectDevice("btn-w", g.ProvisionWith(map[string]any{"id": "btn-w", "kind": "call_button", "test": true}))
	taken := g.ConnectDevice("btn-a", g.ProvisionWith(map[string]any{"id": "btn-a", "kind": "call_button", "test": true}))
	inst.Watch("btn-w")

	rw := watched.Expect(watched.Press("call.press"), "received")
	ra := taken.Expect(taken.Press("call.press"), "received")
	if code := g.Admin.Do("POST", "/api/v1/alarms/"+ra.Alarm+"/ack", map[string]string{}, nil); code != 200 {
		t.Fatalf("ack: HTTP %d", code)
	}
	if err := g.Engine().Tick(clock.Advance(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{rw.Alarm, ra.Alarm} {
		if a, _ := g.Engine().Get(id); !a.Test || a.TestMode {
			t.Errorf("alarm %s of %s: test %v test_mode %v, want a walk-test alarm still", id, a.Device, a.Test, a.TestMode)
		}
	}
}

// TestRealPressOnOpenWalkTestAlarm: a press after test mode ended, while
// the walk-test alarm of the same type is still open, reaches operators:
// it is not hidden as a repeat of the test alarm.
func TestRealPressOnOpenWalkTestAlarm(t *testing.T) {
	clock := alertingtest.NewClock(testModeStart)
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	inst := g.AddUser("zhao", state.RoleInstaller)
	op := g.AddUser("li", state.RoleOperator)
	dev := g.ConnectDevice("btn-1", g.Provision("btn-1", "call_button"))
	setTest(t, inst, "btn-1", map[string]any{"on": true, "duration": "10m"})
	inst.Watch("btn-1")
	r := dev.Expect(dev.Press("call.press"), "received")
	if code := g.Admin.Do("POST", "/api/v1/alarms/"+r.Alarm+"/ack", map[string]string{}, nil); code != 200 {
		t.Fatalf("ack: HTTP %d", code)
	}
	clock.Advance(11 * time.Minute)
	opStream := op.Stream()
	dev.Expect(dev.Press("call.press"), "received")
	m := opStream.Next(t, string(alerting.ActTestUnwatched))
	if m.Alarm.ID != r.Alarm || m.Alarm.Test || !m.Alarm.TestMode {
		t.Fatalf("operator stream: %+v", m.Alarm)
	}
}
