package alerting

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Priority orders alarms: P1 life-safety before P2 wellbeing before P3 technical.
type Priority int

// The priorities of DESIGN.md §3.
const (
	P1 Priority = 1 // life-safety: smoke, gas, fall, SOS, call button, pull cord
	P2 Priority = 2 // wellbeing: abnormal heart rate, geofence exit, band removed, bed exit
	P3 Priority = 3 // technical: offline, low battery, tamper, fault
)

func (p Priority) String() string { return fmt.Sprintf("P%d", int(p)) }

// Valid reports whether p is P1, P2 or P3.
func (p Priority) Valid() bool { return p >= P1 && p <= P3 }

// ParsePriority reads "P1", "p2" or "3".
func ParsePriority(s string) (Priority, error) {
	var n int
	if _, err := fmt.Sscanf(s, "P%d", &n); err != nil {
		if _, err := fmt.Sscanf(s, "p%d", &n); err != nil {
			if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
				return 0, fmt.Errorf("priority %q: want P1, P2 or P3", s)
			}
		}
	}
	if p := Priority(n); p.Valid() {
		return p, nil
	}
	return 0, fmt.Errorf("priority %q: want P1, P2 or P3", s)
}

// MarshalText writes "P1".
func (p Priority) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads "P1".
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	*p = v
	return err
}

// State is where an alarm is in its life.
type State string

// The alarm states. Raised, acknowledged and dispatched are open; resolved and
// cancelled are closed.
const (
	Raised       State = "raised"
	Acknowledged State = "acknowledged"
	Dispatched   State = "dispatched"
	Resolved     State = "resolved"
	Cancelled    State = "cancelled"
)

// Open reports whether an alarm in state s still needs someone.
func (s State) Open() bool { return s == Raised || s == Acknowledged || s == Dispatched }

// Valid reports whether s is one of the states.
func (s State) Valid() bool { return s.Open() || s == Resolved || s == Cancelled }

// transitions lists where an operator may take an alarm from each state.
// Dispatch straight from raised is allowed: the operator who sends someone
// has plainly taken the alarm, and the timeline records both steps.
var transitions = map[State][]State{
	Raised:       {Acknowledged, Dispatched, Resolved, Cancelled},
	Acknowledged: {Dispatched, Resolved},
	Dispatched:   {Resolved},
}

func canMove(from, to State) bool { return slices.Contains(transitions[from], to) }

// Outcomes a resolution must name; OutcomeRestored closes a condition the
// gateway detected itself (a device back online) without an operator.
var Outcomes = []string{"assisted", "false_alarm", "no_response_dispatched", "ambulance", "fire_service", "test", OutcomeRestored, OutcomeDeviceRemoved}

// OutcomeRestored is the outcome of an alarm the condition of which ended by itself.
const OutcomeRestored = "restored"

// Action names a timeline entry.
type Action string

// The timeline actions.
const (
	ActRaised       Action = "raised"
	ActRepeated     Action = "repeated"
	ActAcknowledged Action = "acknowledged"
	ActDispatched   Action = "dispatched"
	ActResolved     Action = "resolved"
	ActCancelled    Action = "cancelled"
	ActCleared      Action = "cleared" // the device reported the condition over
	ActNote         Action = "note"
	ActEscalated    Action = "escalated"
	ActReminded     Action = "reminded"   // the owner was reminded of an acknowledged alarm
	ActUnattended   Action = "unattended" // nobody on duty on the path: the unattended targets were told
	ActNotified     Action = "notified"   // one delivery attempt of a notification
	// ActTestUnwatched: a walk-test alarm nobody watched went to operators (testmode.go).
	ActTestUnwatched Action = "test_unwatched"
)

// Entry is one line of an alarm's timeline: who did what, when.
type Entry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"` // "device:ID", "operator:NAME", "system"
	Action Action    `json:"action"`
	State  State     `json:"state"` // the state after the entry
	Note   string    `json:"note,omitempty"`
	Seq    uint64    `json:"seq,omitempty"`
	Step   int       `json:"step,omitempty"` // escalation step, 1-based
	// Targets are who an escalation step notifies; Kind says which sort of
	// notice it was (step, repeat, reminder, unattended); Unresolved, which
	// targets reached nobody and why.
	Targets    []string `json:"targets,omitempty"`
	Kind       NoteKind `json:"kind,omitempty"`
	Unresolved []string `json:"unresolved,omitempty"`
	// NobodyReached marks a P1 escalation step or an unattended notice
	// that reached nobody at all: every target unresolved, no channel.
	NobodyReached bool `json:"nobody_reached,omitempty"`
	// Responder is, on a dispatch, who is going ("村医张医生").
	Responder string `json:"responder,omitempty"`
}

// NobodyReached is the last time a P1 escalation step or an unattended
// notice of an alarm reached nobody: no one on duty and no channel, so
// that no person anywhere heard of it. Consoles and the wall show it
// loudly; the gateway logs it at ERROR.
type NobodyReached struct {
	At time.Time `json:"at"`
	// Step is the escalation step, 0-based (0 for an unattended notice
	// before any step); Kind says whether it was a step, a repeat or the
	// unattended notice.
	Step   int      `json:"step"`
	Kind   NoteKind `json:"kind"`
	Reason string   `json:"reason"`
}

// Subject says what an alarm is about (DESIGN.md §3).
type Subject string

// The subjects of alarms.
const (
	// SubjectDevice: the alarm is about the device Device, installed at
	// Site. It is the default: a device alarm's Subject is empty, so its
	// JSON is what it was before subjects existed.
	SubjectDevice Subject = "device"
	// SubjectSite: the alarm is about the home or institution Site itself
	// (a site-level incident); Device is empty.
	SubjectSite Subject = "site"
)

// Valid reports whether s is a subject; empty is the device.
func (s Subject) Valid() bool { return s == "" || s == SubjectDevice || s == SubjectSite }

// Alarm is one condition that needs a person, from raise to close. Test
// marks a walk-test alarm (the installer's); TestMode one raised in walk-test
// mode and handed to operators because nobody watched it (testmode.go).
type Alarm struct {
	ID string `json:"id"`
	// Subject is SubjectSite for an alarm about a site, empty for one
	// about a device (see IsSite).
	Subject  Subject        `json:"subject,omitempty"`
	Device   string         `json:"device"` // empty for a site alarm
	Type     string         `json:"type"`
	Event    string         `json:"event"` // the event type that raised it
	Priority Priority       `json:"priority"`
	State    State          `json:"state"`
	Count    int            `json:"count"` // events that raised or repeated it
	Seq      uint64         `json:"seq"`   // seq of the newest device event on it
	Cleared  bool           `json:"cleared,omitempty"`
	Test     bool           `json:"test,omitempty"`
	TestMode bool           `json:"test_mode,omitempty"`
	Site     string         `json:"site,omitempty"`     // the device's room or bed site id; a site alarm's site
	Location []string       `json:"location,omitempty"` // site names, root to leaf
	Resident string         `json:"resident,omitempty"` // who uses the device
	Data     map[string]any `json:"data,omitempty"`
	Raised   time.Time      `json:"raised_at"`
	Updated  time.Time      `json:"updated_at"`
	Acked    time.Time      `json:"acknowledged_at,omitzero"`
	Sent     time.Time      `json:"dispatched_at,omitzero"`
	Closed   time.Time      `json:"closed_at,omitzero"`
	Owner    string         `json:"owner,omitempty"`
	Outcome  string         `json:"outcome,omitempty"`
	Steps    int            `json:"escalation_steps"` // escalation steps (then repeats) fired so far
	// Reminders counts acknowledgement reminders fired; Unattended is set
	// once the unattended targets were told; Routed is the site the alarm
	// was first offered to.
	Reminders  int    `json:"reminders_fired,omitempty"`
	Unattended bool   `json:"unattended_notified,omitempty"`
	Routed     string `json:"routed_site,omitempty"`
	// NobodyReached is set when a P1 step or an unattended notice
	// reached nobody (the latest such time); it stays as a record.
	NobodyReached *NobodyReached `json:"nobody_reached,omitempty"`
	Version       uint64         `json:"version"` // bumped on every change; newer wins
	Timeline      []Entry        `json:"timeline"`
}

// IsSite reports whether a is about a site rather than a device.
func (a *Alarm) IsSite() bool { return a.Subject == SubjectSite }

// FromDevice reports whether the alarm was raised by a device's own event,
// not by a condition the gateway detected (offline, low battery, check-in,
// incidents): its first entry is the device's.
func (a *Alarm) FromDevice() bool {
	return len(a.Timeline) > 0 && strings.HasPrefix(a.Timeline[0].Actor, "device:")
}

// clone returns a copy that shares nothing mutable with a.
func (a *Alarm) clone() *Alarm {
	c := *a
	c.Timeline = slices.Clone(a.Timeline)
	if a.NobodyReached != nil {
		n := *a.NobodyReached
		c.NobodyReached = &n
	}
	return &c
}

// record adds e to the timeline. Consecutive repeats share one entry that
// keeps the latest time, seq and count: a device pressed fifty times reads
// as "pressed again (50 times)", not fifty lines, and a flooding device
// cannot grow the alarm without end.
func (a *Alarm) record(e Entry) {
	a.Updated = e.At
	a.Version++
	if n := len(a.Timeline); e.Action == ActRepeated && n > 0 && a.Timeline[n-1].Action == ActRepeated {
		a.Timeline[n-1] = e
		return
	}
	a.Timeline = append(a.Timeline, e)
	if e.Action == ActNotified {
		a.pruneNotified()
	}
}

// maxNotified bounds the delivery attempts kept on one alarm's timeline.
// An alarm repeating to three robots all night would otherwise grow by
// hundreds of entries, each rewritten with the alarm on every commit that
// every device shares. Older attempts stay in the log and the metrics.
const maxNotified = 100

func (a *Alarm) pruneNotified() {
	n := 0
	for _, x := range a.Timeline {
		if x.Action == ActNotified {
			n++
		}
	}
	drop := n - maxNotified
	if drop <= 0 {
		return
	}
	kept := a.Timeline[:0]
	for _, x := range a.Timeline {
		if x.Action == ActNotified && drop > 0 {
			drop--
			continue
		}
		kept = append(kept, x)
	}
	a.Timeline = kept
}
