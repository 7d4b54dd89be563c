package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/devices"
	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
	"github.com/anxin-care/anxin/firmware-sim/simtest"
)

func TestParse(t *testing.T) {
	fleetFile := filepath.Join(t.TempDir(), "fleet.csv")
	if err := os.WriteFile(fleetFile, []byte("id,password\nb-1,x\nb-2,y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(passwordEnv, "from-env")
	tests := []struct {
		name    string
		args    []string
		check   func(firmwaresim.Options) bool
		wantErr string
	}{
		{name: "press with defaults", args: []string{"press", "--id", "cb-1", "--password", "pw"},
			check: func(o firmwaresim.Options) bool {
				return o.Command == "press" && o.Device.Broker == defaultBroker && o.Device.Kind == devices.KindCallButton &&
					o.Wait == firmwaresim.StateReceived && o.Event == "" && o.Timeout == 10*time.Second
			}},
		{name: "press without waiting, password from env", args: []string{"press", "--id", "cb-1", "--wait", "none", "--type", "call.cancel"},
			check: func(o firmwaresim.Options) bool {
				return o.Wait == "" && o.Event == devices.CallCancel && o.Device.Password == "from-env"
			}},
		{name: "run a band", args: []string{"run", "--id", "b-1", "--kind", "safety_band", "--state-dir", ""},
			check: func(o firmwaresim.Options) bool {
				return o.Device.Kind == devices.KindSafetyBand && o.Device.StateDir == ""
			}},
		{name: "bench from file", args: []string{"bench", "--devices-file", fleetFile, "--rate", "1000", "--duration", "1s"},
			check: func(o firmwaresim.Options) bool { return len(o.Bench.Devices) == 2 && o.Bench.Rate == 1000 }},
		{name: "bench generated fleet", args: []string{"bench", "--devices", "3", "--id-prefix", "x-"},
			check: func(o firmwaresim.Options) bool {
				return len(o.Bench.Devices) == 3 && o.Bench.Devices[2] == firmwaresim.Credentials{ID: "x-0003", Password: "from-env"}
			}},
		{name: "provision", args: []string{"provision", "--count", "2", "--token", "T", "--kind", "gas_detector"},
			check: func(o firmwaresim.Options) bool {
				return len(o.Provision.IDs) == 2 && o.Provision.Token == "T" && o.Provision.Kind == devices.KindGasDetector
			}},
		{name: "press needs an id", args: []string{"press"}, wantErr: "--id is required"},
		{name: "bad wait state", args: []string{"press", "--id", "a", "--wait", "soon"}, wantErr: "--wait"},
		{name: "bench needs devices", args: []string{"bench"}, wantErr: "--devices"},
		{name: "bench file and count", args: []string{"bench", "--devices-file", fleetFile, "--devices", "2"}, wantErr: "not both"},
		{name: "stray argument", args: []string{"run", "--id", "a", "extra"}, wantErr: "unexpected argument"},
		{name: "unknown command", args: []string{"reboot"}, wantErr: "unknown command"},
		{name: "no command", args: nil, wantErr: "no command"},
		{name: "bad log level", args: []string{"run", "--id", "a", "--log-level", "loud"}, wantErr: "--log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parse(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !tt.check(o) {
				t.Errorf("options not as expected: %+v", o)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"press", "--help"}, {"run", "-h"}, {"bench", "--help"}, {"provision", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out strings.Builder
			if _, err := parse(args, &out); !errors.Is(err, flag.ErrHelp) {
				t.Errorf("error = %v, want flag.ErrHelp", err)
			}
			if !regexp.MustCompile(`usage:\s+firmware-sim`).MatchString(out.String()) {
				t.Errorf("help text:\n%s", out.String())
			}
		})
	}
}

// TestRunExitCodes runs the command end to end against an embedded broker
// and a fake gateway (see firmware-sim/simtest).
func TestRunExitCodes(t *testing.T) {
	broker := simtest.StartBroker(t)
	gw := simtest.NewGateway(t, broker.URL)
	tests := []struct {
		name     string
		args     []string
		mute     bool
		wantCode int
		wantOut  string // regular expression
	}{
		{name: "press answered", args: []string{"press", "--id", "cb-1", "--password", "pw"},
			wantCode: exitOK, wantOut: `^seq 1 call.press → received in [0-9.]+ ms \(alarm A-\d+\)\n$`},
		{name: "seq continues in the next process", args: []string{"press", "--id", "cb-1", "--password", "pw"},
			wantCode: exitOK, wantOut: `^seq 2 call.press → received in`},
		{name: "press unanswered", args: []string{"press", "--id", "cb-2", "--password", "pw", "--timeout", "100ms"},
			mute: true, wantCode: exitFailed},
		{name: "kind cannot report the type", args: []string{"press", "--id", "cb-3", "--type", "smoke.alarm"},
			wantCode: exitFailed},
		{name: "unknown kind", args: []string{"press", "--id", "cb-3", "--kind", "toaster"}, wantCode: exitUsage},
		{name: "bench", args: []string{"bench", "--devices", "2", "--rate", "40", "--duration", "250ms"},
			wantCode: exitOK, wantOut: `received 10, lost 0`},
	}
	state := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw.Mute(tt.mute)
			args := append(tt.args, "--broker", broker.URL, "--state-dir", state)
			var out, errOut strings.Builder
			code := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, errOut.String())
			}
			if tt.wantOut != "" && !regexp.MustCompile(tt.wantOut).MatchString(out.String()) {
				t.Errorf("stdout:\n%s\nwant match for %s", out.String(), tt.wantOut)
			}
		})
	}
}
