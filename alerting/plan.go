package alerting

import "time"

// Progress is how far an alarm's escalation has gone. It is stored with the
// alarm and is all the planner remembers, so a gateway that restarts from
// its stored alarms resumes exactly where it stopped: nothing fired twice,
// nothing skipped.
type Progress struct {
	// Steps counts the escalation steps fired, then the repeats of the
	// last one: it is the engine's Alarm.Steps.
	Steps int `json:"escalation_steps"`
	// Reminders counts the reminders fired since the acknowledgement.
	Reminders int `json:"reminders_fired,omitempty"`
	// Unattended is set once the unattended targets were notified.
	Unattended bool `json:"unattended_notified,omitempty"`
}

// Due is a notification that a policy says is due: its kind, its 1-based
// number, when it fell due and the policy's targets.
type Due struct {
	Kind    NoteKind  `json:"kind"`
	Step    int       `json:"step"`
	At      time.Time `json:"at"`
	Targets []string  `json:"targets"`
}

// Plan returns what is due for alarm a at now under policy p, given what
// has fired so far (prog) and whether nobody is on duty anywhere on the
// alarm's path (unattended). It returns the progress to store once they
// have fired and when the next one falls due (zero when none will without
// a change to the alarm). Plan is pure.
//
// Steps that fell due while the gateway was down each fire once, late;
// missed repeats of the last step fire once, not once per interval, and
// the repeat count moves on so that the next repeat keeps its rhythm.
func (p EscalationPolicy) Plan(a *Alarm, prog Progress, unattended bool, now time.Time) (due []Due, after Progress, next time.Time) {
	after = prog
	if a.Test || !a.State.Open() {
		return nil, after, time.Time{}
	}
	switch a.State {
	case Raised:
		if unattended && !prog.Unattended && len(p.Unattended) > 0 {
			due = append(due, Due{Kind: NoteUnattended, Step: 1, At: now, Targets: p.Unattended})
			after.Unattended = true
		}
		for after.Steps < len(p.Steps) {
			s := p.Steps[after.Steps]
			at := a.Raised.Add(time.Duration(s.After))
			if at.After(now) {
				return due, after, at
			}
			after.Steps++
			due = append(due, Due{Kind: NoteStep, Step: after.Steps, At: at, Targets: s.Targets})
		}
		if p.Repeat <= 0 || len(p.Steps) == 0 {
			return due, after, time.Time{}
		}
		last := p.Steps[len(p.Steps)-1]
		base, every := a.Raised.Add(time.Duration(last.After)), time.Duration(p.Repeat)
		k := after.Steps - len(p.Steps) + 1 // the repeat that is next
		if at := base.Add(time.Duration(k) * every); !at.After(now) {
			k = int(now.Sub(base) / every)
			after.Steps = len(p.Steps) + k
			// When the last step itself fired late just now, that says it
			// all: the missed repeats are skipped, not sent on its heels.
			if prog.Steps >= len(p.Steps) {
				due = append(due, Due{Kind: NoteRepeat, Step: after.Steps, At: base.Add(time.Duration(k) * every),
					Targets: last.Targets})
			}
			k++
		}
		return due, after, base.Add(time.Duration(k) * every)
	case Acknowledged:
		if a.Acked.IsZero() {
			return nil, after, time.Time{}
		}
		for after.Reminders < len(p.Reminders) {
			s := p.Reminders[after.Reminders]
			at := a.Acked.Add(time.Duration(s.After))
			if at.After(now) {
				return due, after, at
			}
			after.Reminders++
			due = append(due, Due{Kind: NoteReminder, Step: after.Reminders, At: at, Targets: s.Targets})
		}
	}
	return due, after, time.Time{}
}
