package edge

import (
	"sync"
	"time"
)

// indicator decides what the LED and the buzzer show, from the calls of
// the room's devices (the box's own button and the Wi-Fi buttons, cords
// and bands on its broker), the room's hazards and the uplink. Everything
// it needs is local: a press lights "raised" at once and a smoke alarm
// sounds the buzzer at once, whether or not central is there.
//
// The LED shows the open call that most needs attention: one central has
// not confirmed within confirm_timeout ("not yet delivered"), then one
// just raised, then received, acknowledged, on the way. With no open call
// it shows "uplink lost" while central is unreachable, else "idle".
type indicator struct {
	led, buzzer    *output
	clock          Clock
	confirmTimeout time.Duration

	mu       sync.Mutex
	calls    map[string]*call // device → its open call
	uplinkUp bool
	hazards  map[string]bool // device → smoke or gas alarm sounding
	testing  bool
}

// call is one device's open call: its LED pattern name and the timer
// that turns "raised" into "not yet delivered".
type call struct {
	state   string
	confirm Timer
}

// callRank orders the call states by how much they need attention.
var callRank = map[string]int{
	LEDNotDelivered.Name: 5, LEDRaised.Name: 4, LEDReceived.Name: 3, LEDAcknowledged.Name: 2, LEDOnTheWay.Name: 1,
}

func newIndicator(led, buzzer *output, clock Clock, confirmTimeout time.Duration) *indicator {
	in := &indicator{led: led, buzzer: buzzer, clock: clock, confirmTimeout: confirmTimeout,
		calls: map[string]*call{}, hazards: map[string]bool{}}
	buzzer.set(BuzzerSilent)
	in.mu.Lock()
	in.showLocked()
	in.mu.Unlock()
	return in
}

// pressed: a device of the room raised (or repeated) its call.
func (in *indicator) pressed(device string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.calls[device]
	if c == nil {
		c = &call{}
		in.calls[device] = c
	}
	if c.state != "" && c.state != LEDRaised.Name && c.state != LEDNotDelivered.Name {
		return // a repeat while central already has it: help is coming
	}
	if c.confirm != nil {
		c.confirm.Stop()
	}
	c.state = LEDRaised.Name
	c.confirm = in.clock.AfterFunc(in.confirmTimeout, func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		if in.calls[device] == c && c.state == LEDRaised.Name {
			c.state = LEDNotDelivered.Name
			in.showLocked()
		}
	})
	if len(in.hazards) == 0 {
		in.buzzer.set(BuzzerSilent) // so that a chirp replays
		in.buzzer.set(BuzzerChirp)
	}
	in.showLocked()
}

// resume shows a device's open call in the LED state led (a pattern name
// of callRank) after a restart, with no timer: central's reassurance or the
// box's own engine moves it on from there.
func (in *indicator) resume(device, led string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := callRank[led]; !ok {
		return
	}
	if c := in.calls[device]; c != nil && callRank[c.state] >= callRank[led] {
		return // the device's other open call needs more attention
	}
	in.calls[device] = &call{state: led}
	in.showLocked()
}

// callState: where a device's call is, as a reassurance state word
// (received, acknowledged, on_the_way, resolved, cancelled). fromCentral
// is false for the box's own engine, whose "received" means only that the
// box stored it, not that central has it.
func (in *indicator) callState(device, state string, fromCentral bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.calls[device]
	if c == nil {
		return // no call of this device is open here
	}
	switch state {
	case "received":
		if !fromCentral || c.state == LEDAcknowledged.Name || c.state == LEDOnTheWay.Name {
			return
		}
		c.state = LEDReceived.Name
	case "acknowledged":
		if c.state == LEDOnTheWay.Name {
			return
		}
		c.state = LEDAcknowledged.Name
	case "on_the_way":
		c.state = LEDOnTheWay.Name
	case "resolved", "cancelled":
		delete(in.calls, device)
	default:
		return
	}
	if c.confirm != nil {
		c.confirm.Stop()
	}
	in.showLocked()
}

// hazard starts or stops the buzzer for a device's smoke or gas alarm.
func (in *indicator) hazard(device string, on bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if on {
		in.hazards[device] = true
	} else {
		delete(in.hazards, device)
	}
	in.showLocked()
}

func (in *indicator) uplink(up bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.uplinkUp = up
	in.showLocked()
}

// lampTest shows the test pattern and chirps for d, then what was shown.
func (in *indicator) lampTest(d time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.testing {
		return
	}
	in.testing = true
	in.showLocked()
	in.clock.AfterFunc(d, func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		in.testing = false
		in.showLocked()
	})
}

// showLocked puts the patterns for the current state on the outputs.
func (in *indicator) showLocked() {
	worst := ""
	for _, c := range in.calls {
		if callRank[c.state] > callRank[worst] {
			worst = c.state
		}
	}
	switch {
	case in.testing:
		in.led.set(LEDTest)
	case worst != "":
		in.led.set(Patterns[worst])
	case !in.uplinkUp:
		in.led.set(LEDUplinkLost)
	default:
		in.led.set(LEDIdle)
	}
	switch {
	case len(in.hazards) > 0:
		in.buzzer.set(BuzzerHazard)
	case in.testing:
		in.buzzer.set(BuzzerChirp)
	case in.buzzer.name() == BuzzerHazard.Name:
		in.buzzer.set(BuzzerSilent)
	}
}

// shown is the LED's and the buzzer's pattern names, for the status.
func (in *indicator) shown() (led, buzzer string) { return in.led.name(), in.buzzer.name() }
