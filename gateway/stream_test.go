package gateway_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/state"
)

// frameKey is what two streams must agree on about one frame.
func frameKey(f gatewaytest.StreamFrame) string {
	if f.Event != "alarm" {
		return f.ID + " " + f.Event
	}
	return f.ID + " " + f.Alarm.ID + " " + string(f.Entry.Action)
}

// until collects a stream's frames up to and including the first for
// which stop is true.
func until(t *testing.T, s *gatewaytest.Stream, stop func(gatewaytest.StreamFrame) bool) []gatewaytest.StreamFrame {
	t.Helper()
	var got []gatewaytest.StreamFrame
	for {
		f := s.NextFrame(t)
		got = append(got, f)
		if stop(f) {
			return got
		}
	}
}

func position(t *testing.T, id string) uint64 {
	t.Helper()
	_, n, _ := strings.Cut(id, "-")
	p, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		t.Fatalf("stream id %q is not <boot>-<position>", id)
	}
	return p
}

// TestStreamResumesAfterBlip: a console whose connection drops reconnects
// with the last id it saw (Last-Event-ID) and gets exactly the frames it
// missed, in order, then the live ones, with no gap and no duplicate: the
// same frames as a console that stayed connected.
func TestStreamResumesAfterBlip(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	op := g.AddUser("li", state.RoleOperator)
	btn1 := g.ConnectDevice("btn-1", g.Provision("btn-1", "call_button"))
	btn2 := g.ConnectDevice("btn-2", g.Provision("btn-2", "call_button"))
	stayed, blip := op.Stream(), op.Stream()
	a := btn1.Expect(btn1.Press("call.press"), "received").Alarm
	last := blip.Next(t, "raised")
	if last.ID == "" || last.Alarm.ID != a {
		t.Fatalf("first frame: id %q alarm %s, want an id and alarm %s", last.ID, last.Alarm.ID, a)
	}
	blip.Close()

	// While the console is away: its alarm is taken, another is raised.
	if code := g.Admin.Do("POST", "/api/v1/alarms/"+a+"/ack", map[string]string{}, nil); code != 200 {
		t.Fatalf("ack: HTTP %d", code)
	}
	b := btn2.Expect(btn2.Press("call.press"), "received").Alarm

	back := op.Resume(last.ID)
	// Live, after the reconnect: the sentinel that ends both streams.
	if code := g.Admin.Do("POST", "/api/v1/alarms/"+a+"/resolve", map[string]string{"outcome": "assisted"}, nil); code != 200 {
		t.Fatalf("resolve: HTTP %d", code)
	}
	sentinel := func(f gatewaytest.StreamFrame) bool {
		return f.Event == "alarm" && f.Alarm.ID == a && f.Entry.Action == "resolved"
	}
	var want []string
	for _, f := range until(t, stayed, sentinel) {
		if f.ID == last.ID {
			want = nil // what came before is what the console saw
			continue
		}
		want = append(want, frameKey(f))
	}
	var got []string
	var prev uint64
	for _, f := range until(t, back, sentinel) {
		if p := position(t, f.ID); p <= prev {
			t.Errorf("frame %s after position %d: positions must increase", f.ID, prev)
		} else {
			prev = p
		}
		got = append(got, frameKey(f))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("resumed stream sent\n%s\nwant (as the stream that stayed)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, w := range []string{a + " acknowledged", b + " raised"} {
		if !slices.ContainsFunc(got, func(k string) bool { return strings.HasSuffix(k, w) }) {
			t.Errorf("resumed stream lacks %q: %v", w, got)
		}
	}
}

// TestStreamReloadsAfterRestart: an id from before a restart is unknown to
// the new process; the console is told to reload, then gets the live stream.
func TestStreamReloadsAfterRestart(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	g.AddUser("li", state.RoleOperator)
	btn := g.ConnectDevice("btn-1", g.Provision("btn-1", "call_button"))
	s := g.Login("li", "li-long-password").Stream()
	a := btn.Expect(btn.Press("call.press"), "received").Alarm
	last := s.Next(t, "raised")
	s.Close()

	g = g.Restart()
	back := g.Login("li", "li-long-password").Resume(last.ID)
	if code := g.Admin.Do("POST", "/api/v1/alarms/"+a+"/ack", map[string]string{}, nil); code != 200 {
		t.Fatalf("ack: HTTP %d", code)
	}
	if f := back.NextFrame(t); f.Event != "reload" {
		t.Fatalf("first frame after a restart: %q %q, want reload", f.ID, f.Event)
	}
	if f := back.NextFrame(t); f.Event != "alarm" || f.Alarm.ID != a || f.Entry.Action != "acknowledged" {
		t.Fatalf("after the reload: %s, want %s acknowledged", frameKey(f), a)
	}
}

// TestStreamResumeByRole: an installer resuming gets the walk-test alarms
// it missed and nothing of residents' alarms, as on the live stream.
func TestStreamResumeByRole(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	inst := g.AddUser("wu", state.RoleInstaller)
	devs := map[string]*gatewaytest.Device{}
	for _, id := range []string{"btn-t1", "btn-r1", "btn-t2", "btn-r2", "btn-t3"} {
		devs[id] = g.ConnectDevice(id, g.Provision(id, "call_button"))
		if strings.Contains(id, "-t") {
			if code := g.Admin.Do("POST", "/api/v1/devices/"+id+"/test", map[string]bool{"on": true}, nil); code != 200 {
				t.Fatalf("walk test on %s: HTTP %d", id, code)
			}
		}
	}
	press := func(id string) string { d := devs[id]; return d.Expect(d.Press("call.press"), "received").Alarm }
	s := inst.Stream()
	press("btn-t1")
	last := s.Next(t, "raised")
	s.Close()
	press("btn-r1")
	missed := press("btn-t2")
	back := inst.Resume(last.ID)
	press("btn-r2")
	sentinel := press("btn-t3")
	frames := until(t, back, func(f gatewaytest.StreamFrame) bool {
		return f.Event == "alarm" && f.Alarm.ID == sentinel && f.Entry.Action == "raised"
	})
	var sawMissed bool
	for _, f := range frames {
		if f.Event != "alarm" || !f.Alarm.Test {
			t.Errorf("installer's resumed stream sent %s (test %v)", frameKey(f), f.Alarm != nil && f.Alarm.Test)
		}
		sawMissed = sawMissed || f.Alarm != nil && f.Alarm.ID == missed && f.Entry.Action == "raised"
	}
	if !sawMissed {
		t.Errorf("installer's resumed stream lacks the walk-test alarm %s raised while away", missed)
	}
}
