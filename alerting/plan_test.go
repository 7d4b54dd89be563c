package alerting_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

var planPolicy = alerting.EscalationPolicy{Priority: alerting.P1,
	Steps: []alerting.Step{
		{After: 0, Targets: []string{"operators"}},
		{After: secs(30), Targets: []string{"supervisor"}},
		{After: secs(60), Targets: []string{"top_level"}},
	},
	Repeat:     secs(60),
	Reminders:  []alerting.Step{{After: secs(300), Targets: []string{"owner"}}, {After: secs(600), Targets: []string{"supervisor"}}},
	Unattended: []string{"robot:county"},
}

func dues(ds []alerting.Due, raised time.Time) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%s%d@%s", d.Kind, d.Step, d.At.Sub(raised)))
	}
	return strings.Join(parts, " ")
}

func TestPlan(t *testing.T) {
	raised := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	acked := raised.Add(20 * time.Second)
	tests := []struct {
		name       string
		state      alerting.State
		test       bool
		prog       alerting.Progress
		unattended bool
		now        time.Duration // since raised
		want       string
		after      alerting.Progress
		next       time.Duration // since raised; -1 for none
	}{
		{name: "at raise: the first step", state: alerting.Raised, now: 0,
			want: "step1@0s", after: alerting.Progress{Steps: 1}, next: 30 * time.Second},
		{name: "between steps: nothing", state: alerting.Raised, prog: alerting.Progress{Steps: 1}, now: 29 * time.Second,
			want: "", after: alerting.Progress{Steps: 1}, next: 30 * time.Second},
		{name: "the last step, then the repeat is next", state: alerting.Raised, prog: alerting.Progress{Steps: 2}, now: time.Minute,
			want: "step3@1m0s", after: alerting.Progress{Steps: 3}, next: 2 * time.Minute},
		{name: "the first repeat", state: alerting.Raised, prog: alerting.Progress{Steps: 3}, now: 2 * time.Minute,
			want: "repeat4@2m0s", after: alerting.Progress{Steps: 4}, next: 3 * time.Minute},
		{name: "down through many repeats: one repeat, the rhythm kept", state: alerting.Raised, prog: alerting.Progress{Steps: 4},
			now: 10*time.Minute + 30*time.Second, want: "repeat12@10m0s", after: alerting.Progress{Steps: 12}, next: 11 * time.Minute},
		{name: "down past every step: each step once, late, no repeat on its heels", state: alerting.Raised,
			prog: alerting.Progress{Steps: 1}, now: 5 * time.Minute,
			want: "step2@30s step3@1m0s", after: alerting.Progress{Steps: 7}, next: 6 * time.Minute},
		{name: "unattended: at once, and once", state: alerting.Raised, unattended: true, now: 0,
			want: "unattended1@0s step1@0s", after: alerting.Progress{Steps: 1, Unattended: true}, next: 30 * time.Second},
		{name: "unattended already notified", state: alerting.Raised, unattended: true,
			prog: alerting.Progress{Steps: 1, Unattended: true}, now: 10 * time.Second,
			want: "", after: alerting.Progress{Steps: 1, Unattended: true}, next: 30 * time.Second},
		{name: "acknowledged: no step, the reminder is next", state: alerting.Acknowledged, prog: alerting.Progress{Steps: 1},
			now: time.Minute, want: "", after: alerting.Progress{Steps: 1}, next: 20*time.Second + 5*time.Minute},
		{name: "acknowledged and forgotten: the reminders", state: alerting.Acknowledged, prog: alerting.Progress{Steps: 1},
			now: 20*time.Second + 10*time.Minute, want: "reminder1@5m20s reminder2@10m20s",
			after: alerting.Progress{Steps: 1, Reminders: 2}, next: -1},
		{name: "dispatched: nothing more", state: alerting.Dispatched, prog: alerting.Progress{Steps: 1},
			now: time.Hour, want: "", after: alerting.Progress{Steps: 1}, next: -1},
		{name: "resolved: nothing more", state: alerting.Resolved, now: time.Hour, want: "", next: -1},
		{name: "a test alarm goes to the installer, not here", state: alerting.Raised, test: true, now: time.Hour, want: "", next: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &alerting.Alarm{ID: "A-1", Priority: alerting.P1, State: tt.state, Raised: raised, Test: tt.test}
			if tt.state != alerting.Raised {
				a.Acked = acked
			}
			due, after, next := planPolicy.Plan(a, tt.prog, tt.unattended, raised.Add(tt.now))
			if got := dues(due, raised); got != tt.want {
				t.Errorf("due %q, want %q", got, tt.want)
			}
			if after != tt.after {
				t.Errorf("progress %+v, want %+v", after, tt.after)
			}
			gotNext := time.Duration(-1)
			if !next.IsZero() {
				gotNext = next.Sub(raised)
			}
			if gotNext != tt.next {
				t.Errorf("next at +%s, want +%s", gotNext, tt.next)
			}
		})
	}
}
