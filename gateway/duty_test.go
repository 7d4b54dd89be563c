package gateway_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
)

// TestRoutingOverTheSiteTree: the step-1 notification of an alarm goes to
// the robot of the nearest site up the tree with anyone on duty, as
// check-ins and check-outs through the API change who that is.
func TestRoutingOverTheSiteTree(t *testing.T) {
	r := newReceivers(t)
	g := gatewaytest.Start(t, notifyConfig(r))
	seedNetwork(t, g)
	li, zhang, wu := addOperator(t, g, opLi), addOperator(t, g, opZhang), addOperator(t, g, opWu)
	addOperator(t, g, opZhao)
	checkIn(t, zhang, "qs-town", true)
	checkIn(t, g.Admin, "qs-county", true, "zhao") // an admin checks someone else in
	checkIn(t, wu, "qs-home", true)
	btn := install(t, g, "btn-12", "call_button", "home-12-bedroom")
	btn101 := install(t, g, "btn-101", "call_button", "qs-home-101")

	step1 := func(alarm string) []string {
		t.Helper()
		var got []string
		for _, ch := range []string{"robot:qs-village", "robot:qs-town", "robot:qs-home", "robot:county"} {
			if len(r.calls(ch, alarm)) > 0 {
				got = append(got, ch)
			}
		}
		return got
	}
	resolve := func(id string) {
		t.Helper()
		if code := g.Admin.Do("POST", "/api/v1/alarms/"+id+"/resolve", map[string]string{"outcome": "assisted"}, nil); code != 200 {
			t.Fatalf("resolve %s: HTTP %d", id, code)
		}
	}

	// Nobody at the village station: the township takes it.
	var v httpapi.DutyView
	g.Admin.Do("GET", "/api/v1/duty?site=home-12-bedroom", nil, &v)
	if v.Route == nil || v.Route.Routed != "qs-town" || !slices.Equal(v.Route.Channels, []string{"robot:qs-town"}) {
		t.Fatalf("duty view of home 12: %+v", v.Route)
	}
	a1 := press(t, btn, "call.press")
	r.wait(t, "robot:qs-town", a1, "第 1 步升级", "张伟")
	if got := step1(a1); !slices.Equal(got, []string{"robot:qs-town"}) {
		t.Errorf("with the village empty, step 1 went to %v, want the township's robot only", got)
	}
	if a := alarm(t, g, a1); a.Routed != "qs-town" {
		t.Errorf("alarm routed to %q", a.Routed)
	}

	// The institution's own duty room takes its rooms' alarms first,
	// although the township above it is staffed.
	a2 := press(t, btn101, "call.press")
	r.wait(t, "robot:qs-home", a2, "第 1 步升级", "吴芳")
	if got := step1(a2); !slices.Equal(got, []string{"robot:qs-home"}) {
		t.Errorf("room 101's step 1 went to %v, want the institution's robot only", got)
	}

	// The village operator checks in: the next alarm is theirs.
	resolve(a1)
	if v := checkIn(t, li, "qs-village", true); len(v.OnDuty) != 1 || len(v.OnDuty[0].Operators) != 1 ||
		v.OnDuty[0].Operators[0].Phone != opLi.phone || v.OnDuty[0].Name != "青山村" {
		t.Errorf("check-in answered %+v", v.OnDuty)
	}
	a3 := press(t, btn, "call.press")
	wm := r.wait(t, "robot:qs-village", a3, "第 1 步升级", "李明")
	if !strings.Contains(string(wm.Body), opLi.phone) {
		t.Errorf("the village robot does not mention %s: %s", opLi.phone, wm.Body)
	}
	if got := step1(a3); !slices.Equal(got, []string{"robot:qs-village"}) {
		t.Errorf("with the village staffed, step 1 went to %v", got)
	}

	// And checks out: back to the township.
	resolve(a3)
	checkIn(t, li, "qs-village", false)
	a4 := press(t, btn, "call.press")
	r.wait(t, "robot:qs-town", a4, "第 1 步升级")
	if got := step1(a4); !slices.Equal(got, []string{"robot:qs-town"}) {
		t.Errorf("after the check-out, step 1 went to %v", got)
	}

	if n := g.Metric("anxin_operators_on_duty"); n != 3 {
		t.Errorf("anxin_operators_on_duty = %g, want 3 (zhang, zhao, wu)", n)
	}
}

// TestLastCheckOutNotifiesUnattended: when the last operator on an open
// alarm's path checks out, the engine plans the alarm afresh at once, and
// the unattended targets hear of it without waiting for its next step.
func TestLastCheckOutNotifiesUnattended(t *testing.T) {
	r := newReceivers(t)
	g := gatewaytest.Start(t, notifyConfig(r))
	seedNetwork(t, g)
	zhang := addOperator(t, g, opZhang)
	checkIn(t, zhang, "qs-town", true)
	id := press(t, install(t, g, "btn-12", "call_button", "home-12-bedroom"), "call.press")
	r.wait(t, "robot:qs-town", id, "第 1 步升级")
	if n := len(r.calls("webhook:county", id)); n != 0 {
		t.Fatalf("unattended notice sent while the township was staffed")
	}
	checkIn(t, zhang, "qs-town", false)
	if v := routeOf(t, g, "home-12"); v.Routed != "" || !v.Unattended {
		t.Fatalf("after the check-out home 12 routes to %+v", v)
	}
	r.wait(t, "webhook:county", id, "unattended")
}

func routeOf(t *testing.T, g *gatewaytest.Gateway, site string) httpapi.DutyRoute {
	t.Helper()
	var v httpapi.DutyView
	if code := g.Admin.Do("GET", "/api/v1/duty?site="+site, nil, &v); code != http.StatusOK || v.Route == nil {
		t.Fatalf("GET duty of %s: HTTP %d", site, code)
	}
	return *v.Route
}

// TestDutyCheckInSurvivesRestart: who checked in is on duty again after a
// restart, and routing uses it.
func TestDutyCheckInSurvivesRestart(t *testing.T) {
	for _, b := range gatewaytest.Backends {
		t.Run(b, func(t *testing.T) { testDutyCheckInSurvivesRestart(t, b) })
	}
}

func testDutyCheckInSurvivesRestart(t *testing.T, backend string) {
	r := newReceivers(t)
	cfg := notifyConfig(r)
	cfg.State = gatewaytest.State(t, backend)
	g := gatewaytest.Start(t, cfg)
	seedNetwork(t, g)
	checkIn(t, addOperator(t, g, opLi), "qs-village", true)
	checkIn(t, addOperator(t, g, opZhang), "qs-town", true)
	checkIn(t, g.Login("zhang", "zhang-long-password"), "qs-town", false)

	g = g.Restart()
	var v httpapi.DutyView
	g.Admin.Do("GET", "/api/v1/duty", nil, &v)
	if len(v.OnDuty) != 1 || v.OnDuty[0].Site != "qs-village" || v.OnDuty[0].Operators[0].ID != "li" {
		t.Fatalf("on duty after the restart: %+v, want li at qs-village only", v.OnDuty)
	}
	id := press(t, install(t, g, "btn-12", "call_button", "home-12-bedroom"), "call.press")
	r.wait(t, "robot:qs-village", id, "第 1 步升级", "李明")
	if n := g.Metric("anxin_operators_on_duty"); n != 1 {
		t.Errorf("anxin_operators_on_duty = %g after the restart, want 1", n)
	}
}

// TestDutyAPIRefuses: who may check whom in where, and what is wrong.
func TestDutyAPIRefuses(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	seedNetwork(t, g)
	li := addOperator(t, g, opLi)
	inst := g.AddUser("qian", state.RoleInstaller)
	g.AddUser("sun", state.RoleOperator) // an operator without sites may go on duty anywhere
	sun := g.Login("sun", "sun-long-password")
	tests := []struct {
		name   string
		c      *gatewaytest.Client
		body   map[string]string
		status int
	}{
		{"at one of their sites", li, map[string]string{"site": "qs-village"}, 200},
		{"not one of their sites", li, map[string]string{"site": "qs-town"}, 403},
		{"someone else", li, map[string]string{"site": "qs-village", "operator": "sun"}, 403},
		{"an admin, anyone anywhere", g.Admin, map[string]string{"site": "qs-town", "operator": "li"}, 200},
		{"an admin, someone not on the roster", g.Admin, map[string]string{"site": "qs-town", "operator": "qian"}, 400},
		{"an admin, themselves without sites", g.Admin, map[string]string{"site": "qs-town"}, 400},
		{"operator without sites", sun, map[string]string{"site": "qs-county"}, 200},
		{"unknown site", li, map[string]string{"site": "nowhere"}, 400},
		{"no site", li, map[string]string{}, 400},
		{"an installer", inst, map[string]string{"site": "qs-village"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e struct{ Error, Field string }
			if code := tt.c.Do("POST", "/api/v1/duty/checkin", tt.body, &e); code != tt.status {
				t.Fatalf("HTTP %d (%s), want %d", code, e.Error, tt.status)
			}
		})
	}
	var e struct{ Error, Field string }
	body := map[string]any{"name": "zhou", "role": "operator", "password": "zhou-long-password", "sites": []string{"nowhere"}}
	if code := g.Admin.Do("POST", "/api/v1/users", body, &e); code != 400 || e.Field != "sites[0]" {
		t.Errorf("a user at an unknown site: HTTP %d %+v", code, e)
	}
	body = map[string]any{"name": "zhou", "role": "operator", "password": "zhou-long-password", "phone": "call me"}
	if code := g.Admin.Do("POST", "/api/v1/users", body, &e); code != 400 || e.Field != "phone" {
		t.Errorf("a bad phone: HTTP %d %+v", code, e)
	}
	// A profile changed later moves the operator: li may now check in at the township.
	var u state.User
	if code := g.Admin.Do("PATCH", "/api/v1/users/li", map[string]any{"sites": []string{"qs-village", "qs-town"}}, &u); code != 200 ||
		!slices.Equal(u.Sites, []string{"qs-village", "qs-town"}) || u.Phone != opLi.phone {
		t.Fatalf("PATCH user: HTTP %d %+v", code, u)
	}
	checkIn(t, li, "qs-town", true)
}

// TestPlannedShifts: a shift from the config puts its operator on duty in
// its hours, in its zone, with no check-in; outside them nobody is, and a
// check-out ends the shift early.
func TestPlannedShifts(t *testing.T) {
	r := newReceivers(t)
	cfg := notifyConfig(r)
	cfg.Shifts = []alerting.Shift{{Site: "qs-town", Operator: "zhang", Start: "08:00", End: "20:00"}}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 10, 0, 0, 0, shanghai))
	g := gatewaytest.Start(t, cfg, gatewaytest.WithClock(clock.Now))
	seedNetwork(t, g)
	addOperator(t, g, opZhang) // the roster takes the shift in once zhang exists

	if v := routeOf(t, g, "home-12-bedroom"); v.Routed != "qs-town" {
		t.Fatalf("at 10:00 home 12 routes to %+v, want zhang's shift at the township", v)
	}
	btn := install(t, g, "btn-12", "call_button", "home-12-bedroom")
	r.wait(t, "robot:qs-town", press(t, btn, "call.press"), "第 1 步升级", "张伟")

	clock.Advance(11 * time.Hour) // 21:00
	if v := routeOf(t, g, "home-12-bedroom"); !v.Unattended {
		t.Fatalf("at 21:00 home 12 routes to %+v, want nobody", v)
	}
	clock.Advance(12 * time.Hour) // 09:00 the next day; yesterday's logins have expired
	g.Admin = g.Login("admin", gatewaytest.AdminPassword)
	zhang := g.Login("zhang", "zhang-long-password")
	if v := routeOf(t, g, "home-12-bedroom"); v.Routed != "qs-town" {
		t.Fatalf("at 09:00 home 12 routes to %+v", v)
	}
	checkIn(t, zhang, "qs-town", false)
	if v := routeOf(t, g, "home-12-bedroom"); !v.Unattended {
		t.Fatalf("after zhang checked out of the shift: %+v", v)
	}
}
