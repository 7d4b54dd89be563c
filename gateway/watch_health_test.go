package gateway_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestUnwatchedTelemetryBuildsNoHealth: a device's health (a copy of all
// its readings) is built for the watch stream only when someone watches
// the device. Unwatched, a telemetry message costs the same whatever the
// device's health holds; watched, its health still goes out.
func TestUnwatchedTelemetryBuildsNoHealth(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	g.Provision("band-few", "safety_band")
	g.Provision("band-many", "safety_band")
	ingest := func(id, payload string) {
		t.Helper()
		if err := g.Ingest(id, devices.ChannelTelemetry, []byte(payload)); err != nil {
			t.Fatalf("%s telemetry: %v", id, err)
		}
	}
	// band-many's health holds 64 readings (a bridged device's state has
	// dozens of fields), band-few's one.
	ingest("band-many", `{"battery":87,"hr":72}`)
	ingest("band-few", `{"battery":87}`)
	many := map[string]float64{}
	for i := range 62 {
		many[fmt.Sprintf("reading_%d", i)] = float64(i)
	}
	g.HoldReadings("band-many", many)
	allocs := func(id string) float64 {
		return testing.AllocsPerRun(500, func() { ingest(id, `{"battery":86}`) })
	}
	withFew, withMany := allocs("band-few"), allocs("band-many")
	t.Logf("allocations of an unwatched telemetry message: %.1f (1 reading held), %.1f (64 readings held)", withFew, withMany)
	if withMany > withFew {
		t.Errorf("an unwatched telemetry message allocates %.1f times with 64 readings held, %.1f with 1: the health copy is built for nobody", withMany, withFew)
	}

	w := g.Admin.Watch("band-many")
	ingest("band-many", `{"battery":85}`)
	var h struct{ Readings map[string]float64 }
	if err := json.Unmarshal(w.NextKind(t, "health").Data, &h); err != nil {
		t.Fatal(err)
	}
	if h.Readings["battery"] != 85 || h.Readings["hr"] != 72 {
		t.Fatalf("watched health readings %v, want battery 85 and hr 72", h.Readings)
	}
}
