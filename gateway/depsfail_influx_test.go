package gateway_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/timeseries"
	"github.com/anxin-care/anxin/gateway/timeseries/influxtest"
)

// Dependencies failing (issue 13, point 3): the time-series store. The
// outage tests of gateway/timeseries (TestInfluxOutage) and
// TestInfluxOutageSparesAlarms overflow the buffer and count what is
// dropped; this one keeps within the bound and requires every point.

// waitLog waits up to 10 s for a line of log containing want.
func waitLog(t *testing.T, log *lockedBuffer, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for line := range strings.SplitSeq(log.String(), "\n") {
			if strings.Contains(line, want) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q within 10 s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stallProxy is a TCP proxy in front of a server that can stall: while
// stalled it forwards no byte either way and leaves new connections
// unanswered, as a hung network path or a full switch buffer does.
type stallProxy struct {
	ln       net.Listener
	upstream string

	mu      sync.Mutex
	stalled bool
	thawed  chan struct{} // closed when a stall ends
	conns   []net.Conn
}

func newStallProxy(t *testing.T, upstream string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, upstream: upstream, thawed: make(chan struct{})}
	close(p.thawed)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *stallProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stalled {
		p.stalled, p.thawed = true, make(chan struct{})
	}
}

func (p *stallProxy) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled {
		p.stalled = false
		close(p.thawed)
	}
}

// gate blocks while the proxy is stalled.
func (p *stallProxy) gate() {
	p.mu.Lock()
	ch := p.thawed
	p.mu.Unlock()
	<-ch
}

func (p *stallProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		go func() {
			p.gate()
			up, err := net.Dial("tcp", p.upstream)
			if err != nil {
				c.Close()
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, up)
			p.mu.Unlock()
			go p.pipe(up, c)
			p.pipe(c, up)
		}()
	}
}

// pipe copies src to dst, holding each chunk while the proxy is stalled.
func (p *stallProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *stallProxy) close() {
	p.thaw()
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestInfluxFailingSparesAlarms: InfluxDB killed, hung (SIGSTOP) and
// behind a network path that stalls, while a band sends telemetry and
// presses its button. Presses are answered as quickly as before (the alarm
// path never waits on the store); telemetry queues within the buffer's
// bound; /readyz, the metrics and the log say the store is failing; once
// it is back every point sent meanwhile is in InfluxDB, none dropped.
func TestInfluxFailingSparesAlarms(t *testing.T) {
	srv := influxtest.Start(t)
	proxy := newStallProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	for _, tc := range []struct {
		fault     string
		take, fix func()
	}{
		{"stopped", srv.Stop, srv.Restart},
		{"paused (SIGSTOP)", srv.Pause, srv.Resume},
		{"network stalled", proxy.stall, proxy.thaw},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			const capacity, sent = 1000, 150
			log := &lockedBuffer{}
			// The store's timeout (2 s) is longer than a press may take
			// (1 s): a press that waited on the store would fail the test.
			g := gatewaytest.Start(t, gateway.Config{EventRate: 1000, EventBurst: 1000, TimeSeries: timeseries.Config{
				Backend:  "influxdb",
				InfluxDB: timeseries.InfluxConfig{URL: proxy.URL(), Token: ":", Bucket: srv.Bucket, Timeout: timeseries.Duration(2 * time.Second)},
				Buffer: timeseries.BufferConfig{Capacity: capacity, BatchSize: 50, FlushInterval: timeseries.Duration(50 * time.Millisecond),
					MinBackoff: timeseries.Duration(50 * time.Millisecond), MaxBackoff: timeseries.Duration(500 * time.Millisecond)},
			}}, gatewaytest.WithLog(log))
			id := "band-" + strings.Fields(tc.fault)[0]
			dev := g.ConnectDevice(id, g.Provision(id, "safety_band"))
			tags := map[string]string{timeseries.TagDevice: id}
			start := time.Now()
			telemetry := func(i int) {
				t.Helper()
				p := fmt.Sprintf(`{"hr":%d,"ts":%d}`, 60+i%40, start.Add(time.Duration(i)*time.Millisecond).UnixMilli())
				if err := dev.Publish("telemetry", p); err != nil {
					t.Fatal(err)
				}
			}
			press := func() time.Duration {
				t.Helper()
				at := time.Now()
				dev.Expect(dev.Press("band.sos"), "received")
				return time.Since(at)
			}
			telemetry(0)
			var up time.Duration
			for range 3 {
				up = max(up, press())
			}
			if err := g.TimeSeries().Flush(context.Background()); err != nil {
				t.Fatalf("flush before the fault: %v", err)
			}
			const healthy = `anxin_tsdb_healthy{backend="influxdb"}`
			if got := g.Metric(healthy); got != 1 {
				t.Fatalf("%s = %v before the fault", healthy, got)
			}

			tc.take()
			var down time.Duration
			for i := 1; i <= sent; i++ {
				telemetry(i)
				if i%10 == 0 {
					down = max(down, press())
				}
			}
			t.Logf("slowest press → received: %v with InfluxDB up, %v while it is %s", up, down, tc.fault)
			if down > time.Second {
				t.Errorf("a press took %v to be answered while InfluxDB was %s", down, tc.fault)
			}
			line := waitLog(t, log, "time-series store failing")
			var ready struct {
				Ready      bool              `json:"ready"`
				Checks     map[string]string `json:"checks"`
				TimeSeries timeseries.Status `json:"time_series"`
			}
			deadline := time.Now().Add(10 * time.Second)
			for g.Anonymous().Do("GET", "/readyz", nil, &ready); ready.TimeSeries.Healthy && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
				g.Anonymous().Do("GET", "/readyz", nil, &ready)
			}
			st := ready.TimeSeries
			t.Logf("/readyz while %s: ready=%v checks.time_series=%q", tc.fault, ready.Ready, ready.Checks["time_series"])
			t.Logf("log: %s", line)
			if st.Healthy || st.LastError == "" || st.Depth == 0 || st.Depth > capacity || st.Dropped != 0 {
				t.Errorf("/readyz time_series while %s: %+v; want unhealthy with the error, points queued within %d, none dropped", tc.fault, st, capacity)
			}
			if !strings.HasPrefix(ready.Checks["time_series"], "failing") {
				t.Errorf("/readyz checks.time_series = %q while InfluxDB is %s", ready.Checks["time_series"], tc.fault)
			}
			if !ready.Ready {
				t.Errorf("/readyz says not ready while only the time-series store is %s: alarms do not need it", tc.fault)
			}
			if got := g.Metric(healthy); got != 0 {
				t.Errorf("%s = %v while InfluxDB is %s", healthy, got, tc.fault)
			}

			tc.fix()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := g.TimeSeries().Flush(ctx); err != nil {
				t.Fatalf("flush after InfluxDB came back: %v (%+v)", err, g.TimeSeries().Status())
			}
			waitLog(t, log, "time-series store recovered")
			if s := querySeries(t, g, timeseries.Telemetry, "hr", tags); len(s) != 1+sent {
				t.Errorf("after the fault: %d telemetry points in InfluxDB, want %d (1 before, %d during)", len(s), 1+sent, sent)
			}
			if st := g.TimeSeries().Status(); !st.Healthy || st.Dropped != 0 || st.Depth != 0 {
				t.Errorf("after recovery: %+v", st)
			}
		})
	}
}
