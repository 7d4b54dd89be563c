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
// nobody takes it. Emergency contacts are not in the default because they
// need a contact channel (a webhook to an SMS or voice gateway) configured.
func DefaultPolicies() Policies {
	return Policies{
		P1: {Steps: []Step{
			{After: Duration(30 * time.Second), Targets: []string{"supervisor", "next_level"}},
			{After: Duration(60 * time.Second), Targets: []string{"top_level"}},
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

// noRoster has nobody on duty: the engine's default until the gateway
// gives it a roster.
type noRoster struct{}

func (noRoster) OnDuty(string, time.Time) []Operator { return nil }

// defaultEscalator applies ps with no site tree and nobody on duty: steps
// are recorded on the timeline; their notifications need channels.
func defaultEscalator(ps Policies) (*Escalator, error) {
	return NewEscalator(EscalatorConfig{Policies: FromPolicies(ps), Tree: SiteMap{}, Roster: noRoster{}})
}

func (a *Alarm) progress() Progress {
	return Progress{Steps: a.Steps, Reminders: a.Reminders, Unattended: a.Unattended}
}

func (a *Alarm) setProgress(p Progress) {
	a.Steps, a.Reminders, a.Unattended = p.Steps, p.Reminders, p.Unattended
}

// info is what the escalator needs to know of an alarm's device.
func (e *Engine) alarmInfo(a *Alarm) AlarmInfo {
	if e.info != nil {
		return e.info(a)
	}
	return AlarmInfo{Site: a.Site, Location: a.Location, Resident: Resident{Name: a.Resident}}
}

// NextDue returns the earliest time an escalation, reminder or repeat is
// due, and false when no open alarm is waiting for one.
func (e *Engine) NextDue() (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nextDue(e.now())
}

// nextDue is NextDue at now; e.mu is held.
func (e *Engine) nextDue(now time.Time) (time.Time, bool) {
	var next time.Time
	for id := range e.open {
		at, planned := e.next[id]
		if !planned {
			return now, true // not planned yet: plan it now
		}
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next, !next.IsZero()
}

// Reschedule makes the next Tick plan every open alarm afresh: call it when
// something outside the alarms changed, such as who is on duty.
func (e *Engine) Reschedule() {
	e.mu.Lock()
	clear(e.next)
	e.mu.Unlock()
	e.kick()
}

// SetEscalator replaces the escalator (a config reload: new policies,
// targets or channels) and plans every open alarm afresh under it. An
// alarm keeps the steps it already fired; the new policy's later steps
// follow at their own times.
func (e *Engine) SetEscalator(esc *Escalator) {
	e.mu.Lock()
	e.esc = esc
	clear(e.next)
	e.mu.Unlock()
	e.kick()
}

// entryFor is the timeline entry of one fired escalation.
func entryFor(f Fired, a *Alarm, now time.Time) Entry {
	action := ActEscalated
	switch f.Kind {
	case NoteReminder:
		action = ActReminded
	case NoteUnattended:
		action = ActUnattended
	}
	note := fmt.Sprintf("%s %d: notify %s", f.Kind, f.Step, strings.Join(f.Targets, ", "))
	if f.Routed != "" {
		note += "; offered to " + f.Routed
	}
	if len(f.Unresolved) > 0 {
		note += "; " + strings.Join(f.Unresolved, "; ")
	}
	if late := now.Sub(f.At); late > time.Second {
		note += fmt.Sprintf(" (due %s, late by %s)", f.At.UTC().Format(time.RFC3339), late.Round(time.Second))
	}
	return Entry{At: now, Actor: "system", Action: action, State: a.State, Step: f.Step, Targets: f.Targets,
		Kind: f.Kind, Unresolved: f.Unresolved, Note: note}
}

// reachedNobody reports a P1 step (or repeat) or an unattended notice
// that reached no one: its targets stand for nobody on duty (who would
// see it on the console) and no channel took a notification. Other
// priorities' steps that reach nobody stay on the timeline only.
func reachedNobody(f Fired, a *Alarm, now time.Time) (*NobodyReached, bool) {
	if len(f.Notifications) > 0 || f.People > 0 || f.Kind == NoteReminder || f.Kind != NoteUnattended && a.Priority != P1 {
		return nil, false
	}
	reason := strings.Join(f.Unresolved, "; ")
	if reason == "" {
		reason = ReasonNoTarget
	}
	step := max(f.Step-1, 0)
	if f.Kind == NoteUnattended {
		step = max(a.Steps-1, 0)
	}
	return &NobodyReached{At: now, Step: step, Kind: f.Kind, Reason: reason}, true
}

// Tick fires every escalation step, repeat, reminder and unattended notice
// due at or before now, each recorded on its alarm's timeline. What has
// fired is stored with the alarm (Steps, Reminders, Unattended) in the same
// write as the timeline, so steps that fell due while the gateway was down
// fire at the first Tick after it starts, late but each once. The
// notifications are part of that same write (the store's outbox) and go to
// Options.Deliver only after it is durable. now is the caller's: it is not
// compared with the monotonic clock (Run's own ticks are, clockjump.go).
func (e *Engine) Tick(now time.Time) error {
	return e.tick(func() time.Time { return now })
}

// tick is Tick at clock(), which is read under e.mu, so that a jump that
// e.now finds moves the alarms before they are planned against it.
func (e *Engine) tick(clock func() time.Time) error {
	e.mu.Lock()
	now := clock().UTC()
	var changes []Change
	var w Write
	var notes []Notification
	t := &txn{}
	for id, a := range e.open {
		if at, planned := e.next[id]; planned && (at.IsZero() || at.After(now)) {
			continue
		}
		handed := false
		if a.Test {
			c, ok, next := e.checkTest(t, a, now)
			if !ok {
				e.next[id] = next
				continue
			}
			changes, handed = append(changes, c), true
		}
		before := a.progress()
		fired, after, next := e.esc.Evaluate(a.clone(), before, e.alarmInfo(a), now)
		e.next[id] = next
		if len(fired) == 0 && after == before {
			if handed {
				w.Alarms = append(w.Alarms, a.clone())
			}
			continue
		}
		t.touch(e, a, false)
		a.setProgress(after)
		for _, f := range fired {
			if a.Routed == "" {
				a.Routed = f.Routed
			}
			entry := entryFor(f, a, now)
			if nobody, ok := reachedNobody(f, a, now); ok {
				entry.NobodyReached, a.NobodyReached = true, nobody
			}
			a.record(entry)
			changes = append(changes, Change{Alarm: a.clone(), Entry: entry})
			notes = append(notes, f.Notifications...)
		}
		if len(fired) == 0 {
			a.Version++
		}
		w.Alarms = append(w.Alarms, a.clone())
	}
	moves := e.storeMoved(t, &w)
	if len(w.Alarms) == 0 {
		e.mu.Unlock()
		return nil
	}
	w.Notifications = notes
	e.commit(t, w)
	ids := make([]string, len(w.Alarms))
	for i, a := range w.Alarms {
		ids[i] = a.ID
	}
	e.mu.Unlock()
	err := e.finish(t, changes, "alarms", ids, "action", "escalation")
	if err == nil {
		e.mu.Lock()
		e.clock.stored = max(e.clock.stored, moves)
		e.mu.Unlock()
	}
	// Delivered even when the store failed: nobody must wait on a full
	// disk. The steps are undone and fire again at the next Tick; their
	// notifications carry the same keys, so the delivery pipeline's dedup
	// stage lets each through once.
	if e.deliver != nil && len(notes) > 0 {
		e.deliver(notes)
	}
	return err
}

// kick wakes Run to recompute its timer after a change.
func (e *Engine) kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// untilDue is how long Run may sleep: until the next step, at most an
// hour, or clockCheck while the engine looks for jumps of its clock.
func (e *Engine) untilDue() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	limit := time.Hour
	if e.clock.elapsed != nil {
		limit = clockCheck
	}
	now := e.now()
	at, ok := e.nextDue(now)
	if !ok {
		return limit
	}
	return min(max(at.Sub(now), 0), limit)
}

// tickRetry is how long Run waits after a Tick the store refused before it
// tries again (sooner if a change that succeeded wakes it).
const tickRetry = 5 * time.Second

// Run fires escalations on time until ctx is done. It sleeps on a real
// timer (which runs on the monotonic clock) for as long as the engine's
// clock says the next step is away, so tests drive it with
// testing/synctest; tests that need full control call Tick directly.
func (e *Engine) Run(ctx context.Context) error {
	for {
		err := e.tick(e.now)
		if err != nil {
			e.log.Error("escalation tick failed", "err", err)
		}
		wait := e.untilDue()
		if err != nil {
			wait = max(wait, tickRetry)
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
