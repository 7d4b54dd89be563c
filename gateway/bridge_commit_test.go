package gateway_test

import (
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// bridgedDetector starts a Zigbee2MQTT gateway with one smoke detector
// (kitchen_smoke) and connects its bridge.
func bridgedDetector(t *testing.T) (*gatewaytest.Gateway, *gatewaytest.Device) {
	t.Helper()
	g := z2mGateway(t)
	g.SeedSites()
	g.ProvisionWith(map[string]any{"id": "smk-k", "kind": "smoke_detector", "format": "zigbee2mqtt",
		"ref": "kitchen_smoke", "site": "home-12-kitchen", "resident": "wang-xy"})
	b, err := g.TryConnect("z2m", "z2m", bridgePassword)
	if err != nil {
		t.Fatal(err)
	}
	return g, b
}

func publishBridged(t *testing.T, b *gatewaytest.Device, payload string) {
	t.Helper()
	tok := b.Client.Publish("zigbee2mqtt/kitchen_smoke", 1, false, payload)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: no PUBACK: %v", payload, tok.Error())
	}
}

// TestBridgedMessageIsOneSync: a bridged message's events and the adapter
// state they advance are one write of the group commit: one sync per
// message, with an event or without, not one for the events and another for
// the adapter state.
func TestBridgedMessageIsOneSync(t *testing.T) {
	g, b := bridgedDetector(t)
	publishBridged(t, b, `{"test":false,"battery":90}`) // first heard: the registry writes too
	first, err := g.DB().AdapterState("smk-k")
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 5
	for i := range rounds {
		// "test": true is a smoke.test event, which raises nothing (so no
		// escalation writes in between); false is a message with no event.
		for _, p := range []string{`{"test":true,"battery":90}`, `{"test":false,"battery":90}`} {
			before := g.DB().Syncs()
			publishBridged(t, b, p)
			if n := g.DB().Syncs() - before; n != 1 {
				t.Errorf("round %d, %s: %d syncs, want 1", i, p, n)
			}
		}
	}
	last, err := g.DB().AdapterState("smk-k")
	if err != nil {
		t.Fatal(err)
	}
	if first.Seq != 0 || last.Seq == 0 {
		t.Fatalf("adapter seq %d before any event, %d after %d: want 0, then set", first.Seq, last.Seq, rounds)
	}
	for seq := last.Seq - rounds + 1; seq <= last.Seq; seq++ {
		if s, ok, err := g.DB().Seen("smk-k", seq); err != nil || !ok || s.Type != "smoke.test" {
			t.Errorf("seq %d: seen %+v %v %v, want the smoke.test recorded", seq, s, ok, err)
		}
	}
}

// TestBridgedThroughput prints (does not assert) how many bridged messages
// a second one bridge connection gets through, and how many syncs each
// costs, with paho publishing at QoS 1 with many messages in flight as
// Zigbee2MQTT does.
func TestBridgedThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("a measurement")
	}
	g, b := bridgedDetector(t)
	publishBridged(t, b, `{"test":false,"battery":90}`)
	const n = 400
	before, start := g.DB().Syncs(), time.Now()
	toks := make([]paho.Token, 0, n)
	for i := range n {
		// Every other message is an event (smoke.test on, then off).
		toks = append(toks, b.Client.Publish("zigbee2mqtt/kitchen_smoke", 1, false,
			fmt.Sprintf(`{"test":%v,"battery":90,"linkquality":%d}`, i%2 == 0, i%200)))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("no PUBACK: %v", tok.Error())
		}
	}
	d := time.Since(start)
	syncs := g.DB().Syncs() - before
	t.Logf("%d bridged messages (%d with an event) in %v: %.0f msg/s, %.2f syncs a message",
		n, n/2, d.Round(time.Millisecond), float64(n)/d.Seconds(), float64(syncs)/n)
}
