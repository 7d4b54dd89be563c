package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Step is one escalation step: After this long unacknowledged, notify Targets.
type Step struct {
	After   Duration `json:"after"`
	Targets []string `json:"targets"`
}

// Policy is the escalation of one priority: steps in order of After.
type Policy struct {
	Steps []Step `json:"steps"`
}

// Policies maps a priority to its policy.
type Policies map[Priority]Policy

// DefaultPolicies follows DESIGN.md §4: the station's operators see an alarm
// the moment it is raised, on the console; these steps are what happens when
// nobody takes it.
func DefaultPolicies() Policies {
	return Policies{
		P1: {Steps: []Step{
			{After: Duration(30 * time.Second), Targets: []string{"supervisor", "next_level"}},
			{After: Duration(60 * time.Second), Targets: []string{"county", "emergency_contacts"}},
		}},
		P2: {Steps: []Step{
			{After: Duration(3 * time.Minute), Targets: []string{"supervisor"}},
			{After: Duration(10 * time.Minute), Targets: []string{"next_level"}},
		}},
		P3: {Steps: []Step{
			{After: Duration(30 * time.Minute), Targets: []string{"supervisor"}},
		}},
	}
}

// Validate checks that every policy's steps are in increasing order of After.
func (ps Policies) Validate() error {
	for p, pol := range ps {
		if !p.Valid() {
			return fmt.Errorf("escalation: priority %d: want P1, P2 or P3", int(p))
		}
		for i, s := range pol.Steps {
			if s.After < 0 {
				return fmt.Errorf("escalation %s step %d: after must not be negative", p, i+1)
			}
			if i > 0 && s.After <= pol.Steps[i-1].After {
				return fmt.Errorf("escalation %s step %d: after %s must be later than step %d's %s",
					p, i+1, time.Duration(s.After), i, time.Duration(pol.Steps[i-1].After))
			}
			if len(s.Targets) == 0 {
				return fmt.Errorf("escalation %s step %d: no targets", p, i+1)
			}
		}
	}
	return nil
}

// due returns when alarm a's next escalation step is due, and false when
// none is: it is taken, or every step has fired.
func (ps Policies) due(a *Alarm) (Step, time.Time, bool) {
	steps := ps[a.Priority].Steps
	if a.State != Raised || a.Test || a.Steps >= len(steps) {
		return Step{}, time.Time{}, false
	}
	s := steps[a.Steps]
	return s, a.Raised.Add(time.Duration(s.After)), true
}

// NextDue returns the earliest time an escalation step is due, and false when
// no open alarm is waiting for one.
func (e *Engine) NextDue() (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var next time.Time
	for _, a := range e.open {
		if _, at, ok := e.policies.due(a); ok && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next, !next.IsZero()
}

// Tick fires every escalation step due at or before now, oldest first, each
// recorded on its alarm's timeline. Steps that fell due while the gateway was
// down fire at the first Tick after it starts: late, but none skipped, and
// because the count of fired steps is stored with the alarm, none twice.
func (e *Engine) Tick(now time.Time) error {
	now = now.UTC()
	e.mu.Lock()
	var changes []Change
	var w Write
	for _, a := range e.open {
		fired := false
		for {
			s, at, ok := e.policies.due(a)
			if !ok || at.After(now) {
				break
			}
			a.Steps++
			entry := Entry{At: now, Actor: "system", Action: ActEscalated, State: a.State, Step: a.Steps,
				Targets: s.Targets, Note: fmt.Sprintf("unacknowledged after %s: notify %s",
					time.Duration(s.After), strings.Join(s.Targets, ", "))}
			if late := now.Sub(at); late > time.Second {
				entry.Note += fmt.Sprintf(" (due %s, late by %s)", at.Format(time.RFC3339), late.Round(time.Second))
			}
			a.record(entry)
			changes = append(changes, Change{Alarm: a.clone(), Entry: entry})
			fired = true
		}
		if fired {
			w.Alarms = append(w.Alarms, a.clone())
		}
	}
	if len(changes) == 0 {
		e.mu.Unlock()
		return nil
	}
	done := e.commit(w)
	e.mu.Unlock()
	return e.finish(done, changes)
}

// kick wakes Run to recompute its timer after a change.
func (e *Engine) kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run fires escalation steps on time until ctx is done. It sleeps on a real
// timer against the engine's clock, so tests drive it with testing/synctest;
// tests that need full control call Tick directly.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.Tick(e.now()); err != nil {
		e.log.Error("escalation tick failed", "err", err)
	}
	for {
		wait := time.Hour
		if at, ok := e.NextDue(); ok {
			wait = max(at.Sub(e.now()), 0)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-e.wake:
			t.Stop()
		case <-t.C:
		}
		if err := e.Tick(e.now()); err != nil {
			e.log.Error("escalation tick failed", "err", err)
		}
	}
}

// Duration is a time.Duration written as "30s" in JSON config.
type Duration time.Duration

// MarshalJSON writes "30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "30s", "2m" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err2 := json.Unmarshal(b, &secs); err2 != nil {
			return fmt.Errorf("duration must be a string like \"30s\" or a number of seconds, got %s", b)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}
