package versus_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/firmware-sim/versus"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// The responder Mosquitto's side needs is this test binary re-executed.
func TestMain(m *testing.M) {
	versus.MaybeRunResponder()
	os.Exit(m.Run())
}

// The short form of the benchmark: a few devices for a second each, one
// round, every measure. It proves the table comes out with both servers
// and their ratios; it asserts no timings (the machine is shared).
func TestShortFormPrintsTheTableWithBothServers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts anxin and mosquitto; skipped with -short")
	}
	mosq := "/usr/sbin/mosquitto" // Debian's, often not on a user's $PATH
	if _, err := os.Stat(mosq); err != nil {
		mosq = gatewaytest.NeedBinary(t, "mosquitto") // fails under CI=true when missing
	}
	goBin := gatewaytest.NeedBinary(t, "go")
	bin := filepath.Join(t.TempDir(), "anxin")
	if out, err := exec.Command(goBin, "build", "-o", bin, "github.com/anxin-care/anxin/cmd/anxin").CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/anxin: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress strings.Builder
	tab, err := versus.Run(ctx, versus.Options{
		MosquittoBin: mosq, AnxinBin: bin, Dir: t.TempDir(), Rounds: 1,
		PressDevices: 5, PressRate: 50, TelemetryDevices: 5, TelemetryRate: 200, Duration: time.Second,
		CeilingDevices: 5, CeilingStart: 500, CeilingMax: 1000, Idle: 60, Storm: 20, OpenAlarms: 20, SourceIPs: 2,
		Progress: &syncBuilder{b: &progress},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := tab.Write(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())
	for _, m := range tab.Measures() {
		for _, s := range versus.Servers {
			c, ok := tab.Cell(m, s)
			if !ok {
				t.Errorf("%s: no %s row", m, s)
				continue
			}
			if !c.Usage {
				t.Errorf("%s on %s: no CPU and RSS from /proc", m, s)
			}
			if len(c.Lat) == 0 && c.Value() == 0 {
				t.Errorf("%s on %s: neither latencies nor a figure", m, s)
			}
		}
		if !strings.Contains(out.String(), "| "+m+" | anxin/mosquitto |") {
			t.Errorf("%s: no ratio row", m)
		}
	}
	for _, want := range []string{"press → received", "press → operator stream", "telemetry ceiling", "idle devices", "alarm storm", "→ ready", "→ first press answered"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table has no %q row", want)
		}
	}
}

type syncBuilder struct{ b *strings.Builder }

func (s *syncBuilder) Write(p []byte) (int, error) { return s.b.Write(p) }
