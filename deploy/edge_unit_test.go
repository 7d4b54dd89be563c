package deploy_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitDirectives reads a systemd unit into section.key → values.
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, _ := strings.Cut(line, "=")
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

// TestEdgeUnit: the Raspberry Pi unit is Type=notify with a watchdog, runs
// the gateway with the edge config, never gives up restarting, and
// conflicts with the central unit; systemd-analyze verify accepts it (with
// ExecStart's binary pointed at an executable here, the one thing verify
// checks on this machine that only the Pi has). The installed unit is
// verified as is by TestDebPackage.
func TestEdgeUnit(t *testing.T) {
	path := filepath.Join("systemd", "anxin-edge.service")
	d := unitDirectives(t, path)
	want := map[string]string{
		"Service.Type":                "notify",
		"Service.NotifyAccess":        "main",
		"Service.WatchdogSec":         "30",
		"Service.Restart":             "always",
		"Service.ExecStart":           "/usr/bin/anxin -config /etc/anxin/anxin-edge.yaml -data-dir /var/lib/anxin",
		"Service.User":                "anxin",
		"Unit.Conflicts":              "anxin.service",
		"Unit.StartLimitIntervalSec":  "0",
		"Service.SupplementaryGroups": "gpio",
		"Install.WantedBy":            "multi-user.target",
	}
	for k, v := range want {
		if got := d[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, ok := d["Unit.After"]; ok && strings.Contains(strings.Join(d["Unit.After"], " "), "time-sync.target") {
		t.Error("the edge unit waits for time-sync.target: a Pi without a clock would not sound an alarm until NTP answers")
	}

	sa := need(t, "systemd-analyze")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "anxin-edge.service")
	if err := os.WriteFile(copyPath, bytes.ReplaceAll(text, []byte("ExecStart=/usr/bin/anxin "), []byte("ExecStart="+self+" ")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", copyPath).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("anxin-edge.service")) {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
