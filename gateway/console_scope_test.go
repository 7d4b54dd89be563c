package gateway_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
)

// scopeWorld is SiteTree with a second village under the same township:
//
//	qs-town (township)
//	├── qs-village › home-12 › home-12-bedroom   btn-qs, resident wang-xy
//	└── ls-village › home-7  › home-7-room       btn-ls, resident zhao-lf
//
// with a call button in each village (raise presses both), and these people: li, operator
// of qs-village; sun, operator of ls-village; zhang, supervisor at the
// township; wu, an installer; admin.
type scopeWorld struct {
	g      *gatewaytest.Gateway
	alarm  map[string]string // village side ("qs", "ls") → its alarm
	people map[string]*gatewaytest.Client
	btn    map[string]*gatewaytest.Device
}

func newScopeWorld(t *testing.T, cfg gateway.Config, opts ...gatewaytest.Option) *scopeWorld {
	t.Helper()
	g := gatewaytest.Start(t, cfg, opts...)
	g.SeedSites()
	for _, s := range []map[string]any{
		{"id": "ls-village", "name": "柳树村", "level": "village", "parent": "qs-town"},
		{"id": "home-7", "name": "7号", "level": "home", "parent": "ls-village"},
		{"id": "home-7-room", "name": "卧室", "level": "room", "parent": "home-7"},
	} {
		if code := g.Admin.Do("POST", "/api/v1/sites", s, nil); code != 201 {
			t.Fatalf("add site %v: HTTP %d", s["id"], code)
		}
	}
	zhao := map[string]any{"id": "zhao-lf", "name": "赵兰芳", "birth_year": 1938, "home": "home-7",
		"contacts": []map[string]string{{"name": "赵强", "phone": "13900000001", "relation": "儿子"}}}
	if code := g.Admin.Do("POST", "/api/v1/residents", zhao, nil); code != 201 {
		t.Fatalf("add resident: HTTP %d", code)
	}
	w := &scopeWorld{g: g, alarm: map[string]string{}, btn: map[string]*gatewaytest.Device{}, people: map[string]*gatewaytest.Client{
		"admin": g.Admin,
		"li":    addUser(t, g, "li", state.RoleOperator, map[string]any{"sites": []string{"qs-village"}}),
		"sun":   addUser(t, g, "sun", state.RoleOperator, map[string]any{"sites": []string{"ls-village"}}),
		"zhang": addUser(t, g, "zhang", state.RoleOperator, map[string]any{"supervisor": true, "sites": []string{"qs-town"}}),
		"wu":    addUser(t, g, "wu", state.RoleInstaller, nil),
	}}
	for side, at := range map[string][2]string{"qs": {"home-12-bedroom", "wang-xy"}, "ls": {"home-7-room", "zhao-lf"}} {
		id := "btn-" + side
		w.btn[side] = g.ConnectDevice(id, g.ProvisionWith(map[string]any{"id": id, "kind": "call_button", "site": at[0], "resident": at[1]}))
	}
	return w
}

// raise presses the call button of each village in turn, qs first.
func (w *scopeWorld) raise() {
	for _, side := range []string{"qs", "ls"} {
		b := w.btn[side]
		w.alarm[side] = b.Expect(b.Press("call.press"), "received").Alarm
	}
}

// sees says which villages each person's scope holds.
var sees = map[string][]string{
	"admin": {"qs", "ls"},
	"li":    {"qs"},
	"sun":   {"ls"},
	"zhang": {"qs", "ls"},
	"wu":    {"qs", "ls"},
}

// TestScopeByRoleSiteEndpoint: every person reads and acts only on the
// alarms, devices, residents, sites and duty of the villages they serve
// (an operator their own, the township supervisor both, admins and
// installers all); an object out of scope answers 404, as if it did not
// exist, and a list leaves it out. Installers may not read alarms at all.
func TestScopeByRoleSiteEndpoint(t *testing.T) {
	w := newScopeWorld(t, gateway.Config{})
	w.raise()
	resident := map[string]string{"qs": "wang-xy", "ls": "zhao-lf"}
	village := map[string]string{"qs": "qs-village", "ls": "ls-village"}
	one := []struct {
		endpoint string
		method   string
		path     func(side string) string
		alarms   bool // an alarm endpoint: installers are refused by role
		// hidden is the answer out of scope: 404, or for a query
		// parameter what an unknown site gets (400 naming the field).
		hidden int
	}{
		{"alarm", "GET", func(s string) string { return "/api/v1/alarms/" + w.alarm[s] }, true, 404},
		{"alarm note", "POST", func(s string) string { return "/api/v1/alarms/" + w.alarm[s] + "/notes" }, true, 404},
		{"device", "GET", func(s string) string { return "/api/v1/devices/btn-" + s }, false, 404},
		{"device alarms", "GET", func(s string) string { return "/api/v1/devices/btn-" + s + "/alarms" }, false, 404},
		{"resident", "GET", func(s string) string { return "/api/v1/residents/" + resident[s] }, false, 404},
		{"site", "GET", func(s string) string { return "/api/v1/sites/" + village[s] }, false, 404},
		{"site tree", "GET", func(s string) string { return "/api/v1/sites/" + village[s] + "/tree" }, false, 404},
		{"duty at site", "GET", func(s string) string { return "/api/v1/duty?site=" + village[s] }, false, 400},
		{"sla report of site", "GET", func(s string) string { return "/api/v1/reports/sla?site=" + village[s] }, true, 400},
	}
	for _, who := range []string{"admin", "li", "sun", "zhang", "wu"} {
		c := w.people[who]
		for _, e := range one {
			for _, side := range []string{"qs", "ls"} {
				want := e.hidden
				switch {
				case e.alarms && who == "wu":
					want = 403
				case slices.Contains(sees[who], side):
					want = 200
				}
				t.Run(fmt.Sprintf("%s/%s/%s", who, e.endpoint, side), func(t *testing.T) {
					var body any
					if e.method == "POST" {
						body = map[string]string{"note": "seen by " + who}
					}
					if code := c.Do(e.method, e.path(side), body, nil); code != want {
						t.Fatalf("%s %s: HTTP %d, want %d", e.method, e.path(side), code, want)
					}
				})
			}
		}
		lists := []struct {
			endpoint string
			alarms   bool
			list     func() []string // the villages ("qs", "ls") the answer shows
		}{
			{"alarms", true, func() []string {
				var r struct{ Alarms []httpapi.AlarmView }
				c.Do("GET", "/api/v1/alarms", nil, &r)
				return sidesOf(r.Alarms, func(a httpapi.AlarmView) string { return a.Device })
			}},
			{"closed and open alarms", true, func() []string {
				var r struct{ Alarms []httpapi.AlarmView }
				c.Do("GET", "/api/v1/alarms?state=all", nil, &r)
				return sidesOf(r.Alarms, func(a httpapi.AlarmView) string { return a.Device })
			}},
			{"devices", false, func() []string {
				var r struct{ Devices []httpapi.DeviceView }
				c.Do("GET", "/api/v1/devices", nil, &r)
				return sidesOf(r.Devices, func(d httpapi.DeviceView) string { return d.ID })
			}},
			{"residents", false, func() []string {
				var r struct{ Residents []httpapi.ResidentView }
				c.Do("GET", "/api/v1/residents", nil, &r)
				return sidesOf(r.Residents, func(p httpapi.ResidentView) string {
					return map[string]string{"wang-xy": "btn-qs", "zhao-lf": "btn-ls"}[p.ID]
				})
			}},
			{"sites", false, func() []string {
				var r struct{ Sites []httpapi.SiteView }
				c.Do("GET", "/api/v1/sites", nil, &r)
				return sidesOf(r.Sites, func(s httpapi.SiteView) string {
					return map[string]string{"qs-village": "btn-qs", "ls-village": "btn-ls"}[s.ID]
				})
			}},
			{"sla report", true, func() []string {
				var r httpapi.SLAReportView
				c.Do("GET", "/api/v1/reports/sla?group_by=village", nil, &r)
				return sidesOf(r.BySite, func(row httpapi.SLARowView) string {
					return map[string]string{"qs-village": "btn-qs", "ls-village": "btn-ls"}[row.Site]
				})
			}},
		}
		for _, l := range lists {
			t.Run(fmt.Sprintf("%s/list %s", who, l.endpoint), func(t *testing.T) {
				want := sees[who]
				if l.alarms && who == "wu" {
					want = nil
				}
				if got := l.list(); !slices.Equal(got, want) {
					t.Fatalf("%s lists %v, want %v", who, got, want)
				}
			})
		}
	}
	// The refused notes changed nothing: only people in scope wrote one.
	for side, alarm := range w.alarm {
		var a httpapi.AlarmView
		w.g.Admin.Do("GET", "/api/v1/alarms/"+alarm, nil, &a)
		var by []string
		for _, e := range a.Timeline {
			if e.Action == "note" {
				by = append(by, e.Actor)
			}
		}
		var want []string
		for _, who := range []string{"admin", "li", "sun", "zhang"} {
			if slices.Contains(sees[who], side) {
				want = append(want, "operator:"+who)
			}
		}
		if slices.Sort(by); !slices.Equal(by, want) {
			t.Errorf("%s alarm's notes by %v, want %v", side, by, want)
		}
	}
}

// sidesOf names the villages ("qs", "ls") of the items whose key is
// btn-qs or btn-ls, in that order, each once.
func sidesOf[T any](items []T, key func(T) string) []string {
	var out []string
	for _, side := range []string{"qs", "ls"} {
		if slices.ContainsFunc(items, func(x T) bool { return key(x) == "btn-"+side }) {
			out = append(out, side)
		}
	}
	return out
}

// TestScopeOfTheStream: an operator's live stream and its resume window
// carry the alarms of their village only; the township supervisor's
// carries both. Each reader reads up to the last note on an alarm it may
// see, so what it did not get is checked once it caught up.
func TestScopeOfTheStream(t *testing.T) {
	w := newScopeWorld(t, gateway.Config{})
	w.raise()
	admin := w.g.Admin.Stream()
	readers := []string{"li", "sun", "zhang"}
	live := map[string]*gatewaytest.Stream{}
	for _, who := range readers {
		live[who] = w.people[who].Stream()
	}
	note := func(side, text string) {
		if code := w.g.Admin.Do("POST", "/api/v1/alarms/"+w.alarm[side]+"/notes", map[string]string{"note": text}, nil); code != 200 {
			t.Fatalf("note: HTTP %d", code)
		}
	}
	note("qs", "1")
	from := admin.Next(t, "note").ID // a resumed stream starts after this
	note("ls", "2")
	note("qs", "3")
	note("qs", "end")
	note("ls", "end")
	last := map[string]string{"li": "qs end", "sun": "ls end", "zhang": "ls end"}
	want := map[string]map[string][]string{
		"live": {"li": {"qs 1", "qs 3", "qs end"}, "sun": {"ls 2", "ls end"},
			"zhang": {"qs 1", "ls 2", "qs 3", "qs end", "ls end"}},
		"resumed": {"li": {"qs 3", "qs end"}, "sun": {"ls 2", "ls end"},
			"zhang": {"ls 2", "qs 3", "qs end", "ls end"}},
	}
	side := map[string]string{w.alarm["qs"]: "qs", w.alarm["ls"]: "ls"}
	for _, who := range readers {
		for name, stream := range map[string]*gatewaytest.Stream{"live": live[who], "resumed": w.people[who].Resume(from)} {
			t.Run(who+"/"+name, func(t *testing.T) {
				var got []string
				for len(got) == 0 || got[len(got)-1] != last[who] {
					f := stream.Next(t, "note")
					got = append(got, side[f.Alarm.ID]+" "+f.Entry.Note)
				}
				if !slices.Equal(got, want[name][who]) {
					t.Fatalf("%s's %s stream read %v, want %v", who, name, got, want[name][who])
				}
			})
		}
	}
}
