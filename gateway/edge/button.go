package edge

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
)

// pollEdge bounds one wait for an edge, so that a watcher notices its
// context ending.
const pollEdge = 200 * time.Millisecond

// button watches one input wired to ground with the pull-up on: pressed
// is low. A level counts once it has held for the debounce window (each
// edge restarts the window), so contact bounce and short spikes are
// ignored. A press is reported at once, when it has settled: an alarm
// never waits to learn how long the button is held. Held for longPress, it
// is reported again as a long press, which cancels the call.
type button struct {
	pin       gpio.PinIn
	debounce  time.Duration
	longPress time.Duration
	onPress   func()
	onLong    func()
}

// run watches until ctx ends.
func (b *button) run(ctx context.Context) {
	pressed, longSent := false, false
	var since time.Time
	for ctx.Err() == nil {
		wait := pollEdge
		if pressed && !longSent {
			left := b.longPress - time.Since(since)
			if left <= 0 {
				longSent = true
				b.onLong()
				continue
			}
			wait = min(wait, left)
		}
		if !b.pin.WaitForEdge(wait) {
			continue
		}
		switch level := b.settle(ctx); {
		case level == gpio.Low && !pressed:
			pressed, longSent, since = true, false, time.Now()
			b.onPress()
		case level == gpio.High && pressed:
			pressed = false
		}
	}
}

// settle waits until no edge has come for the debounce window and returns
// the level then.
func (b *button) settle(ctx context.Context) gpio.Level {
	for ctx.Err() == nil && b.pin.WaitForEdge(b.debounce) {
	}
	return b.pin.Read()
}

// openInput finds the pin named as on the Pi header and sets it as an
// input with the pull-up and both edges detected.
func openInput(field, name string) (gpio.PinIO, error) {
	p, err := pinByName(field, name)
	if err != nil {
		return nil, err
	}
	if err := p.In(gpio.PullUp, gpio.BothEdges); err != nil {
		return nil, fmt.Errorf("edge.pins.%s: %s as an input with edge detection: %w (is another program using it?)", field, name, err)
	}
	return p, nil
}

// openOutput finds the pin and drives it low.
func openOutput(field, name string) (gpio.PinIO, error) {
	p, err := pinByName(field, name)
	if err != nil {
		return nil, err
	}
	if err := p.Out(gpio.Low); err != nil {
		return nil, fmt.Errorf("edge.pins.%s: %s as an output: %w (is another program using it?)", field, name, err)
	}
	return p, nil
}

func pinByName(field, name string) (gpio.PinIO, error) {
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("edge.pins.%s: no pin %q on this machine; name pins as on the Pi header, e.g. GPIO17", field, name)
	}
	return p, nil
}
