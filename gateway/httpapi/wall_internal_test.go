package httpapi

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/timeseries"
)

var seriesNow = time.Date(2026, 11, 30, 12, 34, 56, 0, time.UTC)

// TestParseSeriesQuery: what the wall asks of /api/v1/series becomes one
// store query; anything wrong is refused naming the parameter.
func TestParseSeriesQuery(t *testing.T) {
	for _, c := range []struct {
		query string
		want  timeseries.Query // compared where set
		err   string
	}{
		{query: "measurement=telemetry&field=hr&resident=r-1",
			want: timeseries.Query{Measurement: "telemetry", Field: "hr", Tags: map[string]string{"resident": "r-1"},
				Start: seriesNow.Add(-24 * time.Hour), End: seriesNow, Every: 5 * time.Minute, Fn: "mean"}},
		{query: "measurement=telemetry&field=spo2&device=band-1&every=10m&fn=min&from=2026-11-30T08:00:00%2B08:00&to=2026-11-30T09:00:00Z",
			want: timeseries.Query{Measurement: "telemetry", Field: "spo2", Tags: map[string]string{"device": "band-1"},
				Start: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), Every: 10 * time.Minute, Fn: "min"}},
		{query: "measurement=alarms&field=tta_s&priority=P1&every=raw", want: timeseries.Query{Measurement: "alarms", Every: 0}},
		{query: "measurement=cpu&field=hr", err: "measurement"},
		{query: "measurement=telemetry", err: "field is required"},
		{query: "measurement=telemetry&field=hr&password=x", err: `parameter "password"`},
		{query: "measurement=telemetry&field=hr&from=yesterday", err: "from:"},
		{query: "measurement=telemetry&field=hr&from=2026-11-01T00:00:00Z", err: "at most"},
		{query: "measurement=telemetry&field=hr&every=1s", err: "at most 2000 windows"},
		{query: "measurement=telemetry&field=hr&every=1.5s", err: "whole number of seconds"},
		{query: "measurement=telemetry&field=hr&every=-1m", err: "whole number of seconds"},
		{query: "measurement=telemetry&field=hr&fn=median", err: "fn"},
		{query: "measurement=telemetry&field=hr&every=raw&fn=max", err: "fn needs windows"},
	} {
		t.Run(c.query, func(t *testing.T) {
			v, _ := url.ParseQuery(c.query)
			q, err := parseSeriesQuery(v, seriesNow)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := c.want
			if q.Measurement != w.Measurement || w.Field != "" && q.Field != w.Field || q.Every != w.Every ||
				w.Fn != "" && q.Fn != w.Fn || !w.Start.IsZero() && !q.Start.Equal(w.Start) || !w.End.IsZero() && !q.End.Equal(w.End) {
				t.Fatalf("query %+v, want %+v", q, w)
			}
			for k, val := range w.Tags {
				if q.Tags[k] != val {
					t.Fatalf("tags %v, want %v", q.Tags, w.Tags)
				}
			}
		})
	}
}

// FuzzParseSeriesQuery: no query string crashes the parser, and whatever
// it accepts is a query the stores accept.
func FuzzParseSeriesQuery(f *testing.F) {
	for _, s := range []string{"measurement=telemetry&field=hr&resident=r-1", "measurement=alarms&field=tta_s&every=raw",
		"measurement=telemetry&field=hr&every=0s", "measurement=events&field=count&every=99999h&from=2026-11-30T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		q, err := parseSeriesQuery(v, seriesNow)
		if err == nil {
			if verr := q.Validate(); verr != nil {
				t.Fatalf("accepted %q as an invalid query: %v", s, verr)
			}
			if q.Every > 0 && q.End.Sub(q.Start)/q.Every > seriesMaxWindows {
				t.Fatalf("accepted %q with %d windows", s, q.End.Sub(q.Start)/q.Every)
			}
		}
	})
}

// TestAckStats: median and 90th percentile by nearest rank, P1 shares
// within 60 s and 180 s, and open P1 alarms waiting past a target count
// against it.
func TestAckStats(t *testing.T) {
	raised := func(ago time.Duration) *alerting.Alarm {
		return &alerting.Alarm{Priority: alerting.P1, State: alerting.Raised, Raised: seriesNow.Add(-ago)}
	}
	for _, c := range []struct {
		name          string
		all, p1       []float64
		open          []*alerting.Alarm
		median, p90   float64 // -1: absent
		met60, of60   int
		met180, of180 int
	}{
		{name: "nothing", median: -1, p90: -1},
		{name: "one", all: []float64{42}, p1: []float64{42}, median: 42, p90: 42, met60: 1, of60: 1, met180: 1, of180: 1},
		{name: "ten", all: []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 200}, p1: []float64{10, 61, 200},
			median: 50, p90: 90, met60: 1, of60: 3, met180: 2, of180: 3},
		{name: "waiting", all: []float64{5}, p1: []float64{5}, open: []*alerting.Alarm{raised(30 * time.Second), raised(2 * time.Minute), raised(5 * time.Minute),
			{Priority: alerting.P1, State: alerting.Acknowledged, Raised: seriesNow.Add(-time.Hour)}, {Priority: alerting.P2, State: alerting.Raised, Raised: seriesNow.Add(-time.Hour)}},
			median: 5, p90: 5, met60: 1, of60: 3, met180: 1, of180: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := ackStats(c.all, c.p1)
			st.waitingP1(c.open, seriesNow)
			val := func(p *float64) float64 {
				if p == nil {
					return -1
				}
				return *p
			}
			if val(st.MedianS) != c.median || val(st.P90S) != c.p90 {
				t.Errorf("median %v p90 %v, want %v %v", val(st.MedianS), val(st.P90S), c.median, c.p90)
			}
			w60, w180 := st.P1Within[0], st.P1Within[1]
			if w60.Seconds != 60 || w60.Met != c.met60 || w60.Of != c.of60 || w180.Seconds != 180 || w180.Met != c.met180 || w180.Of != c.of180 {
				t.Errorf("within %+v %+v, want 60 s %d/%d, 180 s %d/%d", w60, w180, c.met60, c.of60, c.met180, c.of180)
			}
			if (w60.Of == 0) != (w60.Share == nil) {
				t.Errorf("share %v of %d", w60.Share, w60.Of)
			}
		})
	}
}
