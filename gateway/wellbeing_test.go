package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// careStart is 08:00 in Asia/Shanghai, the default zone of the rules.
var careStart = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func careGateway(t *testing.T, clock *alertingtest.Clock, rules map[string]any) *gatewaytest.Gateway {
	t.Helper()
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	g.SeedSites()
	var e struct{ Error string }
	if code := g.Admin.Do("PATCH", "/api/v1/residents/wang-xy", rules, &e); code != 200 {
		t.Fatalf("set wellbeing rules: HTTP %d %s", code, e.Error)
	}
	return g
}

func openOfType(g *gatewaytest.Gateway, typ string) []*alerting.Alarm {
	var out []*alerting.Alarm
	for _, a := range g.Engine().Open() {
		if a.Type == typ {
			out = append(out, a)
		}
	}
	return out
}

func event(t *testing.T, d *gatewaytest.Device, seq int, typ string) {
	t.Helper()
	if err := d.Publish("event", fmt.Sprintf(`{"seq":%d,"type":%q}`, seq, typ)); err != nil {
		t.Fatal(err)
	}
}

// TestWellbeingNoActivity: an elder whose motion sensor stops for the
// configured hours raises one P2 about their home, naming them, also when
// the gateway restarted in between; activity resolves it.
func TestWellbeingNoActivity(t *testing.T) {
	clock := alertingtest.NewClock(careStart)
	g := careGateway(t, clock, map[string]any{"wellbeing": map[string]any{"no_activity_hours": 4}})
	pw := g.ProvisionWith(map[string]any{"id": "pir-1", "kind": "motion_sensor", "site": "home-12-bedroom", "installed": true})
	pir := g.ConnectDevice("pir-1", pw)
	event(t, pir, 1, "activity.motion") // 08:00
	g.Supervise(clock.Advance(2 * time.Hour))
	g = g.Restart() // 10:00
	g.Supervise(clock.Advance(2*time.Hour - time.Minute))
	if n := len(openOfType(g, gateway.TypeNoActivity)); n != 0 {
		t.Fatalf("%d no-activity alarms after 3h59m", n)
	}
	g.Supervise(clock.Advance(2 * time.Minute)) // 12:01
	g.Supervise(clock.Advance(time.Minute))
	open := openOfType(g, gateway.TypeNoActivity)
	if len(open) != 1 {
		t.Fatalf("%d no-activity alarms after 4h01m of stillness across a restart, want 1", len(open))
	}
	a := open[0]
	if a.Priority != alerting.P2 || !a.IsSite() || a.Site != "home-12" || a.Resident != "王秀英" {
		t.Fatalf("no-activity alarm %+v: want P2 about home-12 naming 王秀英", a)
	}
	pir = g.ConnectDevice("pir-1", pw)
	event(t, pir, 2, "activity.motion")
	got, _ := g.Engine().Get(a.ID)
	if got.State != alerting.Resolved || got.Outcome != alerting.OutcomeRestored {
		t.Fatalf("after motion the alarm is %s/%s, want resolved/restored", got.State, got.Outcome)
	}
	g.Supervise(clock.Advance(time.Hour))
	if n := len(openOfType(g, gateway.TypeNoActivity)); n != 0 {
		t.Fatalf("%d no-activity alarms an hour after motion", n)
	}
}

// TestWellbeingMissedCheckin: no check-in by 09:00 raises a P2; a press on
// the check-in button is answered checked_in, raises no call alarm and
// resolves it; a check-in before the deadline the next day, stored across
// a restart, raises nothing.
func TestWellbeingMissedCheckin(t *testing.T) {
	clock := alertingtest.NewClock(careStart)
	g := careGateway(t, clock, map[string]any{"wellbeing": map[string]any{"checkin_by": "09:00"}})
	pw := g.ProvisionWith(map[string]any{"id": "ck-1", "kind": "call_button", "resident": "wang-xy",
		"site": "home-12-bedroom", "checkin": true, "installed": true})
	ck := g.ConnectDevice("ck-1", pw)
	g.Supervise(clock.Now())
	g.Supervise(clock.Advance(time.Hour + time.Second)) // 09:00:01
	open := openOfType(g, gateway.TypeMissedCheckin)
	if len(open) != 1 || open[0].Priority != alerting.P2 || open[0].Site != "home-12" || open[0].Resident != "王秀英" {
		t.Fatalf("missed check-in alarms %+v, want one P2 about home-12", open)
	}
	ck.Expect(ck.Press("call.press"), gateway.StateCheckedIn)
	if n := len(g.Engine().Open()); n != 0 {
		t.Fatalf("%d alarms open after a check-in press, want 0 (no call alarm, missed check-in resolved)", n)
	}
	if a, _ := g.Engine().Get(open[0].ID); a.State != alerting.Resolved {
		t.Fatalf("the missed check-in is %s after the press", a.State)
	}
	g.Supervise(clock.Advance(time.Hour))

	// The next day: checked in at 08:30, then a restart.
	g.Supervise(clock.Advance(22*time.Hour + 30*time.Minute))
	ck.Expect(ck.Press("call.press"), gateway.StateCheckedIn)
	g = g.Restart()
	g.Supervise(clock.Advance(time.Hour)) // 09:30
	if n := len(openOfType(g, gateway.TypeMissedCheckin)); n != 0 {
		t.Fatalf("%d missed check-in alarms after a check-in before the deadline and a restart", n)
	}
	// The day after, nobody presses.
	g.Supervise(clock.Advance(24 * time.Hour))
	g.Supervise(clock.Advance(time.Minute))
	if n := len(openOfType(g, gateway.TypeMissedCheckin)); n != 1 {
		t.Fatalf("%d missed check-in alarms on the third day, want 1", n)
	}
}

// TestWellbeingAway: a resident marked away raises nothing, however still
// and silent; the rules count again from the end of the absence.
func TestWellbeingAway(t *testing.T) {
	clock := alertingtest.NewClock(careStart)
	away := careStart.Add(48 * time.Hour).Format(time.RFC3339)
	g := careGateway(t, clock, map[string]any{"away_until": away,
		"wellbeing": map[string]any{"no_activity_hours": 2, "checkin_by": "09:00"}})
	for range 4 * 48 { // four days
		g.Supervise(clock.Advance(30 * time.Minute))
		if clock.Now().Before(careStart.Add(48 * time.Hour)) {
			if n := len(g.Engine().Open()); n != 0 {
				t.Fatalf("%d alarms open at %s while the resident is away", n, clock.Now())
			}
		}
	}
	g = g.Restart()
	g.Supervise(clock.Now())
	if n := len(openOfType(g, gateway.TypeNoActivity)); n != 1 {
		t.Fatalf("%d no-activity alarms two days after the resident came back, want 1", n)
	}
	if n := len(openOfType(g, gateway.TypeMissedCheckin)); n != 1 {
		t.Fatalf("%d missed check-in alarms two days after the resident came back, want 1", n)
	}
}
