package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/timeseries"
	"github.com/anxin-care/anxin/gateway/timeseries/influxtest"
)

func querySeries(t *testing.T, g *gatewaytest.Gateway, m timeseries.Measurement, field string, tags map[string]string) []timeseries.Sample {
	t.Helper()
	ctx := context.Background()
	if err := g.TimeSeries().Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	now := time.Now()
	s, err := g.TimeSeries().Query(ctx, timeseries.Query{Measurement: m, Field: field, Tags: tags,
		Start: now.Add(-time.Hour), End: now.Add(time.Minute)})
	if err != nil {
		t.Fatalf("query %s.%s: %v", m, field, err)
	}
	return s
}

// TestPipelineWritesSeries: telemetry, events and alarm transitions reach
// the (embedded, default) store with the dashboard's tags.
func TestPipelineWritesSeries(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	g.SeedSites()
	dev := g.ConnectDevice("band-1", g.ProvisionWith(map[string]any{"id": "band-1", "kind": "safety_band",
		"site": "home-12-bedroom", "resident": "wang-xy"}))
	if err := dev.Publish("telemetry", `{"battery":77,"hr":71}`); err != nil {
		t.Fatal(err)
	}
	alarm := dev.Expect(dev.Press("band.fall"), "received").Alarm
	if code := g.Admin.Do("POST", "/api/v1/alarms/"+alarm+"/ack", nil, nil); code != 200 {
		t.Fatalf("ack: %d", code)
	}

	byPlace := map[string]string{timeseries.TagDevice: "band-1", timeseries.TagCounty: "qs-county",
		timeseries.TagVillage: "qs-village", timeseries.TagSite: "home-12", timeseries.TagResident: "wang-xy"}
	if s := querySeries(t, g, timeseries.Telemetry, "hr", byPlace); len(s) != 1 || s[0].Value != 71 {
		t.Fatalf("telemetry hr by place: %+v, want one 71", s)
	}
	if s := querySeries(t, g, timeseries.Events, timeseries.FieldCount, map[string]string{timeseries.TagType: "band.fall", timeseries.TagPriority: "P1"}); len(s) != 1 {
		t.Fatalf("events band.fall: %+v", s)
	}
	acked := querySeries(t, g, timeseries.Alarms, timeseries.FieldTTA, map[string]string{timeseries.TagState: "acknowledged", timeseries.TagType: "fall"})
	if len(acked) != 1 || acked[0].Value < 0 || acked[0].Value > 60 {
		t.Fatalf("alarm tta_s: %+v", acked)
	}
}

// TestInfluxOutageSparesAlarms: with InfluxDB stopped, devices keep
// sending telemetry and pressing; every press is still answered, points
// queue up to the bound and the rest are counted as dropped; when InfluxDB
// returns, the queued points arrive.
func TestInfluxOutageSparesAlarms(t *testing.T) {
	srv := influxtest.Start(t)
	const capacity = 40
	// A high device rate limit: this test is about the store, not the throttle.
	g := gatewaytest.Start(t, gateway.Config{EventRate: 1000, EventBurst: 1000, TimeSeries: timeseries.Config{
		Backend:  "influxdb",
		InfluxDB: timeseries.InfluxConfig{URL: srv.URL, Token: ":", Bucket: srv.Bucket, Timeout: timeseries.Duration(time.Second)},
		Buffer: timeseries.BufferConfig{Capacity: capacity, BatchSize: 20, FlushInterval: timeseries.Duration(50 * time.Millisecond),
			MinBackoff: timeseries.Duration(50 * time.Millisecond), MaxBackoff: timeseries.Duration(200 * time.Millisecond)},
	}})
	dev := g.ConnectDevice("band-2", g.Provision("band-2", "safety_band"))
	tags := map[string]string{timeseries.TagDevice: "band-2"}

	dev.Publish("telemetry", `{"hr":60}`)
	if s := querySeries(t, g, timeseries.Telemetry, "hr", tags); len(s) != 1 {
		t.Fatalf("before the outage: %d points, want 1", len(s))
	}
	// Press round trips are logged, not asserted: speed belongs in benchmarks.
	press := func() time.Duration {
		start := time.Now()
		dev.Expect(dev.Press("band.hr_abnormal"), "received")
		return time.Since(start)
	}
	var before time.Duration
	for range 5 {
		before += press()
	}
	if err := g.TimeSeries().Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	const sent = 100
	var during time.Duration
	for i := range sent {
		if err := dev.Publish("telemetry", fmt.Sprintf(`{"hr":%d,"ts":%d}`, 61+i%30, time.Now().Add(time.Duration(i)*time.Millisecond).UnixMilli())); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			during += press() // alarms carry on
		}
	}
	t.Logf("press → received: %s on average with InfluxDB up, %s while it is down", before/5, during/5)
	st := g.TimeSeries().Status()
	if st.Healthy || st.Dropped == 0 || st.Depth > capacity {
		t.Fatalf("during the outage: %+v; want unhealthy, some dropped, depth within %d", st, capacity)
	}
	var ready struct {
		TimeSeries timeseries.Status `json:"time_series"`
	}
	g.Anonymous().Do("GET", "/readyz", nil, &ready)
	if ready.TimeSeries.Dropped == 0 {
		t.Fatalf("/readyz does not show the dropped points: %+v", ready.TimeSeries)
	}

	srv.Restart()
	s := querySeries(t, g, timeseries.Telemetry, "hr", tags)
	if want := 1 + capacity; len(s) < want-5 || len(s) > 1+sent {
		t.Fatalf("after the outage %d points in InfluxDB; want about %d (1 before + the queued ones)", len(s), want)
	}
	if got := g.TimeSeries().Status(); !got.Healthy || got.Depth != 0 {
		t.Fatalf("after recovery: %+v", got)
	}
}
