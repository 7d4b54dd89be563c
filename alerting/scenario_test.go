package alerting_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/alerting/notify"
	"github.com/anxin-care/anxin/devices"
)

// The acceptance scenarios of escalation, in the style of Alertmanager's
// acceptance tests: events happen at offsets from the start, and every
// notification sent must be expected between two offsets, and every
// expected one sent. They run the real Engine (for alarm state and its
// store), an Escalator and a delivery Pipeline on a fake clock ticked
// every second, wired the way the gateway is meant to wire them.

var scenarioPolicy = alerting.EscalationPolicies{{
	Priority: alerting.P1,
	Steps: []alerting.Step{
		{After: 0, Targets: []string{"operators"}},
		{After: secs(30), Targets: []string{"supervisor", "next_level"}},
		{After: secs(60), Targets: []string{"top_level", "emergency_contacts"}},
	},
	Repeat:     secs(60),
	Reminders:  []alerting.Step{{After: secs(300), Targets: []string{"owner"}}, {After: secs(600), Targets: []string{"supervisor", "next_level"}}},
	Unattended: []string{"robot:county", "emergency_contacts"},
}}

var siteRobots = map[string]string{
	alertingtest.Village:     "robot:qs-village",
	alertingtest.Town:        "robot:qs-town",
	alertingtest.County:      "robot:county",
	alertingtest.Institution: "robot:qs-home",
}

var grandma = alerting.Resident{Name: "王秀英", Age: 82, Conditions: []string{"高血压"},
	Contacts: []alerting.Contact{{Name: "王强", Phone: "13900000009", Relation: "儿子"}}}

// gateway is the wiring the lead puts into the gateway, in miniature.
type gateway struct {
	t      *testing.T
	start  time.Time
	clock  *alertingtest.Clock
	store  *alertingtest.MemStore
	tree   *alertingtest.Sites
	shifts []alerting.Shift
	sink   *alertingtest.Notifier
	fired  []string // "+30s step2: unresolved …", the timeline's escalation entries

	eng  *alerting.Engine
	esc  *alerting.Escalator
	pipe *notify.Pipeline
	down bool
}

func newGateway(t *testing.T, start time.Time, shifts []alerting.Shift) *gateway {
	g := &gateway{t: t, start: start, clock: alertingtest.NewClock(start), store: alertingtest.NewMemStore(),
		tree: alertingtest.Qingshan(), shifts: shifts}
	g.sink = &alertingtest.Notifier{Now: g.clock.Now}
	g.boot()
	return g
}

// boot builds everything from what is stored, as a gateway start does:
// the engine reloads the open alarms with the escalation progress stored on
// them. The dedup log starts empty: nothing but the stored progress
// prevents a step from firing twice.
func (g *gateway) boot() {
	t := g.t
	t.Helper()
	roster, err := alerting.NewDutyRoster(people, g.shifts, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	g.esc, err = alerting.NewEscalator(alerting.EscalatorConfig{
		Policies: scenarioPolicy, Tree: g.tree, Roster: roster,
		SiteChannels:    func(site string) []string { return nonEmpty(siteRobots[site]) },
		ContactChannels: []string{"webhook:family"},
		Operator:        roster.Operator,
	})
	if err != nil {
		t.Fatal(err)
	}
	channels := map[string]alerting.Notifier{"webhook:family": g.sink}
	for _, ch := range siteRobots {
		channels[ch] = g.sink
	}
	if g.pipe, err = notify.New(notify.Config{Channels: channels, Now: g.clock.Now}); err != nil {
		t.Fatal(err)
	}
	g.eng, err = alerting.NewEngine(g.store, alerting.Options{Now: g.clock.Now, Escalator: g.esc, Info: g.info,
		Deliver: func(ns []alerting.Notification) {
			if err := g.pipe.Deliver(t.Context(), ns...); err != nil {
				t.Fatal(err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	g.eng.Subscribe(func(c alerting.Change) {
		if c.Entry.Kind != "" {
			g.fired = append(g.fired, fmt.Sprintf("+%s %s%d: %s", c.Entry.At.Sub(g.start), c.Entry.Kind, c.Entry.Step,
				strings.Join(c.Entry.Unresolved, "; ")))
		}
	})
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func (g *gateway) info(a *alerting.Alarm) alerting.AlarmInfo {
	site := map[string]string{"btn-12": alertingtest.Home12Bedroom, "btn-101": alertingtest.Room101}[a.Device]
	return alerting.AlarmInfo{Site: site, Location: g.tree.Location(site), Resident: grandma}
}

// tick is the gateway's escalation tick.
func (g *gateway) tick(now time.Time) {
	if err := g.eng.Tick(now); err != nil {
		g.t.Fatal(err)
	}
}

type event struct {
	at time.Duration
	do string // press, ack, dispatch, down, restart
}

type expect struct {
	from, to time.Duration
	note     string // "step2 robot:qs-town"
}

func TestEscalationScenarios(t *testing.T) {
	dayStart := time.Date(2026, 11, 23, 10, 0, 0, 0, shanghai)
	nightStart := time.Date(2026, 11, 23, 23, 0, 0, 0, shanghai)
	on := func(s int, note string) expect {
		return expect{time.Duration(s) * time.Second, time.Duration(s+1) * time.Second, note}
	}
	tests := []struct {
		name   string
		start  time.Time
		end    time.Duration
		events []event
		want   []expect
		check  func(t *testing.T, g *gateway)
	}{{
		name: "P1 nobody acknowledges: every step on time, then repeats", start: dayStart, end: 190 * time.Second,
		events: []event{{0, "press"}},
		want: []expect{
			on(0, "step1 robot:qs-village"),
			on(30, "step2 robot:qs-town"),
			on(60, "step3 robot:county"), on(60, "step3 webhook:family"),
			on(120, "repeat4 robot:county"), on(120, "repeat4 webhook:family"),
			on(180, "repeat5 robot:county"), on(180, "repeat5 webhook:family"),
		},
		check: func(t *testing.T, g *gateway) {
			n := find(t, g, "step2 robot:qs-town")
			if !slices.Equal(n.Targets, []string{"supervisor", "next_level"}) ||
				!slices.Equal(n.Mentions, []string{opZhang.Phone, opZhao.Phone}) {
				t.Errorf("step 2 to the township: targets %v mentions %v", n.Targets, n.Mentions)
			}
			if n := find(t, g, "step3 webhook:family"); len(n.Contacts) != 1 || n.Contacts[0].Name != "王强" {
				t.Errorf("step 3 to the family webhook carries contacts %v", n.Contacts)
			}
			if n := find(t, g, "step1 robot:qs-village"); !slices.Equal(n.Location, []string{"青山县", "青山镇", "青山村", "12号", "卧室"}) {
				t.Errorf("location %v", n.Location)
			}
		},
	}, {
		name: "an acknowledgement stops the escalation", start: dayStart, end: 300 * time.Second,
		events: []event{{0, "press"}, {45 * time.Second, "ack"}},
		want:   []expect{on(0, "step1 robot:qs-village"), on(30, "step2 robot:qs-town")},
	}, {
		name: "acknowledged but forgotten: the owner is reminded, then the level above", start: dayStart, end: 700 * time.Second,
		events: []event{{0, "press"}, {10 * time.Second, "ack"}},
		want: []expect{
			on(0, "step1 robot:qs-village"),
			on(310, "reminder1 robot:qs-village"),
			on(610, "reminder2 robot:qs-town"),
		},
		check: func(t *testing.T, g *gateway) {
			if n := find(t, g, "reminder1 robot:qs-village"); !slices.Equal(n.Mentions, []string{opLi.Phone}) {
				t.Errorf("the reminder mentions %v, want the owner %s", n.Mentions, opLi.Phone)
			}
		},
	}, {
		name: "dispatching ends the reminders", start: dayStart, end: 700 * time.Second,
		events: []event{{0, "press"}, {10 * time.Second, "ack"}, {400 * time.Second, "dispatch"}},
		want:   []expect{on(0, "step1 robot:qs-village"), on(310, "reminder1 robot:qs-village")},
	}, {
		name: "unattended night: the unattended targets at once", start: nightStart, end: 130 * time.Second,
		events: []event{{0, "press"}},
		want: []expect{
			on(0, "unattended1 robot:county"), on(0, "unattended1 webhook:family"),
			on(60, "step3 webhook:family"), on(120, "repeat4 webhook:family"),
		},
		check: func(t *testing.T, g *gateway) {
			want := []string{"+0s unattended1: ", "+0s step1: operators: nobody on duty",
				"+30s step2: supervisor: nobody on duty; next_level: nobody on duty",
				"+1m0s step3: top_level: nobody on duty", "+2m0s repeat4: top_level: nobody on duty"}
			if !slices.Equal(g.fired, want) {
				t.Errorf("timeline\n%s\nwant\n%s", strings.Join(g.fired, "\n"), strings.Join(want, "\n"))
			}
		},
	}, {
		name: "restart between steps resumes at step 3, nothing repeated", start: dayStart, end: 130 * time.Second,
		events: []event{{0, "press"}, {45 * time.Second, "restart"}},
		want: []expect{
			on(0, "step1 robot:qs-village"), on(30, "step2 robot:qs-town"),
			on(60, "step3 robot:county"), on(60, "step3 webhook:family"),
			on(120, "repeat4 robot:county"), on(120, "repeat4 webhook:family"),
		},
	}, {
		name: "down from 40 s to 75 s: step 3 fires once, late, and the repeats keep time", start: dayStart, end: 130 * time.Second,
		events: []event{{0, "press"}, {40 * time.Second, "down"}, {75 * time.Second, "restart"}},
		want: []expect{
			on(0, "step1 robot:qs-village"), on(30, "step2 robot:qs-town"),
			on(75, "step3 robot:county"), on(75, "step3 webhook:family"),
			on(120, "repeat4 robot:county"), on(120, "repeat4 webhook:family"),
		},
	}, {
		name: "down while acknowledged: the reminder still comes on time", start: dayStart, end: 400 * time.Second,
		events: []event{{0, "press"}, {10 * time.Second, "ack"}, {100 * time.Second, "down"}, {200 * time.Second, "restart"}},
		want:   []expect{on(0, "step1 robot:qs-village"), on(310, "reminder1 robot:qs-village")},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, tt.start, dayShifts())
			var id string
			for off := time.Duration(0); off <= tt.end; off += time.Second {
				if off > 0 {
					g.clock.Advance(time.Second)
				}
				for _, ev := range tt.events {
					if ev.at == off {
						g.apply(ev.do, &id)
					}
				}
				if !g.down {
					g.tick(g.clock.Now())
				}
			}
			g.compare(tt.want)
			if tt.check != nil {
				tt.check(t, g)
			}
		})
	}
}

func (g *gateway) apply(do string, id *string) {
	t := g.t
	t.Helper()
	var err error
	switch do {
	case "press":
		var r alerting.Result
		r, err = g.eng.HandleEvent(devices.Event{Device: "btn-12", Seq: 1, Type: devices.CallPress, Received: g.clock.Now()}, alerting.Location{}, false)
		*id = r.Alarm.ID
	case "ack":
		_, err = g.eng.Ack(*id, opLi.ID, "")
	case "dispatch":
		_, err = g.eng.Dispatch(*id, opLi.ID, "")
	case "down":
		g.down = true
	case "restart":
		g.boot()
		g.down = false
	default:
		t.Fatalf("unknown event %q", do)
	}
	if err != nil {
		t.Fatalf("%s: %v", do, err)
	}
}

// compare checks that every notification sent was expected in its window
// and every expected one was sent, once.
func (g *gateway) compare(want []expect) {
	t := g.t
	t.Helper()
	pending := slices.Clone(want)
	for _, c := range g.sink.Calls() {
		note := fmt.Sprintf("%s%d %s", c.N.Kind, c.N.Step, c.N.Channel)
		off := c.At.Sub(g.start)
		i := slices.IndexFunc(pending, func(e expect) bool { return e.note == note && off >= e.from && off <= e.to })
		if i < 0 {
			t.Errorf("unexpected %s at +%s", note, off)
			continue
		}
		pending = slices.Delete(pending, i, i+1)
	}
	for _, e := range pending {
		t.Errorf("missing %s between +%s and +%s", e.note, e.from, e.to)
	}
}

// find returns the notification sent as note ("step2 robot:qs-town").
func find(t *testing.T, g *gateway, note string) alerting.Notification {
	t.Helper()
	for _, c := range g.sink.Calls() {
		if fmt.Sprintf("%s%d %s", c.N.Kind, c.N.Step, c.N.Channel) == note {
			return c.N
		}
	}
	t.Fatalf("no %s was sent", note)
	return alerting.Notification{}
}
