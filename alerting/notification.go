package alerting

import (
	"context"
	"time"
)

// Notifier delivers one notification to one channel (a webhook, a WeCom or
// DingTalk group robot, the console). It makes one attempt: retries,
// backoff, de-duplication and recording are the delivery pipeline's job
// (package alerting/notify). retry says whether the same notification may
// succeed if sent again (a timeout, a 5xx, a rate limit); err is nil when
// the channel accepted it.
type Notifier interface {
	Notify(ctx context.Context, n Notification) (retry bool, err error)
}

// NoteKind says why a notification is sent.
type NoteKind string

// The kinds of notification an escalation policy produces.
const (
	// NoteUnattended: nobody is on duty anywhere on the alarm's path, so the
	// policy's unattended targets hear of it at once.
	NoteUnattended NoteKind = "unattended"
	// NoteStep: an escalation step fell due, the alarm still unacknowledged.
	NoteStep NoteKind = "step"
	// NoteRepeat: the last step again, the alarm still unacknowledged.
	NoteRepeat NoteKind = "repeat"
	// NoteReminder: acknowledged but not dispatched or resolved in time.
	NoteReminder NoteKind = "reminder"
)

// The kinds of notification that tell a system which tracks alerts rather
// than people (Alertmanager) an alarm's state: not from a policy, but for
// every alarm that the channel wants.
const (
	// NoteFiring: the alarm was raised and is open.
	NoteFiring NoteKind = "firing"
	// NoteResolved: the alarm was resolved or cancelled.
	NoteResolved NoteKind = "resolved"
)

// Notification is one message for one channel about one alarm. It carries
// everything a notifier needs, so notifiers never look anything up.
type Notification struct {
	// Key identifies this notification: the same alarm, kind, step and
	// channel always give the same key, so it is the idempotency key sent
	// to receivers and the de-duplication key of the delivery pipeline.
	Key string
	// Channel names where it goes: "webhook:NAME", "robot:NAME", "console".
	Channel string
	Kind    NoteKind
	// Step is the 1-based number of the escalation step (for NoteStep and
	// NoteRepeat, counting repeats on from the last step) or of the
	// reminder (NoteReminder); 1 for NoteUnattended.
	Step int
	// Attempt is the 1-based delivery attempt, set by the pipeline.
	Attempt int
	// At is when the step fell due; the alarm's age is measured to it, so
	// every retry of a notification says the same thing.
	At time.Time
	// Alarm is a snapshot of the alarm; notifiers must not modify it.
	Alarm *Alarm
	// Site is the device's room or bed, or a site alarm's site; Location
	// names the path to it from the root, e.g. 青山县 / 青山镇 / 青山村 / 12号 / 卧室.
	Site     string
	Location []string
	Resident Resident
	// Routed is the site whose operators the alarm was offered to, empty
	// when nobody was on duty on the whole path.
	Routed string
	// Targets are the policy's targets this notification serves, as
	// written in the policy ("supervisor", "robot:qingshan").
	Targets []string
	// Recipients are the people to alert through the channel; Mentions
	// their phone numbers, for the robots' @-mentions.
	Recipients []Operator
	Mentions   []string
	// Contacts are the resident's emergency contacts, when the step
	// targets them.
	Contacts []Contact
}

// Age is how long the alarm had been raised when the notification fell due.
func (n Notification) Age() time.Duration {
	if n.Alarm == nil || n.Alarm.Raised.IsZero() {
		return 0
	}
	return max(n.At.Sub(n.Alarm.Raised), 0)
}

// Resident is the person a device belongs to, as notifications show them.
type Resident struct {
	Name       string    `json:"name"`
	Age        int       `json:"age,omitempty"`
	Conditions []string  `json:"conditions,omitempty"` // e.g. 高血压, 糖尿病
	Contacts   []Contact `json:"emergency_contacts,omitempty"`
}

// Contact is a resident's emergency contact.
type Contact struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Relation string `json:"relation,omitempty"` // 儿子, 女儿, 邻居 …
}
