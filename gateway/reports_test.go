package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
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

// The service-level report over alarms raised by real device presses and
// answered through the API at chosen offsets, on a fake clock: every
// count, share, median and p90 below is worked out by hand from slaScenario.

var cst = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// slaSites extend gatewaytest.SiteTree (青山村 › 12号 › 卧室) with a second
// village and a township-run institution:
//
//	qs-town (青山镇)
//	├── qs-village (青山村) › home-12 › home-12-bedroom, home-12-kitchen
//	├── east-village (东村) › home-7 (7号) › home-7-room
//	└── qs-jly (青山镇敬老院, institution) › jly-101
var slaSites = []map[string]any{
	{"id": "east-village", "name": "东村", "level": "village", "parent": "qs-town"},
	{"id": "home-7", "name": "7号", "level": "home", "parent": "east-village"},
	{"id": "home-7-room", "name": "卧室", "level": "room", "parent": "home-7"},
	{"id": "qs-jly", "name": "青山镇敬老院", "level": "institution", "parent": "qs-town"},
	{"id": "jly-101", "name": "101室", "level": "room", "parent": "qs-jly"},
}

// slaDevices: a 25-hour supervision window, so that the fake clock's hours
// raise no offline alarm between presses.
var slaDevices = []map[string]any{
	{"id": "btn-a", "kind": "call_button", "site": "home-12-bedroom", "supervision": "zigbee_battery"},
	{"id": "band-a", "kind": "safety_band", "site": "home-12-bedroom", "supervision": "zigbee_battery"},
	{"id": "btn-b", "kind": "call_button", "site": "home-7-room", "supervision": "zigbee_battery"},
	{"id": "btn-c", "kind": "call_button", "site": "jly-101", "supervision": "zigbee_battery"},
	{"id": "btn-t", "kind": "call_button", "site": "home-12-kitchen", "supervision": "zigbee_battery", "test": true},
}

// answer is what happens to an alarm after seconds: an operator's "ack",
// "dispatch" or "resolve" through the API, or the elder's "cancel" on the device.
type answer struct {
	after  int
	action string
}

// slaAlarm is one press at a wall-clock time in Asia/Shanghai.
type slaAlarm struct {
	name, at, device, event string
	answers                 []answer
}

// slaScenario: the day shift is 08:00–20:00, the night 20:00–08:00. The
// report is read at 2026-11-24 01:10, when A6 has waited 10 minutes.
var slaScenario = []slaAlarm{
	{"A1", "2026-11-23 09:00", "btn-a", "call.press", []answer{{20, "ack"}, {70, "dispatch"}, {200, "resolve"}}},
	{"A2", "2026-11-23 10:00", "btn-a", "call.press", []answer{{70, "ack"}, {200, "dispatch"}, {600, "resolve"}}},
	{"A3", "2026-11-23 11:00", "btn-b", "call.press", []answer{{200, "ack"}, {300, "resolve"}}},
	{"A8", "2026-11-23 12:00", "band-a", "band.removed", []answer{{100, "ack"}, {150, "resolve"}}},
	{"walk test", "2026-11-23 13:00", "btn-t", "call.press", nil},
	{"A4", "2026-11-23 21:00", "btn-a", "call.press", []answer{{30, "ack"}, {90, "dispatch"}, {900, "resolve"}}},
	{"A7", "2026-11-23 22:00", "btn-c", "call.press", []answer{{10, "cancel"}}},
	{"A5", "2026-11-23 22:30", "btn-c", "call.press", []answer{{45, "ack"}, {120, "dispatch"}, {400, "resolve"}}},
	{"A9", "2026-11-23 23:00", "btn-b", "device.tamper", []answer{{400, "ack"}, {500, "resolve"}}},
	{"A10", "2026-11-24 00:30", "btn-a", "call.press", []answer{{10, "ack"}, {40, "dispatch"}, {100, "resolve"}}},
	{"A6", "2026-11-24 01:00", "btn-c", "call.press", nil},
}

const slaReportAt = "2026-11-24 01:10"

func wall(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.ParseInLocation("2006-01-02 15:04", s, cst)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// advanceTo moves the clock forward to at.
func advanceTo(t *testing.T, clock *alertingtest.Clock, at time.Time) {
	t.Helper()
	d := at.Sub(clock.Now())
	if d < 0 {
		t.Fatalf("the clock cannot go back from %s to %s", clock.Now(), at)
	}
	clock.Advance(d)
}

// startSLAGateway starts a gateway on a fake clock at 08:30 on 2026-11-23
// with the sites and devices of the scenario; op is an operator.
func startSLAGateway(t *testing.T, cfg gateway.Config) (g *gatewaytest.Gateway, clock *alertingtest.Clock, op *gatewaytest.Client, devs map[string]*gatewaytest.Device) {
	t.Helper()
	clock = alertingtest.NewClock(wall(t, "2026-11-23 08:30"))
	cfg.SessionTTL = alerting.Duration(72 * time.Hour) // the scenario spans 17 hours
	g = gatewaytest.Start(t, cfg, gatewaytest.WithClock(clock.Now))
	g.SeedSites()
	for _, s := range slaSites {
		if code := g.Admin.Do("POST", "/api/v1/sites", s, nil); code != 201 {
			t.Fatalf("add site %s: HTTP %d", s["id"], code)
		}
	}
	devs = map[string]*gatewaytest.Device{}
	for _, d := range slaDevices {
		id := d["id"].(string)
		devs[id] = g.ConnectDevice(id, g.ProvisionWith(d))
	}
	// btn-t's walk test lasts the day and an installer watches it, so its
	// press stays a walk-test alarm (walk tests end by themselves, and an
	// unwatched P1 goes to operators).
	if code := g.Admin.Do("POST", "/api/v1/devices/btn-t/test", map[string]any{"on": true, "duration": "24h"}, nil); code != 200 {
		t.Fatalf("walk test btn-t: HTTP %d", code)
	}
	g.Admin.Watch("btn-t")
	return g, clock, g.AddUser("li", state.RoleOperator), devs
}

// play raises and answers the alarms in order.
func play(t *testing.T, clock *alertingtest.Clock, op *gatewaytest.Client, devs map[string]*gatewaytest.Device, alarms []slaAlarm) {
	t.Helper()
	for _, sa := range alarms {
		raised := wall(t, sa.at)
		advanceTo(t, clock, raised)
		dev := devs[sa.device]
		id := dev.Expect(dev.Press(sa.event), "received").Alarm
		for _, an := range sa.answers {
			advanceTo(t, clock, raised.Add(time.Duration(an.after)*time.Second))
			if an.action == "cancel" {
				dev.Press("call.cancel")
				continue
			}
			body := map[string]string{}
			if an.action == "resolve" {
				body["outcome"] = "assisted"
			}
			var e struct{ Error string }
			if code := op.Do("POST", "/api/v1/alarms/"+id+"/"+an.action, body, &e); code != 200 {
				t.Fatalf("%s %s at +%d s: HTTP %d: %s", sa.name, an.action, an.after, code, e.Error)
			}
		}
		var a alerting.Alarm
		op.Do("GET", "/api/v1/alarms/"+id, nil, &a)
		if !a.Raised.Equal(raised) {
			t.Fatalf("%s raised at %s, want %s", sa.name, a.Raised, raised)
		}
	}
}

// rowLine is one report row in a line: group, priority, count, acknowledged
// within 60 s and 180 s of those judged, then n:median/p90 in seconds of
// the times to acknowledge, dispatch and resolve.
func rowLine(r httpapi.SLARowView) string {
	stat := func(s httpapi.SLAStatView) string {
		if s.N == 0 {
			return "-"
		}
		return fmt.Sprintf("%d:%g/%g", s.N, *s.MedianS, *s.P90S)
	}
	group := strings.TrimSpace(r.Site + " " + r.Shift)
	return strings.TrimSpace(fmt.Sprintf("%s %s n=%d 60s=%d/%d 180s=%d/%d ack=%s dispatch=%s resolve=%s", group, r.Priority, r.Count,
		r.Within60.Met, r.Within60.Of, r.Within180.Met, r.Within180.Of, stat(r.Ack), stat(r.Dispatch), stat(r.Resolve)))
}

func lines(rows []httpapi.SLARowView) string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = rowLine(r)
	}
	return strings.Join(out, "\n")
}

func getReport(t *testing.T, c *gatewaytest.Client, query string) httpapi.SLAReportView {
	t.Helper()
	var rep httpapi.SLAReportView
	if code := c.Do("GET", "/api/v1/reports/sla"+query, nil, &rep); code != 200 {
		t.Fatalf("GET /api/v1/reports/sla%s: HTTP %d", query, code)
	}
	return rep
}

func TestSLAReportKnownAlarms(t *testing.T) {
	g, clock, op, devs := startSLAGateway(t, gateway.Config{})
	play(t, clock, op, devs, slaScenario)
	advanceTo(t, clock, wall(t, slaReportAt))

	// A7, cancelled by the elder after 10 s, counts but is not judged: nobody
	// was late yet. A6, unanswered for 10 minutes, missed both thresholds.
	// The walk-test press is left out.
	rep := getReport(t, op, "")
	checkRows := func(t *testing.T, part string, got []httpapi.SLARowView, want ...string) {
		t.Helper()
		if g, w := lines(got), strings.Join(want, "\n"); g != w {
			t.Errorf("%s:\n%s\nwant:\n%s", part, g, w)
		}
	}
	checkRows(t, "total", rep.Total,
		"P1 n=8 60s=4/7 180s=5/7 ack=6:30/200 dispatch=5:90/200 resolve=6:300/900",
		"P2 n=1 60s=0/1 180s=1/1 ack=1:100/100 dispatch=- resolve=1:150/150",
		"P3 n=1 60s=0/1 180s=0/1 ack=1:400/400 dispatch=- resolve=1:500/500")
	checkRows(t, "by site (village)", rep.BySite,
		"east-village P1 n=1 60s=0/1 180s=0/1 ack=1:200/200 dispatch=- resolve=1:300/300",
		"east-village P3 n=1 60s=0/1 180s=0/1 ack=1:400/400 dispatch=- resolve=1:500/500",
		"qs-jly P1 n=3 60s=1/2 180s=1/2 ack=1:45/45 dispatch=1:120/120 resolve=1:400/400",
		"qs-village P1 n=4 60s=3/4 180s=4/4 ack=4:20/70 dispatch=4:70/200 resolve=4:200/900",
		"qs-village P2 n=1 60s=0/1 180s=1/1 ack=1:100/100 dispatch=- resolve=1:150/150")
	checkRows(t, "by shift", rep.ByShift,
		"day P1 n=3 60s=1/3 180s=2/3 ack=3:70/200 dispatch=2:70/200 resolve=3:300/600",
		"day P2 n=1 60s=0/1 180s=1/1 ack=1:100/100 dispatch=- resolve=1:150/150",
		"night P1 n=5 60s=3/4 180s=3/4 ack=3:30/45 dispatch=3:90/120 resolve=3:400/900",
		"night P3 n=1 60s=0/1 180s=0/1 ack=1:400/400 dispatch=- resolve=1:500/500")

	// The period, shifts and site names; shares against their targets.
	now := wall(t, slaReportAt)
	if !rep.To.Equal(now) || !rep.From.Equal(now.Add(-7*24*time.Hour)) || rep.GroupBy != registry.LevelVillage ||
		rep.TimeZone != "Asia/Shanghai" || fmt.Sprint(rep.Shifts) != "[{day 08:00 20:00} {night 20:00 08:00}]" {
		t.Errorf("report header: from %s to %s group_by %s zone %s shifts %v", rep.From, rep.To, rep.GroupBy, rep.TimeZone, rep.Shifts)
	}
	p1 := rep.Total[0]
	if s := p1.Within60; *s.Share != 4.0/7 || s.Target != 0.975 || *s.MeetsTarget {
		t.Errorf("P1 within 60 s: %+v, want 4/7 against 0.975, missed", s)
	}
	if s := rep.BySite[3].Within180; *s.Share != 1 || s.Target != 0.99 || !*s.MeetsTarget {
		t.Errorf("青山村 P1 within 180 s: %+v, want 1 against 0.99, met", s)
	}
	if r := rep.BySite[2]; r.SiteName != "青山镇敬老院" || r.SitePath != "青山市 / 青山县 / 青山镇 / 青山镇敬老院" {
		t.Errorf("institution row named %q, %q", r.SiteName, r.SitePath)
	}

	t.Run("csv", func(t *testing.T) {
		body, ctype := getRaw(t, g, op, "/api/v1/reports/sla?format=csv")
		want := `group,site,shift,priority,count,ack_60s_met,ack_60s_of,ack_60s_share,ack_180s_met,ack_180s_of,ack_180s_share,ack_n,ack_median_s,ack_p90_s,dispatch_n,dispatch_median_s,dispatch_p90_s,resolve_n,resolve_median_s,resolve_p90_s
total,,,P1,8,4,7,0.5714,5,7,0.7143,6,30,200,5,90,200,6,300,900
total,,,P2,1,0,1,0.0000,1,1,1.0000,1,100,100,0,,,1,150,150
total,,,P3,1,0,1,0.0000,0,1,0.0000,1,400,400,0,,,1,500,500
site,east-village,,P1,1,0,1,0.0000,0,1,0.0000,1,200,200,0,,,1,300,300
site,east-village,,P3,1,0,1,0.0000,0,1,0.0000,1,400,400,0,,,1,500,500
site,qs-jly,,P1,3,1,2,0.5000,1,2,0.5000,1,45,45,1,120,120,1,400,400
site,qs-village,,P1,4,3,4,0.7500,4,4,1.0000,4,20,70,4,70,200,4,200,900
site,qs-village,,P2,1,0,1,0.0000,1,1,1.0000,1,100,100,0,,,1,150,150
shift,,day,P1,3,1,3,0.3333,2,3,0.6667,3,70,200,2,70,200,3,300,600
shift,,day,P2,1,0,1,0.0000,1,1,1.0000,1,100,100,0,,,1,150,150
shift,,night,P1,5,3,4,0.7500,3,4,0.7500,3,30,45,3,90,120,3,400,900
shift,,night,P3,1,0,1,0.0000,0,1,0.0000,1,400,400,0,,,1,500,500
`
		if body != want || ctype != "text/csv; charset=utf-8" {
			t.Errorf("CSV (%s):\n%s\nwant:\n%s", ctype, body, want)
		}
	})

	queries := []struct {
		name, query string
		part        func(httpapi.SLAReportView) []httpapi.SLARowView
		want        []string
	}{
		{"one day by dates: A10 and A6 fall on the 24th", "?from=2026-11-23&to=2026-11-23",
			func(r httpapi.SLAReportView) []httpapi.SLARowView { return r.Total[:1] },
			[]string{"P1 n=6 60s=3/5 180s=4/5 ack=5:45/200 dispatch=4:90/200 resolve=5:400/900"}},
		{"from a date to now", "?from=2026-11-24",
			func(r httpapi.SLAReportView) []httpapi.SLARowView { return r.Total[:1] },
			[]string{"P1 n=2 60s=1/2 180s=1/2 ack=1:10/10 dispatch=1:40/40 resolve=1:100/100"}},
		{"RFC 3339 period with only the cancelled alarm: nothing judged", "?from=2026-11-23T22:00:00%2B08:00&to=2026-11-23T14:15:00Z&site=qs-jly",
			func(r httpapi.SLAReportView) []httpapi.SLARowView { return r.Total },
			[]string{"P1 n=1 60s=0/0 180s=0/0 ack=- dispatch=- resolve=-", "P2 n=0 60s=0/0 180s=0/0 ack=- dispatch=- resolve=-",
				"P3 n=0 60s=0/0 180s=0/0 ack=- dispatch=- resolve=-"}},
		{"one village's subtree", "?site=east-village",
			func(r httpapi.SLAReportView) []httpapi.SLARowView { return r.BySite },
			[]string{"east-village P1 n=1 60s=0/1 180s=0/1 ack=1:200/200 dispatch=- resolve=1:300/300",
				"east-village P3 n=1 60s=0/1 180s=0/1 ack=1:400/400 dispatch=- resolve=1:500/500"}},
		{"by township: one group, the totals", "?group_by=township",
			func(r httpapi.SLAReportView) []httpapi.SLARowView { return r.BySite },
			[]string{"qs-town P1 n=8 60s=4/7 180s=5/7 ack=6:30/200 dispatch=5:90/200 resolve=6:300/900",
				"qs-town P2 n=1 60s=0/1 180s=1/1 ack=1:100/100 dispatch=- resolve=1:150/150",
				"qs-town P3 n=1 60s=0/1 180s=0/1 ack=1:400/400 dispatch=- resolve=1:500/500"}},
		{"by home: the institution ranks as a home", "?group_by=home",
			func(r httpapi.SLAReportView) []httpapi.SLARowView { return r.BySite },
			[]string{"home-12 P1 n=4 60s=3/4 180s=4/4 ack=4:20/70 dispatch=4:70/200 resolve=4:200/900",
				"home-12 P2 n=1 60s=0/1 180s=1/1 ack=1:100/100 dispatch=- resolve=1:150/150",
				"home-7 P1 n=1 60s=0/1 180s=0/1 ack=1:200/200 dispatch=- resolve=1:300/300",
				"home-7 P3 n=1 60s=0/1 180s=0/1 ack=1:400/400 dispatch=- resolve=1:500/500",
				"qs-jly P1 n=3 60s=1/2 180s=1/2 ack=1:45/45 dispatch=1:120/120 resolve=1:400/400"}},
	}
	for _, tt := range queries {
		t.Run(tt.name, func(t *testing.T) {
			checkRows(t, tt.query, tt.part(getReport(t, op, tt.query)), tt.want...)
		})
	}
	t.Run("admin", func(t *testing.T) {
		if got := lines(getReport(t, g.Admin, "").Total); got != lines(rep.Total) {
			t.Errorf("admin's totals:\n%s", got)
		}
	})
	one := getReport(t, op, "?from=2026-11-23&to=2026-11-23").Total[0].Within60
	cancelled := getReport(t, op, "?from=2026-11-23T22:00:00%2B08:00&to=2026-11-23T22:15:00%2B08:00").Total[0]
	if *one.Share != 0.6 || cancelled.Within60.Share != nil || cancelled.Within60.MeetsTarget != nil || cancelled.Ack.MedianS != nil {
		t.Errorf("shares: %+v, want 0.6; with nothing judged %+v and %+v, want nulls", one, cancelled.Within60, cancelled.Ack)
	}
}

func getRaw(t *testing.T, g *gatewaytest.Gateway, c *gatewaytest.Client, path string) (body, contentType string) {
	t.Helper()
	req, _ := http.NewRequest("GET", g.BaseURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: HTTP %d: %s", path, resp.StatusCode, b)
	}
	return string(b), resp.Header.Get("Content-Type")
}

func TestSLAReportBadRequests(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	g.SeedSites()
	op := g.AddUser("li", state.RoleOperator)
	tests := []struct {
		name, query string
		field       string
	}{
		{"from not a time", "?from=yesterday", "from"},
		{"to not a time", "?to=2026-13-01", "to"},
		{"to before from", "?from=2026-11-02&to=2026-11-01", "to"},
		{"unknown site", "?site=atlantis", "site"},
		{"group by a room", "?group_by=room", "group_by"},
		{"format", "?format=xlsx", "format"},
		{"a typo in a parameter", "?sites=qs-village", "sites"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e httpapi.FieldErrorBody
			if code := op.Do("GET", "/api/v1/reports/sla"+tt.query, nil, &e); code != 400 || e.Field != tt.field ||
				!strings.HasPrefix(e.Error, tt.field+": ") {
				t.Fatalf("HTTP %d %+v, want 400 naming %q", code, e, tt.field)
			}
		})
	}
	inst := g.AddUser("zhao", state.RoleInstaller)
	if code := inst.Do("GET", "/api/v1/reports/sla", nil, nil); code != 403 {
		t.Errorf("installer: HTTP %d, want 403", code)
	}
	if code := g.Anonymous().Do("GET", "/api/v1/reports/sla", nil, nil); code != 401 {
		t.Errorf("anonymous: HTTP %d, want 401", code)
	}
}

// TestSLAShiftsFromConfig: three configured shifts; an alarm belongs to the
// shift it was raised in, to the minute.
func TestSLAShiftsFromConfig(t *testing.T) {
	shifts := []httpapi.SLAShift{{Name: "早班", Start: "06:00", End: "14:00"},
		{Name: "中班", Start: "14:00", End: "22:00"}, {Name: "夜班", Start: "22:00", End: "06:00"}}
	_, clock, op, devs := startSLAGateway(t, gateway.Config{SLAShifts: shifts})
	play(t, clock, op, devs, []slaAlarm{
		{"before ten", "2026-11-23 21:59", "btn-a", "call.press", []answer{{30, "ack"}}},
		{"at ten", "2026-11-23 22:00", "btn-b", "call.press", []answer{{90, "ack"}}},
		{"after midnight", "2026-11-24 05:59", "btn-c", "call.press", []answer{{10, "ack"}}},
	})
	rep := getReport(t, op, "?format=json")
	want := "中班 P1 n=1 60s=1/1 180s=1/1 ack=1:30/30 dispatch=- resolve=-\n" +
		"夜班 P1 n=2 60s=1/2 180s=2/2 ack=2:10/90 dispatch=- resolve=-"
	if got := lines(rep.ByShift); got != want || fmt.Sprint(rep.Shifts) != fmt.Sprint(shifts) {
		t.Fatalf("by shift:\n%s\nwant:\n%s\n(shifts %v)", got, want, rep.Shifts)
	}
}

func sh(name, start, end string) httpapi.SLAShift {
	return httpapi.SLAShift{Name: name, Start: start, End: end}
}

func TestSLAShiftsConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		shifts []httpapi.SLAShift
		says   string
	}{
		{"a gap", []httpapi.SLAShift{sh("day", "08:00", "20:00"), sh("night", "20:00", "07:00")}, "no shift covers 07:00"},
		{"an overlap", []httpapi.SLAShift{sh("day", "08:00", "20:00"), sh("night", "19:30", "08:00")}, `sla_shifts[1] "night" overlaps sla_shifts[0] "day" at 19:30`},
		{"bad start", []httpapi.SLAShift{sh("day", "8:00", "20:00"), sh("night", "20:00", "08:00")}, "sla_shifts[0].start"},
		{"start at 24:00", []httpapi.SLAShift{sh("all", "24:00", "24:00")}, "sla_shifts[0].start"},
		{"bad end", []httpapi.SLAShift{sh("day", "08:00", "25:00")}, "sla_shifts[0].end"},
		{"no name", []httpapi.SLAShift{sh("", "08:00", "08:00")}, "sla_shifts[0].name is empty"},
		{"a name twice", []httpapi.SLAShift{sh("day", "08:00", "20:00"), sh("day", "20:00", "08:00")}, `sla_shifts[1].name "day" appears twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := gateway.Config{SLAShifts: tt.shifts}.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %v, want one saying %q", err, tt.says)
			}
		})
	}
	for _, ok := range [][]httpapi.SLAShift{
		{sh("all day", "00:00", "00:00")},
		{sh("day", "00:00", "24:00")},
		{sh("a", "06:00", "14:00"), sh("b", "14:00", "22:00"), sh("c", "22:00", "06:00")},
	} {
		if err := (gateway.Config{SLAShifts: ok}).Validate(); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
}
