package alerting_test

import (
	"slices"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
)

// Qingshan's people. Li runs the village station, Zhang supervises the
// township centre with Zhao, Chen holds the county centre and Wu and Sun
// the institution's duty room.
var (
	opLi    = alerting.Operator{ID: "li", Name: "李娜", Phone: "13800000001", Site: alertingtest.Village}
	opZhang = alerting.Operator{ID: "zhang", Name: "张伟", Phone: "13800000002", Site: alertingtest.Town, Supervisor: true}
	opZhao  = alerting.Operator{ID: "zhao", Name: "赵敏", Phone: "13800000003", Site: alertingtest.Town}
	opChen  = alerting.Operator{ID: "chen", Name: "陈刚", Phone: "13800000004", Site: alertingtest.County}
	opWu    = alerting.Operator{ID: "wu", Name: "吴芳", Phone: "13800000005", Site: alertingtest.Institution}
	opSun   = alerting.Operator{ID: "sun", Name: "孙丽", Phone: "13800000006", Site: alertingtest.Institution, Supervisor: true}
	people  = []alerting.Operator{opLi, opZhang, opZhao, opChen, opWu, opSun}
)

var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// dayShifts: everyone works 08:00–20:00 Beijing time; nights are unattended.
func dayShifts() []alerting.Shift {
	var out []alerting.Shift
	for _, op := range people {
		out = append(out, alerting.Shift{Site: op.Site, Operator: op.ID, Start: "08:00", End: "20:00"})
	}
	return out
}

func newRoster(t *testing.T, shifts []alerting.Shift) *alerting.DutyRoster {
	t.Helper()
	r, err := alerting.NewDutyRoster(people, shifts, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ids(ops []alerting.Operator) []string {
	var out []string
	for _, op := range ops {
		out = append(out, op.ID)
	}
	return out
}

func TestRouteOverTheSiteTree(t *testing.T) {
	tree := alertingtest.Qingshan()
	day := time.Date(2026, 11, 23, 10, 0, 0, 0, shanghai)
	night := time.Date(2026, 11, 23, 23, 0, 0, 0, shanghai)
	only := func(ops ...alerting.Operator) []alerting.Shift {
		var out []alerting.Shift
		for _, op := range ops {
			out = append(out, alerting.Shift{Site: op.Site, Operator: op.ID, Start: "08:00", End: "20:00"})
		}
		return out
	}
	tests := []struct {
		name       string
		shifts     []alerting.Shift
		device     string
		at         time.Time
		site       string
		ops        []string
		unattended bool
	}{
		{"the village station takes its homes' alarms", dayShifts(), alertingtest.Home12Bedroom, day,
			alertingtest.Village, []string{"li"}, false},
		{"a village with nobody on duty routes to its township", only(opZhang, opZhao, opChen), alertingtest.Home12Bedroom, day,
			alertingtest.Town, []string{"zhang", "zhao"}, false},
		{"a village without a station routes to its township", dayShifts(), alertingtest.Baishi3Living, day,
			alertingtest.Town, []string{"zhang", "zhao"}, false},
		{"an institution's own duty room takes its rooms' alarms first", dayShifts(), alertingtest.Room102Bed1, day,
			alertingtest.Institution, []string{"sun", "wu"}, false},
		{"an institution's room with its duty room empty goes to the township", only(opLi, opZhang, opChen), alertingtest.Room101, day,
			alertingtest.Town, []string{"zhang"}, false},
		{"only the county centre is staffed", only(opChen), alertingtest.Home12Kitchen, day,
			alertingtest.County, []string{"chen"}, false},
		{"nobody on duty anywhere on the path: unattended", dayShifts(), alertingtest.Home12Bedroom, night,
			"", nil, true},
		{"an unknown site is its own path", dayShifts(), "nowhere", day, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := alerting.Router{Tree: tree, Roster: newRoster(t, tt.shifts)}
			site, ops, unattended := r.Route(tt.device, tt.at)
			if site != tt.site || !slices.Equal(ids(ops), tt.ops) || unattended != tt.unattended {
				t.Fatalf("Route(%s) = %q %v %v, want %q %v %v", tt.device, site, ids(ops), unattended, tt.site, tt.ops, tt.unattended)
			}
		})
	}
}

func TestRouterLevels(t *testing.T) {
	tree := alertingtest.Qingshan()
	day := time.Date(2026, 11, 23, 10, 0, 0, 0, shanghai)
	r := alerting.Router{Tree: tree, Roster: newRoster(t, dayShifts())}
	check := func(what, site string, ops []alerting.Operator, ok bool, wantSite string, want ...string) {
		t.Helper()
		if site != wantSite || !slices.Equal(ids(ops), want) || ok != (wantSite != "") {
			t.Errorf("%s = %q %v %v, want %q %v", what, site, ids(ops), ok, wantSite, want)
		}
	}
	site, ops, ok := r.Above(alertingtest.Village, day)
	check("Above(village)", site, ops, ok, alertingtest.Town, "zhang", "zhao")
	site, ops, ok = r.Above(alertingtest.Town, day)
	check("Above(town)", site, ops, ok, alertingtest.County, "chen")
	site, ops, ok = r.Above(alertingtest.County, day)
	check("Above(county)", site, ops, ok, "")
	site, ops, ok = r.Top(alertingtest.Room101, day)
	check("Top(room 101)", site, ops, ok, alertingtest.County, "chen")
	site, ops, ok = r.Supervisors(alertingtest.Home12Bedroom, day)
	check("Supervisors(12号 bedroom)", site, ops, ok, alertingtest.Town, "zhang")
	site, ops, ok = r.Supervisors(alertingtest.Room102Bed1, day)
	check("Supervisors(102 bed 1)", site, ops, ok, alertingtest.Institution, "sun")
}

func TestPathStopsAtACycle(t *testing.T) {
	tree := alerting.SiteMap{"a": "b", "b": "c", "c": "a"}
	if got := alerting.Path(tree, "a"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("Path = %v, want [a b c]", got)
	}
}
