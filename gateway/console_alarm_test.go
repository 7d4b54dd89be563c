package gateway_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
)

// TestResponsePlanInAlarmDetail: a supervisor writes a resident's
// response plan (audited; a plain operator may not; bad plans are refused
// naming the field); the operator's detail of that resident's smoke alarm
// shows the plan's smoke steps first, with the resident's card, the
// location path, and what the detector was told as the alarm is taken.
func TestResponsePlanInAlarmDetail(t *testing.T) {
	cfg := gateway.Config{Escalation: map[string]alerting.Policy{
		"P1": {Steps: []alerting.Step{{After: 0, Targets: []string{"supervisor"}}}}}}
	g := gatewaytest.Start(t, cfg)
	g.SeedSites()
	li := addUser(t, g, "li", state.RoleOperator, map[string]any{"sites": []string{"qs-village"}})
	zhang := addUser(t, g, "zhang", state.RoleOperator, map[string]any{"supervisor": true, "sites": []string{"qs-town"}})
	stream := g.Admin.Stream()

	plan := map[string]any{
		"smoke.alarm": []map[string]string{{"do": "call 119", "phone": "119"}, {"do": "call the daughter 李娜", "phone": "13800000001"}},
		"smoke":       []map[string]string{{"do": "check the kitchen"}},
		"call":        []map[string]string{{"do": "call her back"}},
	}
	for _, tc := range []struct {
		name  string
		who   *gatewaytest.Client
		body  any
		code  int
		field string
	}{
		{"a plain operator", li, plan, 403, ""},
		{"an unknown alarm type", zhang, map[string]any{"smok": []map[string]string{{"do": "x"}}}, 400, "plan.smok"},
		{"an empty step", zhang, map[string]any{"smoke": []map[string]string{{"do": " "}}}, 400, "plan.smoke[0].do"},
		{"a bad phone", zhang, map[string]any{"gas": []map[string]string{{"do": "call", "phone": "call me"}}}, 400, "plan.gas[0].phone"},
		{"no steps", zhang, map[string]any{"gas": []map[string]string{}}, 400, "plan.gas"},
		{"an unknown field", zhang, map[string]any{"gas": []map[string]string{{"do": "call", "who": "me"}}}, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e httpapi.FieldErrorBody
			if code := tc.who.Do("PUT", "/api/v1/residents/wang-xy/plan", tc.body, &e); code != tc.code || e.Field != tc.field || e.Error == "" {
				t.Fatalf("PUT plan: HTTP %d %+v, want %d naming %q", code, e, tc.code, tc.field)
			}
		})
	}
	if code := zhang.Do("PUT", "/api/v1/residents/wang-xy/plan", plan, nil); code != 200 {
		t.Fatalf("PUT plan by the supervisor: HTTP %d", code)
	}
	var audit struct{ Entries []state.AuditEntry }
	g.Admin.Do("GET", "/api/v1/audit?object=resident:wang-xy", nil, &audit)
	if len(audit.Entries) == 0 || audit.Entries[0].Who != "zhang" || !strings.Contains(string(audit.Entries[0].After), "call 119") {
		t.Fatalf("audit of the plan: %+v", audit.Entries)
	}

	smk := g.ConnectDevice("smk-k", g.ProvisionWith(map[string]any{"id": "smk-k", "kind": "smoke_detector",
		"site": "home-12-kitchen", "resident": "wang-xy", "location": "above the stove"}))
	id := smk.Expect(smk.Press("smoke.alarm"), "received").Alarm
	stream.Next(t, "escalated") // the step at 0 s: the alarm now has a step
	var d httpapi.AlarmDetail
	if code := li.Do("GET", "/api/v1/alarms/"+id, nil, &d); code != 200 {
		t.Fatalf("detail: HTTP %d", code)
	}
	if len(d.Plan) != 2 || d.Plan[0].Do != "call 119" || d.Plan[0].Phone != "119" {
		t.Errorf("plan in the detail: %+v, want the smoke.alarm steps, call 119 first", d.Plan)
	}
	c := d.ResidentCard
	if c == nil || c.Name != "王秀英" || c.Age != time.Now().Year()-1941 || len(c.Contacts) != 3 || c.Language != "zh-CN" || !slices.Equal(c.Conditions, []string{"高血压"}) {
		t.Errorf("resident card: %+v", c)
	}
	var path []string
	for _, s := range d.LocationPath {
		path = append(path, s.ID+":"+string(s.Kind))
	}
	wantPath := []string{"qingshan:region", "qs-county:county", "qs-town:township", "qs-village:village", "home-12:home", "home-12-kitchen:room"}
	if !slices.Equal(path, wantPath) || d.LocationPath[5].Name != "厨房" || d.LocationNote != "above the stove" {
		t.Errorf("location path %v note %q, want %v above the stove", path, d.LocationNote, wantPath)
	}
	if d.ResidentRef == nil || d.ResidentRef.ID != "wang-xy" || d.ResidentRef.Name != "王秀英" || d.Alarm.Resident != "王秀英" {
		t.Errorf("resident %+v (name %q)", d.ResidentRef, d.Alarm.Resident)
	}
	if d.Step == nil || *d.Step != 0 || d.StepAt.IsZero() {
		t.Errorf("step %v at %s, want step 0 with its time", d.Step, d.StepAt)
	}

	if code := li.Do("POST", "/api/v1/alarms/"+id+"/ack", map[string]string{}, nil); code != 200 {
		t.Fatalf("ack: HTTP %d", code)
	}
	if code := li.Do("POST", "/api/v1/alarms/"+id+"/dispatch", map[string]string{"responder": "村医张医生"}, nil); code != 200 {
		t.Fatalf("dispatch: HTTP %d", code)
	}
	smk.Expect(1, "on_the_way")
	var a httpapi.AlarmView
	li.Do("GET", "/api/v1/alarms/"+id, nil, &a)
	var told []string
	for _, x := range a.Told {
		told = append(told, x.State)
	}
	if a.Owner != "li" || a.DispatchedTo != "村医张医生" || !slices.Equal(told, []string{"received", "acknowledged", "on_the_way"}) {
		t.Errorf("after dispatch: owner %q, dispatched to %q, told %v", a.Owner, a.DispatchedTo, told)
	}
}

// waitLine waits up to 5 s for a log line holding every part.
func (s *syncBuffer) waitLine(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := strings.Split(s.String(), "\n")
		for _, l := range lines {
			if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(l, p) }) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q within 5 s", parts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNobodyReached: with nobody on duty and no channel, a P1 alarm's
// first step reaches no one. The alarm then carries nobody_reached; every
// operator who can see it gets "event: nobody_reached" on the stream (the
// operator of the other village does not); the gateway logs one ERROR
// line with the alarm, its site and the step.
func TestNobodyReached(t *testing.T) {
	log := &syncBuffer{}
	cfg := gateway.Config{Escalation: map[string]alerting.Policy{
		"P1": {Steps: []alerting.Step{{After: 0, Targets: []string{"supervisor", "next_level"}}}}}}
	w := newScopeWorld(t, cfg, gatewaytest.WithLog(log))
	streams := map[string]*gatewaytest.Stream{}
	for _, who := range []string{"admin", "li", "sun", "zhang"} {
		streams[who] = w.people[who].Stream()
	}
	w.raise() // qs first, then ls
	for who, first := range map[string]string{"admin": "qs", "li": "qs", "sun": "ls", "zhang": "qs"} {
		t.Run(who, func(t *testing.T) {
			f := nextEvent(t, streams[who], "nobody_reached")
			if f.Alarm == nil || f.Alarm.ID != w.alarm[first] || !strings.Contains(f.Data, `"reason":"supervisor: nobody on duty`) {
				t.Fatalf("%s's first nobody_reached: %s, want the %s alarm with its reason", who, f.Data, first)
			}
			if n := f.Alarm.NobodyReached; n == nil || n.Step != 0 || n.Kind != alerting.NoteStep {
				t.Fatalf("nobody_reached %+v, want step 0", n)
			}
		})
	}
	var a httpapi.AlarmView
	w.people["li"].Do("GET", "/api/v1/alarms/"+w.alarm["qs"], nil, &a)
	if a.NobodyReached == nil || !strings.Contains(a.NobodyReached.Reason, "next_level: nobody on duty") {
		t.Fatalf("the alarm's nobody_reached: %+v", a.NobodyReached)
	}
	line := log.waitLine(t, "level=ERROR", `msg="alarm reached nobody"`, "alarm="+w.alarm["qs"])
	if !strings.Contains(line, "site=home-12-bedroom") || !strings.Contains(line, "step=0") {
		t.Fatalf("log line %q: want site=home-12-bedroom step=0", line)
	}
}

// nextEvent waits for the next message of the stream with event.
func nextEvent(t *testing.T, s *gatewaytest.Stream, event string) gatewaytest.StreamFrame {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case f := <-s.Events:
			if f.Event == event {
				return f
			}
		case <-deadline:
			t.Fatalf("stream: no %q within 5 s", event)
		}
	}
}

// TestDutyCoverage: each person sees who is on duty at the sites they
// serve, since when, and which have nobody; admins see every site anyone
// serves.
func TestDutyCoverage(t *testing.T) {
	w := newScopeWorld(t, gateway.Config{})
	if code := w.people["li"].Do("POST", "/api/v1/duty/checkin", map[string]string{"site": "qs-village"}, nil); code != 200 {
		t.Fatalf("check in: HTTP %d", code)
	}
	type row struct {
		site     string
		on       string
		alone    bool
		covered  string
		hasSince bool
	}
	for who, want := range map[string][]row{
		"li":    {{"qs-village", "li", false, "qs-village", true}},
		"sun":   {{"ls-village", "", true, "", false}},
		"zhang": {{"qs-town", "", true, "", false}},
		"admin": {{"ls-village", "", true, "", false}, {"qs-town", "", true, "", false}, {"qs-village", "li", false, "qs-village", true}},
	} {
		t.Run(who, func(t *testing.T) {
			var cov []httpapi.Coverage
			if code := w.people[who].Do("GET", "/api/v1/duty/coverage", nil, &cov); code != 200 {
				t.Fatalf("coverage: HTTP %d", code)
			}
			var got []row
			for _, c := range cov {
				r := row{site: c.Site.ID, alone: c.Unattended, covered: c.CoveredBy}
				for _, o := range c.OnDuty {
					r.on, r.hasSince = o.ID, !o.Since.IsZero()
				}
				got = append(got, r)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("coverage %+v, want %+v", got, want)
			}
		})
	}
}
