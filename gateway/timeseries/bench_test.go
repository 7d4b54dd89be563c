package timeseries_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway/timeseries"
	"github.com/anxin-care/anxin/gateway/timeseries/influxtest"
)

// Benchmarks of telemetry through the Buffered writer into each store, as
// the ingest pipeline feeds it: one point per device message, 7 tags and 4
// fields, a fleet of 1,000 devices. The producer keeps the queue below
// half full (as a real fleet, which sends at its own pace, would not fill
// it), so the figure is the sustained rate the store drains, in points/s.
//
//	go test ./gateway/timeseries -run '^$' -bench BenchmarkWrite -benchtime 200000x

const benchDevices = 1000

func benchFleet() []map[string]string {
	tags := make([]map[string]string, benchDevices)
	for d := range tags {
		tags[d] = map[string]string{timeseries.TagDevice: fmt.Sprintf("band-%04d", d), timeseries.TagKind: "safety_band",
			timeseries.TagCounty: "c1", timeseries.TagTownship: fmt.Sprintf("t%d", d%10),
			timeseries.TagVillage: fmt.Sprintf("v%02d", d%50), timeseries.TagSite: fmt.Sprintf("home-%04d", d),
			timeseries.TagResident: fmt.Sprintf("r-%04d", d)}
	}
	return tags
}

func benchBuffered(b *testing.B, cfg timeseries.Config) {
	cfg.Buffer = timeseries.BufferConfig{Capacity: 100_000, BatchSize: 5_000, FlushInterval: timeseries.Duration(100 * time.Millisecond)}
	ts, err := timeseries.Open(cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ts.Close()
	tags := benchFleet()
	base := time.Now().Add(-2 * time.Hour)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		for i%1000 == 0 && ts.Depth() > 50_000 {
			time.Sleep(time.Millisecond)
		}
		p := timeseries.Point{Measurement: timeseries.Telemetry, Tags: tags[i%benchDevices],
			Time:   base.Add(time.Duration(i) * time.Millisecond),
			Fields: map[string]float64{"hr": float64(60 + i%40), "spo2": 97, "battery": float64(100 - i%100), "rssi": -60}}
		if err := ts.Write(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := ts.Flush(fctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "points/s")
	if st := ts.Status(); st.Dropped > 0 || st.Written != uint64(b.N) {
		b.Fatalf("written %d of %d, dropped %d", st.Written, b.N, st.Dropped)
	}
}

func BenchmarkWriteBufferedEmbedded(b *testing.B) {
	benchBuffered(b, timeseries.Config{Backend: timeseries.BackendEmbedded,
		Embedded: timeseries.EmbeddedConfig{Dir: b.TempDir()}})
}

func BenchmarkWriteBufferedInfluxDB(b *testing.B) {
	srv := influxtest.Start(b)
	benchBuffered(b, timeseries.Config{Backend: timeseries.BackendInfluxDB,
		InfluxDB: timeseries.InfluxConfig{URL: srv.URL, Token: ":", Bucket: srv.Bucket}})
}

// BenchmarkWriteCallStoreDown is what the alarm path pays per point while
// the store is down and the queue is full: a Write that drops and counts.
func BenchmarkWriteCallStoreDown(b *testing.B) {
	ts, err := timeseries.Open(timeseries.Config{Backend: timeseries.BackendInfluxDB,
		InfluxDB: timeseries.InfluxConfig{URL: "http://127.0.0.1:1", Bucket: "db/autogen"},
		Buffer:   timeseries.BufferConfig{Capacity: 1000, BatchSize: 100, CloseTimeout: timeseries.Duration(time.Millisecond)}}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ts.Close()
	p := timeseries.Point{Measurement: timeseries.Telemetry, Tags: benchFleet()[0], Time: time.Now(),
		Fields: map[string]float64{"hr": 70}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_ = ts.Write(ctx, p)
	}
}
