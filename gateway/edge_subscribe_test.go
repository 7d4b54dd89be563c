package gateway_test

import (
	"slices"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/edge"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestEdgeSubscribesToDevicesAddedAndRemoved: a device added to a box
// after the box connected to central has its commands from central
// relayed at once (the box subscribes to its cmd topic when it is added,
// not at the next reconnect), and a device removed from the box has its
// cmd topic dropped from the box's session at central.
func TestEdgeSubscribesToDevicesAddedAndRemoved(t *testing.T) {
	central, boxPW, _ := edgeSite(t)
	box := gatewaytest.Start(t, gateway.Config{Edge: edge.Config{BoxID: "box-1",
		Central:   edge.CentralConfig{URL: "tcp://" + central.MQTTAddr(), Password: boxPW},
		Heartbeat: edge.Duration(time.Hour)}}) // no periodic catch-up within the test
	box.Provision("btn-1", "call_button")
	eventually(t, "the box connected to central", func() bool {
		s, _ := box.EdgeStatus()
		return s.Uplink == "up" && slices.Contains(central.SessionTopics("box-1"), "anxin/v1/btn-1/cmd")
	})
	const topic = "anxin/v1/btn-3/cmd"
	if slices.Contains(central.SessionTopics("box-1"), topic) {
		t.Fatalf("box-1 holds %s before btn-3 exists", topic)
	}

	// btn-3 goes behind the box at central, then onto the box.
	central.ProvisionWith(map[string]any{"id": "btn-3", "kind": "call_button", "site": "home-12-bedroom", "edge": "box-1"})
	pw := box.Provision("btn-3", "call_button")
	eventually(t, "box-1 subscribed to btn-3's commands at central", func() bool {
		return slices.Contains(central.SessionTopics("box-1"), topic)
	})
	dev := box.ConnectDevice("btn-3", pw)
	if code := central.Admin.Do("PATCH", "/api/v1/devices/btn-3", map[string]any{"test": true}, nil); code != 200 {
		t.Fatalf("walk test on at central: HTTP %d", code)
	}
	select {
	case c := <-dev.Configs:
		if !c.TestMode {
			t.Fatalf("btn-3 got %+v from central, want walk-test mode on", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("central's walk-test command for btn-3 never reached it through the box")
	}

	// Removed from the box: its commands are no longer the box's to take.
	if code := box.Admin.Do("DELETE", "/api/v1/devices/btn-3", nil, nil); code != 204 {
		t.Fatalf("remove btn-3 from the box: HTTP %d", code)
	}
	eventually(t, "box-1 unsubscribed from btn-3's commands at central", func() bool {
		return !slices.Contains(central.SessionTopics("box-1"), topic)
	})
	if !slices.Contains(central.SessionTopics("box-1"), "anxin/v1/btn-1/cmd") {
		t.Fatal("removing btn-3 dropped btn-1's commands too")
	}
}
