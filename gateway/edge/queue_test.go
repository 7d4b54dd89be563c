package edge

import (
	"fmt"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway/state"
)

// TestQueueOnDisk: entries come back in the order queued, survive a
// reopen of the state file with their numbers going on, leave only when
// removed, and the queue refuses entries past its bound (counted).
func TestQueueOnDisk(t *testing.T) {
	dir := t.TempDir()
	db, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewQueue(db, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := q.Put(state.EdgeQueued{Topic: fmt.Sprintf("t%d", i), Queued: time.Unix(int64(i+1), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	db, err = state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err = NewQueue(db, 4)
	if err != nil {
		t.Fatal(err)
	}
	if q.Depth() != 3 || !q.Oldest().Equal(time.Unix(1, 0)) {
		t.Fatalf("after reopening: depth %d oldest %v, want 3 and t=1s", q.Depth(), q.Oldest())
	}
	if err := q.Put(state.EdgeQueued{Topic: "t3"}); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(state.EdgeQueued{Topic: "t4"}); err == nil || q.Dropped() != 1 {
		t.Fatalf("past the bound: err %v, dropped %d; want an error and 1 dropped", err, q.Dropped())
	}
	head, err := q.Head(10)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range head {
		if want := fmt.Sprintf("t%d", i); e.Topic != want || e.N != uint64(i+1) {
			t.Fatalf("entry %d: %d %s, want %d %s", i, e.N, e.Topic, i+1, want)
		}
	}
	if err := q.Remove(head[0].N); err != nil {
		t.Fatal(err)
	}
	if head, _ := q.Head(1); head[0].Topic != "t1" || q.Depth() != 3 {
		t.Fatalf("after removing the first: head %s depth %d", head[0].Topic, q.Depth())
	}
}
