package e2e

import (
	"os/exec"
	"testing"

	"github.com/anxin-care/anxin/gateway/timeseries/influxtest"
)

// wallTools: besides node, chromium and playwright-core, the wall's test
// sends a band's buffered readings with mosquitto_pub.
func wallTools(t *testing.T) {
	t.Helper()
	requireTools(t)
	_, err := exec.LookPath("mosquitto_pub")
	need(t, err == nil, "mosquitto_pub is not on PATH (apt-get install mosquitto-clients)")
}

// TestWall is the 24-hour wall in a real browser (wall.test.mjs) on the
// default embedded time-series store.
func TestWall(t *testing.T) {
	wallTools(t)
	runNodeWith(t, "wall.test.mjs", nodeRun{env: []string{"ANXIN_STORE=embedded"}})
}

// TestWallInfluxDB is the same wall with a real InfluxDB 1.8.10 as the
// configured store (influxtest: skipped without influxd, failed when CI=true).
func TestWallInfluxDB(t *testing.T) {
	wallTools(t)
	srv := influxtest.Start(t)
	runNodeWith(t, "wall.test.mjs", nodeRun{artifacts: "wall-influxdb", env: []string{"ANXIN_STORE=influxdb"},
		config: map[string]any{"time_series": map[string]any{"backend": "influxdb",
			"influxdb": map[string]any{"url": srv.URL, "token": ":", "bucket": srv.Bucket, "timeout": "5s"}}}})
}
