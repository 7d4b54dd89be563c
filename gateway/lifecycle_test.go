package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
)

// TestImportedDevicesAreNotSupervisedUntilHeard: 1,000 devices imported
// before they are installed are commissioning and raise no offline alarm
// however long they stay silent; the first heartbeat of one starts its
// supervision, and silence after it raises one offline alarm.
func TestImportedDevicesAreNotSupervisedUntilHeard(t *testing.T) {
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	var csv strings.Builder
	csv.WriteString("id,kind\n")
	for i := range 1000 {
		fmt.Fprintf(&csv, "b%04d,call_button\n", i)
	}
	code, res := postCSV(t, g, "", csv.String(), "text/csv")
	if code != 201 && code != 200 {
		t.Fatalf("import: HTTP %d %+v", code, res.Errors)
	}
	if len(res.Created) != 1000 {
		t.Fatalf("imported %d devices, want 1000", len(res.Created))
	}
	var v httpapi.DeviceView
	g.Admin.Do("GET", "/api/v1/devices/b0007", nil, &v)
	if v.State != "commissioning" {
		t.Fatalf("an imported device is %q, want commissioning", v.State)
	}

	g.Supervise(clock.Now())
	g.Supervise(clock.Advance(4 * time.Minute)) // a call button's window is 3 min
	g.Supervise(clock.Advance(24 * time.Hour))
	if n := len(g.Engine().Open()); n != 0 {
		t.Fatalf("%d alarms open a day after importing devices never heard, want 0", n)
	}

	// The installer fits b0007; its first heartbeat starts supervision.
	dev := g.ConnectDevice("b0007", res.Created[7].Password)
	if err := dev.Publish("status", `{"online":true,"fw":"1.4.2"}`); err != nil {
		t.Fatal(err)
	}
	g.Admin = g.Login("admin", gatewaytest.AdminPassword) // a day passed
	g.Admin.Do("GET", "/api/v1/devices/b0007", nil, &v)
	if v.State != "active" || v.Installed.IsZero() {
		t.Fatalf("after its first heartbeat b0007 is %q (installed %v), want active", v.State, v.Installed)
	}
	g.Supervise(clock.Advance(3 * time.Minute))
	if n := len(g.Engine().Open()); n != 0 {
		t.Fatalf("%d alarms open within the window after the first heartbeat", n)
	}
	g.Supervise(clock.Advance(2 * time.Second))
	open := g.Engine().Open()
	if len(open) != 1 || open[0].Device != "b0007" || open[0].Type != alerting.TypeOffline {
		t.Fatalf("after silence past the window: %d open alarms %+v, want b0007 offline", len(open), open)
	}

	// An installer may mark a device installed before it is heard.
	if code := g.Admin.Do("PATCH", "/api/v1/devices/b0008", map[string]any{"installed": true}, &v); code != 200 || v.State != "active" {
		t.Fatalf("PATCH installed: HTTP %d, state %q", code, v.State)
	}
	g.Supervise(clock.Now())
	g.Supervise(clock.Advance(3*time.Minute + time.Second))
	if _, ok := g.Engine().OpenOf("b0008", alerting.TypeOffline); !ok {
		t.Fatal("a device marked installed and silent raised no offline alarm")
	}
	if n := len(g.Engine().Open()); n != 2 {
		t.Fatalf("%d alarms open, want 2 (b0007, b0008)", n)
	}
}

// TestRemovedDeviceIsRetired: removing a device cancels its open alarms
// with outcome device_removed, an entry on each timeline, and retires it:
// its record stays (state retired, listed only with state=all), it can no
// longer connect, nothing supervises it, a second removal is refused, and
// its id is not given to a new device.
func TestRemovedDeviceIsRetired(t *testing.T) {
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	password := g.Provision("btn-1", "call_button")
	dev := g.ConnectDevice("btn-1", password)
	call := dev.Expect(dev.Press("call.press"), "received")
	g.Supervise(clock.Now())
	g.Supervise(clock.Advance(4 * time.Minute))
	off, ok := g.Engine().OpenOf("btn-1", alerting.TypeOffline)
	if !ok {
		t.Fatal("no offline alarm to cancel")
	}
	if code := g.Admin.Do("DELETE", "/api/v1/devices/btn-1", nil, nil); code != 204 {
		t.Fatalf("device rm: HTTP %d", code)
	}
	if n := len(g.Engine().Open()); n != 0 {
		t.Fatalf("%d alarms still open after the device was removed", n)
	}
	for _, id := range []string{call.Alarm, off.ID} {
		a, err := g.Engine().Get(id)
		if err != nil {
			t.Fatal(err)
		}
		last := a.Timeline[len(a.Timeline)-1]
		if a.State != alerting.Cancelled || a.Outcome != alerting.OutcomeDeviceRemoved || last.Action != alerting.ActCancelled ||
			last.Actor != "operator:admin" || !strings.Contains(last.Note, "removed") {
			t.Fatalf("alarm %s after device rm: %s/%s, last entry %+v", id, a.State, a.Outcome, last)
		}
	}

	t.Run("kept as retired", func(t *testing.T) {
		var v httpapi.DeviceView
		if code := g.Admin.Do("GET", "/api/v1/devices/btn-1", nil, &v); code != 200 || v.State != "retired" || v.Retired.IsZero() {
			t.Fatalf("GET a removed device: HTTP %d, state %q, retired %v; want 200 retired", code, v.State, v.Retired)
		}
		for _, c := range []struct {
			query string
			want  int
		}{{"", 0}, {"?state=all", 1}, {"?all=true", 1}, {"?state=retired", 1}, {"?state=active", 0}} {
			var list struct{ Devices []httpapi.DeviceView }
			if code := g.Admin.Do("GET", "/api/v1/devices"+c.query, nil, &list); code != 200 || len(list.Devices) != c.want {
				t.Errorf("GET /api/v1/devices%s: HTTP %d, %d devices, want %d", c.query, code, len(list.Devices), c.want)
			}
		}
		if code := g.Admin.Do("GET", "/api/v1/devices?state=gone", nil, nil); code != 400 {
			t.Errorf("GET ?state=gone: HTTP %d, want 400", code)
		}
		if code := g.Admin.Do("GET", "/api/v1/devices/btn-1/alarms", nil, nil); code != 200 {
			t.Errorf("the removed device's alarms: HTTP %d, want 200", code)
		}
	})
	t.Run("not reused or removed twice", func(t *testing.T) {
		var body struct{ Error, Field string }
		if code := g.Admin.Do("POST", "/api/v1/devices", map[string]any{"id": "btn-1", "kind": "call_button"}, &body); code != 409 ||
			body.Field != "id" || !strings.Contains(body.Error, "retired") {
			t.Fatalf("add a device under a retired id: HTTP %d %+v, want 409 naming the retired id", code, body)
		}
		if code := g.Admin.Do("DELETE", "/api/v1/devices/btn-1", nil, &body); code != 409 || !strings.Contains(body.Error, "removed") {
			t.Fatalf("remove twice: HTTP %d %+v, want 409", code, body)
		}
	})
	t.Run("cannot connect", func(t *testing.T) {
		if _, err := g.TryConnect("btn-1", "btn-1", password); err == nil {
			t.Fatal("a removed device connected with its old password")
		}
	})
	t.Run("not supervised", func(t *testing.T) {
		g.Supervise(clock.Advance(time.Hour))
		g.Supervise(clock.Advance(25 * time.Hour))
		if open := g.Engine().Open(); len(open) != 0 {
			t.Fatalf("%d alarms open after a removed device stayed silent, want 0: %+v", len(open), open[0])
		}
	})
	t.Run("after a restart", func(t *testing.T) {
		g = g.Restart()
		var v httpapi.DeviceView
		if code := g.Admin.Do("GET", "/api/v1/devices/btn-1", nil, &v); code != 200 || v.State != "retired" {
			t.Fatalf("after a restart the removed device is HTTP %d %q, want retired", code, v.State)
		}
		g.Supervise(clock.Advance(time.Hour))
		if open := g.Engine().Open(); len(open) != 0 {
			t.Fatalf("%d alarms open after a restart, want 0", len(open))
		}
	})
}

// TestGatewayAlarmsSendNoReassure: an alarm the gateway raised itself (an
// offline alarm, closed when the device is heard again; a low battery an
// operator resolves) never sends the device a reassurance it did not ask
// for; an alarm raised by the device's own event is answered.
func TestGatewayAlarmsSendNoReassure(t *testing.T) {
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	dev := g.ConnectDevice("btn-1", g.Provision("btn-1", "call_button"))
	if err := dev.Publish("telemetry", `{"battery":10}`); err != nil {
		t.Fatal(err)
	}
	g.Supervise(clock.Now())
	g.Supervise(clock.Advance(4 * time.Minute))
	if _, ok := g.Engine().OpenOf("btn-1", alerting.TypeOffline); !ok {
		t.Fatal("no offline alarm")
	}
	if err := dev.Publish("telemetry", `{"battery":10}`); err != nil { // restores it
		t.Fatal(err)
	}
	low, ok := g.Engine().OpenOf("btn-1", alerting.TypeBatteryLow)
	if !ok {
		t.Fatal("no low-battery alarm")
	}
	if _, err := g.Engine().Resolve(low.ID, "admin", "assisted", ""); err != nil {
		t.Fatal(err)
	}
	// The device's own press is answered, and is the first thing it hears.
	seq := dev.Press("call.press")
	select {
	case r := <-dev.Cmds:
		if r.Seq != seq {
			t.Fatalf("the device was sent %+v, want only the answer to its press %d", r, seq)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reassurance for the press")
	}
}
