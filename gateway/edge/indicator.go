package edge

import (
	"sync"
	"time"
)

// indicator decides what the LED and the buzzer show, from the box's own
// call (its button device's alarm), the hazards of the room and the uplink.
// Everything it needs is local: a press lights "raised" at once and a
// smoke alarm sounds the buzzer at once, whether or not central is there.
//
// The LED shows the box's call while one is open (raised, not yet
// delivered, received, acknowledged, on the way); with none, "uplink lost"
// while central is unreachable, else "idle".
type indicator struct {
	led, buzzer    *output
	clock          Clock
	confirmTimeout time.Duration

	mu       sync.Mutex
	call     string // "" (none) or an LED pattern name
	callGen  uint64
	confirm  Timer
	uplinkUp bool
	hazards  map[string]bool // device → smoke or gas alarm sounding
	testing  bool
}

func newIndicator(led, buzzer *output, clock Clock, confirmTimeout time.Duration) *indicator {
	in := &indicator{led: led, buzzer: buzzer, clock: clock, confirmTimeout: confirmTimeout, hazards: map[string]bool{}}
	buzzer.set(BuzzerSilent)
	in.mu.Lock()
	in.showLocked()
	in.mu.Unlock()
	return in
}

// pressed: the box's button raised (or repeated) its call.
func (in *indicator) pressed() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.callGen++
	gen := in.callGen
	in.call = LEDRaised.Name
	if in.confirm != nil {
		in.confirm.Stop()
	}
	in.confirm = in.clock.AfterFunc(in.confirmTimeout, func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		if in.callGen == gen && in.call == LEDRaised.Name {
			in.call = LEDNotDelivered.Name
			in.showLocked()
		}
	})
	if len(in.hazards) == 0 {
		in.buzzer.set(BuzzerSilent) // so that a chirp replays
		in.buzzer.set(BuzzerChirp)
	}
	in.showLocked()
}

// callState: where the box's call is, as a reassurance state word
// (received, acknowledged, on_the_way, resolved, cancelled). fromCentral
// is false for the box's own engine, whose "received" means only that the
// box stored it, not that central has it.
func (in *indicator) callState(state string, fromCentral bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	switch state {
	case "received":
		if !fromCentral || in.call == "" || in.call == LEDAcknowledged.Name || in.call == LEDOnTheWay.Name {
			return
		}
		in.call = LEDReceived.Name
	case "acknowledged":
		if in.call == LEDOnTheWay.Name {
			return
		}
		in.call = LEDAcknowledged.Name
	case "on_the_way":
		in.call = LEDOnTheWay.Name
	case "resolved", "cancelled":
		in.call = ""
	default:
		return
	}
	if in.confirm != nil {
		in.confirm.Stop()
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
	switch {
	case in.testing:
		in.led.set(LEDTest)
	case in.call != "":
		in.led.set(LEDPatterns[in.call])
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
