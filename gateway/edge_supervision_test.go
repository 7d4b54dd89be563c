package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
)

func edgeBoxView(t *testing.T, g *gatewaytest.Gateway, id string) httpapi.EdgeBox {
	t.Helper()
	var out struct {
		EdgeBoxes []httpapi.EdgeBox `json:"edge_boxes"`
	}
	if code := g.Admin.Do("GET", "/api/v1/edge-boxes", nil, &out); code != 200 {
		t.Fatalf("GET /api/v1/edge-boxes: HTTP %d", code)
	}
	for _, b := range out.EdgeBoxes {
		if b.ID == id {
			return b
		}
	}
	t.Fatalf("edge box %s not listed in %+v", id, out.EdgeBoxes)
	return httpapi.EdgeBox{}
}

// openTypes lists the open alarms as "device-or-site:type".
func openTypes(g *gatewaytest.Gateway) map[string]bool {
	out := map[string]bool{}
	for _, a := range g.Engine().Open() {
		subject := a.Device
		if a.IsSite() {
			subject = "site " + a.Site
		}
		out[subject+":"+a.Type] = true
	}
	return out
}

// TestEdgeBoxSupervision on a fake clock: a box silent past its window (3
// heartbeats of 30 s) raises one P3 edge.offline about its site; while it
// is down the device behind it raises no offline alarm of its own, however
// long it is silent, while a device connected directly still does; the
// box's next message resolves its alarm, and the device behind it then
// gets a whole window from that moment before it is called offline.
func TestEdgeBoxSupervision(t *testing.T) {
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	g.SeedSites()
	boxPW := g.ProvisionWith(map[string]any{"id": "box-1", "kind": "edge_box", "site": "home-12"})
	g.ProvisionWith(map[string]any{"id": "btn-1", "kind": "call_button", "site": "home-12-bedroom", "edge": "box-1"})
	btn2PW := g.ProvisionWith(map[string]any{"id": "btn-2", "kind": "call_button", "site": "home-12-kitchen"})
	box := g.ConnectDevice("box-1", boxPW)
	btn2 := g.ConnectDevice("btn-2", btn2PW)
	heartbeat := func(queued int) {
		t.Helper()
		if err := box.Publish("telemetry", fmt.Sprintf(`{"ts":%d,"queue_depth":%d,"queue_oldest_ts":0}`, clock.Now().UnixMilli(), queued)); err != nil {
			t.Fatalf("box heartbeat: %v", err)
		}
	}
	if err := box.Publish("status", `{"online":true,"fw":"0.3.0","model":"anxin-edge"}`); err != nil {
		t.Fatal(err)
	}
	heartbeat(0)
	// btn-1 is heard through the box; btn-2 directly.
	if tok := box.Client.Publish("anxin/v1/btn-1/telemetry", 1, false, `{"battery":90}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("btn-1 telemetry through the box: %v", tok.Error())
	}
	if err := btn2.Publish("telemetry", `{"battery":90}`); err != nil {
		t.Fatal(err)
	}
	g.Supervise(clock.Now())
	if b := edgeBoxView(t, g, "box-1"); b.Uplink != gateway.UplinkConnected || b.Firmware != "0.3.0" || b.Devices != 1 || b.Site != "home-12" || !b.Online {
		t.Fatalf("box while heard: %+v", b)
	}

	g.Supervise(clock.Advance(90 * time.Second))
	if n := len(g.Engine().Open()); n != 0 {
		t.Fatalf("%d alarms at exactly the box's window", n)
	}
	g.Supervise(clock.Advance(time.Second))
	a, ok := g.Engine().OpenAtSite("home-12", gateway.TypeEdgeOffline)
	if !ok {
		t.Fatalf("no edge.offline for home-12 after 91 s of silence; open: %v", openTypes(g))
	}
	if a.Priority != alerting.P3 || !a.IsSite() || a.Device != "" {
		t.Fatalf("edge.offline alarm %+v: want P3 about the site", a)
	}
	if b := edgeBoxView(t, g, "box-1"); b.Uplink != gateway.UplinkOffline || b.Online || b.Alarm != a.ID {
		t.Fatalf("box while down: %+v", b)
	}

	// Ten minutes on, far past the buttons' 3-minute windows: btn-2 is
	// offline, btn-1 behind the box is not reported, and the box's alarm
	// is still the one alarm for it.
	g.Supervise(clock.Advance(10 * time.Minute))
	want := map[string]bool{"site home-12:" + gateway.TypeEdgeOffline: true, "btn-2:" + alerting.TypeOffline: true}
	if got := openTypes(g); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("open alarms after 10 min: %v, want %v", got, want)
	}

	// The box is back, with what it queued meanwhile.
	back := clock.Advance(time.Second)
	heartbeat(4)
	if got, _ := g.Engine().Get(a.ID); got.State != alerting.Resolved || got.Outcome != alerting.OutcomeRestored {
		t.Fatalf("edge.offline after the box's heartbeat: %s/%s, want resolved/restored", got.State, got.Outcome)
	}
	if b := edgeBoxView(t, g, "box-1"); b.Uplink != gateway.UplinkConnected || b.QueueDepth != 4 || !b.Online || b.Alarm != "" {
		t.Fatalf("box once back: %+v", b)
	}
	// btn-1 has its whole window from the box's return: the box keeps
	// heartbeating, btn-1 says nothing.
	for range 3 {
		g.Supervise(clock.Advance(time.Minute))
		heartbeat(0)
	}
	if clock.Now().Sub(back) != 3*time.Minute {
		t.Fatalf("clock at %s after the return, want 3 min", clock.Now().Sub(back))
	}
	g.Supervise(clock.Now())
	if _, ok := g.Engine().OpenOf("btn-1", alerting.TypeOffline); ok {
		t.Fatal("btn-1 offline at exactly its window after the box's return")
	}
	g.Supervise(clock.Advance(time.Second))
	if _, ok := g.Engine().OpenOf("btn-1", alerting.TypeOffline); !ok {
		t.Fatalf("btn-1 silent for a whole window after its box came back, and not offline; open: %v", openTypes(g))
	}
	if _, ok := g.Engine().OpenAtSite("home-12", gateway.TypeEdgeOffline); ok {
		t.Fatal("edge.offline raised again while the box heartbeats")
	}
}

// TestEdgeBoxDownAcrossRestart: central restarts while a box is down (its
// edge.offline open): the devices behind it stay unsupervised until the box
// is heard, and the box's first message resolves its alarm.
func TestEdgeBoxDownAcrossRestart(t *testing.T) {
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	g.SeedSites()
	boxPW := g.ProvisionWith(map[string]any{"id": "box-1", "kind": "edge_box", "site": "home-12"})
	g.ProvisionWith(map[string]any{"id": "btn-1", "kind": "call_button", "site": "home-12-bedroom", "edge": "box-1", "installed": true})
	box := g.ConnectDevice("box-1", boxPW)
	if err := box.Publish("telemetry", `{"queue_depth":0}`); err != nil {
		t.Fatal(err)
	}
	box.Client.Disconnect(0)
	g.Supervise(clock.Now())
	g.Supervise(clock.Advance(2 * time.Minute))
	a, ok := g.Engine().OpenAtSite("home-12", gateway.TypeEdgeOffline)
	if !ok {
		t.Fatalf("no edge.offline; open: %v", openTypes(g))
	}

	g = g.Restart()
	g.Supervise(clock.Now())
	g.Supervise(clock.Advance(time.Hour))
	if got := openTypes(g); len(got) != 1 || !got["site home-12:"+gateway.TypeEdgeOffline] {
		t.Fatalf("open alarms an hour after the restart: %v, want only home-12's edge.offline", got)
	}
	if b := edgeBoxView(t, g, "box-1"); b.Uplink != gateway.UplinkOffline {
		t.Fatalf("box after the restart: %+v, want uplink offline", b)
	}
	box = g.ConnectDevice("box-1", boxPW)
	if err := box.Publish("telemetry", `{"queue_depth":2}`); err != nil {
		t.Fatal(err)
	}
	if got, _ := g.Engine().Get(a.ID); got.State != alerting.Resolved {
		t.Fatalf("edge.offline after the box is back: %s, want resolved", got.State)
	}
}

// TestEdgeBoxWithoutSite: a box provisioned with no site raises its
// edge.offline about itself, and its return resolves it.
func TestEdgeBoxWithoutSite(t *testing.T) {
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	box := g.ConnectDevice("box-9", g.ProvisionWith(map[string]any{"id": "box-9", "kind": "edge_box"}))
	if err := box.Publish("telemetry", `{"queue_depth":0}`); err != nil {
		t.Fatal(err)
	}
	g.Supervise(clock.Now())
	g.Supervise(clock.Advance(91 * time.Second))
	a, ok := g.Engine().OpenOf("box-9", gateway.TypeEdgeOffline)
	if !ok || a.IsSite() || a.Priority != alerting.P3 {
		t.Fatalf("edge.offline of a box without a site: %+v %v; open: %v", a, ok, openTypes(g))
	}
	if err := box.Publish("telemetry", `{"queue_depth":0}`); err != nil {
		t.Fatal(err)
	}
	if got, _ := g.Engine().Get(a.ID); got.State != alerting.Resolved {
		t.Fatalf("after the box's heartbeat: %s, want resolved", got.State)
	}
}
