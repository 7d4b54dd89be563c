package gateway_test

import (
	"fmt"
	"slices"
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
	// Detectors to try in turn: bbolt reuses the pages it freed, so a write
	// may still fit a full disk (which one depends on the file's layout); a
	// detector whose smoke message the store could keep is left alone, with
	// its alarm, and the next one tried, until one's is refused.
	candidates := []string{"kitchen_smoke", "kitchen_smoke_2", "kitchen_smoke_3", "kitchen_smoke_4"}
	for i, ref := range candidates {
		g.ProvisionWith(map[string]any{"id": fmt.Sprintf("smk-k%d", i), "kind": "smoke_detector", "format": "zigbee2mqtt",
			"ref": ref, "site": "home-12-kitchen", "resident": "wang-xy"})
	}
	dev, ref := "", ""
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
		r.Publish("zigbee2mqtt/"+ref, 1, false, []byte(payload), 1)
		pk, err := r.Next(5 * time.Second)
		return err == nil && pk.FixedHeader.Type == packets.Puback
	}
	smoke := func() []*alerting.Alarm {
		var out []*alerting.Alarm
		for _, a := range g.Engine().Open() {
			if a.Device == dev && a.Type == alerting.TypeSmoke {
				out = append(out, a)
			}
		}
		return out
	}
	for i, r := range candidates {
		dev, ref = fmt.Sprintf("smk-k%d", i), r
		if !send(`{"smoke":false,"battery":90}`) && i == 0 {
			t.Fatal("no PUBACK before the disk filled")
		}
	}
	free := fillDisk(t, dataDir)
	var prior devices.AdapterState
	for i, r := range candidates {
		dev, ref = fmt.Sprintf("smk-k%d", i), r
		// Small writes still fit for a while: send smoke tests (each a new
		// idempotency key) until the store needs a page it cannot get.
		for j := 0; send(fmt.Sprintf(`{"test":%v,"battery":90}`, j%2 == 0)); j++ {
			if j == 2000 {
				t.Fatal("2000 messages acknowledged on a full disk")
			}
		}
		var err error
		if prior, err = g.DB().AdapterState(dev); err != nil {
			t.Fatal(err)
		}
		if !send(`{"smoke":true,"battery":90}`) {
			break
		}
		// The store had room for it: then it is raised and kept, as it must be.
		if n := len(smoke()); n != 1 {
			t.Fatalf("%s: smoke PUBACKed on a nearly full disk, %d smoke alarms in memory, want 1", dev, n)
		}
		t.Logf("%s: the full disk still had room for its smoke message (bbolt reused freed pages); trying the next detector", dev)
		if i == len(candidates)-1 {
			t.Fatalf("the full disk kept the smoke messages of all %d detectors", len(candidates))
		}
	}
	for try := range 3 {
		if send(`{"smoke":true,"battery":90}`) {
			t.Fatalf("try %d: a PUBACK for a smoke message the full disk could not keep", try)
		}
	}
	if n := len(smoke()); n != 0 {
		t.Fatalf("%d smoke alarms in memory after failed writes, want 0: memory is ahead of the disk", n)
	}
	if got, err := g.DB().AdapterState(dev); err != nil || got.Seq != prior.Seq || len(got.On) != 0 {
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
	stored, err := g.DB().OpenAlarms()
	stored = slices.DeleteFunc(stored, func(a *alerting.Alarm) bool { return a.Device != dev || a.Type != alerting.TypeSmoke })
	if err != nil || len(stored) != 1 || stored[0].Count != 1 {
		t.Fatalf("store holds %d open smoke alarms of %s (%v), want one with count 1", len(stored), dev, err)
	}
}
