package alerting_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

func TestSLAReport(t *testing.T) {
	day := time.Date(2026, 11, 23, 10, 0, 0, 0, shanghai)
	night := time.Date(2026, 11, 23, 23, 0, 0, 0, shanghai)
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, shanghai)
	s := func(n int) time.Duration { return time.Duration(n) * time.Second }
	type answer struct {
		ack, dispatch, resolve, cancel time.Duration // 0: did not happen
	}
	var alarms []*alerting.Alarm
	add := func(id string, p alerting.Priority, site string, raised time.Time, a answer, test bool) {
		al := &alerting.Alarm{ID: id, Priority: p, Device: site, Raised: raised, State: alerting.Raised, Test: test}
		if a.ack > 0 {
			al.State, al.Acked = alerting.Acknowledged, raised.Add(a.ack)
		}
		if a.dispatch > 0 {
			al.State, al.Sent = alerting.Dispatched, raised.Add(a.dispatch)
		}
		if a.resolve > 0 {
			al.State, al.Closed = alerting.Resolved, raised.Add(a.resolve)
		}
		if a.cancel > 0 {
			al.State, al.Closed = alerting.Cancelled, raised.Add(a.cancel)
		}
		alarms = append(alarms, al)
	}
	add("1", alerting.P1, "village", day, answer{ack: s(20), dispatch: s(120), resolve: s(600)}, false)
	add("2", alerting.P1, "village", day.Add(time.Hour), answer{ack: s(50), dispatch: s(200), resolve: s(900)}, false)
	add("3", alerting.P1, "home", day.Add(2*time.Hour), answer{ack: s(90), resolve: s(300)}, false)
	add("4", alerting.P1, "village", night, answer{ack: s(240), dispatch: s(300), resolve: s(1200)}, false)
	add("5", alerting.P1, "home", day, answer{cancel: s(30)}, false)  // cancelled before 60 s: not judged
	add("6", alerting.P1, "home", day, answer{cancel: s(100)}, false) // missed 60 s, not judged at 180 s
	add("7", alerting.P1, "home", now.Add(-s(50)), answer{}, false)   // still waiting, too young to judge
	add("8", alerting.P1, "home", now.Add(-s(200)), answer{}, false)  // still waiting: missed both
	add("9", alerting.P1, "home", day, answer{ack: s(5)}, true)       // a walk test: left out
	add("10", alerting.P2, "home", day, answer{ack: s(100)}, false)

	r := alerting.NewSLAReport(alarms, alerting.SLAOptions{
		SiteOf: func(a *alerting.Alarm) string { return a.Device },
		ShiftOf: func(t time.Time) string {
			if h := t.In(shanghai).Hour(); h >= 8 && h < 20 {
				return "day"
			}
			return "night"
		},
		Now: now,
	})
	p1 := r.Total[0]
	if p1.Priority != alerting.P1 || p1.Count != 8 {
		t.Fatalf("total P1: %+v, want 8 alarms", p1)
	}
	if p1.Within60 != (alerting.Share{Met: 2, Of: 6}) || p1.Within180 != (alerting.Share{Met: 3, Of: 5}) {
		t.Errorf("P1 within 60 s %+v, within 180 s %+v; want 2 of 6, 3 of 5", p1.Within60, p1.Within180)
	}
	if p1.Ack != (alerting.Stat{N: 4, Median: s(50), P90: s(240)}) ||
		p1.Dispatch != (alerting.Stat{N: 3, Median: s(200), P90: s(300)}) ||
		p1.Resolve != (alerting.Stat{N: 4, Median: s(600), P90: s(1200)}) {
		t.Errorf("P1 ack %+v dispatch %+v resolve %+v", p1.Ack, p1.Dispatch, p1.Resolve)
	}
	if p3 := r.Total[2]; p3.Priority != alerting.P3 || p3.Count != 0 {
		t.Errorf("total P3 %+v, want an empty row", p3)
	}

	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	want := `group,site,shift,priority,count,ack_60s_met,ack_60s_of,ack_60s_share,ack_180s_met,ack_180s_of,ack_180s_share,ack_n,ack_median_s,ack_p90_s,dispatch_n,dispatch_median_s,dispatch_p90_s,resolve_n,resolve_median_s,resolve_p90_s
total,,,P1,8,2,6,0.3333,3,5,0.6000,4,50,240,3,200,300,4,600,1200
total,,,P2,1,0,1,0.0000,1,1,1.0000,1,100,100,0,,,0,,
total,,,P3,0,0,0,,0,0,,0,,,0,,,0,,
site,home,,P1,5,0,3,0.0000,1,2,0.5000,1,90,90,0,,,1,300,300
site,home,,P2,1,0,1,0.0000,1,1,1.0000,1,100,100,0,,,0,,
site,village,,P1,3,2,3,0.6667,2,3,0.6667,3,50,240,3,200,300,3,900,1200
shift,,day,P1,5,2,4,0.5000,3,3,1.0000,3,50,90,2,120,200,3,600,900
shift,,day,P2,1,0,1,0.0000,1,1,1.0000,1,100,100,0,,,0,,
shift,,night,P1,3,0,2,0.0000,0,2,0.0000,1,240,240,1,300,300,1,1200,1200
`
	if got := buf.String(); got != want {
		t.Errorf("CSV\n%s\nwant\n%s", got, want)
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Errorf("first difference, line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
				break
			}
		}
	}
}
