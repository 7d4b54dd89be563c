package alerting

import (
	"time"
)

// Wall-clock jumps. Escalation steps, repeats, reminders and the walk-test
// grace are planned from times an alarm stores (Raised, Acked), which are
// wall-clock times: they must survive a restart, and they are what the
// timeline shows. A wall clock can jump, though: a Raspberry Pi edge box has
// no real-time clock, boots with a date that may be a year off and is put
// right by NTP later in one step. Planned naively, a jump forward would fire
// every pending step at once, and a jump back would hold them for a year.
//
// So the engine reads, next to the wall clock, one that never jumps
// (Options.Elapsed; Go's monotonic clock by default), and on every reading
// compares how far each moved since the last one. When they differ by more
// than jumpTolerance, the wall clock jumped: every time held by an open
// alarm (and by the undo records of writes in flight, and by the recent
// idempotency keys) is moved by the jump, so that an alarm raised in the
// old frame reads in the new one, and its next step falls due after the
// same elapsed time as before the jump: a step due in 60 s fires 60 s
// later, once. Run reads the clock every clockCheck, and stores the moved
// alarms at once.
//
// Across a restart nothing can tell how long the gateway was down. When the
// wall clock at start is earlier than the newest time an open alarm holds,
// the clock is certainly wrong (time does not run backwards across a
// reboot): the alarms are moved back so that their newest time is now, as
// if the restart took no time. Pending steps then fire late by at most the
// downtime, never a year late; when NTP later corrects the clock, the jump
// moves them again with it. A clock that starts ahead is indistinguishable
// from a long outage: steps whose time has come fire at once, each once, as
// after any outage.
//
// The monotonic clock stops while a host is suspended, so a suspension reads
// as a jump forward: the time a gateway was frozen is not counted towards its
// escalations.

// jumpTolerance is how far the wall clock may move apart from the monotonic
// clock between two readings before it counts as a jump. NTP slews smaller
// corrections at under 0.5 ms a second, and Run reads the clock at least
// hourly: under 2 s of slew between readings.
const jumpTolerance = 3 * time.Second

// clockCheck is how often Run reads the clock while it looks for jumps, so
// that a jump is found, and the moved alarms stored, within that long even
// when no step is due: a restart soon after would otherwise read stored
// times in the frame from before the jump.
const clockCheck = 5 * time.Second

// jumpWatch is the engine's last clock reading; fields under e.mu.
type jumpWatch struct {
	elapsed  func() time.Duration // nil: jumps are not looked for
	seen     bool
	lastWall time.Time // monotonic reading stripped
	lastMono time.Duration
	// moves counts the jumps applied to the open alarms; stored is moves as
	// of the last Tick that stored them all.
	moves, stored uint64
}

// readClock is e.now: the wall clock, after applying any jump it made since
// the last reading; e.mu is held.
func (e *Engine) readClock() time.Time {
	now := e.wall()
	e.observe(now)
	return now
}

// observe compares wall, read just now, with the monotonic clock, and moves
// the open alarms by a jump; e.mu is held.
func (e *Engine) observe(wall time.Time) {
	w := &e.clock
	if w.elapsed == nil {
		return
	}
	mono := w.elapsed()
	wall = wall.Round(0)
	if w.seen {
		jump := wall.Sub(w.lastWall) - (mono - w.lastMono)
		if jump > jumpTolerance || jump < -jumpTolerance {
			e.log.Warn("the wall clock jumped: open alarms' times move with it, so their escalations keep their schedule",
				"jump", jump, "alarms", len(e.open))
			e.moveTimes(jump)
		}
	}
	w.seen, w.lastWall, w.lastMono = true, wall, mono
}

// clockAtStart moves the alarms loaded from the store back to now when the
// wall clock is behind them; e.mu is held.
func (e *Engine) clockAtStart() {
	if e.clock.elapsed == nil {
		return
	}
	now := e.wall()
	var newest time.Time
	for _, a := range e.open {
		if a.Updated.After(newest) {
			newest = a.Updated
		}
		for _, x := range a.Timeline {
			if x.At.After(newest) {
				newest = x.At
			}
		}
	}
	if behind := newest.Sub(now); behind > jumpTolerance {
		e.log.Warn("the wall clock is behind the stored alarms: taken as wrong (no real-time clock?), and the restart as taking no time",
			"clock", now.UTC().Format(time.RFC3339), "newest_stored", newest.UTC().Format(time.RFC3339), "behind", behind)
		e.moveTimes(-behind)
	}
	e.observe(now)
}

// moveTimes moves every wall-clock time the engine plans by; e.mu is held.
func (e *Engine) moveTimes(d time.Duration) {
	for _, a := range e.open {
		a.moveTimes(d)
	}
	for _, t := range e.inflight {
		for _, p := range t.prior {
			if p.was != nil {
				p.was.moveTimes(d)
			}
		}
	}
	for _, r := range e.recent {
		for _, p := range r.keys {
			p.seen.At = p.seen.At.Add(d)
		}
	}
	clear(e.next) // planned afresh in the new frame
	e.clock.moves++
	e.kick()
}

// moveTimes moves a's times by d.
func (a *Alarm) moveTimes(d time.Duration) {
	for _, t := range []*time.Time{&a.Raised, &a.Updated, &a.Acked, &a.Sent, &a.Closed} {
		if !t.IsZero() {
			*t = t.Add(d)
		}
	}
	for i := range a.Timeline {
		a.Timeline[i].At = a.Timeline[i].At.Add(d)
	}
	if a.NobodyReached != nil {
		a.NobodyReached.At = a.NobodyReached.At.Add(d)
	}
}

// storeMoved adds to w, in t, every open alarm not in it yet when a jump
// moved them since they were last all stored; e.mu is held. It returns the
// moves that w stores.
func (e *Engine) storeMoved(t *txn, w *Write) uint64 {
	moves := e.clock.moves
	if moves == e.clock.stored {
		return moves
	}
	in := make(map[string]bool, len(w.Alarms))
	for _, a := range w.Alarms {
		in[a.ID] = true
	}
	for id, a := range e.open {
		if in[id] {
			continue
		}
		t.touch(e, a, false)
		a.Version++
		w.Alarms = append(w.Alarms, a.clone())
	}
	return moves
}
