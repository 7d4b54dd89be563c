package alerting

import (
	"time"

	"github.com/anxin-care/anxin/devices"
)

// Idempotency: (device, seq) is the key of an event (DESIGN.md §2). A QoS 1
// redelivery, or a device resending after a reconnect, carries the same key
// and must not raise twice.
//
// A key alone is not trusted blindly, because a device that loses its counter
// (a battery swap on firmware that cannot keep seq) starts again at 1, and
// ignoring its next press would lose an alarm. So an event only counts as a
// repeat of an earlier one when it also has the same type and the same
// device timestamp, within dupWindow; without a device timestamp the window
// is the shorter dupWindowNoTS, and the event must also still have an open
// alarm to repeat: with neither a clock nor a kept counter, a press after
// the alarm was cancelled or resolved may be a new press, and is taken as
// one. Past that, the event is taken as new: a rare extra alarm is the safe
// side of that choice.
const (
	dupWindow     = 24 * time.Hour
	dupWindowNoTS = 10 * time.Minute
	// recentPerDevice bounds the keys held in memory per device; older ones
	// are looked up in the store.
	recentPerDevice = 64
)

func sameEvent(s Seen, ev devices.Event, now time.Time) bool {
	if s.Type != string(ev.Type) {
		return false
	}
	var ts int64
	if !ev.DeviceTime.IsZero() {
		ts = ev.DeviceTime.UnixMilli()
	}
	if s.TS != 0 || ts != 0 {
		return s.TS == ts && now.Sub(s.At) < dupWindow
	}
	return now.Sub(s.At) < dupWindowNoTS
}

// pendingSeen is an accepted key whose write may still be on its way to disk.
type pendingSeen struct {
	seen  Seen
	done  chan struct{}
	err   error
	owner *recentSeen
}

// settle records the commit result of p. A key whose write failed is
// forgotten, so that the device's resend is handled afresh.
func (e *Engine) settle(p *pendingSeen, err error) {
	p.err = err
	close(p.done)
	if err != nil {
		e.mu.Lock()
		p.owner.forget(p)
		e.mu.Unlock()
	}
}

func (p *pendingSeen) settled() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

type recentSeen struct {
	keys  map[uint64]*pendingSeen
	order []uint64
}

func (r *recentSeen) forget(p *pendingSeen) {
	if r.keys[p.seen.Seq] == p {
		delete(r.keys, p.seen.Seq)
	}
}

// remember holds a key in memory; e.mu is held.
func (e *Engine) remember(s Seen) *pendingSeen {
	r := e.recent[s.Device]
	if r == nil {
		r = &recentSeen{keys: map[uint64]*pendingSeen{}}
		e.recent[s.Device] = r
	}
	p := &pendingSeen{seen: s, done: make(chan struct{}), owner: r}
	if _, ok := r.keys[s.Seq]; !ok {
		r.order = append(r.order, s.Seq)
	}
	r.keys[s.Seq] = p
	for len(r.order) > recentPerDevice {
		if q := r.keys[r.order[0]]; q != nil {
			if !q.settled() {
				break // a redelivery must still find it and wait
			}
			delete(r.keys, r.order[0])
		}
		r.order = r.order[1:]
	}
	return p
}

// storedSeen looks up ev's key in the store. It runs without e.mu: a key
// committed after this lookup was remembered in memory first, so duplicate
// still finds it there.
func (e *Engine) storedSeen(ev devices.Event) (Seen, bool) {
	s, ok, err := e.store.Seen(ev.Device, ev.Seq)
	if err != nil {
		e.log.Warn("idempotency lookup failed; treating event as new", "device", ev.Device, "seq", ev.Seq, "err", err)
		return Seen{}, false
	}
	return s, ok
}

// duplicate reports whether ev repeats an accepted event, given what the
// store held of its key; e.mu is held. When the earlier write is still
// pending, wait is set and the caller must wait on it (without e.mu)
// before acknowledging the device.
func (e *Engine) duplicate(ev devices.Event, stored Seen, inStore bool) (res Result, wait *pendingSeen, dup bool) {
	now := e.now().UTC()
	var s Seen
	if r := e.recent[ev.Device]; r != nil {
		if p, ok := r.keys[ev.Seq]; ok {
			s, dup = p.seen, sameEvent(p.seen, ev, now)
			wait = p
		}
	}
	if !dup && wait == nil && inStore && sameEvent(stored, ev, now) {
		s, dup = stored, true
	}
	if dup && s.TS == 0 && s.Alarm != "" && e.open[s.Alarm] == nil {
		dup = false // no clock, and its alarm is over: a counter reset, not a resend
		wait = nil
	}
	if !dup {
		return Result{}, nil, false
	}
	res.Duplicate = true
	if s.Alarm != "" {
		if a, ok := e.open[s.Alarm]; ok {
			res.Alarm = a.clone()
		} else if a, err := e.store.Alarm(s.Alarm); err == nil {
			res.Alarm = a
		}
	}
	return res, wait, true
}
