package firmwaresim_test

import (
	"cmp"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/devices"
	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
	"github.com/anxin-care/anxin/firmware-sim/simtest"
)

func TestRunPress(t *testing.T) {
	tests := []struct {
		name    string
		event   devices.EventType
		wait    firmwaresim.State
		mute    bool
		timeout time.Duration // default waitLong
		want    []string      // output lines, as regular expressions
		wantErr error
	}{
		{name: "received", event: devices.CallPress, wait: firmwaresim.StateReceived,
			want: []string{`^seq 1 call.press → received in [0-9.]+ ms \(alarm A-1\)$`}},
		{name: "kind's own event by default", wait: firmwaresim.StateReceived,
			want: []string{`^seq 1 call.press → received in`}},
		{name: "every state up to acknowledged", event: devices.CallPress, wait: firmwaresim.StateAcknowledged,
			want: []string{`^seq 1 call.press → received in`, `^seq 1 call.press → acknowledged in`}},
		{name: "publish only", event: devices.CallCancel,
			want: []string{`^seq 1 call.cancel → published, PUBACK in [0-9.]+ ms$`}},
		{name: "silent gateway times out", event: devices.CallPress, wait: firmwaresim.StateReceived, mute: true,
			timeout: 100 * time.Millisecond, wantErr: firmwaresim.ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broker := simtest.StartBroker(t)
			gw := simtest.NewGateway(t, broker.URL)
			gw.FollowUp(time.Millisecond, "acknowledged")
			gw.Mute(tt.mute)
			var out strings.Builder
			err := firmwaresim.Run(t.Context(), firmwaresim.Options{
				Command: firmwaresim.CommandPress, Device: config(broker.URL, "cb-1", devices.KindCallButton),
				Event: tt.event, Wait: tt.wait, Timeout: cmp.Or(tt.timeout, waitLong), Stdout: &out,
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(tt.want) == 0 {
				return
			}
			if len(lines) != len(tt.want) {
				t.Fatalf("output:\n%s\nwant %d lines", out.String(), len(tt.want))
			}
			for i, re := range tt.want {
				if !regexp.MustCompile(re).MatchString(lines[i]) {
					t.Errorf("line %d = %q, want match for %s", i+1, lines[i], re)
				}
			}
		})
	}
}

func TestRunInteractiveScript(t *testing.T) {
	broker := simtest.StartBroker(t)
	gw := simtest.NewGateway(t, broker.URL)
	script := strings.Join([]string{
		"# a fire, silenced from the console, then cleared",
		"smoke", "wait", "clear", "status", "press", "wait received", "toast", "quit",
		"smoke", // after quit: never runs
	}, "\n")
	var out strings.Builder
	cfg := config(broker.URL, "sd-1", devices.KindSmokeDetector)
	err := firmwaresim.Run(t.Context(), firmwaresim.Options{
		Command: firmwaresim.CommandRun, Device: cfg, Stdin: strings.NewReader(script), Stdout: &out, Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"sd-1 (smoke_detector SD-300) online",
		"seq 1 smoke.alarm → published",
		"← seq 1 smoke.alarm → received in",
		"seq 2 smoke.clear → published",
		"seq 3 smoke.alarm → published",
		`unknown command "toast"`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	gw.WaitFor(t, waitLong, 3, simtest.On("sd-1", devices.ChannelEvent))
}

func TestRunInteractiveStaysOnlineAfterEndOfInput(t *testing.T) {
	broker := simtest.StartBroker(t)
	gw := simtest.NewGateway(t, broker.URL)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		done <- firmwaresim.Run(ctx, firmwaresim.Options{Command: firmwaresim.CommandRun,
			Device: config(broker.URL, "cb-1", devices.KindCallButton), Stdin: strings.NewReader(""), Stdout: &strings.Builder{}})
	}()
	gw.WaitFor(t, waitLong, 1, simtest.On("cb-1", devices.ChannelStatus))
	select {
	case err := <-done:
		t.Fatalf("run ended at end of input: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestRunBench(t *testing.T) {
	broker := simtest.StartBroker(t)
	simtest.NewGateway(t, broker.URL)
	var out strings.Builder
	err := firmwaresim.Run(t.Context(), firmwaresim.Options{Command: firmwaresim.CommandBench, Stdout: &out,
		Bench: firmwaresim.BenchOptions{Broker: broker.URL, Devices: fleet(3), Rate: 60, Duration: 250 * time.Millisecond, Logger: quiet()}})
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	if !strings.Contains(out.String(), "received 15, lost 0") {
		t.Errorf("report:\n%s\nwant 15 received, 0 lost", out.String())
	}
}
