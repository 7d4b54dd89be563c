package alerting_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
)

func secs(n int) alerting.Duration { return alerting.Duration(time.Duration(n) * time.Second) }

func TestEscalationPolicyValidate(t *testing.T) {
	ok := alerting.EscalationPolicy{Priority: alerting.P1, Steps: []alerting.Step{
		{After: 0, Targets: []string{"operators"}},
		{After: secs(30), Targets: []string{"supervisor", "next_level"}},
		{After: secs(60), Targets: []string{"top_level", "emergency_contacts", "robot:county"}},
	}, Repeat: secs(60), Reminders: []alerting.Step{{After: secs(600), Targets: []string{"owner"}}},
		Unattended: []string{"robot:county"}}
	with := func(f func(p *alerting.EscalationPolicy)) alerting.EscalationPolicies {
		p := ok
		p.Steps = append([]alerting.Step(nil), ok.Steps...)
		p.Reminders = append([]alerting.Step(nil), ok.Reminders...)
		f(&p)
		return alerting.EscalationPolicies{p}
	}
	tests := []struct {
		name     string
		ps       alerting.EscalationPolicies
		channels []string
		want     string // "" for valid
	}{
		{"valid", alerting.EscalationPolicies{ok}, nil, ""},
		{"valid with the channels configured", alerting.EscalationPolicies{ok}, []string{"robot:county"}, ""},
		{"unknown channel", alerting.EscalationPolicies{ok}, []string{"robot:town"},
			`escalation[0] (P1).steps[2].targets[2]: target "robot:county": no such channel is configured`},
		{"bad priority", with(func(p *alerting.EscalationPolicy) { p.Priority = 7 }), nil, "escalation[0].priority 7"},
		{"steps out of order", with(func(p *alerting.EscalationPolicy) { p.Steps[1].After = 0 }), nil,
			"escalation[0] (P1).steps[1].after 0s: must be later than steps[0]'s 0s"},
		{"no targets", with(func(p *alerting.EscalationPolicy) { p.Steps[0].Targets = nil }), nil,
			"escalation[0] (P1).steps[0].targets: empty"},
		{"unknown target", with(func(p *alerting.EscalationPolicy) { p.Steps[1].Targets = []string{"mayor"} }), nil,
			`escalation[0] (P1).steps[1].targets[0]: unknown target "mayor"`},
		{"owner outside a reminder", with(func(p *alerting.EscalationPolicy) { p.Steps[0].Targets = []string{"owner"} }), nil,
			`steps[0].targets[0]: target "owner": only reminders have an owner`},
		{"repeat too often", with(func(p *alerting.EscalationPolicy) { p.Repeat = secs(5) }), nil,
			"escalation[0] (P1).repeat 5s: must be at least 30s"},
		{"repeat without steps", with(func(p *alerting.EscalationPolicy) { p.Steps = nil }), nil,
			"escalation[0] (P1).repeat: there is no step to repeat"},
		{"reminder without delay", with(func(p *alerting.EscalationPolicy) { p.Reminders[0].After = 0 }), nil,
			"escalation[0] (P1).reminders[0].after: a reminder needs a delay"},
		{"empty channel name", with(func(p *alerting.EscalationPolicy) { p.Unattended = []string{"webhook:"} }), nil,
			`escalation[0] (P1).unattended[0]: target "webhook:": names no channel`},
		{"twice the same priority and site", alerting.EscalationPolicies{ok, ok}, nil,
			"escalation[1] (P1): same priority, subject and site as escalation[0]"},
		{"unknown subject", with(func(p *alerting.EscalationPolicy) { p.Subject = "incident" }), nil,
			`escalation[0].subject "incident": want "device" (alarms about devices, the default) or "site" (site-level incidents)`},
		{"a device and a site policy of one priority", alerting.EscalationPolicies{ok,
			with(func(p *alerting.EscalationPolicy) { p.Subject = alerting.SubjectSite })[0]}, nil, ""},
		{"device is the default subject", alerting.EscalationPolicies{ok,
			with(func(p *alerting.EscalationPolicy) { p.Subject = alerting.SubjectDevice })[0]}, nil,
			"escalation[1] (P1): same priority, subject and site as escalation[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.ps.Validate(tt.channels)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestEscalationPolicyFor(t *testing.T) {
	tree := alertingtest.Qingshan()
	ps := alerting.EscalationPolicies{
		{Priority: alerting.P1, Steps: []alerting.Step{{After: secs(30), Targets: []string{"supervisor"}}}},
		{Priority: alerting.P1, Site: alertingtest.Town, Steps: []alerting.Step{{After: secs(20), Targets: []string{"supervisor"}}}},
		{Priority: alerting.P1, Site: alertingtest.Institution, Steps: []alerting.Step{{After: secs(10), Targets: []string{"operators"}}}},
		{Priority: alerting.P2, Site: alertingtest.Institution, Steps: []alerting.Step{{After: secs(60), Targets: []string{"operators"}}}},
	}
	tests := []struct {
		p     alerting.Priority
		site  string
		after time.Duration // of the first step; -1 for no policy
	}{
		{alerting.P1, alertingtest.Room102Bed1, 10 * time.Second},   // the institution's own policy
		{alerting.P1, alertingtest.Home12Bedroom, 20 * time.Second}, // the township's subtree
		{alerting.P1, "elsewhere", 30 * time.Second},                // everywhere else
		{alerting.P2, alertingtest.Room101, time.Minute},
		{alerting.P2, alertingtest.Home12Bedroom, -1},
		{alerting.P3, alertingtest.Room101, -1},
	}
	for _, tt := range tests {
		pol, ok := ps.For(tt.p, alerting.SubjectDevice, tt.site, tree)
		got := time.Duration(-1)
		if ok {
			got = time.Duration(pol.Steps[0].After)
		}
		if got != tt.after {
			t.Errorf("For(%s, %s): first step after %s, want %s", tt.p, tt.site, got, tt.after)
		}
	}
}

// TestEscalationPolicyForSubject: site alarms take the site policies, by
// the real site tree; device alarms never do; a site alarm no site policy
// covers takes the device policy of its priority.
func TestEscalationPolicyForSubject(t *testing.T) {
	tree := alertingtest.Qingshan()
	step := func(n int) []alerting.Step { return []alerting.Step{{After: secs(n), Targets: []string{"operators"}}} }
	ps := alerting.EscalationPolicies{
		{Priority: alerting.P1, Steps: step(30)},
		{Priority: alerting.P1, Subject: alerting.SubjectSite, Steps: step(1)},
		{Priority: alerting.P1, Subject: alerting.SubjectSite, Site: alertingtest.Village, Steps: step(2)},
		{Priority: alerting.P2, Site: alertingtest.Town, Steps: step(60)},
	}
	tests := []struct {
		p       alerting.Priority
		subject alerting.Subject
		site    string
		after   time.Duration // of the first step; -1 for no policy
	}{
		{alerting.P1, alerting.SubjectDevice, alertingtest.Home12Bedroom, 30 * time.Second},
		{alerting.P1, alerting.SubjectSite, alertingtest.Home12, 2 * time.Second}, // the village's site policy
		{alerting.P1, alerting.SubjectSite, "elsewhere", time.Second},
		{alerting.P2, alerting.SubjectSite, alertingtest.Home12, time.Minute}, // the township's device policy
		{alerting.P3, alerting.SubjectSite, alertingtest.Home12, -1},
	}
	for _, tt := range tests {
		pol, ok := ps.For(tt.p, tt.subject, tt.site, tree)
		got := time.Duration(-1)
		if ok {
			got = time.Duration(pol.Steps[0].After)
		}
		if got != tt.after {
			t.Errorf("For(%s, %s, %s): first step after %s, want %s", tt.p, tt.subject, tt.site, got, tt.after)
		}
	}
}

func TestEscalationPolicyJSON(t *testing.T) {
	const config = `[{"priority": "P1", "site": "qs-town",
	  "steps": [{"after": "0s", "targets": ["operators"]}, {"after": "30s", "targets": ["supervisor", "next_level"]}],
	  "repeat": "60s", "reminders": [{"after": "10m", "targets": ["owner"]}], "unattended": ["robot:county"]}]`
	var ps alerting.EscalationPolicies
	if err := json.Unmarshal([]byte(config), &ps); err != nil {
		t.Fatal(err)
	}
	if err := ps.Validate(nil); err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	if p.Priority != alerting.P1 || p.Site != "qs-town" || time.Duration(p.Repeat) != time.Minute ||
		time.Duration(p.Reminders[0].After) != 10*time.Minute || p.Unattended[0] != "robot:county" {
		t.Fatalf("decoded %+v", p)
	}
	if got := alerting.FromPolicies(alerting.DefaultPolicies()); len(got) != 3 || got.Validate(nil) != nil {
		t.Fatalf("FromPolicies(DefaultPolicies()) = %+v, %v", got, got.Validate(nil))
	}
}
