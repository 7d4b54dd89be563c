package firmwaresim_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/devices"
	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
	"github.com/anxin-care/anxin/firmware-sim/simtest"
)

func fleet(n int) []firmwaresim.Credentials {
	var out []firmwaresim.Credentials
	for _, id := range firmwaresim.FleetIDs("bench-", n) {
		out = append(out, firmwaresim.Credentials{ID: id, Password: "pw"})
	}
	return out
}

func TestBench(t *testing.T) {
	broker := simtest.StartBroker(t)
	gw := simtest.NewGateway(t, broker.URL)
	res, err := firmwaresim.Bench(t.Context(), firmwaresim.BenchOptions{
		Broker: broker.URL, Devices: fleet(5), Rate: 100, Duration: time.Second,
		StateDir: t.TempDir(), Logger: quiet(),
	})
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	if res.Planned != 100 || res.Issued != 100 || res.Received != 100 || res.Lost() != 0 {
		t.Errorf("planned %d issued %d received %d lost %d; want 100, 100, 100, 0",
			res.Planned, res.Issued, res.Received, res.Lost())
	}
	// Loose bounds: the machine may be busy with other builds.
	if a := res.Achieved(); a < 50 || a > 150 {
		t.Errorf("achieved %.1f presses/s, want about 100", a)
	}
	if !(0 < res.Quantile(0.5) && res.Quantile(0.5) <= res.Quantile(0.99) && res.Quantile(0.99) <= res.Quantile(1)) {
		t.Errorf("percentiles not ordered: p50 %v p99 %v max %v", res.Quantile(0.5), res.Quantile(0.99), res.Quantile(1))
	}
	// Presses are spread evenly: each of the 5 devices sent 20 events.
	for _, c := range fleet(5) {
		if n := len(gw.Messages(simtest.On(c.ID, devices.ChannelEvent))); n != 20 {
			t.Errorf("%s sent %d events, want 20", c.ID, n)
		}
	}
	var report strings.Builder
	if err := res.WriteReport(&report); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"received 100, lost 0", "p50", "p95", "p99", "max"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
}

func TestBenchCountsLostPresses(t *testing.T) {
	broker := simtest.StartBroker(t)
	gw := simtest.NewGateway(t, broker.URL)
	gw.Mute(true)
	res, err := firmwaresim.Bench(t.Context(), firmwaresim.BenchOptions{
		Broker: broker.URL, Devices: fleet(2), Rate: 50, Duration: 200 * time.Millisecond,
		Timeout: 100 * time.Millisecond, Logger: quiet(),
	})
	if !errors.Is(err, firmwaresim.ErrLost) {
		t.Errorf("error = %v, want ErrLost", err)
	}
	if res.Issued != 10 || res.TimedOut != 10 || res.Received != 0 {
		t.Errorf("issued %d, timed out %d, received %d; want 10, 10, 0", res.Issued, res.TimedOut, res.Received)
	}
}

// TestBenchStopsWhenCancelled interrupts a long run: the schedule stops,
// presses already issued are still counted.
func TestBenchStopsWhenCancelled(t *testing.T) {
	broker := simtest.StartBroker(t)
	simtest.NewGateway(t, broker.URL)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := firmwaresim.Bench(ctx, firmwaresim.BenchOptions{
		Broker: broker.URL, Devices: fleet(2), Rate: 20, Duration: time.Hour, Logger: quiet(),
	})
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("cancelled bench took %v", took)
	}
	if res.Issued == 0 || res.Issued >= res.Planned || res.Received != res.Issued {
		t.Errorf("issued %d of %d, received %d; want some issued, all received", res.Issued, res.Planned, res.Received)
	}
}

func TestBenchOptionsRejected(t *testing.T) {
	ok := firmwaresim.BenchOptions{Broker: "tcp://127.0.0.1:1", Devices: fleet(1), Rate: 10, Duration: time.Second}
	tests := []struct {
		name   string
		change func(*firmwaresim.BenchOptions)
	}{
		{"no devices", func(o *firmwaresim.BenchOptions) { o.Devices = nil }},
		{"zero rate", func(o *firmwaresim.BenchOptions) { o.Rate = 0 }},
		{"negative duration", func(o *firmwaresim.BenchOptions) { o.Duration = -time.Second }},
		{"less than one press", func(o *firmwaresim.BenchOptions) { o.Rate, o.Duration = 0.5, time.Second }},
		{"too many presses", func(o *firmwaresim.BenchOptions) { o.Rate, o.Duration = 1e6, time.Hour }},
		{"unknown kind", func(o *firmwaresim.BenchOptions) { o.Kind = "toaster" }},
		{"bad broker", func(o *firmwaresim.BenchOptions) { o.Broker = "http://x" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.change(&o)
			if _, err := firmwaresim.Bench(t.Context(), o); !errors.Is(err, firmwaresim.ErrInvalidConfig) {
				t.Errorf("error = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	r := firmwaresim.BenchResult{}
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.95, 95 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}}
	for _, tt := range tests {
		if got := r.Quantile(tt.q); got != tt.want {
			t.Errorf("quantile %v = %v, want %v", tt.q, got, tt.want)
		}
	}
}
