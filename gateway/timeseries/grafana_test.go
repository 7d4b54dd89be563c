package timeseries_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway/timeseries"
	"github.com/anxin-care/anxin/gateway/timeseries/influxtest"
)

// The Grafana files live in deploy/grafana; these tests keep them honest:
// every dashboard is JSON that Grafana can load, and every Flux query in
// them runs on a real InfluxDB 1.8.10 against data written by this package.
const grafanaDir = "../../deploy/grafana"

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string      `json:"name"`
			Type       string      `json:"type"`
			Query      any         `json:"query"`
			Datasource *datasource `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    *struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string      `json:"refId"`
		Datasource *datasource `json:"datasource"`
		Query      string      `json:"query"` // Flux
		Expr       string      `json:"expr"`  // PromQL
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(grafanaDir, "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s/dashboards (%v)", grafanaDir, err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		dec := json.NewDecoder(strings.NewReader(string(b)))
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// TestDashboardsAreGrafanaJSON checks what Grafana needs to load a
// provisioned dashboard: uid, title, schemaVersion, panels with unique ids,
// a type, a place on the grid and, except rows and text, queries with
// refIds against a provisioned data source.
func TestDashboardsAreGrafanaJSON(t *testing.T) {
	prov, err := os.ReadFile(filepath.Join(grafanaDir, "provisioning", "datasources", "anxin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+uid:\s*(\S+)`).FindAllStringSubmatch(string(prov), -1) {
		uids[m[1]] = true
	}
	seenUID := map[string]string{}
	for name, d := range loadDashboards(t) {
		t.Run(name, func(t *testing.T) {
			if d.UID == "" || len(d.UID) > 40 || d.Title == "" || d.SchemaVersion < 30 || len(d.Panels) == 0 {
				t.Errorf("uid %q, title %q, schemaVersion %d, %d panels", d.UID, d.Title, d.SchemaVersion, len(d.Panels))
			}
			if other, dup := seenUID[d.UID]; dup {
				t.Errorf("uid %q also used by %s", d.UID, other)
			}
			seenUID[d.UID] = name
			ids := map[int]bool{}
			for _, p := range allPanels(d.Panels) {
				if p.ID <= 0 || ids[p.ID] {
					t.Errorf("panel %q: id %d missing or repeated", p.Title, p.ID)
				}
				ids[p.ID] = true
				if p.Type == "" || p.Title == "" || p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
					t.Errorf("panel %d %q: type %q, gridPos %+v", p.ID, p.Title, p.Type, p.GridPos)
				}
				if p.Type == "row" || p.Type == "text" {
					continue
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no targets", p.Title)
				}
				for _, tg := range p.Targets {
					ds := tg.Datasource
					if ds == nil {
						ds = p.Datasource
					}
					if tg.RefID == "" || ds == nil || !uids[ds.UID] || tg.Query == "" && tg.Expr == "" {
						t.Errorf("panel %q target %q: datasource %+v (provisioned: %v), query empty %v",
							p.Title, tg.RefID, ds, uids, tg.Query == "" && tg.Expr == "")
					}
				}
			}
			for _, v := range d.Templating.List {
				if v.Type == "query" && (v.Datasource == nil || !uids[v.Datasource.UID]) {
					t.Errorf("variable %s: datasource %+v not provisioned", v.Name, v.Datasource)
				}
			}
		})
	}
}

// shape is what a dashboard query must return on the seeded data.
type shape struct {
	minRows int
	columns []string // each row has these columns
	groupBy string   // when set, at least minGroups distinct values of this column
	groups  int
	value   *float64 // when set, the single row's _value
}

func value(v float64) *float64 { return &v }

var safetyShapes = map[string]shape{
	"Open P1 alarms":  {minRows: 1, columns: []string{"_value"}, value: value(1)},
	"Open alarms":     {minRows: 1, columns: []string{"_value"}, value: value(3)},
	"Devices online":  {minRows: 1, columns: []string{"_value"}, value: value(10)},
	"Devices offline": {minRows: 1, columns: []string{"_value"}, value: value(2)},
	"Low battery":     {minRows: 1, columns: []string{"_value"}, value: value(1)},
	// 4 of the 14 seeded P1 alarms were acknowledged within 60 s.
	"P1 acknowledged within 60 s":                    {minRows: 1, columns: []string{"_value"}, value: value(400.0 / 14)},
	"Alarms per hour by type":                        {minRows: 24, columns: []string{"_time", "_value", "type"}, groupBy: "type", groups: 3},
	"Time to acknowledge (P1), percentiles per hour": {minRows: 6, columns: []string{"_time", "_value", "percentile"}, groupBy: "percentile", groups: 3},
	"Devices online / offline / low battery":         {minRows: 30, columns: []string{"_time", "_value", "_field"}, groupBy: "_field", groups: 3},
	"Per-site status":                                {minRows: 4, columns: []string{"site", "village", "alarms_open_p1", "devices_offline", "devices_online"}, groupBy: "site", groups: 4},
	"Heart rate":                                     {minRows: 30, columns: []string{"_time", "_value", "resident"}, groupBy: "resident", groups: 4},
	"SpO2":                                           {minRows: 30, columns: []string{"_time", "_value", "resident"}, groupBy: "resident", groups: 4},
	"Body temperature":                               {minRows: 30, columns: []string{"_time", "_value", "resident"}, groupBy: "resident", groups: 4},
	"Low battery devices":                            {minRows: 1, columns: []string{"device", "battery", "site", "reported"}, groupBy: "device", groups: 1},
	"Events per hour by type":                        {minRows: 3, columns: []string{"_time", "_value", "type"}, groupBy: "type", groups: 3},
	"$county":                                        {minRows: 2, columns: []string{"_value"}},
	"$township":                                      {minRows: 3, columns: []string{"_value"}},
	"$resident":                                      {minRows: 4, columns: []string{"_value"}},
}

// grafanaVars stands in for what Grafana substitutes before sending a query.
func grafanaVars(start, stop time.Time, bucket string, selected map[string]string) func(string) string {
	return func(q string) string {
		r := []string{
			"v.timeRangeStart", start.Format(time.RFC3339),
			"v.timeRangeStop", stop.Format(time.RFC3339),
			"v.windowPeriod", "5m",
			"v.defaultBucket", fmt.Sprintf("%q", bucket),
		}
		for _, name := range []string{"county", "township", "resident"} {
			val := ".*" // "All", the allValue of every variable
			if v, ok := selected[name]; ok {
				val = regexp.QuoteMeta(v)
			}
			r = append(r, "${"+name+":regex}", val, "${"+name+"}", val, "$"+name, val)
		}
		return strings.NewReplacer(r...).Replace(q)
	}
}

func TestSafetyDashboardQueries(t *testing.T) {
	srv := influxtest.Start(t)
	store, err := timeseries.OpenInflux(timeseries.InfluxConfig{URL: srv.URL, Token: ":", Bucket: srv.Bucket}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now().UTC()
	if err := store.Write(context.Background(), seedDay(now)...); err != nil {
		t.Fatal(err)
	}
	d := loadDashboards(t)["anxin-24h-safety.json"]
	subst := grafanaVars(now.Add(-24*time.Hour), now, srv.Bucket, nil)

	queries := map[string]string{}
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			if tg.Query != "" {
				queries[p.Title] = tg.Query
			}
		}
	}
	for _, v := range d.Templating.List {
		if s, ok := v.Query.(string); ok && v.Type == "query" {
			queries["$"+v.Name] = s
		}
	}
	for title := range safetyShapes {
		if _, ok := queries[title]; !ok {
			t.Errorf("expected query %q is not in the dashboard", title)
		}
	}
	for title, q := range queries {
		t.Run(title, func(t *testing.T) {
			want, ok := safetyShapes[title]
			if !ok {
				t.Fatalf("no expected shape for this query; add one to safetyShapes")
			}
			flux := subst(q)
			if strings.Contains(flux, "${") || strings.Contains(flux, "v.") && regexp.MustCompile(`\bv\.[a-zA-Z]`).MatchString(flux) {
				t.Fatalf("unsubstituted variable left in:\n%s", flux)
			}
			rows := runFlux(t, store, flux)
			checkShape(t, rows, want, flux)
		})
	}

	// With a county selected, the per-site table shows only its sites.
	t.Run("county filter", func(t *testing.T) {
		flux := grafanaVars(now.Add(-24*time.Hour), now, srv.Bucket, map[string]string{"county": "c2"})(queries["Per-site status"])
		rows := runFlux(t, store, flux)
		if len(rows) != 1 || rows[0]["site"] != "home-004" {
			t.Errorf("county c2: %v, want only home-004", rows)
		}
	})
}

func runFlux(t *testing.T, s *timeseries.Influx, flux string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.Run(ctx, flux, func(r map[string]any) error {
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		t.Fatalf("%v\nquery:\n%s", err, flux)
	}
	return rows
}

func checkShape(t *testing.T, rows []map[string]any, want shape, flux string) {
	t.Helper()
	if len(rows) < want.minRows {
		t.Errorf("%d rows, want at least %d\nquery:\n%s\nrows: %v", len(rows), want.minRows, flux, rows)
		return
	}
	if want.value != nil {
		if v, ok := rows[0]["_value"].(float64); len(rows) != 1 || !ok || math.Abs(v-*want.value) > 1e-9 {
			t.Errorf("rows %v, want one with _value %v\nquery:\n%s", rows, *want.value, flux)
		}
	}
	groups := map[any]bool{}
	for i, r := range rows {
		for _, c := range want.columns {
			if v, ok := r[c]; !ok || v == nil {
				t.Errorf("row %d has no %q: %v", i, c, r)
				return
			}
		}
		if want.groupBy != "" {
			groups[r[want.groupBy]] = true
		}
	}
	if len(groups) < want.groups {
		keys := slices.Collect(func(yield func(string) bool) {
			for k := range groups {
				yield(fmt.Sprint(k))
			}
		})
		t.Errorf("%d distinct %s (%v), want at least %d", len(groups), want.groupBy, keys, want.groups)
	}
}

// seedDay writes the last 24 hours of a small county the way the gateway
// writes them: two counties, four sites, bands on four residents, smoke,
// gas and call-button devices, alarms with their transitions, and the
// gateway's own gauges every ten minutes.
func seedDay(now time.Time) []timeseries.Point {
	type site struct{ county, township, village, site string }
	sites := []site{{"c1", "t1", "v1", "home-001"}, {"c1", "t1", "v2", "home-002"},
		{"c1", "t2", "v3", "nursing-home-3"}, {"c2", "t3", "v4", "home-004"}}
	tags := func(s site, extra ...string) map[string]string {
		m := map[string]string{timeseries.TagCounty: s.county, timeseries.TagTownship: s.township,
			timeseries.TagVillage: s.village, timeseries.TagSite: s.site}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	var pts []timeseries.Point
	add := func(m timeseries.Measurement, tg map[string]string, at time.Time, fields map[string]float64) {
		pts = append(pts, timeseries.Point{Measurement: m, Tags: tg, Time: at, Fields: fields})
	}
	start := now.Add(-24 * time.Hour).Truncate(10 * time.Minute).Add(10 * time.Minute)
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * 10 * time.Minute)
		if !at.Before(now) {
			break
		}
		for n, s := range sites {
			band := tags(s, "device", fmt.Sprintf("band-%d", n), "kind", "safety_band", "resident", fmt.Sprintf("r-%d", n))
			add(timeseries.Telemetry, band, at, map[string]float64{"hr": float64(62 + (i+n*7)%25), "spo2": float64(94 + (i+n)%5),
				"temp_c": 36.2 + float64((i+n)%6)/10, "battery": float64(100 - i/3), "rssi": -60})
			smoke := tags(s, "device", fmt.Sprintf("smoke-%d", n), "kind", "smoke_detector")
			add(timeseries.Telemetry, smoke, at, map[string]float64{"battery": float64(15 + n*20), "smoke_obscuration": 0.01})
			add(timeseries.Gateway, tags(s, "instance", "gw-1"), at, map[string]float64{
				"devices_total": 3, "devices_online": float64(3 - n%2), "devices_offline": float64(n % 2),
				"devices_low_battery": float64(boolInt(n == 0)), "alarms_open": float64(n % 3), "alarms_open_p1": float64(boolInt(n == 2)),
				"operators_on_duty": 1})
		}
		add(timeseries.Gateway, map[string]string{"instance": "gw-1"}, at, map[string]float64{
			"devices_total": 12, "devices_online": 10, "devices_offline": 2, "devices_low_battery": 1,
			"alarms_open": 3, "alarms_open_p1": 1, "operators_on_duty": 4})
	}
	// Alarms: a press every two hours, a fall, a fire, an offline gas detector.
	type alarm struct {
		typ, prio, device, kind string
		site                    site
		hour                    int
		tta                     float64
	}
	var alarms []alarm
	for h := 1; h < 24; h += 2 {
		alarms = append(alarms, alarm{"call.press", "P1", "button-1", "call_button", sites[1], h, float64(15 + h*7)})
	}
	alarms = append(alarms, alarm{"band.fall", "P1", "band-2", "safety_band", sites[2], 5, 42},
		alarm{"smoke.alarm", "P1", "smoke-0", "smoke_detector", sites[0], 10, 75},
		alarm{"device.offline", "P3", "gas-3", "gas_detector", sites[3], 12, 900})
	for _, a := range alarms {
		raised := now.Add(-time.Duration(24-a.hour) * time.Hour)
		base := []string{"type", a.typ, "priority", a.prio, "device", a.device, "kind", a.kind}
		add(timeseries.Events, tags(a.site, base...), raised, map[string]float64{"count": 1})
		add(timeseries.Alarms, tags(a.site, append(base, "state", "raised")...), raised, map[string]float64{"count": 1})
		ack := raised.Add(time.Duration(a.tta * float64(time.Second)))
		add(timeseries.Alarms, tags(a.site, append(base, "state", "acknowledged")...), ack, map[string]float64{"count": 1, "tta_s": a.tta})
		add(timeseries.Alarms, tags(a.site, append(base, "state", "resolved", "outcome", "assisted")...), ack.Add(10*time.Minute),
			map[string]float64{"count": 1, "ttr_s": a.tta + 600})
	}
	return pts
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
