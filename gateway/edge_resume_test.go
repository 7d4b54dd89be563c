package gateway_test

import (
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/edge"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// levelLog is a gpiotest output pin that keeps every level set on it, with
// the time: the LED as an eye would see it.
type levelLog struct {
	*gpiotest.Pin
	mu  sync.Mutex
	log []levelAt
}

type levelAt struct {
	high bool
	at   time.Time
}

func (p *levelLog) Out(l gpio.Level) error {
	p.mu.Lock()
	p.log = append(p.log, levelAt{bool(l), time.Now()})
	p.mu.Unlock()
	return p.Pin.Out(l)
}

// since returns the levels set from t on.
func (p *levelLog) since(t time.Time) []levelAt {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []levelAt
	for _, x := range p.log {
		if !x.at.Before(t) {
			out = append(out, x)
		}
	}
	return out
}

// TestEdgeLEDResumesNotDeliveredAfterRestart: a call central never
// acknowledged is still in the box's outbound queue when the box restarts;
// the LED shows "not yet delivered" (100 ms on, 100 off, 100 on, 700 off)
// from the start, not after a new confirm timeout, and not "uplink lost".
func TestEdgeLEDResumesNotDeliveredAfterRestart(t *testing.T) {
	led := &levelLog{Pin: &gpiotest.Pin{N: "GPIO27", Num: 27}}
	if err := gpioreg.Register(led); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gpioreg.Unregister(led.Name()) })
	box := gatewaytest.Start(t, gateway.Config{Edge: edge.Config{BoxID: "box-1",
		Central:        edge.CentralConfig{URL: "tcp://127.0.0.1:1", Password: "x"},
		ConfirmTimeout: edge.Duration(time.Second),
		Pins:           edge.PinsConfig{LED: "GPIO27"}}})
	pw := box.Provision("btn-1", "call_button")
	box.ConnectDevice("btn-1", pw).Press("call.press")
	eventually(t, "the LED shows not yet delivered before the restart", func() bool {
		s, _ := box.EdgeStatus()
		return s.LED == "not_delivered"
	})

	// The confirm timeout is a minute now: only the queue can tell the
	// restarted box that central never had the call.
	box.Cfg.Edge.ConfirmTimeout = edge.Duration(time.Minute)
	box.Close()
	restarted := time.Now()
	box = box.Restart()
	if s, _ := box.EdgeStatus(); s.LED != "not_delivered" || s.QueueDepth != 1 {
		t.Fatalf("at once after the restart: %+v, want the LED not_delivered with the call queued", s)
	}
	eventually(t, "the LED pin plays the double flicker of not yet delivered", func() bool {
		return doubleFlicker(led.since(restarted))
	})
}

// doubleFlicker reports whether levels hold "not yet delivered": on 100 ms,
// off 100, on 100, off 700 (idle or "uplink lost" blink once in 2 or 3 s).
func doubleFlicker(levels []levelAt) bool {
	want := []struct {
		high     bool
		min, max time.Duration
	}{{true, 50, 250}, {false, 50, 250}, {true, 50, 250}, {false, 550, 1000}}
next:
	for i := 0; i+len(want) < len(levels); i++ {
		for j, w := range want {
			d := levels[i+j+1].at.Sub(levels[i+j].at)
			if levels[i+j].high != w.high || d < w.min*time.Millisecond || d > w.max*time.Millisecond {
				continue next
			}
		}
		return true
	}
	return false
}
