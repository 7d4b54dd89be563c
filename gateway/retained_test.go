package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway/registry"
	paho "github.com/eclipse/paho.mqtt.golang"
)

// startWithButton starts a gateway with call button btn-1 provisioned and
// returns it with btn-1 connected; both end with the test.
func startWithButton(t *testing.T) (*Gateway, paho.Client) {
	t.Helper()
	g, err := Start(context.Background(), Config{DataDir: t.TempDir(), MQTTAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	pw, err := g.reg.Add(registry.Device{ID: "btn-1", Kind: "call_button"}, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + g.MQTTAddr()).SetClientID("btn-1").
		SetUsername("btn-1").SetPassword(pw).SetConnectTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return g, c
}

// TestRetainedStatusNeverExpires: a device's retained status stays in the
// broker without an expiry (mochi's default would drop it after 24 h), so
// a quiet but healthy button still reads as online a day later.
func TestRetainedStatusNeverExpires(t *testing.T) {
	g, c := startWithButton(t)
	const topic = "anxin/v1/btn-1/status"
	if tok := c.Publish(topic, 1, true, `{"online":true,"fw":"1.4.2"}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	pk, ok := g.broker.Topics.Retained.Get(topic)
	if !ok {
		t.Fatal("status not retained")
	}
	if pk.Expiry != 0 {
		t.Fatalf("retained status expires at %d; it must never expire", pk.Expiry)
	}
	if g.broker.Options.Capabilities.MaximumMessageExpiryInterval != 0 {
		t.Fatal("the broker caps message expiry")
	}
}

// TestOnlyStatusIsRetained: a device that sets retain on an event has its
// alarm handled, but the broker keeps no copy to replay.
func TestOnlyStatusIsRetained(t *testing.T) {
	g, c := startWithButton(t)
	for _, m := range []struct{ topic, payload string }{
		{"anxin/v1/btn-1/event", `{"seq":1,"type":"call.press"}`},
		{"anxin/v1/btn-1/telemetry", `{"battery":90}`},
	} {
		if tok := c.Publish(m.topic, 1, true, m.payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
		if _, ok := g.broker.Topics.Retained.Get(m.topic); ok {
			t.Errorf("%s retained", m.topic)
		}
	}
	if n := len(g.eng.Open()); n != 1 {
		t.Fatalf("%d open alarms after a retained press, want 1", n)
	}
}
