package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestBridgedSmokeAfterFailedWriteRaisesOnce: a bridged "smoke": true whose
// write fails on a full disk is not acknowledged and leaves the adapter's
// state where it was, so the resend once the disk has room decodes into the
// same smoke.alarm and raises it, once (the Zigbee2MQTT #7837 trap: a state
// saved without its event would take the resend as old news and hide the
// fire). A resend after that is a repeated state, no new alarm.
func TestBridgedSmokeAfterFailedWriteRaisesOnce(t *testing.T) {
	dataDir := mountTmpfs(t, "24m")
	g := gatewaytest.Start(t, gateway.Config{DataDir: dataDir,
		Adapters: []devices.AdapterConfig{{Type: "zigbee2mqtt"}},
		Bridges:  []gateway.Bridge{{User: "z2m", Password: bridgePassword, Topics: []string{"zigbee2mqtt/#"}}},
	})
	g.SeedSites()
	g.ProvisionWith(map[string]any{"id": "smk-k", "kind": "smoke_detector", "format": "zigbee2mqtt",
		"ref": "kitchen_smoke", "site": "home-12-kitchen", "resident": "wang-xy"})
	// send publishes once on a connection of its own: true when the
	// PUBACK came on it, false when the gateway dropped it instead.
	send := func(payload string) bool {
		t.Helper()
		r := gatewaytest.DialRaw(t, g.MQTTAddr())
		defer r.Conn.Close()
		ack, err := r.Connect(gatewaytest.RawConnect{ClientID: "z2m", User: "z2m", Pass: bridgePassword})
		if err != nil || ack.ReasonCode != 0 {
			t.Fatalf("bridge connect: %v (code %d)", err, ack.ReasonCode)
		}
		r.Publish("zigbee2mqtt/kitchen_smoke", 1, false, []byte(payload), 1)
		pk, err := r.Next(5 * time.Second)
		return err == nil && pk.FixedHeader.Type == packets.Puback
	}
	smoke := func() []*alerting.Alarm {
		var out []*alerting.Alarm
		for _, a := range g.Engine().Open() {
			if a.Device == "smk-k" && a.Type == alerting.TypeSmoke {
				out = append(out, a)
			}
		}
		return out
	}
	if !send(`{"smoke":false,"battery":90}`) {
		t.Fatal("no PUBACK before the disk filled")
	}
	free := fillDisk(t, dataDir)
	// bbolt reuses the pages it freed, so small writes still fit a full
	// disk for a while: send smoke tests (each a new idempotency key) until
	// the store needs a page it cannot get.
	for i := 0; send(fmt.Sprintf(`{"test":%v,"battery":90}`, i%2 == 0)); i++ {
		if i == 2000 {
			t.Fatal("2000 messages acknowledged on a full disk")
		}
	}
	prior, err := g.DB().AdapterState("smk-k")
	if err != nil {
		t.Fatal(err)
	}
	for try := range 3 {
		if send(`{"smoke":true,"battery":90}`) {
			t.Fatalf("try %d: a PUBACK for a smoke message the full disk could not keep", try)
		}
	}
	if n := len(smoke()); n != 0 {
		t.Fatalf("%d smoke alarms in memory after failed writes, want 0: memory is ahead of the disk", n)
	}
	if got, err := g.DB().AdapterState("smk-k"); err != nil || got.Seq != prior.Seq || len(got.On) != 0 {
		t.Fatalf("adapter state %+v (%v) after failed writes, want it as before (%+v)", got, err, prior)
	}
	free()

	deadline := time.Now().Add(10 * time.Second)
	for !send(`{"smoke":true,"battery":90}`) {
		if time.Now().After(deadline) {
			t.Fatal("no PUBACK for the resend 10 s after the disk was freed")
		}
		time.Sleep(20 * time.Millisecond) // the bridge's resend interval
	}
	got := smoke()
	if len(got) != 1 || got[0].Count != 1 || got[0].State != alerting.Raised {
		t.Fatalf("after the resend: %d smoke alarms (%+v), want one raised, count 1", len(got), got)
	}
	if !send(`{"smoke":true,"battery":89}`) {
		t.Fatal("no PUBACK for a repeated state")
	}
	if got := smoke(); len(got) != 1 || got[0].Count != 1 {
		t.Fatalf("a repeated state after the resend: %d smoke alarms, count %d, want 1 and 1", len(got), got[0].Count)
	}
	if stored, err := g.DB().OpenAlarms(); err != nil || len(stored) != 1 || stored[0].Count != 1 {
		t.Fatalf("store holds %d open alarms (%v), want the one smoke alarm with count 1", len(stored), err)
	}
}
