package edge

import (
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Step is one level of an output held for a time; 0 holds it until the
// pattern changes.
type Step struct {
	Level gpio.Level
	For   time.Duration
}

// Pattern is a named cycle of steps, repeated until another replaces it.
type Pattern struct {
	Name  string
	Steps []Step
}

func blink(name string, ds ...time.Duration) Pattern {
	p := Pattern{Name: name}
	for i, d := range ds {
		p.Steps = append(p.Steps, Step{Level: i%2 == 0, For: d})
	}
	return p
}

const ms = time.Millisecond

// The LED's patterns: what a resident or nurse reads off the box (the Pi
// install guide has the same table). Each differs from the others in its
// rhythm, so that a glance, or a test reading the pin, tells them apart.
var (
	LEDIdle         = blink("idle", 100*ms, 2900*ms)                               // a short blink every 3 s: working, nothing open
	LEDRaised       = blink("raised", 100*ms, 100*ms)                              // fast flicker: the call is raised here
	LEDNotDelivered = blink("not_delivered", 100*ms, 100*ms, 100*ms, 700*ms)       // double flicker: central has not confirmed yet
	LEDReceived     = Pattern{Name: "received", Steps: []Step{{Level: gpio.High}}} // steady: central has the call
	LEDAcknowledged = blink("acknowledged", 500*ms, 500*ms)                        // slow blink: someone took the call
	LEDOnTheWay     = blink("on_the_way", 900*ms, 100*ms)                          // long on, short off: help is coming
	LEDUplinkLost   = blink("uplink_lost", 100*ms, 1900*ms)                        // a blink every 2 s: no line to central
	LEDTest         = blink("test", 250*ms, 250*ms)                                // the test button's lamp test
	LEDOff          = Pattern{Name: "off", Steps: []Step{{Level: gpio.Low}}}

	BuzzerSilent = Pattern{Name: "silent", Steps: []Step{{Level: gpio.Low}}}
	// BuzzerHazard is the temporal-three pattern of ISO 8201 that smoke
	// alarms sound: three half-second tones, then a pause of 1.5 s.
	BuzzerHazard = blink("hazard", 500*ms, 500*ms, 500*ms, 500*ms, 500*ms, 1500*ms)
	BuzzerChirp  = Pattern{Name: "chirp", Steps: []Step{{Level: gpio.High, For: 100 * ms}, {Level: gpio.Low}}} // once, at a press
)

// Patterns are the LED's and the buzzer's patterns by name.
var Patterns = map[string]Pattern{}

func init() {
	for _, p := range []Pattern{LEDIdle, LEDRaised, LEDNotDelivered, LEDReceived, LEDAcknowledged, LEDOnTheWay,
		LEDUplinkLost, LEDTest, LEDOff, BuzzerSilent, BuzzerHazard, BuzzerChirp} {
		Patterns[p.Name] = p
	}
}

// output plays patterns on one pin. A nil pin plays nothing but still
// keeps the pattern's name, which the box's status shows.
type output struct {
	pin   gpio.PinOut
	clock Clock
	onErr func(error)

	mu    sync.Mutex
	cur   Pattern
	gen   uint64
	timer Timer
}

// set starts p unless it is already playing; a pattern that ends (its
// last step holds) stays until the next set.
func (o *output) set(p Pattern) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cur.Name == p.Name && o.gen > 0 {
		return
	}
	o.cur = p
	o.gen++
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	o.step(o.gen, 0)
}

// step puts step i of the current pattern on the pin; o.mu is held.
func (o *output) step(gen uint64, i int) {
	s := o.cur.Steps[i]
	if o.pin != nil {
		if err := o.pin.Out(s.Level); err != nil && o.onErr != nil {
			o.onErr(err)
		}
	}
	if s.For == 0 {
		return
	}
	next := (i + 1) % len(o.cur.Steps)
	o.timer = o.clock.AfterFunc(s.For, func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.gen == gen {
			o.step(gen, next)
		}
	})
}

func (o *output) name() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cur.Name
}

// stop ends the pattern and leaves the pin low.
func (o *output) stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.gen++
	if o.timer != nil {
		o.timer.Stop()
	}
	if o.pin != nil {
		o.pin.Out(gpio.Low)
	}
}
