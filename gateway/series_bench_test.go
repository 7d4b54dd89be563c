package gateway_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/timeseries"
	"github.com/anxin-care/anxin/gateway/timeseries/influxtest"
)

// BenchmarkTelemetryPipeline measures telemetry through the whole pipeline:
// MQTT publish (QoS 1, so the broker has handled it) → decode → buffered
// writer → store, until the store has it. Figures: points/s.
//
//	go test -run '^$' -bench TelemetryPipeline -benchtime 20000x ./gateway/
func BenchmarkTelemetryPipeline(b *testing.B) {
	b.Run("embedded", func(b *testing.B) { benchPipeline(b, timeseries.Config{}) })
	b.Run("influxdb", func(b *testing.B) {
		srv := influxtest.Start(b)
		benchPipeline(b, timeseries.Config{Backend: "influxdb",
			InfluxDB: timeseries.InfluxConfig{URL: srv.URL, Token: ":", Bucket: srv.Bucket}})
	})
}

func benchPipeline(b *testing.B, tc timeseries.Config) {
	const nDevices = 20
	g := gatewaytest.Start(b, gateway.Config{TimeSeries: tc, EventRate: 1e6, EventBurst: 1e6})
	devs := make([]*gatewaytest.Device, nDevices)
	for i := range devs {
		id := fmt.Sprintf("band-%02d", i)
		devs[i] = g.ConnectDevice(id, g.Provision(id, "safety_band"))
	}
	before := g.TimeSeries().Status().Written
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < b.N; j += nDevices {
				ts := start.Add(time.Duration(j) * time.Millisecond).UnixMilli()
				d.Client.Publish("anxin/v1/"+d.ID+"/telemetry", 1, false,
					fmt.Sprintf(`{"ts":%d,"hr":%d,"spo2":97,"battery":80}`, ts, 60+j%40)).Wait()
			}
		}()
	}
	wg.Wait()
	if err := g.TimeSeries().Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := g.TimeSeries().Status()
	if got := st.Written - before; got < uint64(b.N) {
		b.Fatalf("store has %d points of %d sent (dropped %d)", got, b.N, st.Dropped)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "points/s")
}
