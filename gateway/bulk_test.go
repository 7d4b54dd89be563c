package gateway_test

import (
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
)

// TestBulkResolve: an admin resolves many P3 alarms with one outcome, each
// with its own timeline entry; a P1 or unknown alarm among them is
// reported by id and does not stop the rest; operators may not.
func TestBulkResolve(t *testing.T) {
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	for _, id := range []string{"btn-1", "btn-2", "btn-3"} {
		g.ProvisionWith(map[string]any{"id": id, "kind": "call_button", "installed": true})
	}
	dev := g.ConnectDevice("btn-4", g.Provision("btn-4", "call_button"))
	call := dev.Expect(dev.Press("call.press"), "received")
	g.Supervise(clock.Now())
	clock.Advance(4 * time.Minute)
	dev.Publish("telemetry", `{"battery":90}`) // btn-4 stays online
	g.Supervise(clock.Now())
	var ids []string
	for _, id := range []string{"btn-1", "btn-2", "btn-3"} {
		a, ok := g.Engine().OpenOf(id, alerting.TypeOffline)
		if !ok {
			t.Fatalf("%s: no offline alarm", id)
		}
		ids = append(ids, a.ID)
	}
	body := httpapi.BulkResolve{IDs: append(append([]string{}, ids...), call.Alarm, "A-nope"), Outcome: "false_alarm", Note: "power cut in the village"}
	op := g.AddUser("li", state.RoleOperator)
	if code := op.Do("POST", "/api/v1/alarms/resolve", body, nil); code != 403 {
		t.Fatalf("an operator's bulk resolve: HTTP %d, want 403", code)
	}
	var ans httpapi.BulkAnswer
	if code := g.Admin.Do("POST", "/api/v1/alarms/resolve", body, &ans); code != 200 {
		t.Fatalf("bulk resolve: HTTP %d", code)
	}
	if ans.Resolved != 3 || ans.Failed != 2 || len(ans.Results) != 5 {
		t.Fatalf("bulk resolve answered %+v", ans)
	}
	if r := ans.Results[3]; r.ID != call.Alarm || r.Status != 409 || r.Error == "" {
		t.Fatalf("the P1 alarm's result: %+v, want 409", r)
	}
	if r := ans.Results[4]; r.ID != "A-nope" || r.Status != 404 {
		t.Fatalf("the unknown alarm's result: %+v, want 404", r)
	}
	for _, id := range ids {
		a, _ := g.Engine().Get(id)
		last := a.Timeline[len(a.Timeline)-1]
		if a.State != alerting.Resolved || a.Outcome != "false_alarm" || last.Action != alerting.ActResolved ||
			last.Actor != "operator:admin" || last.Note != "power cut in the village" {
			t.Fatalf("%s after bulk resolve: %s/%s, last entry %+v", id, a.State, a.Outcome, last)
		}
	}
	if a, _ := g.Engine().Get(call.Alarm); a.State != alerting.Raised {
		t.Fatalf("the P1 alarm is %s after a bulk resolve, want raised", a.State)
	}
}
