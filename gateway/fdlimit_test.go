package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// fdLimit is the child's descriptor limit: room for the process's own
// files and a few connections, far fewer than the test opens.
const fdLimit = 64

// TestMQTTRecoversFromFileLimit runs the real anxin binary under prlimit
// with a low open-file limit and fills it with MQTT connections. While the
// broker cannot accept, /readyz says so (asked over an HTTP connection
// opened before, as a monitor's keep-alive would be) and the failures are
// counted; once connections end, the broker accepts again.
func TestMQTTRecoversFromFileLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a real anxin process; skipped with -short")
	}
	prlimit := gatewaytest.NeedBinary(t, "prlimit")
	bin := buildAnxin(t)
	dir := t.TempDir()
	mqttAddr, httpAddr := freeAddr(t), freeAddr(t)
	proc := startAnxin(t, prlimit, filepath.Join(dir, "anxin.log"), []string{
		fmt.Sprintf("--nofile=%d:%d", fdLimit, fdLimit), bin,
		"-data-dir", filepath.Join(dir, "data"), "-mqtt", mqttAddr, "-http", httpAddr})
	http.DefaultClient.CloseIdleConnections() // startAnxin's health checks: give their descriptors back

	// One kept-alive connection to the API, opened while there is room.
	monitor := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second}
	readyz := func() (int, string) {
		t.Helper()
		resp, err := monitor.Get(proc.base + "/readyz")
		if err != nil {
			t.Fatalf("/readyz over the kept-alive connection: %v", err)
		}
		defer resp.Body.Close()
		var out struct{ Checks map[string]string }
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out.Checks["mqtt"]
	}
	if code, mqtt := readyz(); code != 200 || mqtt != "ok" {
		t.Fatalf("/readyz before the flood: %d, mqtt %q", code, mqtt)
	}

	// More connections than descriptors: the last ones wait in the
	// kernel's backlog and every Accept fails with EMFILE.
	var flood []net.Conn
	for range 2 * fdLimit {
		c, err := net.DialTimeout("tcp", mqttAddr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		flood = append(flood, c)
	}
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	pollUntil(t, 30*time.Second, "/readyz saying mqtt is not accepting", func() bool {
		code, mqtt := readyz()
		return code == http.StatusServiceUnavailable && strings.Contains(mqtt, "too many open files")
	})
	resp, err := monitor.Get(proc.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `anxin_mqtt_accept_errors_total{listener="devices"} `) ||
		strings.Contains(string(body), `anxin_mqtt_accept_errors_total{listener="devices"} 0`) {
		t.Error("failed accepts not counted in anxin_mqtt_accept_errors_total")
	}
	if b, _ := os.ReadFile(proc.log); !strings.Contains(string(b), `level=ERROR msg="mqtt accept failed; retrying"`) {
		t.Error("failed accepts not logged at error level")
	}

	// The connections end: the broker accepts again and answers a CONNECT.
	for _, c := range flood {
		c.Close()
	}
	flood = nil
	probe := gatewaytest.DialRaw(t, mqttAddr)
	if _, err := probe.Connect(gatewaytest.RawConnect{ClientID: "nobody", User: "nobody", Pass: "not-a-password"}); err != nil {
		t.Fatalf("no CONNACK after the flood ended: the broker stopped accepting: %v", err)
	}
	pollUntil(t, 30*time.Second, "/readyz saying mqtt ok again", func() bool {
		code, mqtt := readyz()
		return code == 200 && mqtt == "ok"
	})
}
