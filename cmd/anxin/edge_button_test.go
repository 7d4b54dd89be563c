package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/edge"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// recordingPin is a gpiotest output pin that remembers every level set on
// it, with the time: the LED as an eye would see it.
type recordingPin struct {
	*gpiotest.Pin
	mu  sync.Mutex
	log []transition
}

func (p *recordingPin) Out(l gpio.Level) error {
	p.mu.Lock()
	p.log = append(p.log, transition{high: bool(l), at: time.Now()})
	p.mu.Unlock()
	return p.Pin.Out(l)
}

func (p *recordingPin) since(t time.Time) []transition {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []transition
	for _, x := range p.log {
		if !x.at.Before(t) {
			out = append(out, x)
		}
	}
	return out
}

// registerPins puts the box's pins in periph's registry as gpiotest pins,
// as host.Init puts the Pi's: the button GPIO17 (edges fed by the test),
// the LED GPIO27 and the buzzer GPIO18.
func registerPins(t *testing.T) (button *gpiotest.Pin, led *recordingPin) {
	t.Helper()
	button = &gpiotest.Pin{N: "GPIO17", Num: 17, EdgesChan: make(chan gpio.Level, 64)}
	led = &recordingPin{Pin: &gpiotest.Pin{N: "GPIO27", Num: 27}}
	buzzer := &gpiotest.Pin{N: "GPIO18", Num: 18}
	for _, p := range []gpio.PinIO{button, led, buzzer} {
		if err := gpioreg.Register(p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gpioreg.Unregister(p.Name()) })
	}
	return button, led
}

func edgeStatus(t *testing.T, base string) edge.Status {
	t.Helper()
	resp, err := http.Get(base + "/edge/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s edge.Status
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEdgeButtonToCentral: central is a real anxin process over TCP; the
// box runs in the test with periph's gpiotest pins for its button, LED and
// buzzer. A falling edge on the button raises the alarm at central; a
// bounce shorter than the debounce window raises nothing; a long press
// cancels the call at central; an operator's acknowledgement at central
// shows on the LED pin as the acknowledged pattern.
func TestEdgeButtonToCentral(t *testing.T) {
	bin := buildAt(t, ".")
	centralDir := t.TempDir()
	addAdmin(t, bin, centralDir)
	central := runAnxin(t, bin, "-mqtt", "127.0.0.1:0", "-http", "127.0.0.1:0", "-data-dir", centralDir)
	admin := gatewaytest.LoginAt(t, central.base(), "admin", gatewaytest.AdminPassword)
	boxPW := centralSite(t, admin, map[string]string{"btn-box": "call_button"})

	button, led := registerPins(t)
	box := gatewaytest.Start(t, gateway.Config{Edge: edge.Config{
		BoxID: "box-1", ButtonDevice: "btn-box",
		Central:        edge.CentralConfig{URL: "tcp://" + central.mqtt, Password: boxPW},
		ConfirmTimeout: edge.Duration(3 * time.Second),
		Pins: edge.PinsConfig{Button: "GPIO17", LED: "GPIO27", Buzzer: "GPIO18",
			Debounce: edge.Duration(30 * time.Millisecond), LongPress: edge.Duration(800 * time.Millisecond)},
	}})
	// The button device is the box's own; a listener on the box's broker
	// hears what the box relays to it from central.
	btnPW := box.ProvisionWith(map[string]any{"id": "btn-box", "kind": "call_button"})
	listener := box.ConnectDevice("btn-box", btnPW)
	eventually(t, 15*time.Second, "box connected to central", func() bool { return edgeStatus(t, box.BaseURL).Uplink == "up" })

	// Contact bounce, each low shorter than the 30 ms window, then a press.
	for range 3 {
		button.EdgesChan <- gpio.Low
		button.EdgesChan <- gpio.High
	}
	time.Sleep(100 * time.Millisecond) // the bounce is over before the press
	button.EdgesChan <- gpio.Low
	time.Sleep(150 * time.Millisecond) // a short press
	button.EdgesChan <- gpio.High
	var call alerting.Alarm
	eventually(t, 10*time.Second, "the press raised a call at central", func() bool {
		as := alarmsOf(t, admin, "btn-box")
		if len(as) > 0 {
			call = as[0]
		}
		return len(as) > 0
	})
	if call.State != alerting.Raised || call.Type != alerting.TypeCall {
		t.Fatalf("central's alarm: %s %s, want a raised call", call.Type, call.State)
	}

	// A long press: pressed (a repeat of the call), then held: cancelled.
	// (A release and a press within the debounce window would be one bounce.)
	time.Sleep(100 * time.Millisecond)
	button.EdgesChan <- gpio.Low
	eventually(t, 10*time.Second, "the long press cancelled the call at central", func() bool {
		as := alarmsOf(t, admin, "btn-box")
		return len(as) == 1 && as[0].State == alerting.Cancelled
	})
	button.EdgesChan <- gpio.High
	as := alarmsOf(t, admin, "btn-box")
	// In order at central: the press (seq 1), the long press's press (seq 2,
	// a repeat) and its cancel (seq 3). Had the bounce counted, the press
	// would be seq 2 and the call would count three presses.
	if a := as[0]; a.Timeline[0].Seq != 1 || a.Count != 2 {
		t.Fatalf("call at central: raised by seq %d, count %d; want seq 1 and 2 presses (the bounce counted?)\n%+v\nlocal: %+v",
			a.Timeline[0].Seq, a.Count, a.Timeline, alarmsOf(t, box.Admin, "btn-box"))
	}

	// A new press; the operator acknowledges it at central.
	time.Sleep(100 * time.Millisecond)
	button.EdgesChan <- gpio.Low
	time.Sleep(150 * time.Millisecond)
	button.EdgesChan <- gpio.High
	eventually(t, 10*time.Second, "a second call at central", func() bool { return len(alarmsOf(t, admin, "btn-box")) == 2 })
	second := alarmsOf(t, admin, "btn-box")[1]
	eventually(t, 10*time.Second, "the LED shows central received the call", func() bool {
		return edgeStatus(t, box.BaseURL).LED == "received"
	})
	acked := time.Now()
	if code := admin.Do("POST", "/api/v1/alarms/"+second.ID+"/ack", map[string]string{}, nil); code != 200 {
		t.Fatalf("ack at central: HTTP %d", code)
	}
	eventually(t, 10*time.Second, "the LED pin shows the acknowledged pattern (500 ms on, 500 ms off)", func() bool {
		return showsPattern(led.since(acked), []time.Duration{ms(500), ms(500), ms(500)}, ms(150))
	})
	// Only central knows of the acknowledgement: the box relayed it.
	listener.Expect(4, "acknowledged")
	if s := edgeStatus(t, box.BaseURL); s.LED != "acknowledged" || s.QueueDepth != 0 {
		t.Fatalf("box status %+v: want LED acknowledged and an empty queue", s)
	}
}
