package alerting_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/devices"
)

// view is what a test compares of an alarm: everything but its id and the
// version counter, which differ between two engines doing the same thing.
func view(a *alerting.Alarm) string {
	if a == nil {
		return "<none>"
	}
	return fmt.Sprintf("%s/%s %s count=%d seq=%d cleared=%v owner=%q outcome=%q steps=%d reminders=%d %v",
		a.Device, a.Type, a.State, a.Count, a.Seq, a.Cleared, a.Owner, a.Outcome, a.Steps, a.Reminders, actions(a))
}

// views lists the open alarms as the engine holds them, sorted.
func views(eng *alerting.Engine) []string {
	var out []string
	for _, a := range eng.Open() {
		out = append(out, view(a))
	}
	slices.Sort(out)
	return out
}

// storedViews lists the open alarms as a restart would load them.
func storedViews(t *testing.T, s alerting.Store) []string {
	t.Helper()
	eng, err := alerting.NewEngine(s, alerting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return views(eng)
}

func press(device string, seq uint64, typ devices.EventType, now time.Time) devices.Event {
	return devices.Event{Device: device, Seq: seq, Type: typ, Received: now,
		DeviceTime: t0.Add(time.Duration(seq) * time.Second)}
}

// TestFailedCommitChangesNothing runs each change on two engines: one whose
// store fails the first try, one whose store never fails. After the failed
// try the engine's memory and its store are as before; the retry then leaves
// both exactly as the single successful try did.
func TestFailedCommitChangesNothing(t *testing.T) {
	type op func(f *fixture, id string) error
	event := func(seq uint64, typ devices.EventType) op {
		return func(f *fixture, _ string) error {
			_, err := f.eng.HandleEvent(press("btn-1", seq, typ, f.clock.Now()), false)
			return err
		}
	}
	cases := []struct {
		name  string
		setup []devices.EventType // events committed before the failure
		acked bool                // an operator took the alarm in setup
		pre   op                  // more setup, committed before the failure
		op    op
	}{
		{"raise", nil, false, nil, event(1, devices.CallPress)},
		{"repeat", []devices.EventType{devices.CallPress}, false, nil, event(2, devices.CallPress)},
		{"cancel", []devices.EventType{devices.CallPress}, false, nil, event(2, devices.CallCancel)},
		{"clear held alarm", []devices.EventType{devices.CallPress}, true, nil, event(2, devices.CallCancel)},
		{"ack", []devices.EventType{devices.CallPress}, false, nil, func(f *fixture, id string) error {
			_, err := f.eng.Ack(id, "li", "")
			return err
		}},
		{"dispatch", []devices.EventType{devices.CallPress}, true, nil, func(f *fixture, id string) error {
			_, err := f.eng.Dispatch(id, "li", "")
			return err
		}},
		{"resolve", []devices.EventType{devices.CallPress}, true, nil, func(f *fixture, id string) error {
			_, err := f.eng.Resolve(id, "li", "assisted", "")
			return err
		}},
		{"note", []devices.EventType{devices.CallPress}, false, nil, func(f *fixture, id string) error {
			_, err := f.eng.Note(id, "li", "door code 1234")
			return err
		}},
		{"record", []devices.EventType{devices.CallPress}, false, nil, func(f *fixture, id string) error {
			return f.eng.RecordNotification(id, alerting.Entry{Note: "robot failed"})
		}},
		{"raise condition", nil, false, nil, func(f *fixture, _ string) error {
			_, _, err := f.eng.RaiseCondition("btn-1", alerting.TypeOffline, alerting.P3, "silent", false)
			return err
		}},
		{"end condition", nil, false, func(f *fixture, _ string) error {
			_, _, err := f.eng.RaiseCondition("btn-2", alerting.TypeOffline, alerting.P3, "silent", false)
			return err
		}, func(f *fixture, _ string) error {
			_, err := f.eng.EndCondition("btn-2", alerting.TypeOffline, "back")
			return err
		}},
		{"escalation step", []devices.EventType{devices.CallPress}, false, nil, func(f *fixture, _ string) error {
			return f.eng.Tick(f.clock.Now().Add(45 * time.Second))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prepare := func() (*fixture, string) {
				f := newFixture(t)
				var id string
				for i, typ := range c.setup {
					if r := f.event("btn-1", uint64(100+i), typ); r.Alarm != nil {
						id = r.Alarm.ID
					}
				}
				if c.acked {
					if _, err := f.eng.Ack(id, "li", ""); err != nil {
						t.Fatal(err)
					}
				}
				if c.pre != nil {
					if err := c.pre(f, id); err != nil {
						t.Fatal(err)
					}
				}
				f.seen = nil
				return f, id
			}
			once, onceID := prepare()
			if err := c.op(once, onceID); err != nil {
				t.Fatalf("without a failure: %v", err)
			}

			f, id := prepare()
			before, storedBefore := views(f.eng), storedViews(t, f.store)
			f.store.Fail = errors.New("no space left on device")
			if err := c.op(f, id); !errors.Is(err, alerting.ErrStoreFailure) {
				t.Fatalf("failed commit: err %v, want ErrStoreFailure", err)
			}
			if got := views(f.eng); !slices.Equal(got, before) {
				t.Fatalf("memory changed by a failed commit:\n got  %q\n want %q", got, before)
			}
			if got := storedViews(t, f.store); !slices.Equal(got, storedBefore) {
				t.Fatalf("store changed by a failed commit:\n got  %q\n want %q", got, storedBefore)
			}
			if len(f.seen) != 0 {
				t.Fatalf("subscribers heard of a change that is not durable: %+v", f.seen[0].Entry)
			}
			f.store.Fail = nil
			if err := c.op(f, id); err != nil {
				t.Fatalf("retry: %v", err)
			}
			want := views(once.eng)
			if got := views(f.eng); !slices.Equal(got, want) {
				t.Fatalf("retry after a failure differs from one try:\n got  %q\n want %q", got, want)
			}
			if got := storedViews(t, f.store); !slices.Equal(got, want) {
				t.Fatalf("store after the retry differs from memory:\n got  %q\n want %q", got, want)
			}
			if len(f.seen) != len(once.seen) {
				t.Fatalf("subscribers heard %d changes, want %d as after one try", len(f.seen), len(once.seen))
			}
		})
	}
}

// heldStore holds every commit until the test releases it with a result, as
// a slow disk does: the engine queues further writes behind one in flight.
type heldStore struct {
	*alertingtest.MemStore
	mu   sync.Mutex
	held []heldCommit
	more chan struct{}
}

type heldCommit struct {
	w   alerting.Write
	res chan error
}

func (h *heldStore) Commit(w alerting.Write) <-chan error {
	res := make(chan error, 1)
	h.mu.Lock()
	h.held = append(h.held, heldCommit{w, res})
	h.mu.Unlock()
	h.more <- struct{}{}
	return res
}

// arrived waits for one more commit to be held.
func (h *heldStore) arrived(t *testing.T) {
	t.Helper()
	select {
	case <-h.more:
	case <-time.After(5 * time.Second):
		t.Fatal("no commit arrived")
	}
}

// release waits for the next held commit and settles it: nil commits it to
// the MemStore, an error fails it, as a store that cannot write fails it.
func (h *heldStore) release(t *testing.T, err error) {
	t.Helper()
	h.arrived(t)
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.held[0]
	h.held = h.held[1:]
	h.MemStore.Fail = err
	c.res <- <-h.MemStore.Commit(c.w)
	h.MemStore.Fail = nil
}

// TestFailedCommitRollsBackWritesQueuedBehindIt: a repeat whose commit fails
// while a second repeat is queued behind it (built on the first in memory)
// takes that second one down too, whatever the disk said of it, so that the
// store never holds the count of a repeat that was not acknowledged.
func TestFailedCommitRollsBackWritesQueuedBehindIt(t *testing.T) {
	mem := alertingtest.NewMemStore()
	hs := &heldStore{MemStore: mem, more: make(chan struct{}, 16)}
	clock := alertingtest.NewClock(t0)
	eng, err := alerting.NewEngine(hs, alerting.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	go hs.release(t, nil)
	if _, err := eng.HandleEvent(press("btn-1", 1, devices.CallPress, t0), false); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() {
		_, err := eng.HandleEvent(press("btn-1", 2, devices.CallPress, t0), false)
		errs <- err
	}()
	// The second repeat is made while the first one's commit is held, so
	// that it is built on it; both are queued before either is settled.
	hs.arrived(t)
	go func() {
		_, err := eng.HandleEvent(press("btn-1", 3, devices.CallPress, t0), false)
		errs <- err
	}()
	hs.arrived(t)
	hs.more <- struct{}{}
	hs.more <- struct{}{}
	hs.release(t, errors.New("no space left on device"))
	hs.release(t, nil) // the disk had room for this one: it must still not count
	for range 2 {
		if err := <-errs; !errors.Is(err, alerting.ErrStoreFailure) {
			t.Fatalf("repeat: err %v, want ErrStoreFailure", err)
		}
	}
	open := eng.Open()
	if len(open) != 1 || open[0].Count != 1 {
		t.Fatalf("memory after two failed repeats: %q, want the alarm with count 1", views(eng))
	}
	if got, want := storedViews(t, mem), views(eng); !slices.Equal(got, want) {
		t.Fatalf("store and memory disagree:\n store  %q\n memory %q", got, want)
	}
	// The resends count once each.
	for seq := uint64(2); seq <= 3; seq++ {
		go hs.release(t, nil)
		if _, err := eng.HandleEvent(press("btn-1", seq, devices.CallPress, t0), false); err != nil {
			t.Fatal(err)
		}
	}
	if open := eng.Open(); open[0].Count != 3 {
		t.Fatalf("count %d after three presses, want 3", open[0].Count)
	}
	if got, want := storedViews(t, mem), views(eng); !slices.Equal(got, want) {
		t.Fatalf("store and memory disagree after the resends:\n store  %q\n memory %q", got, want)
	}
}

// flakyStore fails every commit while fail is set, and counts the tries.
type flakyStore struct {
	*alertingtest.MemStore
	mu    sync.Mutex
	fail  error
	tries int
}

func (f *flakyStore) Commit(w alerting.Write) <-chan error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries++
	f.MemStore.Fail = f.fail
	defer func() { f.MemStore.Fail = nil }()
	return f.MemStore.Commit(w)
}

func (f *flakyStore) set(err error) (tries int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
	return f.tries
}

// TestRunRetriesARefusedStep: an escalation step the store refuses is
// undone, and Run tries it again every few seconds, not in a tight loop;
// once the store is back it fires once, and the next step keeps its time.
func TestRunRetriesARefusedStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &flakyStore{MemStore: alertingtest.NewMemStore()}
		eng, err := alerting.NewEngine(store, alerting.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var fired []time.Time
		var mu sync.Mutex
		eng.Subscribe(func(c alerting.Change) {
			if c.Entry.Action == alerting.ActEscalated {
				mu.Lock()
				fired = append(fired, c.Entry.At)
				mu.Unlock()
			}
		})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		start := time.Now()
		r, err := eng.HandleEvent(devices.Event{Device: "btn-1", Seq: 1, Type: devices.CallPress, Received: start}, false)
		if err != nil {
			t.Fatal(err)
		}
		go eng.Run(ctx)
		synctest.Wait()
		before := store.set(errors.New("no space left on device"))
		time.Sleep(47 * time.Second) // the step falls due at +30 s, into the outage
		synctest.Wait()
		tries := store.set(nil) - before
		if tries < 2 || tries > 5 {
			t.Fatalf("%d tries of the refused step in 17 s, want a retry every few seconds", tries)
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(fired) != 2 || fired[0].Sub(start) != 50*time.Second || fired[1].Sub(start) != 60*time.Second {
			t.Fatalf("steps fired at %v after the raise, want step 1 at the first retry after the outage (+50s) and step 2 at +60s", fired)
		}
		a, _ := eng.Get(r.Alarm.ID)
		if got := escalations(a); !equal(got, []int{1, 2}) {
			t.Fatalf("steps on the timeline %v, want [1 2]", got)
		}
		cancel()
		synctest.Wait()
	})
}

// TestRefusalIsLoggedWithWhatWasRefused: the log of a refused write names
// the device event, or the alarm and the action.
func TestRefusalIsLoggedWithWhatWasRefused(t *testing.T) {
	var buf bytes.Buffer
	store := alertingtest.NewMemStore()
	clock := alertingtest.NewClock(t0)
	eng, err := alerting.NewEngine(store, alerting.Options{Now: clock.Now, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r, err := eng.HandleEvent(press("btn-1", 1, devices.CallPress, t0), false)
	if err != nil {
		t.Fatal(err)
	}
	store.Fail = errors.New("no space left on device")
	if _, err := eng.HandleEvent(press("btn-1", 2, devices.CallCancel, t0), false); err == nil {
		t.Fatal("a refused cancel succeeded")
	}
	if _, err := eng.Ack(r.Alarm.ID, "li", ""); err == nil {
		t.Fatal("a refused ack succeeded")
	}
	for _, want := range []string{
		"device=btn-1 event=call.cancel seq=2",
		"alarm=" + r.Alarm.ID + " action=acknowledged operator=li",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log does not name %q:\n%s", want, buf.String())
		}
	}
}

// asyncStore commits on its own goroutine, in order, so that writes overlap
// in flight as they do on a real disk; it fails writes at random while
// flaky is set.
type asyncStore struct {
	*alertingtest.MemStore
	queue chan heldCommit
	mu    sync.Mutex
	flaky bool
	rnd   *rand.Rand
}

func newAsyncStore(t *testing.T) *asyncStore {
	s := &asyncStore{MemStore: alertingtest.NewMemStore(), queue: make(chan heldCommit, 64), rnd: rand.New(rand.NewPCG(1, 2))}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range s.queue {
			s.mu.Lock()
			s.MemStore.Fail = nil
			if s.flaky && s.rnd.IntN(3) == 0 {
				s.MemStore.Fail = errors.New("no space left on device")
			}
			c.res <- <-s.MemStore.Commit(c.w)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(s.queue); <-done })
	return s
}

func (s *asyncStore) Commit(w alerting.Write) <-chan error {
	res := make(chan error, 1)
	s.queue <- heldCommit{w, res}
	return res
}

func (s *asyncStore) setFlaky(v bool) {
	s.mu.Lock()
	s.flaky = v
	s.mu.Unlock()
}

// TestRandomFailuresUnderLoad: devices press, repeat and cancel at once
// while a third of the writes fail at random; each device resends an event
// until it is accepted. At the end memory and store agree, and every event
// counts once.
func TestRandomFailuresUnderLoad(t *testing.T) {
	store := newAsyncStore(t)
	eng, err := alerting.NewEngine(store, alerting.Options{Now: alertingtest.NewClock(t0).Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	script := []devices.EventType{devices.CallPress, devices.CallPress, devices.CallPress, devices.CallCancel,
		devices.CallPress, devices.CallPress}
	want := []string{"cancelled 3", "raised 2"}
	store.setFlaky(true)
	var wg sync.WaitGroup
	refused := make([]int, 16)
	for d := range 16 {
		wg.Go(func() {
			device := fmt.Sprintf("btn-%d", d)
			for i, typ := range script {
				for {
					_, err := eng.HandleEvent(press(device, uint64(i+1), typ, t0), false)
					if err == nil {
						break
					}
					if !errors.Is(err, alerting.ErrStoreFailure) {
						t.Errorf("%s seq %d: %v", device, i+1, err)
						return
					}
					refused[d]++
				}
			}
		})
	}
	wg.Wait()
	store.setFlaky(false)
	total := 0
	for _, n := range refused {
		total += n
	}
	if total == 0 {
		t.Fatal("no write failed: the test tested nothing")
	}
	all, err := store.Alarms(t0.Add(-time.Hour), t0.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	byDevice := map[string][]string{}
	slices.SortFunc(all, func(a, b *alerting.Alarm) int { return strings.Compare(a.ID, b.ID) })
	for _, a := range all {
		byDevice[a.Device] = append(byDevice[a.Device], fmt.Sprintf("%s %d", a.State, a.Count))
	}
	for d := range 16 {
		if got := byDevice[fmt.Sprintf("btn-%d", d)]; !slices.Equal(got, want) {
			t.Errorf("btn-%d: stored alarms %v, want %v (%d refusals)", d, got, want, refused[d])
		}
	}
	if got, mem := storedViews(t, store), views(eng); !slices.Equal(got, mem) {
		t.Fatalf("store and memory disagree after %d refusals:\n store  %q\n memory %q", total, got, mem)
	}
	t.Logf("%d refused writes, each resent", total)
}
