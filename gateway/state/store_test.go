package state

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// TestStepAndItsNotificationsAreOneWrite: the alarm that records a fired
// step and the step's notifications reach the disk together, so no crash
// can keep the one and lose the other.
func TestStepAndItsNotificationsAreOneWrite(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := &alerting.Alarm{ID: "A-1", Device: "btn-1", State: alerting.Raised, Priority: alerting.P1,
		Raised: time.Now(), Steps: 1}
	n := alerting.Notification{Key: "A-1/step/1/webhook:county", Channel: "webhook:county", Alarm: a, Step: 1}
	if err := <-db.Commit(alerting.Write{Alarms: []*alerting.Alarm{a}, Notifications: []alerting.Notification{n}}); err != nil {
		t.Fatal(err)
	}
	db.Close() // as a crash right after the sync would leave it
	if db, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Alarm("A-1")
	if err != nil || got.Steps != 1 {
		t.Fatalf("alarm after reopen: %+v %v", got, err)
	}
	var queued []string
	items, err := db.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		queued = append(queued, it.N.Key+" "+it.N.Channel)
	}
	if len(queued) != 1 || queued[0] != n.Key+" webhook:county" {
		t.Fatalf("outbox after reopen: %v, want the step's notification", queued)
	}
}

// TestPruneSeenWalksEveryKey: pruning in bounded transactions still visits
// every key: old ones go, recent ones stay.
func TestPruneSeenWalksEveryKey(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	var w alerting.Write
	const n = 3*pruneScan + 17
	for i := range n {
		at := now.Add(-40 * 24 * time.Hour)
		if i%3 == 0 {
			at = now.Add(-time.Hour)
		}
		w.Seen = append(w.Seen, alerting.Seen{Device: fmt.Sprintf("d-%03d", i%97), Seq: uint64(i), Type: "call.press", At: at})
	}
	if err := <-db.Commit(w); err != nil {
		t.Fatal(err)
	}
	pruned, err := db.PruneSeen(now.Add(-30 * 24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for i := range n {
		if _, ok, _ := db.Seen(fmt.Sprintf("d-%03d", i%97), uint64(i)); ok {
			if i%3 != 0 {
				t.Fatalf("key %d is 40 days old and was kept", i)
			}
			kept++
		}
	}
	if want := (n + 2) / 3; kept != want || pruned != n-want {
		t.Fatalf("kept %d, pruned %d; want %d kept, %d pruned", kept, pruned, want, n-want)
	}
}

// TestStoreRefusesWritesOfAFailedEpoch: once an engine write fails, the
// writes of the same epoch queued behind it are refused unapplied (the
// engine built them on the failed one and undoes them all), while a write
// of the next epoch goes through. Health follows the last commit, and a
// probe write finds the store healthy again.
func TestStoreRefusesWritesOfAFailedEpoch(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	alarm := func(id string, data map[string]any) *alerting.Alarm {
		return &alerting.Alarm{ID: id, Device: "btn-1", State: alerting.Raised, Raised: time.Now(), Data: data}
	}
	// An alarm that cannot be encoded fails its write as a full disk would.
	bad := alerting.Write{Alarms: []*alerting.Alarm{alarm("A-1", map[string]any{"x": make(chan int)})}, Epoch: 7}
	behind := alerting.Write{Alarms: []*alerting.Alarm{alarm("A-2", nil)}, Epoch: 7}
	next := alerting.Write{Alarms: []*alerting.Alarm{alarm("A-3", nil)}, Epoch: 8}
	// Queued in a row: whether they share a batch or not, the outcome is the same.
	r1, r2, r3 := db.Commit(bad), db.Commit(behind), db.Commit(next)
	if err := <-r1; err == nil {
		t.Fatal("a write that cannot be encoded succeeded")
	}
	if err := <-r2; !errors.Is(err, ErrAfterFailure) {
		t.Fatalf("write behind the failed one: err %v, want ErrAfterFailure", err)
	}
	if err := <-r3; err != nil {
		t.Fatalf("write of the next epoch: %v", err)
	}
	if _, err := db.Alarm("A-2"); !errors.Is(err, alerting.ErrNotFound) {
		t.Fatalf("the refused write was applied: %v", err)
	}
	if got := db.CommitFailures(); got != 2 {
		t.Fatalf("CommitFailures = %d, want 2", got)
	}

	if err := <-db.Commit(bad); err == nil {
		t.Fatal("a write that cannot be encoded succeeded")
	}
	db.healthMu.Lock()
	last := db.lastErr
	db.healthMu.Unlock()
	if last == nil {
		t.Fatal("the store kept no error after a failed commit")
	}
	if err := db.Healthy(); err != nil {
		t.Fatalf("Healthy after a probe on a working disk: %v", err)
	}
}
