// Package fakepins is a FAKE GPIO driver for tests that run an edge box as
// a process, where periph's gpiotest pins (which live in the test's own
// memory) cannot reach. It is selected only by the config field
// edge.fake_pins_file; a real box never sets it.
//
// Register puts a fake pin in periph's gpioreg under each name. An output
// appends "<name> <0|1> <unix ns>\n" to the file at every Out, so a test
// reads what the LED and the buzzer showed, and when. An input reads high
// (released, with its pull-up) and never sees an edge.
package fakepins

import (
	"fmt"
	"os"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/physic"
)

// Register registers a fake pin for each name, writing to path.
func Register(path string, names []string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("edge.fake_pins_file: %w", err)
	}
	w := &writer{f: f}
	for i, n := range names {
		if err := gpioreg.Register(&Pin{name: n, num: i, w: w}); err != nil {
			return fmt.Errorf("edge.fake_pins_file: pin %s: %w", n, err)
		}
	}
	return nil
}

type writer struct {
	mu sync.Mutex
	f  *os.File
}

// Pin is one fake pin.
type Pin struct {
	name string
	num  int
	w    *writer

	mu    sync.Mutex
	level gpio.Level
	pull  gpio.Pull
}

var _ gpio.PinIO = (*Pin)(nil)

func (p *Pin) String() string         { return p.name + "(fake)" }
func (p *Pin) Halt() error            { return nil }
func (p *Pin) Name() string           { return p.name }
func (p *Pin) Number() int            { return p.num }
func (p *Pin) Function() string       { return "fake" }
func (p *Pin) Pull() gpio.Pull        { return p.pull }
func (p *Pin) DefaultPull() gpio.Pull { return gpio.PullUp }

func (p *Pin) In(pull gpio.Pull, _ gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pull, p.level = pull, pull != gpio.PullDown
	return nil
}

func (p *Pin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge sees no edge: it waits out its timeout.
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	if timeout < 0 {
		timeout = time.Hour
	}
	time.Sleep(timeout)
	return false
}

// Out records the level with the time.
func (p *Pin) Out(l gpio.Level) error {
	p.mu.Lock()
	p.level = l
	p.mu.Unlock()
	v := 0
	if l {
		v = 1
	}
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	_, err := fmt.Fprintf(p.w.f, "%s %d %d\n", p.name, v, time.Now().UnixNano())
	return err
}

func (p *Pin) PWM(gpio.Duty, physic.Frequency) error {
	return fmt.Errorf("fake pin %s: no PWM", p.name)
}
