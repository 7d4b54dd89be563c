package alerting

import (
	"fmt"
	"time"
)

// Walk-test alarms (Alarm.Test) are raised by a device in test mode and go
// to the installer, not to operators, and do not escalate. That must not
// swallow a real emergency when an installer switched test mode on and
// walked away: a P1 walk-test alarm that is still untaken DefaultTestGrace
// after it was raised, from a device nobody is watching live
// (Options.Watched), is handed over: it stops being a test alarm, is marked
// TestMode so that operators know where it came from, and escalates from
// its raise time like any P1 (its overdue steps fire at once). Taking the
// alarm (acknowledging it) within the grace counts as watching. The
// decision is made once, at the end of the grace, on the engine's clock;
// after a restart, an overdue walk-test alarm is decided at the first Tick.
//
// A real event (test false) on a device whose walk-test alarm of the same
// type is still open hands that alarm over at once, so that the press is
// never hidden as a repeat of a test.

// DefaultTestGrace is how long a P1 walk-test alarm waits for an installer
// before it goes to operators.
const DefaultTestGrace = time.Minute

// testDue returns when a walk-test alarm is to be handed over, and false
// when it never will be without a change: it is not P1, or someone took it.
func (e *Engine) testDue(a *Alarm) (time.Time, bool) {
	if !a.Test || a.Priority != P1 || a.State != Raised {
		return time.Time{}, false
	}
	return a.Raised.Add(e.grace), true
}

// handOver turns walk-test alarm a into an operator's alarm as part of
// write t (undone with it if the store refuses it); e.mu is held.
func (e *Engine) handOver(t *txn, a *Alarm, why string, now time.Time) Change {
	t.touch(e, a, false)
	a.Test, a.TestMode = false, true
	delete(e.next, a.ID) // plan its escalation afresh
	entry := Entry{At: now, Actor: "system", Action: ActTestUnwatched, State: a.State, Note: why}
	a.record(entry)
	return Change{Alarm: a.clone(), Entry: entry}
}

// checkTest decides a walk-test alarm whose grace may be over at now. It
// returns the hand-over change, or ok false with when to look again (zero:
// never).
func (e *Engine) checkTest(t *txn, a *Alarm, now time.Time) (c Change, ok bool, next time.Time) {
	due, pending := e.testDue(a)
	switch {
	case !pending:
		return Change{}, false, time.Time{}
	case due.After(now):
		return Change{}, false, due
	case e.watched != nil && e.watched(a.Device):
		return Change{}, false, time.Time{}
	}
	why := fmt.Sprintf("walk-test alarm not watched or taken within %s: given to operators", e.grace)
	return e.handOver(t, a, why, now), true, time.Time{}
}

// handedOver reports whether changes hand a walk-test alarm over.
func handedOver(changes []Change) bool {
	for _, c := range changes {
		if c.Entry.Action == ActTestUnwatched {
			return true
		}
	}
	return false
}
