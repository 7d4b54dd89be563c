package firmwaresim_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/devices"
	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
	"github.com/anxin-care/anxin/firmware-sim/simtest"
)

// These tests talk to a real broker over TCP on 127.0.0.1 (an embedded
// mochi-mqtt started by simtest) and to a fake gateway that answers every
// event with a reassurance, decoding payloads with the real devices decoder.

const waitLong = 5 * time.Second // a generous bound for a local round trip

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func config(broker, id string, kind devices.Kind) firmwaresim.Config {
	return firmwaresim.Config{ID: id, Password: "pw-" + id, Broker: broker, Kind: kind, Logger: quiet()}
}

// connect builds and connects a device, closing it when the test ends.
func connect(t *testing.T, cfg firmwaresim.Config) *firmwaresim.Device {
	t.Helper()
	d, err := firmwaresim.New(cfg)
	if err != nil {
		t.Fatalf("new device: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	defer cancel()
	if err := d.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

func press(t *testing.T, d *firmwaresim.Device, typ devices.EventType) firmwaresim.Sent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	defer cancel()
	sent, err := d.Press(ctx, typ)
	if err != nil {
		t.Fatalf("press %s: %v", typ, err)
	}
	return sent
}

func wait(t *testing.T, d *firmwaresim.Device, seq uint64, want firmwaresim.State) firmwaresim.Reassurance {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	defer cancel()
	r, err := d.Wait(ctx, seq, want)
	if err != nil {
		t.Fatalf("wait for %s of seq %d: %v", want, seq, err)
	}
	return r
}

func TestPressRoundTrip(t *testing.T) {
	broker := simtest.StartBroker(t)
	gw := simtest.NewGateway(t, broker.URL)
	d := connect(t, config(broker.URL, "cb-1", devices.KindCallButton))

	st := gw.WaitFor(t, waitLong, 1, simtest.On("cb-1", devices.ChannelStatus))[0]
	if st.Err != nil || !st.Decoded.Status.Online || st.Decoded.Status.Model != "CB-200" {
		t.Errorf("online status = %s (err %v), want online CB-200", st.Payload, st.Err)
	}

	for want := uint64(1); want <= 3; want++ {
		sent := press(t, d, devices.CallPress)
		if sent.Seq != want {
			t.Errorf("seq = %d, want %d", sent.Seq, want)
		}
		r := wait(t, d, sent.Seq, firmwaresim.StateReceived)
		if r.State != firmwaresim.StateReceived || r.Alarm != "A-1" || r.RTT <= 0 {
			t.Errorf("reassurance = %+v, want received for alarm A-1 with an RTT", r)
		}
	}
	for _, m := range gw.Messages(simtest.On("cb-1", devices.ChannelEvent)) {
		if m.Err != nil {
			t.Errorf("gateway decoder refused %s: %v", m.Payload, m.Err)
		}
	}
}

func TestReassuranceStates(t *testing.T) {
	broker := simtest.StartBroker(t)
	gw := simtest.NewGateway(t, broker.URL)
	gw.FollowUp(time.Millisecond, "acknowledged", "on_the_way", "resolved")
	d := connect(t, config(broker.URL, "band-1", devices.KindSafetyBand))

	sent := press(t, d, devices.BandFall)
	r := wait(t, d, sent.Seq, firmwaresim.StateResolved)
	if r.State != firmwaresim.StateResolved {
		t.Errorf("state = %s, want resolved", r.State)
	}
	var got []firmwaresim.State
	for _, r := range d.Reassurances(sent.Seq) {
		got = append(got, r.State)
	}
	want := []firmwaresim.State{"received", "acknowledged", "on_the_way", "resolved"}
	if !slices.Equal(got, want) {
		t.Errorf("states = %v, want %v", got, want)
	}
}

func TestWaitTimesOutWhenGatewayIsSilent(t *testing.T) {
	broker := simtest.StartBroker(t)
	gw := simtest.NewGateway(t, broker.URL)
	gw.Mute(true)
	d := connect(t, config(broker.URL, "cb-1", devices.KindCallButton))

	sent := press(t, d, devices.CallPress)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := d.Wait(ctx, sent.Seq, firmwaresim.StateReceived); !errors.Is(err, firmwaresim.ErrTimeout) {
		t.Errorf("wait error = %v, want ErrTimeout", err)
	}
}

func TestPressRejectsWhatTheKindCannotReport(t *testing.T) {
	broker := simtest.StartBroker(t)
	d := connect(t, config(broker.URL, "cb-1", devices.KindCallButton))
	for _, typ := range []devices.EventType{devices.SmokeAlarm, "call.bogus"} {
		t.Run(string(typ), func(t *testing.T) {
			if _, err := d.Press(t.Context(), typ); !errors.Is(err, firmwaresim.ErrUnsupportedEvent) {
				t.Errorf("press %s: error = %v, want ErrUnsupportedEvent", typ, err)
			}
		})
	}
	if d.Seq() != 0 {
		t.Errorf("a refused press used seq %d", d.Seq())
	}
}

// TestSeqSurvivesRestart restarts the simulator (a new Device on the same
// state directory), after a clean shutdown and after a power cut.
func TestSeqSurvivesRestart(t *testing.T) {
	tests := []struct {
		name    string
		reserve int
		crash   bool
		want    uint64 // first seq after the restart
	}{
		{"close, write every seq", 1, false, 4},
		{"power cut, write every seq", 1, true, 4},
		// A reservation of 10 covers seqs 1-10; a restart skips to 11 and
		// never reuses one.
		{"power cut, reserve 10", 10, true, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broker := simtest.StartBroker(t)
			simtest.NewGateway(t, broker.URL)
			cfg := config(broker.URL, "cb-1", devices.KindCallButton)
			cfg.StateDir, cfg.SeqReserve = t.TempDir(), tt.reserve

			first := connect(t, cfg)
			for range 3 {
				press(t, first, devices.CallPress)
			}
			if tt.crash {
				first.PowerCut()
			} else if err := first.Close(t.Context()); err != nil {
				t.Fatalf("close: %v", err)
			}

			second := connect(t, cfg)
			if got := press(t, second, devices.CallPress).Seq; got != tt.want {
				t.Errorf("first seq after restart = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestHeartbeatTelemetry(t *testing.T) {
	tests := []struct {
		kind devices.Kind
		want []string // fields every heartbeat carries
	}{
		{devices.KindCallButton, []string{"battery", "rssi"}},
		{devices.KindPullCord, []string{"rssi"}},
		{devices.KindSmokeDetector, []string{"battery", "rssi", "smoke_obscuration"}},
		{devices.KindGasDetector, []string{"rssi", "gas_lel"}},
		{devices.KindSafetyBand, []string{"battery", "rssi", "hr", "spo2", "temp_c", "steps"}},
	}
	broker := simtest.StartBroker(t)
	gw := simtest.NewGateway(t, broker.URL)
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			id := "hb-" + string(tt.kind)
			cfg := config(broker.URL, id, tt.kind)
			cfg.Heartbeat = 10 * time.Millisecond
			connect(t, cfg)
			// One telemetry at boot, then one per heartbeat.
			for _, m := range gw.WaitFor(t, waitLong, 3, simtest.On(id, devices.ChannelTelemetry)) {
				if m.Err != nil {
					t.Fatalf("gateway decoder refused %s: %v", m.Payload, m.Err)
				}
				for _, f := range tt.want {
					if _, ok := m.Decoded.Telemetry.Fields[f]; !ok {
						t.Errorf("telemetry %s lacks %q", m.Payload, f)
					}
				}
			}
		})
	}
}

func TestGatewayCommands(t *testing.T) {
	broker := simtest.StartBroker(t)
	gw := simtest.NewGateway(t, broker.URL)
	cmds := make(chan firmwaresim.Command, 10)
	cfg := config(broker.URL, "sd-1", devices.KindSmokeDetector)
	cfg.OnCommand = func(c firmwaresim.Command) { cmds <- c }
	d := connect(t, cfg)

	tests := []struct {
		name  string
		cmd   map[string]any
		check func() bool
	}{
		{"config applies the heartbeat", map[string]any{"type": "config", "heartbeat_s": 30},
			func() bool { return d.Heartbeat() == 30*time.Second }},
		{"config clamps an over-long heartbeat", map[string]any{"type": "config", "heartbeat_s": 100000},
			func() bool { return d.Heartbeat() == firmwaresim.MaxHeartbeat }},
		{"silence mutes the sounder", map[string]any{"type": "silence"},
			func() bool { return d.Silenced() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw.Send(t, "sd-1", tt.cmd)
			select {
			case c := <-cmds:
				if c.Type != tt.cmd["type"] {
					t.Errorf("OnCommand saw %q, want %q", c.Type, tt.cmd["type"])
				}
			case <-time.After(waitLong):
				t.Fatal("command never arrived")
			}
			if !tt.check() {
				t.Errorf("command %v was not applied", tt.cmd)
			}
		})
	}
}

// TestOfflineStatus checks both ways a device goes away: a polite Close
// publishes {"online":false} itself, a power cut leaves it to the will.
func TestOfflineStatus(t *testing.T) {
	tests := []struct {
		name string
		stop func(*firmwaresim.Device) error
	}{
		{"close", func(d *firmwaresim.Device) error { return d.Close(context.Background()) }},
		{"power cut fires the will", func(d *firmwaresim.Device) error { d.PowerCut(); return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broker := simtest.StartBroker(t)
			gw := simtest.NewGateway(t, broker.URL)
			d := connect(t, config(broker.URL, "pc-1", devices.KindPullCord))
			gw.WaitFor(t, waitLong, 1, simtest.On("pc-1", devices.ChannelStatus))
			if err := tt.stop(d); err != nil {
				t.Fatalf("stop: %v", err)
			}
			// Wait for the offline status itself: a subscriber may see a
			// retained online status twice (live, and again as retained if
			// its subscription raced the publish), so counting is not enough.
			gw.WaitFor(t, waitLong, 1, func(m simtest.Message) bool {
				return m.Device == "pc-1" && m.Decoded.Status != nil && !m.Decoded.Status.Online
			})
			topic := devices.Topic("pc-1", devices.ChannelStatus)
			if got := string(broker.Retained(topic)); got != `{"online":false}` {
				t.Errorf("retained status = %s, want {\"online\":false}", got)
			}
		})
	}
}

// TestRebootAfterPowerCut reconnects the same Device: the persistent session
// resumes and the seq counter continues.
func TestRebootAfterPowerCut(t *testing.T) {
	broker := simtest.StartBroker(t)
	simtest.NewGateway(t, broker.URL)
	d := connect(t, config(broker.URL, "cb-1", devices.KindCallButton))
	press(t, d, devices.CallPress)
	d.PowerCut()
	if _, err := d.Press(t.Context(), devices.CallPress); !errors.Is(err, firmwaresim.ErrNotConnected) {
		t.Errorf("press while off: error = %v, want ErrNotConnected", err)
	}
	if err := d.Connect(t.Context()); err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	sent := press(t, d, devices.CallPress)
	if sent.Seq != 2 {
		t.Errorf("seq after reboot = %d, want 2", sent.Seq)
	}
	wait(t, d, sent.Seq, firmwaresim.StateReceived)
}

// TestReconnectsByItself has the broker drop the device's connection, as a
// flaky Wi-Fi does: the device comes back on its own, announces itself again
// and a press made meanwhile is delivered and answered.
func TestReconnectsByItself(t *testing.T) {
	broker := simtest.StartBroker(t)
	gw := simtest.NewGateway(t, broker.URL)
	d := connect(t, config(broker.URL, "cb-1", devices.KindCallButton))
	gw.WaitFor(t, waitLong, 1, simtest.On("cb-1", devices.ChannelStatus))

	cl, ok := broker.Server.Clients.Get("cb-1")
	if !ok {
		t.Fatal("broker does not know cb-1")
	}
	cl.Stop(errors.New("test drops the link"))

	sent := press(t, d, devices.CallPress)
	wait(t, d, sent.Seq, firmwaresim.StateReceived)
	// Online again. Whether the broker also published the will depends on
	// whether it saw the reconnection as a session takeover (mochi then
	// skips the will); what matters is that the retained status ends online.
	gw.WaitFor(t, waitLong, 2, func(m simtest.Message) bool {
		return m.Device == "cb-1" && m.Decoded.Status != nil && m.Decoded.Status.Online
	})
	topic := devices.Topic("cb-1", devices.ChannelStatus)
	deadline := time.Now().Add(waitLong)
	for !strings.Contains(string(broker.Retained(topic)), `"online":true`) {
		if time.Now().After(deadline) {
			t.Fatalf("retained status is %s, want online", broker.Retained(topic))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
