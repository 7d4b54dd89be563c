package gateway_test

import (
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
)

// bulkFixture starts a gateway with SiteTree and a second village, three
// offline P3 alarms and one P1 call at home-12's bedroom, and returns the
// P3 alarm ids and the P1 alarm's.
func bulkFixture(t *testing.T) (g *gatewaytest.Gateway, ids []string, call string) {
	t.Helper()
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	g = gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	g.SeedSites()
	if code := g.Admin.Do("POST", "/api/v1/sites", map[string]any{"id": "ls-village", "name": "柳树村", "level": "village", "parent": "qs-town"}, nil); code != 201 {
		t.Fatalf("add site ls-village: HTTP %d", code)
	}
	for _, id := range []string{"btn-1", "btn-2", "btn-3"} {
		g.ProvisionWith(map[string]any{"id": id, "kind": "call_button", "site": "home-12-bedroom", "installed": true})
	}
	dev := g.ConnectDevice("btn-4", g.ProvisionWith(map[string]any{"id": "btn-4", "kind": "call_button", "site": "home-12-bedroom"}))
	call = dev.Expect(dev.Press("call.press"), "received").Alarm
	g.Supervise(clock.Now())
	clock.Advance(4 * time.Minute)
	dev.Publish("telemetry", `{"battery":90}`) // btn-4 stays online
	g.Supervise(clock.Now())
	for _, id := range []string{"btn-1", "btn-2", "btn-3"} {
		a, ok := g.Engine().OpenOf(id, alerting.TypeOffline)
		if !ok {
			t.Fatalf("%s: no offline alarm", id)
		}
		ids = append(ids, a.ID)
	}
	return g, ids, call
}

// addUser adds a user of role with profile p (PATCHed as admin) and logs them in.
func addUser(t *testing.T, g *gatewaytest.Gateway, name string, role state.Role, p map[string]any) *gatewaytest.Client {
	t.Helper()
	c := g.AddUser(name, role)
	if p != nil {
		var e struct{ Error string }
		if code := g.Admin.Do("PATCH", "/api/v1/users/"+name, p, &e); code != 200 {
			t.Fatalf("profile of %s: HTTP %d: %s", name, code, e.Error)
		}
	}
	return c
}

// TestBulkResolve: an admin, or a supervisor at the alarms' village,
// resolves many P3 alarms with one outcome, each with its own timeline
// entry; a P1 or unknown alarm among them is reported by id and does not
// stop the rest. A supervisor elsewhere is refused per id (403) and
// resolves nothing; a plain operator and an installer may not at all.
func TestBulkResolve(t *testing.T) {
	cases := []struct {
		name  string
		login func(t *testing.T, g *gatewaytest.Gateway) (c *gatewaytest.Client, actor string)
		code  int // of the whole request
		// resolves: the P3 alarms are resolved; else each is refused with 403.
		resolves bool
	}{
		{"admin", func(t *testing.T, g *gatewaytest.Gateway) (*gatewaytest.Client, string) {
			return g.Admin, "operator:admin"
		}, 200, true},
		{"supervisor at the village", func(t *testing.T, g *gatewaytest.Gateway) (*gatewaytest.Client, string) {
			return addUser(t, g, "zhang", state.RoleOperator, map[string]any{"supervisor": true, "sites": []string{"qs-village"}}), "operator:zhang"
		}, 200, true},
		{"supervisor elsewhere", func(t *testing.T, g *gatewaytest.Gateway) (*gatewaytest.Client, string) {
			return addUser(t, g, "sun", state.RoleOperator, map[string]any{"supervisor": true, "sites": []string{"ls-village"}}), "operator:sun"
		}, 200, false},
		{"plain operator", func(t *testing.T, g *gatewaytest.Gateway) (*gatewaytest.Client, string) {
			return addUser(t, g, "li", state.RoleOperator, map[string]any{"sites": []string{"qs-village"}}), "operator:li"
		}, 403, false},
		{"installer", func(t *testing.T, g *gatewaytest.Gateway) (*gatewaytest.Client, string) {
			return addUser(t, g, "wu", state.RoleInstaller, nil), "operator:wu"
		}, 403, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, ids, call := bulkFixture(t)
			c, actor := tc.login(t, g)
			body := httpapi.BulkResolve{IDs: append(append([]string{}, ids...), call, "A-nope"), Outcome: "false_alarm", Note: "power cut in the village"}
			var ans httpapi.BulkAnswer
			if code := c.Do("POST", "/api/v1/alarms/resolve", body, &ans); code != tc.code {
				t.Fatalf("bulk resolve: HTTP %d, want %d", code, tc.code)
			}
			if tc.code == 200 {
				want, p3Status, callStatus := 3, 0, 409
				if !tc.resolves {
					want, p3Status, callStatus = 0, 403, 403
				}
				if ans.Resolved != want || ans.Failed != 5-want || len(ans.Results) != 5 {
					t.Fatalf("bulk resolve answered %+v", ans)
				}
				for i, id := range ids {
					if r := ans.Results[i]; r.ID != id || r.Status != p3Status || (p3Status == 0) != (r.State == "resolved") {
						t.Fatalf("%s's result: %+v, want status %d", id, r, p3Status)
					}
				}
				if r := ans.Results[3]; r.ID != call || r.Status != callStatus || r.Error == "" {
					t.Fatalf("the P1 alarm's result: %+v, want %d", r, callStatus)
				}
				if r := ans.Results[4]; r.ID != "A-nope" || r.Status != 404 {
					t.Fatalf("the unknown alarm's result: %+v, want 404", r)
				}
			}
			for _, id := range ids {
				a, _ := g.Engine().Get(id)
				last := a.Timeline[len(a.Timeline)-1]
				resolved := a.State == alerting.Resolved && a.Outcome == "false_alarm" && last.Action == alerting.ActResolved &&
					last.Actor == actor && last.Note == "power cut in the village"
				if resolved != tc.resolves {
					t.Fatalf("%s after bulk resolve: %s/%s, last entry %+v; want resolved %v", id, a.State, a.Outcome, last, tc.resolves)
				}
				if !tc.resolves && a.State == alerting.Resolved {
					t.Fatalf("%s resolved by a refused bulk resolve", id)
				}
			}
			if a, _ := g.Engine().Get(call); a.State != alerting.Raised {
				t.Fatalf("the P1 alarm is %s after a bulk resolve, want raised", a.State)
			}
		})
	}
}
