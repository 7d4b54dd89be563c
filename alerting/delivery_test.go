package alerting_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/devices"
)

func TestRecordNotification(t *testing.T) {
	f := newFixture(t)
	a := f.event("btn-1", 1, devices.CallPress).Alarm
	entry := alerting.Entry{Kind: alerting.NoteStep, Step: 1, Targets: []string{"robot:qs-town"},
		Note: "robot:qs-town attempt 1: delivered"}

	if err := f.eng.RecordNotification(a.ID, entry); err != nil {
		t.Fatal(err)
	}
	got, _ := f.eng.Get(a.ID)
	last := got.Timeline[len(got.Timeline)-1]
	if last.Action != alerting.ActNotified || last.Actor != "system" || last.State != alerting.Raised ||
		last.Note != entry.Note || !last.At.Equal(t0) {
		t.Errorf("entry on an open alarm: %+v", last)
	}
	if got.State != alerting.Raised || got.Steps != a.Steps {
		t.Errorf("recording changed the alarm: state %s, steps %d", got.State, got.Steps)
	}
	if c := f.seen[len(f.seen)-1]; c.Entry.Action != alerting.ActNotified || c.Alarm.ID != a.ID {
		t.Errorf("subscribers heard %+v", c.Entry)
	}

	if _, err := f.eng.Resolve(a.ID, "li", "assisted", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.eng.RecordNotification(a.ID, entry); err != nil {
		t.Fatal(err)
	}
	f.restart()
	got, err := f.eng.Get(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	last = got.Timeline[len(got.Timeline)-1]
	if got.State != alerting.Resolved || last.Action != alerting.ActNotified || last.State != alerting.Resolved {
		t.Errorf("after the close: state %s, last entry %+v", got.State, last)
	}
	if err := f.eng.RecordNotification("A-none", entry); !errors.Is(err, alerting.ErrNotFound) {
		t.Errorf("unknown alarm: %v", err)
	}
}

// TestRecordWaitsForTheClose: an attempt recorded while the alarm's close
// is still on its way to the store must neither lose the close nor reopen
// the alarm on disk.
func TestRecordWaitsForTheClose(t *testing.T) {
	store := &gatedStore{MemStore: alertingtest.NewMemStore()}
	clock := alertingtest.NewClock(t0)
	eng, err := alerting.NewEngine(store, alerting.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r, err := eng.HandleEvent(devices.Event{Device: "btn-1", Seq: 1, Type: devices.CallPress, Received: t0}, alerting.Location{}, false)
	if err != nil {
		t.Fatal(err)
	}
	store.hold()

	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := eng.Resolve(r.Alarm.ID, "li", "assisted", ""); err != nil {
			t.Error(err)
		}
	})
	store.waitQueued(1)
	wg.Go(func() {
		if err := eng.RecordNotification(r.Alarm.ID, alerting.Entry{Note: "late attempt"}); err != nil {
			t.Error(err)
		}
	})
	store.waitQueued(2) // the close, then the record's wait for it
	store.release()
	wg.Wait()

	open, _ := store.OpenAlarms()
	a, _ := store.Alarm(r.Alarm.ID)
	if len(open) != 0 || a.State != alerting.Resolved {
		t.Fatalf("stored alarm is %s, %d open: the record overwrote the close", a.State, len(open))
	}
	if last := a.Timeline[len(a.Timeline)-1]; last.Note != "late attempt" || last.State != alerting.Resolved {
		t.Errorf("last entry %+v", last)
	}
}

// gatedStore applies commits in order; while held, it queues them until
// release.
type gatedStore struct {
	*alertingtest.MemStore
	mu      sync.Mutex
	held    bool
	pending []func()
}

func (s *gatedStore) Commit(w alerting.Write) <-chan error {
	res := make(chan error, 1)
	apply := func() { res <- <-s.MemStore.Commit(w) }
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held {
		s.pending = append(s.pending, apply)
	} else {
		apply()
	}
	return res
}

func (s *gatedStore) hold() {
	s.mu.Lock()
	s.held = true
	s.mu.Unlock()
}

func (s *gatedStore) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, apply := range s.pending {
		apply()
	}
	s.pending, s.held = nil, false
}

func (s *gatedStore) waitQueued(n int) {
	for {
		s.mu.Lock()
		q := len(s.pending)
		s.mu.Unlock()
		if q >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
