package gateway_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// logBuffer keeps what the gateway logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestRefusalsDoNotFloodTheLog: 300 refused 4 KB publishes over MQTT 3.1.1
// (each ends its connection) are counted, one by one, but logged as a few
// short lines: one line per refusal, without the payload, rate-limited per
// device.
func TestRefusalsDoNotFloodTheLog(t *testing.T) {
	var log logBuffer
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithLog(&log))
	pwA := g.Provision("band-a", "safety_band")
	g.Provision("band-b", "safety_band")
	const n = 300
	payload := bytes.Repeat([]byte("x"), 4000)
	before := len(log.String())
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 10 {
				raw := gatewaytest.DialRaw(t, g.MQTTAddr())
				if ack, err := raw.Connect(gatewaytest.RawConnect{ClientID: fmt.Sprintf("band-a:%d", i), User: "band-a", Pass: pwA}); err != nil || ack.ReasonCode != 0 {
					t.Errorf("connect: %v %+v", err, ack)
					return
				}
				raw.Publish("anxin/v1/band-b/event", 1, false, payload, 1)
				raw.WaitClosed(5 * time.Second) // MQTT 3.1.1 has no refusal code: the broker disconnects
				raw.Conn.Close()
			}
		}()
	}
	wg.Wait()
	const series = `anxin_mqtt_publishes_refused_total{reason="not_authorized"}`
	deadline := time.Now().Add(5 * time.Second)
	for g.Metric(series) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %d", series, g.Metric(series), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	grown := log.String()[before:]
	if len(grown) > 32<<10 {
		t.Errorf("the log grew by %d bytes for %d refusals, want under 32 KiB", len(grown), n)
	}
	refusals := 0
	for _, line := range strings.Split(strings.TrimSpace(grown), "\n") {
		if len(line) > 600 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
		if strings.Contains(line, "publish refused") {
			refusals++
			for _, f := range []string{"device=band-a", "topic=anxin/v1/band-b/event", "reason=not_authorized", "size=4000"} {
				if !strings.Contains(line, f) {
					t.Errorf("refusal line without %s: %s", f, line)
				}
			}
		}
	}
	if refusals == 0 || refusals > 20 {
		t.Errorf("%d refusal lines for %d refusals from one device, want a few (rate-limited)", refusals, n)
	}
}
