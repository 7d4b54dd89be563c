package edge

import (
	"sort"
	"sync"
	"time"
)

// Clock is the box's time. Its timers run on the monotonic clock: a Pi has
// no real-time clock and may boot with a date a year off, which NTP later
// corrects with a jump; a timer set for 5 s fires 5 s later whatever the
// wall clock does meanwhile. Wall is only for timestamps sent out.
type Clock interface {
	Wall() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface{ Stop() bool }

// RealClock is the system clock; time.AfterFunc already measures on the
// monotonic clock.
type RealClock struct{}

func (RealClock) Wall() time.Time { return time.Now() }

func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// FakeClock is a Clock for tests: Advance moves monotonic time and fires
// the timers due; SetWall jumps the wall clock without firing anything.
type FakeClock struct {
	mu     sync.Mutex
	mono   time.Duration
	wall   time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *FakeClock
	at   time.Duration
	f    func()
	done bool
}

// NewFakeClock starts at wall time wall and monotonic zero.
func NewFakeClock(wall time.Time) *FakeClock { return &FakeClock{wall: wall} }

func (c *FakeClock) Wall() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

// SetWall jumps the wall clock, as NTP correcting a Pi's date does.
func (c *FakeClock) SetWall(t time.Time) {
	c.mu.Lock()
	c.wall = t
	c.mu.Unlock()
}

func (c *FakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.mono + d, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves both clocks on by d and runs, in order and on the
// caller's goroutine, every timer that falls due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.mono + d
	c.wall = c.wall.Add(d)
	for {
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at < c.timers[j].at })
		var due *fakeTimer
		for len(c.timers) > 0 && (c.timers[0].done || c.timers[0].at <= end) {
			t := c.timers[0]
			c.timers = c.timers[1:]
			if !t.done {
				due = t
				break
			}
		}
		if due == nil {
			break
		}
		due.done = true
		c.mono = max(c.mono, due.at)
		c.mu.Unlock()
		due.f()
		c.mu.Lock()
	}
	c.mono = end
	c.mu.Unlock()
}

// Pending counts the timers not yet fired or stopped.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.done {
			n++
		}
	}
	return n
}
