package devices

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Supervision classes: how often a device must be heard (DESIGN.md §2).
const (
	ClassNative        = "native"         // anxin firmware: MissedHeartbeats × Heartbeat of its kind
	ClassZigbeeBattery = "zigbee_battery" // a battery Zigbee sensor reports rarely
	ClassZigbeeMains   = "zigbee_mains"   // a mains-powered Zigbee device reports often
)

// Windows of the non-native classes.
const (
	ZigbeeBatteryWindow = 25 * time.Hour
	ZigbeeMainsWindow   = 10 * time.Minute
)

// batteryHysteresis is how far above its threshold a battery must climb
// before a new low reading counts as a new low battery.
const batteryHysteresis = 5

// SupervisionWindow is how long a device of class and kind may be silent
// before it is offline. An empty class means ClassNative.
func SupervisionWindow(class string, kind Kind) (time.Duration, error) {
	switch class {
	case "", ClassNative:
		k, err := LookupKind(kind)
		if err != nil {
			return 0, err
		}
		return k.SupervisionWindow(), nil
	case ClassZigbeeBattery:
		return ZigbeeBatteryWindow, nil
	case ClassZigbeeMains:
		return ZigbeeMainsWindow, nil
	}
	return 0, fmt.Errorf("supervision class %q: want %s", class, strings.Join([]string{ClassNative, ClassZigbeeBattery, ClassZigbeeMains}, ", "))
}

// Supervisor keeps, for every supervised device, when it was last heard,
// and says which devices have fallen silent for longer than their window
// and which have come back. It holds no timers: the caller passes the time
// in, so supervision runs on whatever clock the caller has. Safe for
// concurrent use: the devices are a sync.Map, read without a lock, and
// each device's record has its own lock, so that the traffic of different
// devices (Heard, on every message) never waits for each other, while what
// Silent decides of one device and what Heard records of it stay one step
// each.
//
// A wall clock can jump (a Raspberry Pi without a real-time clock is put
// right by NTP in one step, maybe by a year): measured on it, a jump
// forward would call every device offline at once and a jump back none for
// a year. A supervisor made by NewSupervisorOn measures silences on a
// clock that never jumps instead; the times passed in are then only what
// it reports (Silence.LastSeen, in the frame of the latest one).
type Supervisor struct {
	devs    sync.Map             // device id → *supervised
	elapsed func() time.Duration // nil: silences are measured on the times passed in
}

type supervised struct {
	mu         sync.Mutex // a leaf
	window     time.Duration
	last       time.Time
	lastMono   time.Duration // elapsed() when last heard, with elapsed set
	offline    bool
	batteryLow bool
}

// NewSupervisor returns an empty supervisor that measures silences on the
// times passed in.
func NewSupervisor() *Supervisor { return &Supervisor{} }

// NewSupervisorOn returns an empty supervisor that measures silences on
// elapsed, a clock that never jumps (time since any fixed point).
func NewSupervisorOn(elapsed func() time.Duration) *Supervisor {
	return &Supervisor{elapsed: elapsed}
}

// mono is elapsed() or 0 without it.
func (s *Supervisor) mono() time.Duration {
	if s.elapsed == nil {
		return 0
	}
	return s.elapsed()
}

// Track starts supervising a device, or changes its window. A device newly
// tracked counts as heard at now: after a gateway restart every device gets
// a whole window to check in before it is called offline. offline says the
// device is already known to be offline (its offline alarm is open).
func (s *Supervisor) Track(id string, window time.Duration, now time.Time, offline bool) {
	v, loaded := s.devs.LoadOrStore(id, &supervised{window: window, last: now, lastMono: s.mono(), offline: offline})
	if loaded {
		d := v.(*supervised)
		d.mu.Lock()
		d.window = window
		d.mu.Unlock()
	}
}

// get returns a device's record, nil when it is not supervised.
func (s *Supervisor) get(id string) *supervised {
	if v, ok := s.devs.Load(id); ok {
		return v.(*supervised)
	}
	return nil
}

// Forget stops supervising a device.
func (s *Supervisor) Forget(id string) { s.devs.Delete(id) }

// Tracked lists the supervised devices.
func (s *Supervisor) Tracked() []string {
	var out []string
	s.devs.Range(func(id, _ any) bool {
		out = append(out, id.(string))
		return true
	})
	return out
}

// Heard records traffic from a device at at. It returns true when the
// device had been offline: its offline alarm can be closed.
func (s *Supervisor) Heard(id string, at time.Time) (restored bool) {
	d := s.get(id)
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.elapsed != nil {
		d.last, d.lastMono = at, s.elapsed()
	} else if at.After(d.last) {
		d.last = at
	}
	restored, d.offline = d.offline, false
	return restored
}

// Offline reports whether a supervised device is known to be offline: it
// fell silent (Silent) or was tracked as offline, and has not been heard
// since. A device not supervised is not offline.
func (s *Supervisor) Offline(id string) bool {
	d := s.get(id)
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.offline
}

// Silence is a device that has not been heard for longer than its window.
type Silence struct {
	Device   string
	LastSeen time.Time
	Window   time.Duration
}

// Silent returns the devices that fell silent since the last call, each
// once, oldest silence first.
func (s *Supervisor) Silent(now time.Time) []Silence {
	var out []Silence
	mono := s.mono()
	s.devs.Range(func(id, v any) bool {
		d := v.(*supervised)
		d.mu.Lock()
		silent, last := now.Sub(d.last), d.last
		if s.elapsed != nil {
			silent = mono - d.lastMono
			last = now.Add(-silent)
		}
		if !d.offline && silent > d.window {
			d.offline = true
			out = append(out, Silence{Device: id.(string), LastSeen: last, Window: d.window})
		}
		d.mu.Unlock()
		return true
	})
	slices.SortFunc(out, func(a, b Silence) int { return a.LastSeen.Compare(b.LastSeen) })
	return out
}

// Battery records a battery reading against the kind's threshold. low is
// true when the reading just went at or under it; it is not true again
// until the battery has climbed batteryHysteresis points above it.
func (s *Supervisor) Battery(id string, level, threshold float64) (low bool) {
	if threshold <= 0 {
		return false
	}
	d := s.get(id)
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case level <= threshold && !d.batteryLow:
		d.batteryLow = true
		return true
	case level > threshold+batteryHysteresis:
		d.batteryLow = false
	}
	return false
}

// UndoSilent, UndoHeard and UndoBattery take back what Silent, Heard or
// Battery just reported for a device, when the alarm change it called for
// could not be stored: the next pass, message or reading reports it again.
func (s *Supervisor) UndoSilent(id string) { s.set(id, func(d *supervised) { d.offline = false }) }

// UndoHeard: see UndoSilent.
func (s *Supervisor) UndoHeard(id string) { s.set(id, func(d *supervised) { d.offline = true }) }

// UndoBattery: see UndoSilent.
func (s *Supervisor) UndoBattery(id string) { s.set(id, func(d *supervised) { d.batteryLow = false }) }

func (s *Supervisor) set(id string, fn func(*supervised)) {
	if d := s.get(id); d != nil {
		d.mu.Lock()
		fn(d)
		d.mu.Unlock()
	}
}
