package ctl_test

import (
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/apiclient"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestReportSLA: three alarms pressed on a real device and answered
// through the API on the gateway's fake clock (Asia/Shanghai):
//
//	B1 09:00  acknowledged at 20 s, dispatched at 70 s, resolved at 200 s
//	B2 10:00  acknowledged at 70 s, resolved at 300 s
//	B3 21:00  acknowledged at 200 s, dispatched at 260 s, resolved at 1000 s
//
// then `anxinctl report sla` at 21:30 shows, for P1: 1 of 3 acknowledged
// within 60 s, 2 of 3 within 180 s; to acknowledge 70 s median, 200 s p90;
// to dispatch 70 s and 260 s; to resolve 300 s and 1000 s. B1 and B2 are
// in the day shift, B3 in the night.
func TestReportSLA(t *testing.T) {
	cst, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 8, 30, 0, 0, cst))
	g := gatewaytest.Start(t, gateway.Config{SessionTTL: alerting.Duration(48 * time.Hour)}, gatewaytest.WithClock(clock.Now))
	g.SeedSites()
	// A 25-hour supervision window: the clock's hours raise no offline alarm.
	dev := g.ConnectDevice("btn-1", g.ProvisionWith(map[string]any{"id": "btn-1", "kind": "call_button",
		"site": "home-12-bedroom", "supervision": "zigbee_battery"}))
	c := newCLI(t, g)
	c.login()

	to := func(at time.Time) {
		t.Helper()
		if at.Before(clock.Now()) {
			t.Fatalf("the clock cannot go back to %s", at)
		}
		clock.Advance(at.Sub(clock.Now()))
	}
	for _, a := range []struct {
		hour    int
		answers []string // action@seconds
	}{
		{9, []string{"ack@20", "dispatch@70", "resolve@200"}},
		{10, []string{"ack@70", "resolve@300"}},
		{21, []string{"ack@200", "dispatch@260", "resolve@1000"}},
	} {
		raised := time.Date(2026, 11, 23, a.hour, 0, 0, 0, cst)
		to(raised)
		id := dev.Expect(dev.Press("call.press"), "received").Alarm
		for _, an := range a.answers {
			action, secs, _ := strings.Cut(an, "@")
			d, _ := time.ParseDuration(secs + "s")
			to(raised.Add(d))
			body := map[string]string{"outcome": "assisted"}
			if action != "resolve" {
				body = nil
			}
			if code := g.Admin.Do("POST", "/api/v1/alarms/"+id+"/"+action, body, nil); code != 200 {
				t.Fatalf("%s %s: HTTP %d", id, an, code)
			}
		}
	}
	to(time.Date(2026, 11, 23, 21, 30, 0, 0, cst))

	want := `Service levels from 2026-11-16 21:30 to 2026-11-23 21:30
Shifts (Asia/Shanghai): day 08:00–20:00, night 20:00–08:00. "!": below the target of 97.5 % in 60 s or 99 % in 180 s.

PRI  ALARMS  IN 60s       IN 180s      ACK p50 / p90  DISPATCH p50 / p90  RESOLVE p50 / p90
P1   3       33.3% 1/3 !  66.7% 2/3 !  1m10s / 3m20s  1m10s / 4m20s       5m / 16m40s
P2   0       -            -            -              -                   -
P3   0       -            -            -              -                   -

BY VILLAGE           PRI  ALARMS  IN 60s       IN 180s      ACK p50 / p90  DISPATCH p50 / p90  RESOLVE p50 / p90
青山村 [qs-village]  P1   3       33.3% 1/3 !  66.7% 2/3 !  1m10s / 3m20s  1m10s / 4m20s       5m / 16m40s

BY SHIFT  PRI  ALARMS  IN 60s       IN 180s     ACK p50 / p90  DISPATCH p50 / p90  RESOLVE p50 / p90
day       P1   2       50.0% 1/2 !  100.0% 2/2  20s / 1m10s    1m10s / 1m10s       3m20s / 5m
night     P1   1       0.0% 0/1 !   0.0% 0/1 !  3m20s / 3m20s  4m20s / 4m20s       16m40s / 16m40s
`
	if got := c.ok("report", "sla"); got != want {
		t.Errorf("report sla:\n%s\nwant:\n%s", got, want)
	}

	var rep apiclient.SLAReport
	c.jsonOut(&rep, "report", "sla", "--group-by", "township")
	p1 := rep.Total[0]
	if p1.Count != 3 || *p1.Within60.Share != 1.0/3 || *p1.Within180.Share != 2.0/3 || *p1.Ack.MedianS != 70 ||
		*p1.Ack.P90S != 200 || *p1.Resolve.P90S != 1000 || len(rep.BySite) != 1 || rep.BySite[0].Site != "qs-town" {
		t.Errorf("-o json: %+v", rep)
	}

	wantCSV := `group,site,shift,priority,count,ack_60s_met,ack_60s_of,ack_60s_share,ack_180s_met,ack_180s_of,ack_180s_share,ack_n,ack_median_s,ack_p90_s,dispatch_n,dispatch_median_s,dispatch_p90_s,resolve_n,resolve_median_s,resolve_p90_s
total,,,P1,1,0,1,0.0000,0,1,0.0000,1,200,200,1,260,260,1,1000,1000
total,,,P2,0,0,0,,0,0,,0,,,0,,,0,,
total,,,P3,0,0,0,,0,0,,0,,,0,,,0,,
site,qs-village,,P1,1,0,1,0.0000,0,1,0.0000,1,200,200,1,260,260,1,1000,1000
shift,,night,P1,1,0,1,0.0000,0,1,0.0000,1,200,200,1,260,260,1,1000,1000
`
	if got := c.ok("report", "sla", "--from", "2026-11-23T20:00:00+08:00", "--site", "qs-village", "-o", "csv"); got != wantCSV {
		t.Errorf("-o csv from 20:00:\n%s\nwant:\n%s", got, wantCSV)
	}

	for _, tt := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"report", "sla", "-o", "xml"}, 2, `-o "xml": want wide, json, yaml, csv`},
		{[]string{"site", "ls", "-o", "csv"}, 2, `-o "csv": want wide, json, yaml`},
		{[]string{"report", "sla", "--group-by", "room"}, 1, "group_by"},
		{[]string{"report", "sla", "--from", "last week"}, 1, "from:"},
		{[]string{"report", "sla", "--site", "atlantis", "-o", "csv"}, 1, "site: site not found: atlantis"},
	} {
		if _, errOut, code := c.run("", tt.args...); code != tt.code || !strings.Contains(errOut, tt.says) {
			t.Errorf("%v: exit %d, %s; want %d saying %q", tt.args, code, errOut, tt.code, tt.says)
		}
	}
}
