// Package timeseriestest holds the conformance suite every timeseries.Store
// must pass. The embedded store runs it against a temporary directory, the
// InfluxDB store against a real InfluxDB 1.8 (see influxtest), so the two
// can be swapped by configuration without a dashboard noticing.
//
// The suite writes points a few hours before the real clock, because an
// InfluxDB server has no injectable clock; stores must therefore use
// time.Now for their retention in these tests.
package timeseriestest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway/timeseries"
)

// NewStore returns an empty store for one test; the suite closes it.
type NewStore func(t *testing.T) timeseries.Store

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s timeseries.Store, base time.Time)
	}{
		{"RawRoundTrip", testRawRoundTrip},
		{"Aggregations", testAggregations},
		{"ManySeriesAsOne", testManySeriesAsOne},
		{"NoMatch", testNoMatch},
		{"Series", testSeries},
		{"OddTagValues", testOddTagValues},
		{"RepeatedPoint", testRepeatedPoint},
		{"LargeBatchAndLatePoints", testLargeBatch},
		{"InvalidInput", testInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			// Three hours back, on the hour: inside every retention, and
			// away from "now" so that range ends are stable.
			base := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
			tt.fn(t, s, base)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func telemetry(device, village string, t time.Time, fields map[string]float64) timeseries.Point {
	return timeseries.Point{
		Measurement: timeseries.Telemetry,
		Tags: map[string]string{timeseries.TagDevice: device, timeseries.TagKind: "safety_band",
			timeseries.TagCounty: "c1", timeseries.TagTownship: "t1", timeseries.TagVillage: village},
		Fields: fields,
		Time:   t,
	}
}

func write(t *testing.T, s timeseries.Store, points ...timeseries.Point) {
	t.Helper()
	if err := s.Write(ctx(t), points...); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := s.Flush(ctx(t)); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func query(t *testing.T, s timeseries.Store, q timeseries.Query) []timeseries.Sample {
	t.Helper()
	got, err := s.Query(ctx(t), q)
	if err != nil {
		t.Fatalf("query %+v: %v", q, err)
	}
	return got
}

func equalSamples(t *testing.T, what string, got, want []timeseries.Sample) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].Time.Equal(want[i].Time) && near(got[i].Value, want[i].Value)
	}
	if !ok {
		t.Errorf("%s:\n got  %v\n want %v", what, fmtSamples(got), fmtSamples(want))
	}
}

func near(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*max(math.Abs(a), math.Abs(b))
}

func fmtSamples(ss []timeseries.Sample) string {
	out := "["
	for _, s := range ss {
		out += fmt.Sprintf(" %s=%g", s.Time.Format("15:04:05.000"), s.Value)
	}
	return out + " ]"
}

type tv struct {
	t time.Time
	v float64
}

// reference aggregates points the way the Store contract says: windows
// aligned to the epoch, labelled by their start clipped to the range start,
// empty windows left out.
func reference(points []tv, start, end time.Time, every time.Duration, fn timeseries.Fn) []timeseries.Sample {
	type win struct {
		vals  []float64
		lastT time.Time
	}
	wins := map[time.Time]*win{}
	for _, p := range points {
		if p.t.Before(start) || !p.t.Before(end) {
			continue
		}
		ws := time.Unix(0, p.t.UnixNano()-p.t.UnixNano()%int64(every)).UTC()
		if ws.Before(start) {
			ws = start
		}
		w := wins[ws]
		if w == nil {
			w = &win{}
			wins[ws] = w
		}
		if !p.t.Before(w.lastT) || len(w.vals) == 0 {
			w.lastT = p.t
		}
		w.vals = append(w.vals, p.v)
	}
	var out []timeseries.Sample
	for ws, w := range wins {
		var v float64
		switch fn {
		case timeseries.Count:
			v = float64(len(w.vals))
		case timeseries.Sum, timeseries.Mean:
			for _, x := range w.vals {
				v += x
			}
			if fn == timeseries.Mean {
				v /= float64(len(w.vals))
			}
		case timeseries.Max:
			v = slices.Max(w.vals)
		case timeseries.Min:
			v = slices.Min(w.vals)
		case timeseries.Last:
			// points are appended in time order in these tests
			v = w.vals[len(w.vals)-1]
		}
		out = append(out, timeseries.Sample{Time: ws, Value: v})
	}
	slices.SortFunc(out, func(a, b timeseries.Sample) int { return a.Time.Compare(b.Time) })
	return out
}

func testRawRoundTrip(t *testing.T, s timeseries.Store, base time.Time) {
	var pts []timeseries.Point
	var want []timeseries.Sample
	for i := range 5 {
		at := base.Add(time.Duration(i) * 20 * time.Second).Add(123 * time.Millisecond)
		v := 60 + float64(i) + 0.1
		pts = append(pts, telemetry("d1", "v1", at, map[string]float64{"hr": v, "battery": 90}))
		want = append(want, timeseries.Sample{Time: at, Value: v})
	}
	write(t, s, pts...)
	q := timeseries.Query{Measurement: timeseries.Telemetry, Tags: map[string]string{"device": "d1"},
		Field: "hr", Start: base, End: base.Add(time.Hour)}
	equalSamples(t, "raw points", query(t, s, q), want)

	q.End = want[3].Time // end is exclusive
	equalSamples(t, "end exclusive", query(t, s, q), want[:3])
	q.Start, q.End = want[1].Time, base.Add(time.Hour) // start is inclusive
	equalSamples(t, "start inclusive", query(t, s, q), want[1:])
}

func testAggregations(t *testing.T, s timeseries.Store, base time.Time) {
	// 20 minutes of a reading every 10 s, values that make every function differ.
	var pts []timeseries.Point
	var ref []tv
	for i := range 120 {
		at := base.Add(time.Duration(i) * 10 * time.Second)
		v := float64((i*37)%23) + 0.5
		pts = append(pts, telemetry("d1", "v1", at, map[string]float64{"hr": v}))
		ref = append(ref, tv{at, v})
	}
	write(t, s, pts...)
	ranges := []struct{ name, start, end string }{
		{"aligned", "0s", "20m"},
		{"unaligned", "15s", "17m25s"},
		{"inside one minute", "2m5s", "2m50s"},
	}
	for _, r := range ranges {
		start, end := base.Add(mustDur(r.start)), base.Add(mustDur(r.end))
		for _, every := range []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Second, time.Hour} {
			for _, fn := range timeseries.Fns() {
				q := timeseries.Query{Measurement: timeseries.Telemetry, Tags: map[string]string{"device": "d1"},
					Field: "hr", Start: start, End: end, Every: every, Fn: fn}
				equalSamples(t, fmt.Sprintf("%s every %v %s", r.name, every, fn),
					query(t, s, q), reference(ref, start, end, every, fn))
			}
		}
	}
}

func mustDur(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

func testManySeriesAsOne(t *testing.T, s timeseries.Store, base time.Time) {
	var pts []timeseries.Point
	var both, d2 []tv
	for i := range 30 {
		at := base.Add(time.Duration(i) * 20 * time.Second)
		v1, v2 := float64(i), float64(100+i)
		pts = append(pts,
			telemetry("d1", "v1", at, map[string]float64{"spo2": v1}),
			telemetry("d2", "v1", at.Add(time.Second), map[string]float64{"spo2": v2}),
			telemetry("d3", "v2", at, map[string]float64{"spo2": 1000}))
		both = append(both, tv{at, v1}, tv{at.Add(time.Second), v2})
		d2 = append(d2, tv{at.Add(time.Second), v2})
	}
	write(t, s, pts...)
	start, end := base, base.Add(10*time.Minute)
	for _, fn := range timeseries.Fns() {
		q := timeseries.Query{Measurement: timeseries.Telemetry, Tags: map[string]string{"village": "v1"},
			Field: "spo2", Start: start, End: end, Every: 2 * time.Minute, Fn: fn}
		equalSamples(t, "village v1 "+string(fn), query(t, s, q), reference(both, start, end, 2*time.Minute, fn))
		q.Tags = map[string]string{"village": "v1", "device": "d2"}
		equalSamples(t, "device d2 "+string(fn), query(t, s, q), reference(d2, start, end, 2*time.Minute, fn))
	}
	raw := query(t, s, timeseries.Query{Measurement: timeseries.Telemetry, Tags: map[string]string{"village": "v1"},
		Field: "spo2", Start: start, End: end})
	if len(raw) != 60 || !slices.IsSortedFunc(raw, func(a, b timeseries.Sample) int { return a.Time.Compare(b.Time) }) {
		t.Errorf("raw points of two series: got %d (sorted %v), want 60 in time order", len(raw),
			slices.IsSortedFunc(raw, func(a, b timeseries.Sample) int { return a.Time.Compare(b.Time) }))
	}
}

func testNoMatch(t *testing.T, s timeseries.Store, base time.Time) {
	write(t, s, telemetry("d1", "v1", base, map[string]float64{"hr": 70}))
	for name, q := range map[string]timeseries.Query{
		"other device": {Measurement: timeseries.Telemetry, Tags: map[string]string{"device": "nope"}, Field: "hr"},
		"other field":  {Measurement: timeseries.Telemetry, Field: "gas_lel"},
		"other tag":    {Measurement: timeseries.Telemetry, Tags: map[string]string{"resident": "r1"}, Field: "hr"},
		"other time":   {Measurement: timeseries.Telemetry, Field: "hr", Start: base.Add(time.Minute)},
		"other table":  {Measurement: timeseries.Events, Field: "hr"},
	} {
		if q.Start.IsZero() {
			q.Start = base
		}
		q.End = base.Add(time.Hour)
		if got := query(t, s, q); len(got) != 0 {
			t.Errorf("%s: got %v, want nothing", name, fmtSamples(got))
		}
		q.Every, q.Fn = time.Minute, timeseries.Count
		if got := query(t, s, q); len(got) != 0 {
			t.Errorf("%s, windowed: got %v, want nothing", name, fmtSamples(got))
		}
	}
}

func testSeries(t *testing.T, s timeseries.Store, base time.Time) {
	var pts []timeseries.Point
	for _, d := range []string{"d3", "d1", "d2"} {
		pts = append(pts, telemetry(d, "v1", base.Add(time.Minute), map[string]float64{"battery": 80, "rssi": -60}))
	}
	pts = append(pts, timeseries.Point{Measurement: timeseries.Events,
		Tags:   map[string]string{"device": "d1", "type": "call.press", "priority": "P1"},
		Fields: map[string]float64{"count": 1}, Time: base.Add(2 * time.Minute)})
	write(t, s, pts...)

	got, err := s.Series(ctx(t), timeseries.Telemetry, base)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, se := range got {
		names = append(names, se.String())
	}
	want := []string{
		"telemetry,county=c1,device=d1,kind=safety_band,township=t1,village=v1",
		"telemetry,county=c1,device=d2,kind=safety_band,township=t1,village=v1",
		"telemetry,county=c1,device=d3,kind=safety_band,township=t1,village=v1",
	}
	if !slices.Equal(names, want) {
		t.Errorf("telemetry series:\n got  %q\n want %q", names, want)
	}
	got, err = s.Series(ctx(t), timeseries.Events, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].String() != "events,device=d1,priority=P1,type=call.press" {
		t.Errorf("events series: got %v", got)
	}
	got, err = s.Series(ctx(t), timeseries.Telemetry, base.Add(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("series seen since after their last point: got %v, want none", got)
	}
	if _, err := s.Series(ctx(t), "nope", base); !errors.Is(err, timeseries.ErrInvalidQuery) {
		t.Errorf("series of unknown measurement: err %v, want ErrInvalidQuery", err)
	}
}

func testOddTagValues(t *testing.T, s timeseries.Store, base time.Time) {
	tags := map[string]string{
		"device":   "d 1,x=y",
		"village":  "安心村",
		"site":     `home "7" $ {x} ${y}`,
		"resident": "r=1",
	}
	write(t, s, timeseries.Point{Measurement: timeseries.Telemetry, Tags: tags,
		Fields: map[string]float64{"temp_c": 36.6}, Time: base})
	got := query(t, s, timeseries.Query{Measurement: timeseries.Telemetry, Tags: tags, Field: "temp_c",
		Start: base, End: base.Add(time.Minute)})
	equalSamples(t, "odd tags", got, []timeseries.Sample{{Time: base, Value: 36.6}})
	series, err := s.Series(ctx(t), timeseries.Telemetry, base)
	if err != nil {
		t.Fatal(err)
	}
	want := timeseries.Series{Measurement: timeseries.Telemetry, Tags: tags}
	if len(series) != 1 || series[0].String() != want.String() {
		t.Errorf("odd tags series: got %v, want %v", series, want)
	}
}

func testRepeatedPoint(t *testing.T, s timeseries.Store, base time.Time) {
	p := telemetry("d1", "v1", base.Add(5*time.Second), map[string]float64{"hr": 70})
	write(t, s, p)
	write(t, s, p) // a redelivery, or a batch retried after a timeout
	q := timeseries.Query{Measurement: timeseries.Telemetry, Tags: map[string]string{"device": "d1"},
		Field: "hr", Start: base, End: base.Add(time.Hour), Every: time.Minute, Fn: timeseries.Count}
	equalSamples(t, "count of a repeated point", query(t, s, q), []timeseries.Sample{{Time: base, Value: 1}})
}

func testLargeBatch(t *testing.T, s timeseries.Store, base time.Time) {
	const devices, minutes = 100, 50 // 5,000 points in one write
	var pts []timeseries.Point
	for m := range minutes {
		for d := range devices {
			pts = append(pts, telemetry(fmt.Sprintf("d%03d", d), "v1", base.Add(time.Duration(m)*time.Minute),
				map[string]float64{"battery": 100 - float64(m), "hr": 60 + float64(d%20), "spo2": 97, "temp_c": 36.5}))
		}
	}
	write(t, s, pts...)
	// A late point, an hour before the rest (an edge box catching up).
	write(t, s, telemetry("d000", "v1", base.Add(-time.Hour), map[string]float64{"battery": 100}))

	q := timeseries.Query{Measurement: timeseries.Telemetry, Field: "battery",
		Start: base.Add(-2 * time.Hour), End: base.Add(2 * time.Hour), Every: time.Hour, Fn: timeseries.Count}
	equalSamples(t, "hourly counts", query(t, s, q), []timeseries.Sample{
		{Time: base.Add(-time.Hour), Value: 1}, {Time: base, Value: devices * minutes}})
	q.Fn, q.Tags = timeseries.Min, map[string]string{"device": "d042"}
	equalSamples(t, "min battery", query(t, s, q), []timeseries.Sample{{Time: base, Value: 100 - minutes + 1}})
}

func testInvalidInput(t *testing.T, s timeseries.Store, base time.Time) {
	bad := []timeseries.Point{
		{Measurement: "weather", Fields: map[string]float64{"x": 1}, Time: base},
		{Measurement: timeseries.Telemetry, Time: base},
		{Measurement: timeseries.Telemetry, Fields: map[string]float64{"hr": math.NaN()}, Time: base},
		{Measurement: timeseries.Telemetry, Fields: map[string]float64{"hr": 1}},
		{Measurement: timeseries.Telemetry, Tags: map[string]string{"device": ""}, Fields: map[string]float64{"hr": 1}, Time: base},
		{Measurement: timeseries.Telemetry, Tags: map[string]string{"_field": "x"}, Fields: map[string]float64{"hr": 1}, Time: base},
	}
	for i, p := range bad {
		if err := s.Write(ctx(t), p); !errors.Is(err, timeseries.ErrInvalidPoint) {
			t.Errorf("bad point %d (%+v): err %v, want ErrInvalidPoint", i, p, err)
		}
	}
	badQueries := []timeseries.Query{
		{Measurement: timeseries.Telemetry, Field: "hr", Start: base},
		{Measurement: timeseries.Telemetry, Field: "hr", Start: base, End: base},
		{Measurement: timeseries.Telemetry, Start: base, End: base.Add(time.Hour)},
		{Measurement: timeseries.Telemetry, Field: "hr", Start: base, End: base.Add(time.Hour), Every: time.Minute},
		{Measurement: timeseries.Telemetry, Field: "hr", Start: base, End: base.Add(time.Hour), Every: time.Minute, Fn: "median"},
		{Measurement: timeseries.Telemetry, Field: "hr", Start: base, End: base.Add(time.Hour), Every: 1500 * time.Millisecond, Fn: "mean"},
	}
	for i, q := range badQueries {
		if _, err := s.Query(ctx(t), q); !errors.Is(err, timeseries.ErrInvalidQuery) {
			t.Errorf("bad query %d (%+v): err %v, want ErrInvalidQuery", i, q, err)
		}
	}
}
