package gateway

import (
	"sync"
	"time"

	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// Wall-clock jumps (a Raspberry Pi without a real-time clock is put right
// by NTP in one step, maybe by a year). The engine moves its alarms' times
// by a jump itself (alerting/clockjump.go) and the supervisor measures
// silences on the monotonic clock; what is left are the deadlines the
// gateway keeps in wall time that measure a span from an instant: a
// device's walk-test deadline (switched on for two hours) and the
// wellbeing records (how long since the resident's last activity). At the
// start of each supervision pass, the wall clock is compared with g.elapsed;
// a jump moves those times with it, so a walk test ends and a no-activity
// alarm rises after the same elapsed time as without the jump. A resident's
// away-until date stays: an operator set it as a date.

// jumpTolerance is how far the wall clock may drift from the monotonic
// clock between two supervision passes before it counts as a jump.
const jumpTolerance = 3 * time.Second

// clockWatch is the last reading of the two clocks.
type clockWatch struct {
	mu   sync.Mutex
	seen bool
	wall time.Time
	mono time.Duration
}

// wallJump returns how far the wall clock (now) jumped since the last
// pass, and the wall time of that pass; jump is 0 when it did not jump or
// when everything runs on now.
func (g *Gateway) wallJump(now time.Time) (jump time.Duration, before time.Time) {
	if g.elapsed == nil {
		return 0, time.Time{}
	}
	w := &g.clockWatch
	w.mu.Lock()
	defer w.mu.Unlock()
	mono, wall := g.elapsed(), now.Round(0)
	if w.seen {
		jump, before = wall.Sub(w.wall)-(mono-w.mono), w.wall
		if jump <= jumpTolerance && jump >= -jumpTolerance {
			jump = 0
		}
	}
	w.seen, w.wall, w.mono = true, wall, mono
	return jump, before
}

// moveWallDeadlines moves the walk-test deadlines and the wellbeing
// records made before the jump (before is the wall clock's last reading
// before it) by the jump. A time later than that came from a later frame:
// stamped after the jump, or stored before a restart by a clock that was
// right (wellbeingAtStart moved those back); it stays.
func (g *Gateway) moveWallDeadlines(jump time.Duration, before, now time.Time) {
	g.log.Warn("the wall clock jumped: walk-test deadlines and wellbeing records move with it", "jump", jump)
	inFrame := func(until time.Time) bool { return until.Sub(before) <= registry.MaxTestDuration+jumpTolerance }
	for _, d := range g.reg.Select(func(d *registry.Device) bool { return d.Active() && d.Test && inFrame(d.TestUntil) }) {
		_, err := g.reg.Update(d.ID, state.ActionTest, "system", now, func(d *registry.Device) error {
			if d.Test && inFrame(d.TestUntil) {
				d.TestUntil = d.TestUntil.Add(jump)
			}
			return nil
		})
		if err != nil {
			g.log.Error("walk-test deadline not moved with the clock", "device", d.ID, "err", err)
		}
	}
	g.care.mu.Lock()
	defer g.care.mu.Unlock()
	for id, r := range g.care.recs {
		if moveTimes(wellbeingTimes(r), jump, before.Add(jumpTolerance)) {
			g.care.dirty[id] = true // stored at the end of this pass
		}
	}
}

// wellbeingAtStart moves the wellbeing records back when the wall clock at
// start is behind the newest of them (it is wrong: no real-time clock), as
// if the restart took no time; the engine does the same with its alarms.
// A walk-test deadline further away than the longest walk test is ended by
// expireTests.
func (g *Gateway) wellbeingAtStart(now time.Time) {
	if g.elapsed == nil {
		return
	}
	var newest time.Time
	for _, r := range g.care.recs {
		for _, t := range wellbeingTimes(r) {
			if t.After(newest) {
				newest = *t
			}
		}
	}
	behind := newest.Sub(now)
	if behind <= jumpTolerance {
		return
	}
	g.log.Warn("the wall clock is behind the stored wellbeing records: taken as wrong (no real-time clock?), and the restart as taking no time",
		"clock", now.UTC().Format(time.RFC3339), "newest_stored", newest.UTC().Format(time.RFC3339))
	for id, r := range g.care.recs {
		if moveTimes(wellbeingTimes(r), -behind, time.Time{}) {
			g.care.dirty[id] = true
		}
	}
}

func wellbeingTimes(r *state.Wellbeing) []*time.Time {
	return []*time.Time{&r.Since, &r.LastActivity, &r.LastCheckin, &r.NoActivityFrom, &r.MissedDeadline}
}

// moveTimes moves each non-zero time not after upTo (zero: any) by d and
// reports whether it moved any.
func moveTimes(ts []*time.Time, d time.Duration, upTo time.Time) bool {
	moved := false
	for _, t := range ts {
		if !t.IsZero() && (upTo.IsZero() || !t.After(upTo)) {
			*t, moved = t.Add(d), true
		}
	}
	return moved
}
