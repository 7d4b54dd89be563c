package alerting

import (
	"testing"
	"time"
)

// TestReachedNobody: a P1 step, or an unattended notice of any priority,
// that stands for nobody on duty and sends no notification is marked;
// people on duty (who see it on the console) or one channel is enough to
// reach someone; reminders and other priorities' steps are never marked.
func TestReachedNobody(t *testing.T) {
	now := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	note := []Notification{{Channel: "robot:qs"}}
	for _, c := range []struct {
		name     string
		prio     Priority
		fired    Fired
		want     bool
		wantStep int
	}{
		{"P1 step to nobody", P1, Fired{Due: Due{Kind: NoteStep, Step: 2}, Unresolved: []string{"supervisor: nobody on duty"}}, true, 1},
		{"P1 repeat to nobody", P1, Fired{Due: Due{Kind: NoteRepeat, Step: 3}}, true, 2},
		{"P1 step to people without a channel", P1, Fired{Due: Due{Kind: NoteStep, Step: 1}, People: 1}, false, 0},
		{"P1 step through a robot", P1, Fired{Due: Due{Kind: NoteStep, Step: 1}, Notifications: note}, false, 0},
		{"P2 step to nobody", P2, Fired{Due: Due{Kind: NoteStep, Step: 1}}, false, 0},
		{"P3 unattended to nobody", P3, Fired{Due: Due{Kind: NoteUnattended, Step: 1}}, true, 0},
		{"P1 reminder to nobody", P1, Fired{Due: Due{Kind: NoteReminder, Step: 1}}, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := reachedNobody(c.fired, &Alarm{Priority: c.prio}, now)
			if ok != c.want {
				t.Fatalf("reached nobody = %v, want %v", ok, c.want)
			}
			if ok && (got.Step != c.wantStep || !got.At.Equal(now) || got.Reason == "" || got.Kind != c.fired.Kind) {
				t.Errorf("got %+v, want step %d at %s with a reason", got, c.wantStep, now)
			}
		})
	}
}
