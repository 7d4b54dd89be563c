package gateway

import (
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
	db, err := OpenDB(dir)
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
	if db, err = OpenDB(dir); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Alarm("A-1")
	if err != nil || got.Steps != 1 {
		t.Fatalf("alarm after reopen: %+v %v", got, err)
	}
	var queued []string
	forEachJSON(db, bucketOutbox, func(k string, it *outboxItem) error {
		queued = append(queued, k+" "+it.N.Channel)
		return nil
	})
	if len(queued) != 1 || queued[0] != n.Key+" webhook:county" {
		t.Fatalf("outbox after reopen: %v, want the step's notification", queued)
	}
}

// TestPruneSeenWalksEveryKey: pruning in bounded transactions still visits
// every key: old ones go, recent ones stay.
func TestPruneSeenWalksEveryKey(t *testing.T) {
	db, err := OpenDB(t.TempDir())
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
