package timeseries_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anxin-care/anxin/gateway/timeseries"
	"github.com/anxin-care/anxin/gateway/timeseries/influxtest"
)

// TestInfluxOutage takes a real InfluxDB away while devices keep sending
// telemetry and pressing buttons: writes keep returning at once, points
// queue up to the bound, the excess is counted, and after InfluxDB comes
// back (same port, same data directory) the queued points arrive.
func TestInfluxOutage(t *testing.T) {
	srv := influxtest.Start(t)
	const capacity = 2000
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ts, err := timeseries.Open(timeseries.Config{
		Backend:  timeseries.BackendInfluxDB,
		InfluxDB: timeseries.InfluxConfig{URL: srv.URL, Token: ":", Bucket: srv.Bucket, Timeout: timeseries.Duration(2 * time.Second)},
		Buffer: timeseries.BufferConfig{Capacity: capacity, BatchSize: 200, FlushInterval: timeseries.Duration(50 * time.Millisecond),
			MinBackoff: timeseries.Duration(50 * time.Millisecond), MaxBackoff: timeseries.Duration(500 * time.Millisecond)},
	}, reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()

	base := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	seq := 0
	var worst time.Duration
	// send is one round of the fleet: 50 bands report, and one in ten presses its button.
	send := func() (dropped int) {
		for d := range 50 {
			at := base.Add(time.Duration(seq) * time.Millisecond)
			seq++
			pts := []timeseries.Point{{Measurement: timeseries.Telemetry, Time: at,
				Tags:   map[string]string{timeseries.TagDevice: fmt.Sprintf("band-%02d", d)},
				Fields: map[string]float64{"hr": 70, "battery": 90}}}
			if d%10 == 0 {
				pts = append(pts, timeseries.Point{Measurement: timeseries.Events, Time: at,
					Tags:   map[string]string{timeseries.TagDevice: fmt.Sprintf("band-%02d", d), timeseries.TagType: "band.sos", timeseries.TagPriority: "P1"},
					Fields: map[string]float64{timeseries.FieldCount: 1}})
			}
			start := time.Now()
			err := ts.Write(context.Background(), pts...)
			worst = max(worst, time.Since(start))
			if err != nil {
				dropped += len(pts)
			}
		}
		return dropped
	}
	count := func(m timeseries.Measurement, field string) float64 {
		t.Helper()
		got, err := ts.Query(context.Background(), timeseries.Query{Measurement: m, Field: field,
			Start: base, End: base.Add(time.Hour), Every: time.Hour, Fn: timeseries.Count})
		if err != nil {
			t.Fatalf("count %s: %v", m, err)
		}
		if len(got) == 0 {
			return 0
		}
		return got[0].Value
	}
	flush := func(timeout time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := ts.Flush(ctx); err != nil {
			t.Fatalf("flush: %v (status %+v)", err, ts.Status())
		}
	}

	for range 4 {
		send()
	}
	flush(10 * time.Second)
	before := 4 * 55
	if n := count(timeseries.Telemetry, "hr") + count(timeseries.Events, "count"); n != float64(before) {
		t.Fatalf("before the outage: %v points stored, want %d", n, before)
	}

	srv.Stop()
	lost := 0
	for i := 0; i < 50; i++ { // 2,750 points into a buffer of 2,000
		lost += send()
		time.Sleep(2 * time.Millisecond)
	}
	st := ts.Status()
	t.Logf("during the outage: %+v; slowest Write %v", st, worst)
	if st.Healthy || st.LastError == "" {
		t.Errorf("outage not visible in status: %+v", st)
	}
	if st.Depth != capacity {
		t.Errorf("depth %d during the outage, want the capacity %d", st.Depth, capacity)
	}
	sent := 50 * 55
	if lost != sent-capacity || st.Dropped != uint64(lost) {
		t.Errorf("dropped %d (status %d), want %d", lost, st.Dropped, sent-capacity)
	}
	if worst > 50*time.Millisecond {
		t.Errorf("a Write took %v while InfluxDB was down; it must not wait on the store", worst)
	}

	srv.Restart()
	flush(30 * time.Second)
	after := count(timeseries.Telemetry, "hr") + count(timeseries.Events, "count")
	if after != float64(before+capacity) {
		t.Errorf("after the outage: %v points stored, want %d before + %d buffered", after, before, capacity)
	}
	st = ts.Status()
	if !st.Healthy || !st.LastWriteAt.After(st.LastErrorAt) || st.Depth != 0 {
		t.Errorf("status after recovery: %+v", st)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	full := -1.0
	for _, mf := range mfs {
		if mf.GetName() != "anxin_tsdb_dropped_points_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == timeseries.DropFull {
					full = m.GetCounter().GetValue()
				}
			}
		}
	}
	if full != float64(lost) {
		t.Errorf("anxin_tsdb_dropped_points_total{reason=full} = %v, want %d", full, lost)
	}
}
