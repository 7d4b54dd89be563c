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
// pass, 0 when it did not or when everything runs on now.
func (g *Gateway) wallJump(now time.Time) time.Duration {
	if g.elapsed == nil {
		return 0
	}
	w := &g.clockWatch
	w.mu.Lock()
	defer w.mu.Unlock()
	mono, wall := g.elapsed(), now.Round(0)
	var jump time.Duration
	if w.seen {
		jump = wall.Sub(w.wall) - (mono - w.mono)
		if jump <= jumpTolerance && jump >= -jumpTolerance {
			jump = 0
		}
	}
	w.seen, w.wall, w.mono = true, wall, mono
	return jump
}

// moveWallDeadlines moves the walk-test deadlines and the wellbeing
// records by a jump of the wall clock.
func (g *Gateway) moveWallDeadlines(jump time.Duration, now time.Time) {
	g.log.Warn("the wall clock jumped: walk-test deadlines and wellbeing records move with it", "jump", jump)
	for _, d := range g.reg.Select(func(d *registry.Device) bool { return d.Active() && d.Test && !d.TestUntil.IsZero() }) {
		_, err := g.reg.Update(d.ID, state.ActionTest, "system", now, func(d *registry.Device) error {
			if d.Test && !d.TestUntil.IsZero() {
				d.TestUntil = d.TestUntil.Add(jump)
			}
			return nil
		})
		if err != nil {
			g.log.Error("walk-test deadline not moved with the clock", "device", d.ID, "err", err)
		}
	}
	g.care.mu.Lock()
	for id, r := range g.care.recs {
		for _, t := range []*time.Time{&r.Since, &r.LastActivity, &r.LastCheckin, &r.NoActivityFrom, &r.MissedDeadline} {
			if !t.IsZero() {
				*t = t.Add(jump)
			}
		}
		g.care.dirty[id] = true // stored at the end of this pass
	}
	g.care.mu.Unlock()
}
