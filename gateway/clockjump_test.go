package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestEdgeClockJumpNeitherFiresNorHolds: a box without a real-time clock
// runs with its date a year off until NTP puts it right in one step. Such a
// jump, either way, neither fires a P1's escalation early nor holds it (its
// first step fires 30 s after the press, by elapsed time, once), nor calls a
// device offline early or late (3 min 1 s of silence, by elapsed time).
func TestEdgeClockJumpNeitherFiresNorHolds(t *testing.T) {
	const year = 365 * 24 * time.Hour
	for _, jump := range []time.Duration{-year, year} {
		t.Run(jump.String(), func(t *testing.T) {
			clock := alertingtest.NewClock(time.Date(2025, 11, 23, 1, 0, 0, 0, time.UTC))
			g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now), gatewaytest.WithElapsed(clock.Elapsed))
			g.SeedSites()
			pw := g.ProvisionWith(map[string]any{"id": "btn-9", "kind": "call_button", "site": "home-12-bedroom"})
			dev := g.ConnectDevice("btn-9", pw)
			g.Supervise(clock.Now())
			dev.Press("call.press") // heard at +0 s; the P1 escalates at +30 s (DefaultPolicies)
			a, ok := g.Engine().OpenOf("btn-9", alerting.TypeCall)
			if !ok {
				t.Fatal("no call alarm after a press")
			}
			steps := func(at time.Time) []int {
				t.Helper()
				if err := g.Engine().Tick(at); err != nil {
					t.Fatal(err)
				}
				got, err := g.Engine().Get(a.ID)
				if err != nil {
					t.Fatal(err)
				}
				var out []int
				for _, e := range got.Timeline {
					if e.Action == alerting.ActEscalated {
						out = append(out, e.Step)
					}
				}
				return out
			}
			clock.Advance(10 * time.Second)
			clock.Jump(jump)
			// Any reading of the engine's clock finds the jump; its Run loop
			// reads it every 5 s.
			g.Engine().NextDue()
			g.Supervise(clock.Now())
			if s := steps(clock.Advance(19 * time.Second)); len(s) != 0 {
				t.Fatalf("escalation steps %v at +29 s, want none yet", s)
			}
			if _, ok := g.Engine().OpenOf("btn-9", alerting.TypeOffline); ok {
				t.Fatal("offline at +29 s")
			}
			if s := steps(clock.Advance(time.Second)); len(s) != 1 || s[0] != 1 {
				t.Fatalf("escalation steps %v at +30 s, want [1]", s)
			}
			g.Supervise(clock.Advance(2*time.Minute + 30*time.Second))
			if _, ok := g.Engine().OpenOf("btn-9", alerting.TypeOffline); ok {
				t.Fatal("offline after 3 min of silence, at exactly the window")
			}
			g.Supervise(clock.Advance(time.Second))
			off, ok := g.Engine().OpenOf("btn-9", alerting.TypeOffline)
			if !ok {
				t.Fatal("not offline after 3 min 1 s of silence")
			}
			if !strings.Contains(off.Timeline[0].Note, "no message for 3m1s") {
				t.Errorf("offline note %q, want the silence by elapsed time", off.Timeline[0].Note)
			}
			if s := steps(clock.Now()); len(s) != 2 {
				t.Errorf("escalation steps %v at +3m01s, want [1 2], each once", s)
			}
		})
	}
}

// TestEdgeClockJumpMovesWallDeadlines: the deadlines the gateway keeps in
// wall time move with a jump of a year either way: a two-hour walk test
// ends two hours after it began, by elapsed time, and a resident still for
// four hours raises the no-activity alarm after four hours, not at once
// and not a year late.
func TestEdgeClockJumpMovesWallDeadlines(t *testing.T) {
	const year = 365 * 24 * time.Hour
	for _, jump := range []time.Duration{-year, year} {
		t.Run(jump.String(), func(t *testing.T) {
			clock := alertingtest.NewClock(careStart)
			g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now), gatewaytest.WithElapsed(clock.Elapsed))
			g.SeedSites()
			var e struct{ Error string }
			if code := g.Admin.Do("PATCH", "/api/v1/residents/wang-xy", map[string]any{"wellbeing": map[string]any{"no_activity_hours": 4}}, &e); code != 200 {
				t.Fatalf("set wellbeing rules: HTTP %d %s", code, e.Error)
			}
			pw := g.ProvisionWith(map[string]any{"id": "pir-1", "kind": "motion_sensor", "site": "home-12-bedroom", "installed": true})
			event(t, g.ConnectDevice("pir-1", pw), 1, "activity.motion")
			g.ProvisionWith(map[string]any{"id": "smk-t", "kind": "smoke_detector", "site": "home-12-kitchen", "installed": true, "test": true})
			g.Supervise(clock.Now())

			clock.Advance(time.Hour)
			g.Supervise(clock.Jump(jump))
			inTest := func() bool {
				d, ok := g.Registry().Get("smk-t")
				return ok && d.Test
			}
			g.Supervise(clock.Advance(time.Hour - time.Minute))
			if !inTest() {
				t.Fatal("walk test over 1h59m after it began")
			}
			if n := len(openOfType(g, gateway.TypeNoActivity)); n != 0 {
				t.Fatalf("%d no-activity alarms after 1h59m of stillness", n)
			}
			g.Supervise(clock.Advance(2 * time.Minute))
			if inTest() {
				t.Fatal("walk test still on 2h01m after it began")
			}
			g.Supervise(clock.Advance(2*time.Hour - 4*time.Minute))
			if n := len(openOfType(g, gateway.TypeNoActivity)); n != 0 {
				t.Fatalf("%d no-activity alarms after 3h59m of stillness", n)
			}
			g.Supervise(clock.Advance(2 * time.Minute))
			g.Supervise(clock.Advance(time.Minute))
			if n := len(openOfType(g, gateway.TypeNoActivity)); n != 1 {
				t.Fatalf("%d no-activity alarms after 4h01m of stillness, want 1", n)
			}
		})
	}
}

// TestEdgeClockBehindAfterRestart: a box restarts with its clock a year
// behind what it stored (no real-time clock), and NTP corrects it an hour
// later. A walk test whose deadline is now more than a day away is ended
// at once (the safe side), not left on for a year; the wellbeing records
// count the restart as taking no time, so the no-activity alarm rises four
// hours after the last stored activity plus the hour the box ran before
// the restart, not a year late.
func TestEdgeClockBehindAfterRestart(t *testing.T) {
	const year = 365 * 24 * time.Hour
	clock := alertingtest.NewClock(careStart)
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now), gatewaytest.WithElapsed(clock.Elapsed))
	g.SeedSites()
	var e struct{ Error string }
	if code := g.Admin.Do("PATCH", "/api/v1/residents/wang-xy", map[string]any{"wellbeing": map[string]any{"no_activity_hours": 4}}, &e); code != 200 {
		t.Fatalf("set wellbeing rules: HTTP %d %s", code, e.Error)
	}
	pw := g.ProvisionWith(map[string]any{"id": "pir-1", "kind": "motion_sensor", "site": "home-12-bedroom", "installed": true})
	event(t, g.ConnectDevice("pir-1", pw), 1, "activity.motion")
	g.ProvisionWith(map[string]any{"id": "smk-t", "kind": "smoke_detector", "site": "home-12-kitchen", "installed": true, "test": true})
	g.Supervise(clock.Now())
	g.Supervise(clock.Advance(time.Hour))

	clock.Jump(-year)
	g = g.Restart()
	g.Supervise(clock.Now())
	if d, _ := g.Registry().Get("smk-t"); d.Test {
		t.Fatalf("walk test still on after a restart with the clock a year behind (until %s)", d.TestUntil)
	}
	g.Supervise(clock.Advance(30 * time.Minute))
	g.Supervise(clock.Jump(year)) // NTP
	g.Supervise(clock.Advance(3*time.Hour + 29*time.Minute))
	if n := len(openOfType(g, gateway.TypeNoActivity)); n != 0 {
		t.Fatalf("%d no-activity alarms 3h59m after the restart", n)
	}
	g.Supervise(clock.Advance(2 * time.Minute))
	g.Supervise(clock.Advance(time.Minute))
	if n := len(openOfType(g, gateway.TypeNoActivity)); n != 1 {
		t.Fatalf("%d no-activity alarms 4h01m after the restart, want 1", n)
	}
}
