package alerting_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
)

func TestEscalatorResolvesTargets(t *testing.T) {
	tree := alertingtest.Qingshan()
	roster := newRoster(t, dayShifts())
	esc, err := alerting.NewEscalator(alerting.EscalatorConfig{
		Policies: alerting.EscalationPolicies{{Priority: alerting.P1, Steps: []alerting.Step{
			{After: 0, Targets: []string{"operators", "webhook:county"}},
			{After: secs(30), Targets: []string{"supervisor", "next_level", "site:" + alertingtest.County}},
			{After: secs(60), Targets: []string{"emergency_contacts", "robot:county"}},
		}}},
		Tree: tree, Roster: roster,
		SiteChannels: func(site string) []string { return nonEmpty(siteRobots[site]) },
		Operator:     roster.Operator,
	})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 23, 10, 0, 0, 0, shanghai)
	a := &alerting.Alarm{ID: "A-1", Priority: alerting.P1, State: alerting.Raised, Type: alerting.TypeCall, Raised: day}
	info := alerting.AlarmInfo{Site: alertingtest.Room102Bed1, Location: tree.Location(alertingtest.Room102Bed1), Resident: grandma}
	fired, after, next := esc.Evaluate(a, alerting.Progress{}, info, day.Add(time.Minute))
	if after.Steps != 3 || !next.IsZero() {
		t.Fatalf("progress %+v next %s", after, next)
	}
	var got []string
	for _, f := range fired {
		for _, n := range f.Notifications {
			var contacts []string
			for _, c := range n.Contacts {
				contacts = append(contacts, c.Name)
			}
			got = append(got, fmt.Sprintf("%s %s routed=%s targets=%v mentions=%v contacts=%v",
				n.Key, n.Channel, n.Routed, n.Targets, n.Mentions, contacts))
		}
	}
	want := []string{
		// The institution's duty room takes its own rooms' alarms.
		"A-1/step/1/robot:qs-home robot:qs-home routed=qs-home targets=[operators] mentions=[13800000006 13800000005] contacts=[]",
		"A-1/step/1/webhook:county webhook:county routed=qs-home targets=[webhook:county operators] mentions=[13800000006 13800000005] contacts=[]",
		// Its own supervisor; the township above it; the county by name.
		"A-1/step/2/robot:qs-home robot:qs-home routed=qs-home targets=[supervisor] mentions=[13800000006] contacts=[]",
		"A-1/step/2/robot:qs-town robot:qs-town routed=qs-home targets=[next_level] mentions=[13800000002 13800000003] contacts=[]",
		"A-1/step/2/robot:county robot:county routed=qs-home targets=[site:qs-county] mentions=[13800000004] contacts=[]",
		// Contacts through the named robot, as no contact channel is set.
		"A-1/step/3/robot:county robot:county routed=qs-home targets=[robot:county emergency_contacts] mentions=[] contacts=[王强]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("notifications\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEscalatorConfig(t *testing.T) {
	roster := newRoster(t, nil)
	_, err := alerting.NewEscalator(alerting.EscalatorConfig{Tree: alertingtest.Qingshan(), Roster: roster,
		Policies: alerting.EscalationPolicies{{Priority: alerting.P1, Steps: []alerting.Step{
			{After: secs(60), Targets: []string{"emergency_contacts"}}}}}})
	if err == nil || !strings.Contains(err.Error(), "no contact channel is configured") {
		t.Fatalf("contacts without a channel: %v", err)
	}
	if _, err := alerting.NewEscalator(alerting.EscalatorConfig{}); err != alerting.ErrNoTree {
		t.Fatalf("no tree: %v", err)
	}
}
