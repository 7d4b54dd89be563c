package gateway_test

import (
	"testing"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/edge"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestEdgeQueuedBeforePuback: on a box with no central, a device's event
// is in the outbound queue by the time the device has its PUBACK (the
// queue entry is part of the event's own write); the local alarm is
// raised all the same; past the queue's bound an event is still raised
// locally and acknowledged, and the one not queued is counted.
func TestEdgeQueuedBeforePuback(t *testing.T) {
	box := gatewaytest.Start(t, gateway.Config{Edge: edge.Config{BoxID: "box-1",
		Central:  edge.CentralConfig{URL: "tcp://127.0.0.1:1", Password: "x"},
		QueueMax: 2}})
	pw := box.Provision("btn-1", "call_button")
	dev := box.ConnectDevice("btn-1", pw)
	for i := 1; i <= 3; i++ {
		dev.Press("call.press") // returns on its PUBACK
		s, _ := box.EdgeStatus()
		want := min(i, 2)
		if s.QueueDepth != want || s.Uplink != "down" {
			t.Fatalf("after press %d's PUBACK: %+v, want %d queued and the uplink down", i, s, want)
		}
	}
	s, _ := box.EdgeStatus()
	if s.QueueDropped != 1 || s.QueueOldestTS == 0 {
		t.Fatalf("status %+v: want 1 dropped past the bound and the oldest entry's time", s)
	}
	if open := box.Engine().Open(); len(open) != 1 || open[0].Count != 3 {
		t.Fatalf("local alarms %+v: want one call counting all 3 presses", open)
	}
	if got := box.Metric("anxin_edge_queue_depth"); got != 2 {
		t.Fatalf("anxin_edge_queue_depth %v, want 2", got)
	}
}

// TestEdgeQueuesCheckins: a daily check-in press, which raises no alarm,
// is queued for central before its PUBACK all the same.
func TestEdgeQueuesCheckins(t *testing.T) {
	box := gatewaytest.Start(t, gateway.Config{Edge: edge.Config{BoxID: "box-1",
		Central: edge.CentralConfig{URL: "tcp://127.0.0.1:1", Password: "x"}}})
	pw := box.ProvisionWith(map[string]any{"id": "checkin-1", "kind": "call_button", "checkin": true})
	box.ConnectDevice("checkin-1", pw).Press("call.press")
	if s, _ := box.EdgeStatus(); s.QueueDepth != 1 || s.LED == "raised" {
		t.Fatalf("after a check-in's PUBACK: %+v, want it queued and no call on the LED", s)
	}
	if open := box.Engine().Open(); len(open) != 0 {
		t.Fatalf("a check-in raised %+v", open)
	}
}
