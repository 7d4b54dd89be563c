package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/state"
)

// TestPressToResolve walks one alarm through its whole life over real TCP:
// a paho device presses, the alarm is in the API and on the live stream,
// the device hears "received"; an operator acknowledges, dispatches and
// resolves it, the device hears each state, and the timeline has it all.
func TestPressToResolve(t *testing.T) {
	for _, b := range gatewaytest.Backends {
		t.Run(b, func(t *testing.T) { testPressToResolve(t, b) })
	}
}

func testPressToResolve(t *testing.T, backend string) {
	g := gatewaytest.Start(t, gateway.Config{State: gatewaytest.State(t, backend)})
	op := g.AddUser("li", state.RoleOperator)
	stream := op.Stream()
	dev := g.ConnectDevice("btn-101", g.Provision("btn-101", "call_button"))

	seq := dev.Press("call.press")
	r := dev.Expect(seq, "received")
	raised := stream.Next(t, "raised")
	if raised.Alarm.ID != r.Alarm || raised.Alarm.Priority != alerting.P1 || raised.Alarm.Device != "btn-101" {
		t.Fatalf("stream raised %+v, device was told alarm %s", raised.Alarm, r.Alarm)
	}
	var open struct{ Alarms []alerting.Alarm }
	if code := op.Do("GET", "/api/v1/alarms?state=open", nil, &open); code != 200 || len(open.Alarms) != 1 || open.Alarms[0].ID != r.Alarm {
		t.Fatalf("open alarms: HTTP %d %+v", code, open.Alarms)
	}

	id := r.Alarm
	steps := []struct {
		path, body, deviceState, action string
	}{
		{"ack", `{"note":"calling her now"}`, "acknowledged", "acknowledged"},
		{"dispatch", `{"note":"neighbour Wang is going"}`, "on_the_way", "dispatched"},
		{"notes", `{"note":"door code 1234"}`, "", "note"},
		{"resolve", `{"outcome":"assisted","note":"helped back to bed"}`, "resolved", "resolved"},
	}
	for _, s := range steps {
		if code := op.Do("POST", "/api/v1/alarms/"+id+"/"+s.path, rawJSON(s.body), nil); code != 200 {
			t.Fatalf("%s: HTTP %d", s.path, code)
		}
		if s.deviceState != "" {
			dev.Expect(seq, s.deviceState)
		}
		if m := stream.Next(t, s.action); m.Alarm.ID != id {
			t.Fatalf("stream %s for %s", s.action, m.Alarm.ID)
		}
	}
	var a alerting.Alarm
	op.Do("GET", "/api/v1/alarms/"+id, nil, &a)
	var got []string
	for _, e := range a.Timeline {
		got = append(got, fmt.Sprintf("%s by %s", e.Action, e.Actor))
	}
	want := []string{"raised by device:btn-101", "acknowledged by operator:li", "dispatched by operator:li",
		"note by operator:li", "resolved by operator:li"}
	if fmt.Sprint(got) != fmt.Sprint(want) || a.Outcome != "assisted" || a.State != alerting.Resolved {
		t.Fatalf("timeline %v outcome %q state %s\nwant %v", got, a.Outcome, a.State, want)
	}
	if code := op.Do("GET", "/api/v1/alarms?state=open", nil, &open); code != 200 || len(open.Alarms) != 0 {
		t.Fatalf("resolved alarm still open: %+v", open.Alarms)
	}
	// The metrics saw it: one P1 taken, once, and the broker's own traffic.
	if n := g.Metric(`anxin_alarm_time_to_acknowledge_seconds_count{priority="P1"}`); n != 1 {
		t.Errorf("time-to-acknowledge observed %v times, want 1", n)
	}
	if n := g.Metric("anxin_mqtt_messages_received_total"); n < 1 {
		t.Errorf("broker messages received %v", n)
	}
	if n := g.Metric("anxin_mqtt_messages_sent_total"); n < 4 {
		t.Errorf("broker messages sent %v, want the 4 reassurances at least", n)
	}
}

// TestRedeliveryRaisesOnce: the same (device, seq) sent again, as a QoS 1
// redelivery or a resend after reconnect, is answered but never raises twice.
func TestRedeliveryRaisesOnce(t *testing.T) {
	for _, b := range gatewaytest.Backends {
		t.Run(b, func(t *testing.T) { testRedeliveryRaisesOnce(t, b) })
	}
}

func testRedeliveryRaisesOnce(t *testing.T, backend string) {
	g := gatewaytest.Start(t, gateway.Config{State: gatewaytest.State(t, backend)})
	pw := g.Provision("btn-7", "call_button")
	dev := g.ConnectDevice("btn-7", pw)
	payload := fmt.Sprintf(`{"seq":41,"ts":%d,"type":"call.press"}`, time.Now().UnixMilli())
	if err := dev.Publish("event", payload); err != nil {
		t.Fatal(err)
	}
	first := dev.Expect(41, "received")
	dev.Client.Disconnect(0)

	g = g.Restart()
	dev = g.ConnectDevice("btn-7", pw)
	if err := dev.Publish("event", payload); err != nil {
		t.Fatal(err)
	}
	again := dev.Expect(41, "received")
	if again.Alarm != first.Alarm {
		t.Fatalf("resend answered with alarm %s, want %s", again.Alarm, first.Alarm)
	}
	a, err := g.Engine().Get(first.Alarm)
	if err != nil || a.Count != 1 || len(g.Engine().Open()) != 1 {
		t.Fatalf("after resend: count %d, %d open, err %v; want one alarm raised once", a.Count, len(g.Engine().Open()), err)
	}
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }
