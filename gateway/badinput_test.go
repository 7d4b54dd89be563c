package gateway_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

func rejections(t *testing.T, g *gatewaytest.Gateway, reason string) float64 {
	t.Helper()
	return g.Metric(fmt.Sprintf("anxin_rejections_total{reason=%q}", reason))
}

// TestMalformedPayloads: each bad payload is refused with its named reason
// and counted; the device that sent it stays connected and the gateway goes
// on serving every device.
func TestMalformedPayloads(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	bad := g.ConnectDevice("btn-bad", g.Provision("btn-bad", "call_button"))
	good := g.ConnectDevice("btn-good", g.Provision("btn-good", "call_button"))
	pad := strings.Repeat("x", 4100)
	tests := []struct {
		name, channel, payload, reason string
	}{
		{"not JSON", "event", `press!`, "malformed_json"},
		{"truncated JSON", "event", `{"seq":1,"type":`, "malformed_json"},
		{"JSON array", "event", `[1,2,3]`, "malformed_json"},
		{"two objects", "event", `{"seq":1,"type":"call.press"}{}`, "malformed_json"},
		{"stray closing brace", "event", `{"seq":1,"type":"call.press"}}`, "malformed_json"},
		{"unknown type", "event", `{"seq":2,"type":"call.explode"}`, "unknown_type"},
		{"no type", "event", `{"seq":2}`, "unknown_type"},
		{"missing seq", "event", `{"type":"call.press"}`, "missing_seq"},
		{"negative seq", "event", `{"seq":-1,"type":"call.press"}`, "bad_field"},
		{"string seq", "event", `{"seq":"7","type":"call.press"}`, "bad_field"},
		{"fractional ts", "event", `{"seq":3,"ts":1.5,"type":"call.press"}`, "bad_field"},
		{"data not an object", "event", `{"seq":3,"type":"call.press","data":[1]}`, "bad_field"},
		{"oversized", "event", `{"seq":4,"type":"call.press","data":{"pad":"` + pad + `"}}`, "oversized"},
		{"nested 2,022 deep", "event", `{"seq":5,"type":"call.press","data":{"a":` + strings.Repeat("[", 2022) + strings.Repeat("]", 2022) + `}}`, "too_deep"},
		{"telemetry not a number", "telemetry", `{"battery":"high"}`, "bad_field"},
		{"status without online", "status", `{"fw":"1.0"}`, "bad_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rejections(t, g, tt.reason)
			if err := bad.Publish(tt.channel, tt.payload); err != nil {
				t.Fatalf("publish: %v", err)
			}
			if got := rejections(t, g, tt.reason) - before; got != 1 {
				t.Fatalf("rejections{reason=%q} rose by %v, want 1", tt.reason, got)
			}
			if !bad.Client.IsConnectionOpen() {
				t.Fatal("the sender was disconnected for a bad payload")
			}
		})
	}
	if n := len(g.Engine().Open()); n != 0 {
		t.Fatalf("bad payloads raised %d alarms", n)
	}
	good.Expect(good.Press("call.press"), "received")
	bad.Expect(bad.Press("call.press"), "received")
}

// TestFloodingDeviceIsThrottledAlone: a device sending far over its rate is
// slowed on its own connection, and another device's press is answered
// while the flood is still being held back.
func TestFloodingDeviceIsThrottledAlone(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{EventRate: 50, EventBurst: 5})
	flood := g.ConnectDevice("band-flood", g.Provision("band-flood", "safety_band"))
	calm := g.ConnectDevice("btn-calm", g.Provision("btn-calm", "call_button"))

	const n = 60 // at 50/s after a burst of 5: a bit over a second
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lastAck time.Time
	start := time.Now()
	for i := 1; i <= n; i++ {
		tok := flood.Client.Publish("anxin/v1/band-flood/event", 1, false,
			fmt.Sprintf(`{"seq":%d,"ts":%d,"type":"band.hr_abnormal"}`, i, time.Now().UnixMilli()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok.WaitTimeout(10 * time.Second)
			mu.Lock()
			lastAck = time.Now()
			mu.Unlock()
		}()
	}
	calm.Expect(calm.Press("call.press"), "received")
	answered := time.Now()
	wg.Wait()
	if !answered.Before(lastAck) {
		t.Fatalf("the calm device was answered only after the flood drained")
	}
	// 5 at once, then 50/s: the flood cannot have been accepted faster than that.
	if took, least := lastAck.Sub(start), time.Duration(n-5)*time.Second/50; took < least {
		t.Fatalf("flood of %d accepted in %s; the rate limit allows no less than %s", n, took, least)
	}
	if th := g.Metric("anxin_throttled_events_total"); th == 0 {
		t.Fatal("no event counted as throttled")
	}
	// Slowed, not lost: every flooded event was accepted into one alarm.
	for _, a := range g.Engine().Open() {
		if a.Device == "band-flood" && a.Count != n {
			t.Fatalf("flood alarm count %d, want %d", a.Count, n)
		}
	}
}

// TestTelemetryNeverHoldsUpAlarms: a device that floods telemetry has it
// dropped past its rate, but its own alarm events have a bucket of their own
// and are not slowed by it.
func TestTelemetryNeverHoldsUpAlarms(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	dev := g.ConnectDevice("band-chatty", g.Provision("band-chatty", "safety_band"))
	before := rejections(t, g, "rate_limited")
	for i := range 200 {
		dev.Client.Publish("anxin/v1/band-chatty/telemetry", 0, false, fmt.Sprintf(`{"hr":%d}`, 60+i%30))
	}
	dev.Expect(dev.Press("band.sos"), "received")
	if th := g.Metric("anxin_throttled_events_total"); th != 0 {
		t.Fatalf("the SOS waited behind telemetry (%v events throttled)", th)
	}
	if dropped := rejections(t, g, "rate_limited") - before; dropped == 0 {
		t.Fatal("200 telemetry messages at once were all accepted; the limit did nothing")
	}
}
