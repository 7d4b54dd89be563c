package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLogFormat runs the real binary with each log format, from the flag
// and from the config file, and reads its lines up to the start: each a
// JSON object with level and msg for json, key=value for text (the default).
func TestLogFormat(t *testing.T) {
	bin := buildAt(t, ".")
	tmp := t.TempDir()
	jsonConfig := filepath.Join(tmp, "json.yaml")
	writeFile(t, jsonConfig, "log_format: json # for the log shipper\n")
	for _, tc := range []struct {
		name string
		args []string
		json bool
	}{
		{"default", nil, false},
		{"flag json", []string{"-log-format", "json"}, true},
		{"config json", []string{"-config", jsonConfig}, true},
		{"flag text over config", []string{"-config", jsonConfig, "-log-format", "text"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-mqtt", "127.0.0.1:0", "-http", "127.0.0.1:0", "-data-dir", t.TempDir()}, tc.args...)
			for _, line := range linesToStart(t, bin, args) {
				if !tc.json {
					if !strings.HasPrefix(line, "time=") || !strings.Contains(line, "level=") {
						t.Errorf("line %q, want key=value text", line)
					}
					continue
				}
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("line %q is not JSON: %v", line, err)
				}
				if rec["level"] == nil || rec["msg"] == nil || rec["time"] == nil {
					t.Errorf("record %v, want time, level and msg", rec)
				}
				if rec["msg"] == "anxin gateway started" && rec["http"] == nil {
					t.Errorf("start record %v has no http address", rec)
				}
			}
		})
	}
	t.Run("bad format", func(t *testing.T) {
		out, err := exec.Command(bin, "-log-format", "xml", "-data-dir", t.TempDir()).CombinedOutput()
		if err == nil || !strings.Contains(string(out), `log_format: "xml": want text or json`) {
			t.Errorf("err %v, output %q: want a refusal naming log_format", err, out)
		}
	})
}

// linesToStart starts bin with args, returns its lines of stderr up to
// the one that says it started, and stops it.
func linesToStart(t *testing.T, bin string, args []string) []string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	lines := make(chan []string, 1)
	go func() {
		var got []string
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			got = append(got, sc.Text())
			if strings.Contains(sc.Text(), "anxin gateway started") {
				break
			}
		}
		lines <- got
		for sc.Scan() {
		}
	}()
	select {
	case l := <-lines:
		if len(l) == 0 || !strings.Contains(l[len(l)-1], "anxin gateway started") {
			t.Fatalf("anxin did not say it started: %q", l)
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatal("anxin did not start within 30s")
		return nil
	}
}
