package gateway_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// incidentsOf returns the open site-level incident alarms, waiting up to
// 5 s for at least n; with n = 0 it returns them at once, so a caller that
// asserts none first runs a correlation pass (CorrelateNow) after the
// change it tests.
func incidentsOf(t *testing.T, g *gatewaytest.Gateway, n int) []*alerting.Alarm {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var out []*alerting.Alarm
		for _, a := range g.Engine().Open() {
			if a.IsSite() {
				out = append(out, a)
			}
		}
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFireIncident: smoke at two detectors of one home, or smoke with gas,
// raise one P1 site-level alarm that links both, whose escalation starts
// with the operators, the supervisor and the next level at once.
func TestFireIncident(t *testing.T) {
	tests := []struct {
		name  string
		kind  string
		first []string // device id, kind, room, event
		other []string
	}{
		{"two smoke detectors", alerting.IncidentFire,
			[]string{"smk-bed", "smoke_detector", "home-12-bedroom", "smoke.alarm"},
			[]string{"smk-kit", "smoke_detector", "home-12-kitchen", "smoke.alarm"}},
		{"smoke with gas", alerting.IncidentSmokeGas,
			[]string{"smk-bed", "smoke_detector", "home-12-bedroom", "smoke.alarm"},
			[]string{"gas-kit", "gas_detector", "home-12-kitchen", "gas.alarm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReceivers(t)
			g := gatewaytest.Start(t, notifyConfig(r))
			seedNetwork(t, g)
			checkIn(t, addOperator(t, g, opLi), "qs-village", true)
			checkIn(t, addOperator(t, g, opZhang), "qs-town", true)
			d1 := install(t, g, tt.first[0], tt.first[1], tt.first[2])
			d2 := install(t, g, tt.other[0], tt.other[1], tt.other[2])
			stream := g.Admin.Stream()
			a1 := press(t, d1, tt.first[3])
			g.CorrelateNow()
			if n := len(incidentsOf(t, g, 0)); n != 0 {
				t.Fatalf("%d incidents after one alarm", n)
			}
			a2 := press(t, d2, tt.other[3])

			ins := incidentsOf(t, g, 1)
			if len(ins) != 1 {
				t.Fatalf("%d incidents, want 1", len(ins))
			}
			in := ins[0]
			raised := in.Timeline[0].Note
			if in.Subject != alerting.SubjectSite || in.Device != "" || in.Type != tt.kind || in.Priority != alerting.P1 || in.Site != "home-12" ||
				!strings.Contains(raised, a1) || !strings.Contains(raised, a2) {
				t.Fatalf("incident about %s %q %s %s at %s, raised with %q", in.Subject, in.Device, in.Type, in.Priority, in.Site, raised)
			}
			for _, id := range []string{a1, a2} {
				if len(entries(t, g, id, alerting.ActNote, "", 1)) == 0 ||
					!strings.Contains(entries(t, g, id, alerting.ActNote, "", 1)[0].Note, "part of site incident "+in.ID) {
					t.Errorf("alarm %s does not name its incident", id)
				}
			}
			// The incident's own policy: both levels at once, with the
			// Chinese name of the incident and the home's location.
			esc := entries(t, g, in.ID, alerting.ActEscalated, "", 1)
			if len(esc) == 0 || !slices.Equal(esc[0].Targets, []string{"operators", "supervisor", "next_level"}) {
				t.Fatalf("incident step 1: %+v", esc)
			}
			name := map[string]string{alerting.IncidentFire: "多处烟雾报警(疑似火情)", alerting.IncidentSmokeGas: "烟雾与燃气同时报警"}[tt.kind]
			r.wait(t, "robot:qs-village", in.ID, name, "青山县 / 青山镇 / 青山村 / 12号\n", "王秀英", opLi.display)
			r.wait(t, "robot:qs-town", in.ID, name, opZhang.display)
			if routed := alarm(t, g, in.ID).Routed; routed != "qs-village" {
				t.Errorf("incident routed to %q", routed)
			}
			// The API and the live stream show it as an alarm about the
			// site; the devices' alarm lists do not show it.
			if a := alarm(t, g, in.ID); a.Subject != alerting.SubjectSite || a.Site != "home-12" || a.Device != "" {
				t.Errorf("API: alarm %s about %q %q at %s", a.ID, a.Subject, a.Device, a.Site)
			}
			m := stream.Next(t, "raised")
			for m.Alarm.ID != in.ID {
				m = stream.Next(t, "raised")
			}
			if !m.Alarm.IsSite() || m.Alarm.Site != "home-12" || m.Alarm.Device != "" {
				t.Errorf("stream: alarm %s about %q %q at %s", m.Alarm.ID, m.Alarm.Subject, m.Alarm.Device, m.Alarm.Site)
			}
			for _, dev := range []string{tt.first[0], tt.other[0]} {
				var hist struct{ Alarms []alerting.Alarm }
				if code := g.Admin.Do("GET", "/api/v1/devices/"+dev+"/alarms", nil, &hist); code != 200 {
					t.Fatalf("GET %s's alarms: HTTP %d", dev, code)
				}
				if len(hist.Alarms) != 1 || hist.Alarms[0].Device != dev {
					t.Errorf("%s's alarms: %+v", dev, hist.Alarms)
				}
			}

			// More smoke from the same detector changes nothing: still one incident.
			d2.Press(tt.other[3])
			waitFor(t, "the repeat to be counted", func() bool { return alarm(t, g, a2).Count == 2 })
			g.CorrelateNow()
			if n := len(incidentsOf(t, g, 1)); n != 1 {
				t.Errorf("%d incidents after a repeat", n)
			}
			// An operator resolves the incident while the alarms stay open: it
			// is not raised again for them, after a restart neither.
			if code := g.Admin.Do("POST", "/api/v1/alarms/"+in.ID+"/resolve", map[string]string{"outcome": "fire_service"}, nil); code != 200 {
				t.Fatalf("resolve incident: HTTP %d", code)
			}
			g.CorrelateNow()
			if n := len(incidentsOf(t, g, 0)); n != 0 {
				t.Errorf("%d incidents raised again for the same alarms", n)
			}
			g = g.Restart()
			g.CorrelateNow()
			if n := len(incidentsOf(t, g, 0)); n != 0 {
				t.Errorf("%d incidents raised again for the same alarms", n)
			}
		})
	}
}

// TestSiteOffline: five devices of one home going silent together raise
// one site-level alarm linking them, their own P3 notifications are
// inhibited (noted on their timelines and counted), and the site alarm
// resolves itself when every device is heard again.
func TestSiteOffline(t *testing.T) {
	r := newReceivers(t)
	cfg := notifyConfig(r)
	now := alerting.Duration(0)
	cfg.EscalationPolicies = append(cfg.EscalationPolicies,
		alerting.EscalationPolicy{Priority: alerting.P2, Steps: []alerting.Step{{After: now, Targets: []string{"operators"}}}},
		alerting.EscalationPolicy{Priority: alerting.P3, Steps: []alerting.Step{{After: now, Targets: []string{"operators"}}}})
	cfg.Incidents = gateway.IncidentsConfig{OfflineHold: alerting.Duration(200 * time.Millisecond)}
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC))
	g := gatewaytest.Start(t, cfg, gatewaytest.WithClock(clock.Now))
	seedNetwork(t, g)
	checkIn(t, addOperator(t, g, opZhang), "qs-town", true)
	var ids []string
	passwords := map[string]string{}
	for i := range 5 {
		id := fmt.Sprintf("btn-%d", i+1)
		room := []string{"home-12-bedroom", "home-12-kitchen"}[i%2]
		passwords[id] = g.ProvisionWith(map[string]any{"id": id, "kind": "call_button", "site": room, "installed": true})
		ids = append(ids, id)
	}
	// A lone offline device elsewhere is notified as before.
	lone := g.ProvisionWith(map[string]any{"id": "btn-101", "kind": "call_button", "site": "qs-home-101", "installed": true})
	g.Supervise(clock.Now())
	g.Supervise(clock.Advance(10 * time.Minute))

	ins := incidentsOf(t, g, 1)
	if len(ins) != 1 || ins[0].Type != alerting.IncidentSiteOffline || !ins[0].IsSite() || ins[0].Site != "home-12" || ins[0].Priority != alerting.P2 {
		t.Fatalf("incidents: %+v", ins)
	}
	in := ins[0]
	r.wait(t, "robot:qs-town", in.ID, "站点设备成批离线")
	var offline []string
	for _, id := range ids {
		a, ok := g.Engine().OpenOf(id, alerting.TypeOffline)
		if !ok {
			t.Fatalf("%s has no offline alarm", id)
		}
		offline = append(offline, a.ID)
	}
	// The burst is seen from its fourth alarm on; the fifth joins it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		linked := alarm(t, g, in.ID).Timeline
		missing := slices.DeleteFunc(slices.Clone(offline), func(id string) bool {
			return slices.ContainsFunc(linked, func(e alerting.Entry) bool { return strings.Contains(e.Note, id) })
		})
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the site alarm does not link %v", missing)
		}
	}
	for _, id := range offline {
		notes := entries(t, g, id, alerting.ActNote, "robot:qs-town", 1)
		if len(notes) != 1 || !strings.Contains(notes[0].Note, "not sent: incident "+in.ID+" speaks for it") {
			t.Errorf("alarm %s: %+v", id, notes)
		}
		if n := len(r.calls("robot:qs-town", id)); n != 0 {
			t.Errorf("offline alarm %s was notified %d times", id, n)
		}
	}
	loneAlarm, _ := g.Engine().OpenOf("btn-101", alerting.TypeOffline)
	r.wait(t, "robot:qs-town", loneAlarm.ID, "设备离线")
	if n := waitMetric(t, g, `anxin_notifications_skipped_total{channel="robot:qs-town",reason="inhibited"}`, 5); n != 5 {
		t.Errorf("inhibited notifications counted %g, want 5", n)
	}

	// Every device back: the site alarm resolves itself.
	for _, id := range ids {
		d := g.ConnectDevice(id, passwords[id])
		if err := d.Publish("telemetry", `{"battery":90}`); err != nil {
			t.Fatal(err)
		}
	}
	_ = lone
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := alarm(t, g, in.ID)
		if a.State == alerting.Resolved && a.Outcome == alerting.OutcomeRestored {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("site alarm is %s after every device came back", a.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestInhibitingDoesNotCorrelate: the notification path asks whether a
// site incident speaks for an offline alarm without running a correlation
// (which raises alarms and writes to disk) and without waiting for one:
// a burst whose incident is not raised yet already counts.
func TestInhibitingDoesNotCorrelate(t *testing.T) {
	cfg := notifyConfig(newReceivers(t))
	cfg.Incidents = gateway.IncidentsConfig{OfflineHold: alerting.Duration(time.Hour)} // the pipeline stays out of it
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC))
	g := gatewaytest.Start(t, cfg, gatewaytest.WithClock(clock.Now))
	seedNetwork(t, g)
	release := g.HoldCorrelation() // a correlation pass stuck on the disk
	defer release()
	for i := range 5 {
		g.ProvisionWith(map[string]any{"id": fmt.Sprintf("btn-%d", i+1), "kind": "call_button", "site": "home-12-bedroom", "installed": true})
	}
	g.Supervise(clock.Now())
	g.Supervise(clock.Advance(10 * time.Minute))
	offline, ok := g.Engine().OpenOf("btn-1", alerting.TypeOffline)
	if !ok {
		t.Fatal("btn-1 has no offline alarm")
	}

	type answer struct {
		why string
		ok  bool
	}
	asked := make(chan answer, 1)
	go func() {
		why, ok := g.Inhibiting(offline)
		asked <- answer{why, ok}
	}()
	var got answer
	select {
	case got = <-asked:
	case <-time.After(5 * time.Second):
		release() // let the blocked call finish before the gateway closes
		t.Fatal("the notification path waits for a correlation pass")
	}
	if !got.ok || !strings.Contains(got.why, "site_offline incident at home-12") {
		t.Errorf("inhibiting during a burst not raised yet: %q %v", got.why, got.ok)
	}
	if n := len(incidentsOf(t, g, 0)); n != 0 {
		t.Fatalf("the notification path raised %d incidents", n)
	}

	release()
	g.CorrelateNow()
	ins := incidentsOf(t, g, 1)
	if len(ins) != 1 {
		t.Fatalf("%d incidents after the correlation pass", len(ins))
	}
	if why, ok := g.Inhibiting(offline); !ok || why != "incident "+ins[0].ID+" speaks for it" {
		t.Errorf("inhibiting once the incident is raised: %q %v", why, ok)
	}
}
