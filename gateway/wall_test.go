package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/timeseries"
	"github.com/anxin-care/anxin/gateway/timeseries/influxtest"
)

// newWall makes a wall token as admin and returns a client that uses it.
func newWall(t *testing.T, g *gatewaytest.Gateway, name string) (*gatewaytest.Client, httpapi.WallTokenCreated) {
	t.Helper()
	var made httpapi.WallTokenCreated
	if code := g.Admin.Do("POST", "/api/v1/wall-tokens", httpapi.NewWallToken{Name: name}, &made); code != 201 || made.Token == "" || made.ID == "" {
		t.Fatalf("make wall token: HTTP %d %+v", code, made)
	}
	wall := g.Anonymous()
	wall.Token = made.Token
	return wall, made
}

// openStream opens the alarm stream with token and returns its lines, on
// a channel closed when the gateway ends it.
func openStream(t *testing.T, base, token string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/stream?access_token="+url.QueryEscape(token), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("stream: HTTP %d", resp.StatusCode)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	return lines
}

// TestWallTokenLifecycle: an admin makes a wall token, shown once; the
// wall reads its summary, series and stream with it, also after a
// restart, and its stream tells of an alarm without naming anything of
// it; others may not make one; revoking it closes its open stream at once
// and its next request is 401.
func TestWallTokenLifecycle(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	op := g.AddUser("li", "operator")
	if code := op.Do("POST", "/api/v1/wall-tokens", httpapi.NewWallToken{Name: "duty room"}, nil); code != 403 {
		t.Fatalf("operator makes a wall token: HTTP %d, want 403", code)
	}
	var bad struct{ Error, Field string }
	if code := g.Admin.Do("POST", "/api/v1/wall-tokens", httpapi.NewWallToken{Name: " "}, &bad); code != 400 || bad.Field != "name" {
		t.Fatalf("wall token without a name: HTTP %d %+v, want 400 naming the field", code, bad)
	}
	wall, made := newWall(t, g, "county duty room")

	reads := func(t *testing.T, wall *gatewaytest.Client) {
		t.Helper()
		for _, path := range []string{"/api/v1/wall/summary", "/api/v1/series?measurement=telemetry&field=hr"} {
			if code := wall.Do("GET", path, nil, nil); code != 200 {
				t.Fatalf("wall GET %s: HTTP %d, want 200", path, code)
			}
		}
	}
	reads(t, wall)

	var list struct {
		WallTokens []map[string]any `json:"wall_tokens"`
	}
	if code := g.Admin.Do("GET", "/api/v1/wall-tokens", nil, &list); code != 200 || len(list.WallTokens) != 1 {
		t.Fatalf("list: HTTP %d %+v", code, list)
	}
	got := list.WallTokens[0]
	if got["id"] != made.ID || got["name"] != "county duty room" || got["created_by"] != "admin" {
		t.Errorf("listed %v", got)
	}
	for _, secret := range []string{"token", "key"} {
		if v, ok := got[secret]; ok {
			t.Errorf("the list shows %s %v", secret, v)
		}
	}

	g = g.Restart()
	wall = g.Anonymous()
	wall.Token = made.Token
	reads(t, wall)

	g.SeedSites()
	btn := g.ConnectDevice("btn-1", g.ProvisionWith(map[string]any{"id": "btn-1", "kind": "call_button",
		"site": "home-12-bedroom", "resident": "wang-xy"}))
	lines := openStream(t, g.BaseURL, made.Token)
	btn.Expect(btn.Press("call.press"), "received")
	var frame []string
	for line := range lines {
		frame = append(frame, line)
		if line == "event: alarm" {
			frame = append(frame, <-lines)
			break
		}
	}
	if got := frame[len(frame)-1]; got != "data: {}" {
		t.Fatalf("the wall's stream frame of an alarm: %q, want its data left out", frame)
	}
	if code := g.Admin.Do("DELETE", "/api/v1/wall-tokens/"+made.ID, nil, nil); code != 204 {
		t.Fatalf("revoke: HTTP %d", code)
	}
	timeout := time.After(5 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-lines:
		case <-timeout:
			t.Fatal("the revoked wall's stream is still open 5 s later")
		}
	}
	if code := wall.Do("GET", "/api/v1/wall/summary", nil, nil); code != 401 {
		t.Fatalf("revoked wall reads the summary: HTTP %d, want 401", code)
	}
	if code := g.Admin.Do("DELETE", "/api/v1/wall-tokens/"+made.ID, nil, nil); code != 404 {
		t.Fatalf("revoke twice: HTTP %d, want 404", code)
	}
}

// TestWallTokenChangesNothing walks every authenticated route: a wall
// token reads the summary, the series and the stream, and is refused
// (403) everything else, above all every route that changes state.
func TestWallTokenChangesNothing(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	g.SeedSites()
	g.Provision("btn-1", "call_button")
	wall, _ := newWall(t, g, "wall")
	reads := map[string]bool{"GET /api/v1/stream": true, "GET /api/v1/wall/summary": true, "GET /api/v1/series": true}
	fill := strings.NewReplacer("{id}", "btn-1", "{name}", "admin")
	changing := 0
	for _, pattern := range httpapi.Routes() {
		method, path, _ := strings.Cut(pattern, " ")
		if reads[pattern] {
			continue
		}
		if method != "GET" {
			changing++
		}
		t.Run(pattern, func(t *testing.T) {
			var e struct{ Error string }
			if code := wall.Do(method, fill.Replace(path), map[string]any{}, &e); code != 403 {
				t.Fatalf("HTTP %d (%s), want 403", code, e.Error)
			}
		})
	}
	if changing < 20 {
		t.Fatalf("only %d state-changing routes walked: is httpapi.Routes complete?", changing)
	}
	if d, ok := g.Registry().Get("btn-1"); !ok || d.Site != "" {
		t.Fatalf("btn-1 after the wall's attempts: %+v, %v", d, ok)
	}
}

// TestWallSummary: presses, an acknowledgement and telemetry from real
// devices on the default embedded store show on the summary as the wall
// draws them.
func TestWallSummary(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	g.SeedSites()
	band := g.ConnectDevice("band-1", g.ProvisionWith(map[string]any{"id": "band-1", "kind": "safety_band",
		"site": "home-12-bedroom", "resident": "wang-xy"}))
	btn := g.ConnectDevice("btn-1", g.ProvisionWith(map[string]any{"id": "btn-1", "kind": "call_button", "site": "home-12-bedroom"}))
	if err := band.Publish("telemetry", `{"battery":5,"hr":71,"spo2":97}`); err != nil {
		t.Fatal(err)
	}
	if err := btn.Publish("status", `{"online":true}`); err != nil {
		t.Fatal(err)
	}
	call := btn.Expect(btn.Press("call.press"), "received").Alarm
	if code := g.Admin.Do("POST", "/api/v1/alarms/"+call+"/ack", nil, nil); code != 200 {
		t.Fatalf("ack: HTTP %d", code)
	}
	band.Expect(band.Press("band.fall"), "received")
	// An installer's walk test, watched: its call is no care given, so
	// neither the open counts nor the hourly chart count it.
	walk := g.ConnectDevice("btn-walk", g.ProvisionWith(map[string]any{"id": "btn-walk", "kind": "call_button", "site": "home-12-bedroom"}))
	if code := g.Admin.Do("POST", "/api/v1/devices/btn-walk/test", map[string]any{"on": true, "duration": "1h"}, nil); code != 200 {
		t.Fatalf("walk test: HTTP %d", code)
	}
	g.Admin.Watch("btn-walk")
	walk.Expect(walk.Press("call.press"), "received")
	if err := g.TimeSeries().Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	wall, _ := newWall(t, g, "wall")
	var s httpapi.WallSummary
	if code := wall.Do("GET", "/api/v1/wall/summary", nil, &s); code != 200 {
		t.Fatalf("summary: HTTP %d", code)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"series_ok", s.SeriesOK, true},
		{"open P1", s.Open["P1"], 2},
		{"open P3 (the band's low battery)", s.Open["P3"], 1},
		{"open alarms listed", len(s.OpenAlarms), 3},
		{"listed first", s.OpenAlarms[0].Priority, "P1"},
		{"hours", len(s.HoursAt), 24},
		{"calls in the last hour", s.PerHour["call"][23], 1},
		{"falls in the last hour", s.PerHour["fall"][23], 1},
		{"acknowledged", s.Ack.Count, 1},
		{"P1 within 60 s", s.Ack.P1Within[0].Met, 1},
		{"P1 waiting", s.Ack.P1Waiting, 1},
		{"sites", len(s.Sites), 1},
		{"site", s.Sites[0].ID, "qs-village"},
		{"devices", s.Sites[0].Total, 3},
		{"online", s.Sites[0].Online, 3},
		{"low battery", s.Sites[0].LowBattery, 1},
		{"vitals", len(s.Vitals), 1},
		{"vitals label", s.Vitals[0].Label, "王＊"},
		{"last event", s.LastEventAt != nil && time.Since(*s.LastEventAt) < time.Minute, true},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	if s.Ack.MedianS == nil || *s.Ack.MedianS < 0 || *s.Ack.MedianS > 60 {
		t.Errorf("median time to acknowledge %v", s.Ack.MedianS)
	}
	b, _ := json.Marshal(s)
	if strings.Contains(string(b), "王秀英") {
		t.Errorf("the summary names the resident in full: %s", b)
	}
}

// TestWallSameOnBothStores writes the same points to a gateway on the
// embedded store and to one on a real InfluxDB 1.8.10, and reads the same
// summary (its time-series part) and the same series from both.
func TestWallSameOnBothStores(t *testing.T) {
	srv := influxtest.Start(t)
	embedded := gatewaytest.Start(t, gateway.Config{})
	influx := gatewaytest.Start(t, gateway.Config{TimeSeries: timeseries.Config{Backend: "influxdb",
		InfluxDB: timeseries.InfluxConfig{URL: srv.URL, Token: ":", Bucket: srv.Bucket, Timeout: timeseries.Duration(5 * time.Second)}}})

	now := time.Now().UTC().Truncate(time.Millisecond)
	var points []timeseries.Point
	alarm := func(ago time.Duration, typ, prio, state string, fields map[string]float64) {
		fields["count"] = 1
		points = append(points, timeseries.Point{Measurement: timeseries.Alarms, Time: now.Add(-ago), Fields: fields,
			Tags: map[string]string{"type": typ, "priority": prio, "state": state, "device": "dev-" + typ, "site": "home-12"}})
	}
	for i, ago := range []time.Duration{23 * time.Hour, 20 * time.Hour, 20*time.Hour + time.Minute, 5 * time.Hour, 90 * time.Second} {
		typ := []string{"call", "smoke", "call", "fall", "smoke"}[i]
		alarm(ago, typ, "P1", "raised", map[string]float64{})
		tta := []float64{12, 45, 70, 200, 30}[i]
		alarm(ago-time.Duration(tta)*time.Second, typ, "P1", "acknowledged", map[string]float64{"tta_s": tta})
	}
	alarm(3*time.Hour, "offline", "P3", "raised", map[string]float64{})
	alarm(3*time.Hour-10*time.Minute, "offline", "P3", "acknowledged", map[string]float64{"tta_s": 600})
	for i := range 50 {
		at := now.Add(-time.Duration(i) * 17 * time.Minute)
		points = append(points, timeseries.Point{Measurement: timeseries.Telemetry, Time: at,
			Tags:   map[string]string{"device": "band-1", "kind": "safety_band", "resident": "wang-xy"},
			Fields: map[string]float64{"hr": 60 + float64(i%13), "spo2": 95 + float64(i%4)}})
		points = append(points, timeseries.Point{Measurement: timeseries.Events, Time: at.Add(-time.Second),
			Tags: map[string]string{"device": "band-1", "type": "band.worn"}, Fields: map[string]float64{"count": 1}})
	}

	from := now.Add(-24 * time.Hour).Truncate(time.Hour).Format(time.RFC3339)
	to := now.Add(time.Second).Format(time.RFC3339)
	type answer struct {
		Summary httpapi.WallSeries
		Series  map[string]httpapi.SeriesView
	}
	answers := map[string]answer{}
	for name, g := range map[string]*gatewaytest.Gateway{"embedded": embedded, "influxdb": influx} {
		if err := g.TimeSeries().Write(context.Background(), points...); err != nil {
			t.Fatal(err)
		}
		if err := g.TimeSeries().Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		var s httpapi.WallSummary
		if code := g.Admin.Do("GET", "/api/v1/wall/summary", nil, &s); code != 200 || !s.SeriesOK {
			t.Fatalf("%s: summary HTTP %d, series_ok %v: %s", name, code, s.SeriesOK, s.SeriesError)
		}
		a := answer{Summary: s.WallSeries, Series: map[string]httpapi.SeriesView{}}
		for _, q := range []string{
			"measurement=telemetry&field=hr&resident=wang-xy&every=1h",
			"measurement=telemetry&field=spo2&device=band-1&every=10m&fn=min",
			"measurement=telemetry&field=hr&resident=wang-xy&every=raw",
			"measurement=alarms&field=tta_s&priority=P1&every=raw",
		} {
			var v httpapi.SeriesView
			if code := g.Admin.Do("GET", "/api/v1/series?"+q+"&from="+from+"&to="+url.QueryEscape(to), nil, &v); code != 200 {
				t.Fatalf("%s: series %s: HTTP %d", name, q, code)
			}
			a.Series[q] = v
		}
		answers[name] = a
	}
	e, i := answers["embedded"], answers["influxdb"]
	if len(e.Summary.PerHour["call"]) != 24 || e.Summary.Ack.Count != 6 || e.Summary.LastEventAt == nil {
		t.Fatalf("embedded summary misses the points: %+v", e.Summary)
	}
	if !reflect.DeepEqual(e.Summary, i.Summary) {
		eb, _ := json.Marshal(e.Summary)
		ib, _ := json.Marshal(i.Summary)
		t.Errorf("summaries differ:\nembedded %s\ninfluxdb %s", eb, ib)
	}
	for q, ev := range e.Series {
		iv := i.Series[q]
		if len(ev.Samples) == 0 || !reflect.DeepEqual(ev.Samples, iv.Samples) {
			t.Errorf("series %s differ or are empty:\nembedded %v\ninfluxdb %v", q, ev.Samples, iv.Samples)
		}
	}
}

// TestWallSummaryStoreDown: with InfluxDB stopped the summary still
// answers, from memory, and says the store did not (the wall's stale
// banner reads series_ok); when InfluxDB is back, it says so again.
func TestWallSummaryStoreDown(t *testing.T) {
	srv := influxtest.Start(t)
	g := gatewaytest.Start(t, gateway.Config{TimeSeries: timeseries.Config{Backend: "influxdb",
		InfluxDB: timeseries.InfluxConfig{URL: srv.URL, Token: ":", Bucket: srv.Bucket, Timeout: timeseries.Duration(time.Second)}}})
	btn := g.ConnectDevice("btn-1", g.Provision("btn-1", "call_button"))
	btn.Expect(btn.Press("call.press"), "received")
	summary := func() httpapi.WallSummary {
		t.Helper()
		var s httpapi.WallSummary
		if code := g.Admin.Do("GET", "/api/v1/wall/summary", nil, &s); code != 200 {
			t.Fatalf("summary: HTTP %d", code)
		}
		return s
	}
	if s := summary(); !s.SeriesOK {
		t.Fatalf("with InfluxDB up: series_ok false: %s", s.SeriesError)
	}
	srv.Stop()
	s := summary()
	if s.SeriesOK || s.SeriesError == "" || s.SeriesCheckedAt.IsZero() {
		t.Fatalf("with InfluxDB down: series_ok %v, error %q, checked %v", s.SeriesOK, s.SeriesError, s.SeriesCheckedAt)
	}
	if s.Open["P1"] != 1 {
		t.Fatalf("with InfluxDB down the open alarms went too: %v", s.Open)
	}
	srv.Restart()
	if s := summary(); !s.SeriesOK {
		t.Fatalf("InfluxDB back: series_ok false: %s", s.SeriesError)
	}
}
