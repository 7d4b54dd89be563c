package firmwaresim_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/devices"
	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
	"github.com/anxin-care/anxin/firmware-sim/scenario"
	"github.com/anxin-care/anxin/firmware-sim/simtest"
)

func scenarioFleet(t *testing.T, spec firmwaresim.FleetSpec) ([]firmwaresim.FleetDevice, []firmwaresim.Credentials) {
	t.Helper()
	f, err := firmwaresim.GenerateFleet(spec)
	if err != nil {
		t.Fatal(err)
	}
	var pw []firmwaresim.Credentials
	for _, d := range f.Devices {
		pw = append(pw, firmwaresim.Credentials{ID: d.ID, Password: "pw"})
	}
	return f.Devices, pw
}

func mustScript(t *testing.T, s string) scenario.Script {
	t.Helper()
	sc, err := scenario.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// A replayed script presses the right device for each step, holds a press
// made while its building's uplink is down until the device is back, and
// counts the storm and the background presses.
func TestRunScenarioReplaysTheScript(t *testing.T) {
	broker := simtest.StartBroker(t)
	gw := simtest.NewGateway(t, broker.URL)
	rows, pw := scenarioFleet(t, firmwaresim.FleetSpec{Homes: 2, Institutions: 1, Rooms: 3})
	var progress strings.Builder
	res, err := firmwaresim.RunScenario(t.Context(), firmwaresim.ScenarioOptions{
		Broker: broker.URL, Fleet: rows, Passwords: pw, StateDir: t.TempDir(), SourceIPs: 3,
		Timeout: 8 * time.Second, Logger: quiet(), Progress: &progress,
		Script: mustScript(t, `
at 0s press-rate 10/s
at 0s telemetry-rate 50/s
at 100ms smoke home-1/kitchen
at 200ms gas home-1/kitchen
at 300ms fall room-2
at 400ms uplink-drop institution-1 300ms
at 500ms press room-1   # held while the uplink is down
at 600ms storm home-2
at 2s end
`),
	})
	if err != nil {
		t.Fatalf("scenario: %v\n%+v", err, res)
	}
	want := map[int]string{4: "home-1-smoke", 5: "home-1-gas", 6: "institution-1-r2-band", 8: "institution-1-r1-btn"}
	if len(res.Steps) != len(want) {
		t.Fatalf("%d event steps reported, want %d: %+v", len(res.Steps), len(want), res.Steps)
	}
	for _, s := range res.Steps {
		if want[s.Step.Line] != s.Device || s.Err != nil || s.Latency <= 0 {
			t.Errorf("line %d: device %s, latency %s, err %v; want %s received", s.Step.Line, s.Device, s.Latency, s.Err, want[s.Step.Line])
		}
	}
	if len(gw.Messages(simtest.On("home-1-smoke", devices.ChannelEvent))) != 1 {
		t.Error("the smoke detector did not report exactly once")
	}
	// Storm: all five devices of home-2 pressed; plus about 20 background presses.
	for _, id := range []string{"home-2-btn", "home-2-band", "home-2-smoke", "home-2-gas", "home-2-cord"} {
		if len(gw.Messages(simtest.On(id, devices.ChannelEvent))) == 0 {
			t.Errorf("%s did not press in the storm", id)
		}
	}
	if res.Presses.Issued < 5+10 || res.Presses.Lost() != 0 {
		t.Errorf("presses issued %d lost %d; want the storm's 5 and ≈20 background, none lost", res.Presses.Issued, res.Presses.Lost())
	}
	if res.TelemetrySent == 0 {
		t.Error("no telemetry sent at 50/s")
	}
	if !strings.Contains(progress.String(), "devices online") {
		t.Errorf("no progress line in %q", progress.String())
	}
	var report strings.Builder
	_ = res.WriteReport(&report)
	if !strings.Contains(report.String(), "line 4 at 100ms smoke home-1/kitchen → home-1-smoke seq 1 received in") {
		t.Errorf("report:\n%s", report.String())
	}
}

func TestRunScenarioRejectsTargetsNamingTheLine(t *testing.T) {
	rows, pw := scenarioFleet(t, firmwaresim.FleetSpec{Homes: 1, Institutions: 2, Rooms: 2})
	for _, tc := range []struct{ name, script, want string }{
		{"nothing there", "at 1s fall room-9", `line 1: target "room-9" is no device, site, building or room of the fleet`},
		{"ambiguous room", "\nat 1s press room-1", `line 2: target "room-1" is in 2 buildings (institution-1/room-1, institution-2/room-1…)`},
		{"wrong kind", "at 1s smoke home-1/bedroom", "line 1: no device at home-1/bedroom can report smoke.alarm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := firmwaresim.RunScenario(t.Context(), firmwaresim.ScenarioOptions{
				Broker: "tcp://127.0.0.1:1", Fleet: rows, Passwords: pw, Logger: quiet(), Script: mustScript(t, tc.script)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	_, err := firmwaresim.RunScenario(t.Context(), firmwaresim.ScenarioOptions{
		Broker: "tcp://127.0.0.1:1", Fleet: rows, Passwords: pw[1:], Logger: quiet(), Script: mustScript(t, "at 1s end")})
	if !errors.Is(err, firmwaresim.ErrInvalidConfig) || !strings.Contains(err.Error(), "home-1-btn is in the fleet but has no password") {
		t.Errorf("missing password: %v", err)
	}
}
