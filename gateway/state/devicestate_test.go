package state

import (
	"testing"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
)

// TestDeviceStateIsOneSyncWithItsEvent: an adapter's state handed with an
// event's write is stored by that write, in its transaction and sync.
func TestDeviceStateIsOneSyncWithItsEvent(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := devices.AdapterState{Seq: 41, On: []string{"smoke smoke.alarm"}, Last: "abc"}
	rec, err := AdapterStateRecord("smk-1", want)
	if err != nil {
		t.Fatal(err)
	}
	before := db.Syncs()
	w := alerting.Write{Seen: []alerting.Seen{{Device: "smk-1", Seq: 41, Type: "smoke.alarm"}}, DeviceState: rec}
	if err := <-db.Commit(w); err != nil {
		t.Fatal(err)
	}
	if n := db.Syncs() - before; n != 1 {
		t.Fatalf("%d syncs for one write, want 1", n)
	}
	got, err := db.AdapterState("smk-1")
	if err != nil || got.Seq != want.Seq || len(got.On) != 1 || got.On[0] != want.On[0] || got.Last != want.Last {
		t.Fatalf("adapter state %+v (%v), want %+v", got, err, want)
	}
	if _, ok, err := db.Seen("smk-1", 41); err != nil || !ok {
		t.Fatalf("seen (smk-1, 41): %v %v, want stored with the state", ok, err)
	}
}
