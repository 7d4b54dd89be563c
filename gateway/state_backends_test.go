package gateway_test

import (
	"log/slog"
	"os"
	"testing"
	"time"

	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/internal/pgtest"
)

// The gateway's tests that loop over gatewaytest.Backends run on bbolt and
// on PostgreSQL (TestPressToResolve, TestRedeliveryRaisesOnce,
// TestConsoleSessionSurvivesRestart, TestRegistrySurvivesRestart,
// TestDutyCheckInSurvivesRestart, TestOutboxSurvivesRestart); with
// ANXIN_TEST_STATE=postgres every other test gateway runs on PostgreSQL
// too. pgtest.Main stops the PostgreSQL server they share. The anxin
// binary the crash tests build once (buildAnxin) is removed at the end.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if anxinBuild.dir != "" {
		os.RemoveAll(anxinBuild.dir)
	}
	os.Exit(code)
}

// TestStateBackendLatency measures press → "received" on each state
// backend with the load generator (firmware-sim's Bench): 20 call
// buttons, 200 presses/s for 5 s. It runs only with ANXIN_STATE_BENCH=1
// and asserts only that nothing is lost; the figures are in the log:
//
//	ANXIN_STATE_BENCH=1 go test -v -run TestStateBackendLatency ./gateway/
func TestStateBackendLatency(t *testing.T) {
	if os.Getenv("ANXIN_STATE_BENCH") != "1" {
		t.Skip("a measurement: set ANXIN_STATE_BENCH=1")
	}
	for _, backend := range gatewaytest.Backends {
		t.Run(backend, func(t *testing.T) {
			g := gatewaytest.Start(t, gateway.Config{State: gatewaytest.State(t, backend), EventRate: 1000, EventBurst: 1000})
			var creds []firmwaresim.Credentials
			for _, id := range firmwaresim.FleetIDs("lat-", 20) {
				creds = append(creds, firmwaresim.Credentials{ID: id, Password: g.Provision(id, "call_button")})
			}
			res, err := firmwaresim.Bench(t.Context(), firmwaresim.BenchOptions{
				Broker: "tcp://" + g.MQTTAddr(), Devices: creds, Rate: 200, Duration: 5 * time.Second,
				StateDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Lost() != 0 {
				t.Errorf("%d presses lost", res.Lost())
			}
			t.Logf("%s: %d presses, p50 %v p99 %v max %v, %d state transactions",
				backend, res.Received, res.Quantile(0.5), res.Quantile(0.99), res.Quantile(1), g.DB().Syncs())
		})
	}
}
