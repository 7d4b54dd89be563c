package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
)

// TestPushRecordRidesWithItsEvent: a push's receipt handed in
// Write.Receipts is stored in ingest_pushes by the event's own write,
// beside the device's adapter state and not as one.
func TestPushRecordRidesWithItsEvent(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rec, err := AdapterStateRecord("smk-nb", devices.AdapterState{Seq: 7, On: []string{"payload.smoke_state smoke.alarm"}})
	if err != nil {
		t.Fatal(err)
	}
	receipt := alerting.Receipt{Source: "ctwing_smoke", ID: "dev/dataReport/1/ab", Device: "smk-nb", At: time.Now()}
	if held, err := db.HasPush("ctwing_smoke", "dev/dataReport/1/ab"); err != nil || held {
		t.Fatalf("HasPush before the write: %v %v", held, err)
	}
	before := db.Syncs()
	w := alerting.Write{Seen: []alerting.Seen{{Device: "smk-nb", Seq: 7, Type: "smoke.alarm"}}, DeviceState: rec,
		Receipts: []alerting.Receipt{receipt}}
	if err := <-db.Commit(w); err != nil {
		t.Fatal(err)
	}
	if n := db.Syncs() - before; n != 1 {
		t.Fatalf("%d syncs, want 1", n)
	}
	if held, err := db.HasPush("ctwing_smoke", "dev/dataReport/1/ab"); err != nil || !held {
		t.Fatalf("HasPush after the write: %v %v", held, err)
	}
	if held, _ := db.HasPush("onenet_smoke", "dev/dataReport/1/ab"); held {
		t.Fatal("a push id is held for another integration")
	}
	if s, err := db.AdapterState("smk-nb"); err != nil || s.Seq != 7 {
		t.Fatalf("adapter state %+v %v", s, err)
	}
	n := 0
	ForEach(db, bucketAdapterState, func(string, *devices.AdapterState) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d adapter states, want 1: the push record went into adapter_state", n)
	}
}

// TestZ2MTableSurvivesReopen: the stored model table reads back.
func TestZ2MTableSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	devs := devices.Z2MDevices{"sos_button": {FriendlyName: "sos_button", Definition: &devices.Z2MDefinition{Vendor: "Heiman", Model: "HS1EB/HS1EB-E"}}}
	if err := db.PutZ2MTable("zigbee2mqtt/bridge/devices", Z2MTable{Digest: "d1", Devices: devs}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Z2MTables()
	if tb := got["zigbee2mqtt/bridge/devices"]; err != nil || tb.Digest != "d1" || tb.Devices.Model("sos_button") != (devices.ModelRef{Vendor: "Heiman", Model: "HS1EB/HS1EB-E"}) {
		t.Fatalf("Z2MTables: %+v %v", got, err)
	}
}

// TestPrunePushes: push records received before the cutoff go, later ones
// stay, across more keys than one pruning transaction looks at.
func TestPrunePushes(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	const n = pruneScan + 10
	var rs []alerting.Receipt
	for i := range n {
		at := now.Add(-8 * 24 * time.Hour) // old
		if i%2 == 0 {
			at = now.Add(-time.Hour)
		}
		rs = append(rs, alerting.Receipt{Source: "ctwing_smoke", ID: fmt.Sprintf("m-%05d", i), Device: "smk-nb", At: at})
	}
	if err := <-db.Commit(alerting.Write{Receipts: rs}); err != nil {
		t.Fatal(err)
	}
	pruned, err := db.PrunePushes(now.Add(-7 * 24 * time.Hour))
	if err != nil || pruned != n/2 {
		t.Fatalf("pruned %d (%v), want %d", pruned, err, n/2)
	}
	for _, i := range []int{0, 1, n - 2, n - 1} {
		held, err := db.HasPush("ctwing_smoke", fmt.Sprintf("m-%05d", i))
		if err != nil || held != (i%2 == 0) {
			t.Errorf("push m-%05d held %v (%v) after pruning, want %v", i, held, err, i%2 == 0)
		}
	}
}
