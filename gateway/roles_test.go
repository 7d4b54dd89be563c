package gateway_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
)

// TestAlarmReadingByRole is the table of role × alarm-reading endpoint:
// operators read residents' alarms and never walk-test ones; installers
// read their walk-test alarms and device health and nothing of residents'
// alarms; admins read both. Two devices are real (btn-r1, btn-r2) and two
// in walk test (btn-t1, btn-t2); they press in the order r1, t1, r2, t2,
// so that on every ordered stream a frame that must not arrive would come
// before the last one that must.
func TestAlarmReadingByRole(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	clients := map[state.Role]*gatewaytest.Client{
		state.RoleAdmin:     g.Admin,
		state.RoleOperator:  g.AddUser("li", state.RoleOperator),
		state.RoleInstaller: g.AddUser("wu", state.RoleInstaller),
	}
	devs := map[string]*gatewaytest.Device{}
	for _, id := range []string{"btn-r1", "btn-t1", "btn-r2", "btn-t2"} {
		devs[id] = g.ConnectDevice(id, g.Provision(id, "call_button"))
		if strings.Contains(id, "-t") {
			if code := g.Admin.Do("POST", "/api/v1/devices/"+id+"/test", map[string]bool{"on": true}, nil); code != 200 {
				t.Fatalf("walk test on %s: HTTP %d", id, code)
			}
		}
	}
	roles := []state.Role{state.RoleAdmin, state.RoleOperator, state.RoleInstaller}
	streams := map[state.Role]*gatewaytest.Stream{}
	for _, role := range roles {
		streams[role] = clients[role].Stream()
	}
	watches := map[state.Role]*gatewaytest.Watch{
		state.RoleAdmin:     g.Admin.Watch("btn-r1"),
		state.RoleInstaller: clients[state.RoleInstaller].Watch("btn-r1"),
	}
	alarmOf := map[string]string{}
	for _, id := range []string{"btn-r1", "btn-t1", "btn-r2", "btn-t2"} {
		d := devs[id]
		alarmOf[id] = d.Expect(d.Press("call.press"), "received").Alarm
	}
	// A status message ends each watch with a health event everyone may see.
	if err := devs["btn-r1"].Publish("status", `{"online":true,"fw":"1.4.2"}`); err != nil {
		t.Fatal(err)
	}

	sees := map[state.Role][]string{
		state.RoleAdmin:     {"btn-r1", "btn-t1", "btn-r2", "btn-t2"},
		state.RoleOperator:  {"btn-r1", "btn-r2"},
		state.RoleInstaller: {"btn-t1", "btn-t2"},
	}
	for _, role := range roles {
		t.Run(string(role)+"/stream", func(t *testing.T) {
			want := sees[role]
			var got []string
			for len(got) < len(want) {
				got = append(got, streams[role].Next(t, "raised").Alarm.Device)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("stream raised alarms of %v, want %v", got, want)
			}
		})
		for _, dev := range []string{"btn-r1", "btn-t1"} {
			t.Run(string(role)+"/devices/"+dev+"/alarms", func(t *testing.T) {
				var out struct{ Alarms []alerting.Alarm }
				if code := clients[role].Do("GET", "/api/v1/devices/"+dev+"/alarms", nil, &out); code != 200 {
					t.Fatalf("HTTP %d", code)
				}
				var got []string
				for _, a := range out.Alarms {
					got = append(got, a.ID)
				}
				var want []string
				if slices.Contains(sees[role], dev) {
					want = []string{alarmOf[dev]}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("alarms %v, want %v", got, want)
				}
			})
		}
		for _, c := range []struct{ name, path string }{
			{"alarms", "/api/v1/alarms"},
			{"alarms?test=true", "/api/v1/alarms?test=true&state=all"},
			{"alarm", "/api/v1/alarms/" + alarmOf["btn-r1"]},
			{"sla", "/api/v1/reports/sla"},
		} {
			t.Run(string(role)+"/"+c.name, func(t *testing.T) {
				want := 200
				if role == state.RoleInstaller {
					want = 403
				}
				if code := clients[role].Do("GET", c.path, nil, nil); code != want {
					t.Fatalf("HTTP %d, want %d", code, want)
				}
			})
		}
	}
	// Watching a resident's device, an installer sees its health, not its
	// alarms, events or reassurances; an admin sees all of it.
	for role, w := range watches {
		t.Run(string(role)+"/watch", func(t *testing.T) {
			var kinds []string
			deadline := time.After(5 * time.Second)
			for !slices.Contains(kinds, "health") {
				select {
				case e := <-w.Events:
					kinds = append(kinds, e.Kind)
					if e.Kind == "alarm" {
						var m httpapi.StreamMessage
						json.Unmarshal(e.Data, &m)
						if m.Alarm == nil || m.Alarm.Device != "btn-r1" {
							t.Fatalf("watch of btn-r1 sent an alarm of another device: %s", e.Data)
						}
					}
				case <-deadline:
					t.Fatalf("no health event within 5 s; got %v", kinds)
				}
			}
			private := slices.ContainsFunc(kinds, func(k string) bool { return k == "alarm" || k == "event" || k == "reassure" })
			if private != (role == state.RoleAdmin) {
				t.Fatalf("%s watching a resident's device got %v", role, kinds)
			}
		})
	}
}
