package gateway_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/state"
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

// TestPostgresOutage: while the database is down the gateway does not
// acknowledge a device's event (nothing is claimed durable that is not),
// and /readyz says why; once it is back the device's resend raises the
// alarm, once, and /readyz is ready again.
func TestPostgresOutage(t *testing.T) {
	srv := pgtest.Start(t)
	name, err := srv.CreateDatabase(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, gateway.Config{State: state.Config{Backend: state.BackendPostgres,
		Postgres: state.PostgresConfig{DSN: srv.DSN(name)}}})
	pw := g.Provision("btn-1", "call_button")
	dev := g.ConnectDevice("btn-1", pw)
	dev.Expect(dev.Press("call.press"), "received")

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Ready  bool
		Checks map[string]string
	}
	pollUntil(t, 20*time.Second, "/readyz failing while the database is down", func() bool {
		code := g.Anonymous().Do("GET", "/readyz", nil, &ready)
		return code == 503 && !ready.Ready && strings.Contains(ready.Checks["state_store"], "postgres")
	})
	t.Logf("database down: /readyz state_store = %q", ready.Checks["state_store"])
	smoke := fmt.Sprintf(`{"seq":7,"ts":%d,"type":"call.pullcord"}`, time.Now().UnixMilli())
	if err := dev.Publish("event", smoke); err == nil {
		t.Fatal("an event was acknowledged while the database was down")
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, 20*time.Second, "/readyz ready once the database is back", func() bool {
		return g.Anonymous().Do("GET", "/readyz", nil, &ready) == 200 && ready.Ready
	})
	// The restart ended the gateway's hold on the database; it has taken
	// it again, so a second gateway is still refused.
	if _, err := state.OpenPostgres(t.Context(), srv.DSN(name)); !errors.Is(err, state.ErrInUse) {
		t.Fatalf("a second gateway on the database after its restart: %v, want ErrInUse", err)
	}
	// The device resends what was not acknowledged, on a new connection.
	dev.Client.Disconnect(0)
	dev = g.ConnectDevice("btn-1", pw)
	pollUntil(t, 20*time.Second, "the resent event acknowledged", func() bool { return dev.Publish("event", smoke) == nil })
	r := dev.Expect(7, "received")
	if err := dev.Publish("event", smoke); err != nil {
		t.Fatal(err)
	}
	if again := dev.Expect(7, "received"); again.Alarm != r.Alarm {
		t.Fatalf("a second resend answered with alarm %s, want %s", again.Alarm, r.Alarm)
	}
	if a, err := g.Engine().Get(r.Alarm); err != nil || a.Count != 1 {
		t.Fatalf("alarm after the outage: %+v %v, want raised once", a, err)
	}
}

// TestBackupOnPostgresRefused: the backup API of a gateway whose state is
// in PostgreSQL says to use the database's backups, instead of sending an
// empty snapshot.
func TestBackupOnPostgresRefused(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{State: gatewaytest.State(t, state.BackendPostgres)})
	var e struct{ Error string }
	if code := g.Admin.Do("GET", "/api/v1/backup", nil, &e); code != 501 || !strings.Contains(e.Error, "pg_dump") {
		t.Fatalf("backup of a postgres state: HTTP %d %q, want 501 naming pg_dump", code, e.Error)
	}
}
