package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
	"github.com/anxin-care/anxin/firmware-sim/simtest"
)

// fleet writes a fleet file; bench --fleet --scenario replays a script on
// it against an embedded broker and a fake gateway, printing each step.
func TestFleetAndScenarioCommands(t *testing.T) {
	broker := simtest.StartBroker(t)
	simtest.NewGateway(t, broker.URL)
	dir := t.TempDir()
	fleet := filepath.Join(dir, "fleet.csv")
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"fleet", "--homes", "2", "--institutions", "1", "--rooms", "2", "--out", fleet},
		nil, &out, &errOut); code != exitOK {
		t.Fatalf("fleet: exit %d: %s", code, errOut.String())
	}
	f, err := firmwaresim.ReadFleetFile(fleet)
	if err != nil {
		t.Fatal(err)
	}
	var pw []firmwaresim.Credentials
	for _, d := range f.Devices {
		pw = append(pw, firmwaresim.Credentials{ID: d.ID, Password: "pw"})
	}
	pwFile, script := filepath.Join(dir, "pw.csv"), filepath.Join(dir, "s.txt")
	file, _ := os.Create(pwFile)
	if err := firmwaresim.WriteDevices(file, pw); err != nil {
		t.Fatal(err)
	}
	file.Close()
	if err := os.WriteFile(script, []byte("at 100ms smoke home-2/kitchen\nat 200ms fall room-1\nat 500ms end\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string // regular expression on stdout, or stderr when the exit is not 0
	}{
		{"replay", []string{"--scenario", script}, exitOK,
			`line 1 at 100ms smoke home-2/kitchen → home-2-smoke seq \d+ received in [0-9.]+ ms\nline 2 at 200ms fall room-1 → institution-1-r1-band`},
		// 20/s for 300 ms: 5 or 6 presses, depending on whether the last falls before the end.
		{"rate without a script", []string{"--rate", "20", "--duration", "300ms"}, exitOK, `presses: [56] issued, [56] received, 0 lost`},
		{"bad script", []string{"--scenario", pwFile}, exitUsage, `scenario .*pw.csv: line 1: scenario syntax: a step starts with "at TIME", got "id,password"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"bench", "--broker", broker.URL, "--fleet", fleet, "--devices-file", pwFile,
				"--state-dir", filepath.Join(dir, "state"), "--log-level", "error"}, tt.args...)
			var out, errOut strings.Builder
			code := run(context.Background(), args, nil, &out, &errOut)
			got := out.String()
			if code != exitOK {
				got = errOut.String()
			}
			if code != tt.wantCode || !regexp.MustCompile(tt.want).MatchString(got) {
				t.Fatalf("exit %d (want %d), output:\n%s\nwant match for %s", code, tt.wantCode, got, tt.want)
			}
		})
	}
}

func TestParseAgainst(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--against", "emqx", "--anxin-bin", "x"}, `--against "emqx": only mosquitto is known`},
		{[]string{"--against", "mosquitto", "--anxin-bin", "x", "--anxin-mqtt", "h:1"}, "not both"},
	} {
		_, err := parseAgainst(tc.args, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
	o, err := parseAgainst([]string{"--against=mosquitto", "--anxin-bin", "./anxin", "--measures", "press,idle", "--idle", "50000", "--quiet"}, &strings.Builder{})
	if err != nil || strings.Join(o.Measures, ",") != "press,idle" || o.Idle != 50000 || o.Progress != nil {
		t.Errorf("parsed %+v, %v", o, err)
	}
	if !isAgainst([]string{"bench", "--against=mosquitto"}) || isAgainst([]string{"bench", "--devices", "3"}) || isAgainst([]string{"press", "--against"}) {
		t.Error("isAgainst")
	}
}
