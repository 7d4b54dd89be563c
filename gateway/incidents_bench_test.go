package gateway

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/devices"
)

// BenchmarkPressOpenAlarms is the alarm path's own work for one press and
// its cancel (the engine over alertingtest.MemStore), with the correlation
// passes they kick, while 0 or 10,000 other alarms are open: P3 offline
// alarms, three to a home (too few for a site incident), as a county's
// fleet has after a bad night. A press must cost the same either way
// (issue 16: within 1.25×).
func BenchmarkPressOpenAlarms(b *testing.B) {
	for _, open := range []int{0, 10000} {
		b.Run(fmt.Sprintf("open=%d", open), func(b *testing.B) {
			log := slog.New(slog.DiscardHandler)
			clk := alertingtest.NewClock(courierT0)
			eng, err := alerting.NewEngine(alertingtest.NewMemStore(), alerting.Options{Now: clk.Now, Logger: log})
			if err != nil {
				b.Fatal(err)
			}
			x := benchIncidents(b, eng, benchSiteOf, benchSubtree, log)
			for i := range open {
				room := fmt.Sprintf("home-%d-r%d", i/3, i%3)
				if _, _, err := eng.RaiseCondition(fmt.Sprintf("dev-%d", i), alerting.Location{Site: room},
					alerting.TypeOffline, alerting.P3, "not heard", false); err != nil {
					b.Fatal(err)
				}
			}
			x.correlateOnce()
			at := alerting.Location{Site: "home-bench-r0"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				seq := uint64(2*i + 1)
				for _, ev := range []devices.Event{
					{Device: "btn-1", Seq: seq, Type: devices.CallPress, Received: clk.Now()},
					{Device: "btn-1", Seq: seq + 1, Type: devices.CallCancel, Received: clk.Now()},
				} {
					if _, err := eng.HandleEvent(ev, at, false); err != nil {
						b.Fatal(err)
					}
					x.correlateOnce()
				}
			}
		})
	}
}

// benchSiteOf: room home-N-rK is in home home-N.
func benchSiteOf(a *alerting.Alarm) string {
	if a.IsSite() {
		return ""
	}
	if i := strings.LastIndex(a.Site, "-r"); i > 0 {
		return a.Site[:i]
	}
	return ""
}

func benchSubtree(home string) []string {
	return []string{home, home + "-r0", home + "-r1", home + "-r2"}
}
