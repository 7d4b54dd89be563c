package statetest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

// t0 is the suite's clock: alarm ids and times are built from it.
var t0 = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

func alarm(id, device string, raised time.Time, st alerting.State) *alerting.Alarm {
	return &alerting.Alarm{ID: id, Device: device, Type: "call", Event: "call.press", Priority: alerting.P1,
		State: st, Count: 1, Raised: raised, Updated: raised, Version: 1,
		Timeline: []alerting.Entry{{At: raised, State: alerting.Raised, Actor: "device:" + device}}}
}

// fullWrite is an event's write with everything that may ride with it.
func fullWrite(t *testing.T, id, device string, seq uint64) alerting.Write {
	t.Helper()
	a := alarm(id, device, t0, alerting.Raised)
	ds, err := state.AdapterStateRecord(device, devices.AdapterState{Seq: seq, Last: "digest-" + id})
	must(t, err)
	out, err := state.EdgeQueueRecord(seq, state.EdgeQueued{Topic: "anxin/v1/" + device + "/event", Payload: []byte(`{"seq":1}`), Device: device, Queued: t0})
	must(t, err)
	return alerting.Write{
		Alarms:        []*alerting.Alarm{a},
		Seen:          []alerting.Seen{{Device: device, Seq: seq, Type: "call.press", Alarm: id, At: t0}},
		Notifications: []alerting.Notification{{Key: id + "/step/1/webhook:county", Channel: "webhook:county", Alarm: a, Step: 1, At: t0}},
		DeviceState:   ds,
		Receipts:      []alerting.Receipt{{Source: "onenet", ID: "push-" + id, Device: device, At: t0}},
		Outbound:      []alerting.Outbound{out},
	}
}

// present says which parts of fullWrite(id, device, seq) the store holds.
func present(t *testing.T, db *state.DB, id, device string, seq uint64) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	a, err := db.Alarm(id)
	switch {
	case err == nil:
		got["alarm"] = a.ID == id && a.Device == device
	case !errors.Is(err, alerting.ErrNotFound):
		t.Fatalf("alarm %s: %v", id, err)
	}
	open, err := db.OpenAlarms()
	must(t, err)
	got["open"] = slices.ContainsFunc(open, func(a *alerting.Alarm) bool { return a.ID == id })
	_, got["seen"], err = db.Seen(device, seq)
	must(t, err)
	items, err := db.Outbox()
	must(t, err)
	got["outbox"] = slices.ContainsFunc(items, func(it state.OutboxItem) bool { return it.N.Key == id+"/step/1/webhook:county" })
	st, err := db.AdapterState(device)
	must(t, err)
	got["adapter_state"] = st.Last == "digest-"+id
	got["receipt"], err = db.HasPush("onenet", "push-"+id)
	must(t, err)
	head, err := db.EdgeQueueHead(100)
	must(t, err)
	got["edge_queue"] = slices.ContainsFunc(head, func(e state.EdgeEntry) bool { return e.N == seq && e.Device == device })
	return got
}

func wantAll(t *testing.T, got map[string]bool, want bool, when string) {
	t.Helper()
	for part, ok := range got {
		if ok != want {
			t.Errorf("%s: %s present=%v, want %v", when, part, ok, want)
		}
	}
}

func testAlarmWriteIsOne(t *testing.T, s *store) {
	before := s.db.Syncs()
	must(t, <-s.db.Commit(fullWrite(t, "A-1", "btn-1", 7)))
	if n := s.db.Syncs() - before; n != 1 {
		t.Errorf("one write took %d transactions, want 1", n)
	}
	wantAll(t, present(t, s.db, "A-1", "btn-1", 7), true, "after commit")
	s.restart()
	wantAll(t, present(t, s.db, "A-1", "btn-1", 7), true, "after restart")
	a, err := s.db.Alarm("A-1")
	must(t, err)
	if a.Priority != alerting.P1 || a.State != alerting.Raised || len(a.Timeline) != 1 || !a.Raised.Equal(t0) {
		t.Errorf("alarm read back as %+v", a)
	}
}

// hugeKey is a device id no backend indexes (bbolt's keys stop at 32 KiB,
// a PostgreSQL b-tree entry at about 2.7 KB): a write that the backend
// itself refuses, after the rest of the write was sent.
func hugeKey() string {
	b := make([]byte, 40000)
	for i := range b {
		b[i] = byte('a' + rand.IntN(26))
	}
	return string(b)
}

func testFailedWrite(t *testing.T, s *store) {
	cases := []struct {
		name  string
		spoil func(w *alerting.Write)
	}{
		{"backend refuses the last record", func(w *alerting.Write) { w.DeviceState[hugeKey()] = []byte(`{}`) }},
		{"a record cannot be encoded", func(w *alerting.Write) {
			w.Alarms = append(w.Alarms, &alerting.Alarm{ID: "A-bad", Data: map[string]any{"x": math.NaN()}})
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, dev := fmt.Sprintf("A-f%d", i), fmt.Sprintf("btn-f%d", i)
			seq := uint64(3 + i)
			w := fullWrite(t, id, dev, seq)
			c.spoil(&w)
			if err := <-s.db.Commit(w); err == nil {
				t.Fatal("a write with a bad record committed")
			}
			wantAll(t, present(t, s.db, id, dev, seq), false, "after the failed write")
			// The same event again, good this time, goes through, and
			// the store is healthy again.
			must(t, <-s.db.Commit(fullWrite(t, id, dev, seq)))
			wantAll(t, present(t, s.db, id, dev, seq), true, "after the retry")
			must(t, s.db.Healthy())
		})
	}
	s.restart()
	wantAll(t, present(t, s.db, "A-f0", "btn-f0", 3), true, "after restart")
}

func testEpochRefusal(t *testing.T, s *store) {
	bad := fullWrite(t, "A-1", "btn-1", 1)
	bad.DeviceState[hugeKey()] = []byte(`{}`)
	bad.Epoch = 5
	after := fullWrite(t, "A-2", "btn-2", 2)
	after.Epoch = 5
	other := fullWrite(t, "A-3", "btn-3", 3)
	other.Epoch = 0 // outside any epoch: never held back
	// Queued together, as the engine queues them.
	r1, r2, r3 := s.db.Commit(bad), s.db.Commit(after), s.db.Commit(other)
	if err := <-r1; err == nil {
		t.Fatal("the bad write committed")
	}
	if err := <-r2; !errors.Is(err, state.ErrAfterFailure) {
		t.Fatalf("a write of the failed write's epoch: %v, want ErrAfterFailure", err)
	}
	must(t, <-r3)
	wantAll(t, present(t, s.db, "A-2", "btn-2", 2), false, "write of the failed epoch")
	wantAll(t, present(t, s.db, "A-3", "btn-3", 3), true, "write outside the epoch")
	next := fullWrite(t, "A-2", "btn-2", 2)
	next.Epoch = 6
	must(t, <-s.db.Commit(next))
	wantAll(t, present(t, s.db, "A-2", "btn-2", 2), true, "the same write in the next epoch")
	if n := s.db.CommitFailures(); n < 2 {
		t.Errorf("CommitFailures %d, want at least 2", n)
	}
}

func testAlarmLifecycle(t *testing.T, s *store) {
	// Ids begin with the raise time, as the engine makes them.
	var ids []string
	for i := range 30 {
		raised := t0.Add(time.Duration(i) * time.Minute)
		id := fmt.Sprintf("A-%s-%02d", raised.Format("20060102T150405"), i)
		ids = append(ids, id)
		must(t, <-s.db.Commit(alerting.Write{Alarms: []*alerting.Alarm{alarm(id, fmt.Sprintf("btn-%d", i), raised, alerting.Raised)}}))
	}
	// Resolve every third.
	for i := 0; i < 30; i += 3 {
		a, err := s.db.Alarm(ids[i])
		must(t, err)
		a.State, a.Outcome, a.Closed, a.Version = alerting.Resolved, "assisted", a.Raised.Add(time.Minute), a.Version+1
		a.Timeline = append(a.Timeline, alerting.Entry{At: a.Closed, State: alerting.Resolved, Actor: "operator:op-1", Note: "到场处理"})
		must(t, <-s.db.Commit(alerting.Write{Alarms: []*alerting.Alarm{a}}))
	}
	check := func(when string) {
		open, err := s.db.OpenAlarms()
		must(t, err)
		if len(open) != 20 {
			t.Errorf("%s: %d open alarms, want 20", when, len(open))
		}
		for _, a := range open {
			if a.State != alerting.Raised {
				t.Errorf("%s: open alarm %s is %s", when, a.ID, a.State)
			}
		}
		a, err := s.db.Alarm(ids[3])
		must(t, err)
		if a.State != alerting.Resolved || len(a.Timeline) != 2 || a.Timeline[1].Note != "到场处理" {
			t.Errorf("%s: resolved alarm read back as %+v", when, a)
		}
		got, err := s.db.Alarms(t0.Add(10*time.Minute), t0.Add(20*time.Minute), 0)
		must(t, err)
		var gotIDs []string
		for _, a := range got {
			gotIDs = append(gotIDs, a.ID)
		}
		want := slices.Clone(ids[10:20])
		slices.Reverse(want)
		if !slices.Equal(gotIDs, want) {
			t.Errorf("%s: Alarms in [10m, 20m) = %v, want %v (newest first)", when, gotIDs, want)
		}
		got, err = s.db.Alarms(t0, t0.Add(time.Hour), 4)
		must(t, err)
		if len(got) != 4 || got[0].ID != ids[29] || got[3].ID != ids[26] {
			t.Errorf("%s: Alarms with limit 4 = %d alarms from %v", when, len(got), got)
		}
		if _, err := s.db.Alarm("A-none"); !errors.Is(err, alerting.ErrNotFound) {
			t.Errorf("%s: unknown alarm: %v, want ErrNotFound", when, err)
		}
	}
	check("before restart")
	s.restart()
	check("after restart")
}

func testIdempotencyKeys(t *testing.T, s *store) {
	keys := []alerting.Seen{
		{Device: "d-1", Seq: 1}, {Device: "d-1", Seq: 256}, {Device: "d-10", Seq: 1},
		{Device: "d-1\x00x", Seq: 1}, {Device: "烟感-3", Seq: math.MaxUint64}, {Device: "d-1", Seq: 0},
	}
	var w alerting.Write
	for i, k := range keys {
		k.Type, k.At, k.Alarm, k.TS = "call.press", t0, fmt.Sprintf("A-%d", i), 1732345678123
		w.Seen = append(w.Seen, k)
	}
	must(t, <-s.db.Commit(w))
	s.restart()
	for i, k := range keys {
		got, ok, err := s.db.Seen(k.Device, k.Seq)
		must(t, err)
		if !ok || got.Alarm != fmt.Sprintf("A-%d", i) || got.Device != k.Device || got.Seq != k.Seq || !got.At.Equal(t0) {
			t.Errorf("Seen(%q, %d) = %+v %v", k.Device, k.Seq, got, ok)
		}
	}
	for _, k := range []alerting.Seen{{Device: "d-1", Seq: 2}, {Device: "d-", Seq: 1}, {Device: "d-100", Seq: 1}, {Device: "", Seq: 1}} {
		if _, ok, err := s.db.Seen(k.Device, k.Seq); ok || err != nil {
			t.Errorf("Seen(%q, %d) = %v %v for a key never written", k.Device, k.Seq, ok, err)
		}
	}
}

func testPrune(t *testing.T, s *store) {
	const n = 2600 // more than one pruning transaction looks at
	var w alerting.Write
	for i := range n {
		at := t0.Add(-40 * 24 * time.Hour)
		if i%3 == 0 {
			at = t0.Add(-time.Hour)
		}
		w.Seen = append(w.Seen, alerting.Seen{Device: fmt.Sprintf("d-%03d", i%97), Seq: uint64(i), Type: "call.press", At: at})
		if i < 700 {
			w.Receipts = append(w.Receipts, alerting.Receipt{Source: "onenet", ID: fmt.Sprint("p-", i), Device: "d", At: at})
		}
	}
	must(t, <-s.db.Commit(w))
	pruned, err := s.db.PruneSeen(t0.Add(-30 * 24 * time.Hour))
	must(t, err)
	if want := n - (n+2)/3; pruned != want {
		t.Errorf("pruned %d keys, want %d", pruned, want)
	}
	for i := 0; i < n; i += 7 { // a sample of both kinds, all through the key range
		_, ok, err := s.db.Seen(fmt.Sprintf("d-%03d", i%97), uint64(i))
		must(t, err)
		if ok != (i%3 == 0) {
			t.Fatalf("key %d kept=%v after pruning", i, ok)
		}
	}
	pruned, err = s.db.PrunePushes(t0.Add(-30 * 24 * time.Hour))
	must(t, err)
	if want := 700 - (700+2)/3; pruned != want {
		t.Errorf("pruned %d push records, want %d", pruned, want)
	}
}

func testOutbox(t *testing.T, s *store) {
	a := alarm("A-1", "btn-1", t0, alerting.Raised)
	var keys []string
	for i := range 20 {
		n := alerting.Notification{Key: fmt.Sprintf("A-1/step/%02d/robot:qs", i), Channel: "robot:qs", Alarm: a, Step: i}
		keys = append(keys, n.Key)
		must(t, s.db.QueueNotification(n, t0))
	}
	s.restart()
	items, err := s.db.Outbox()
	must(t, err)
	var got []string
	for _, it := range items {
		got = append(got, it.N.Key)
		if it.N.Alarm == nil || it.N.Alarm.ID != "A-1" || !it.Queued.Equal(t0) {
			t.Errorf("outbox item %s read back as %+v", it.N.Key, it)
		}
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("outbox %v, want %v in key order", got, keys)
	}
	// Deliveries end many at a time.
	var wg sync.WaitGroup
	for _, k := range keys[:15] {
		wg.Go(func() {
			if err := s.db.ForgetNotification(k); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	must(t, s.db.ForgetNotification("never-queued"))
	items, err = s.db.Outbox()
	must(t, err)
	if len(items) != 5 || items[0].N.Key != keys[15] {
		t.Errorf("after forgetting 15 of 20: %d items", len(items))
	}
}

func testConcurrentCommits(t *testing.T, s *store) {
	const writers, each = 10, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("A-%02d-%02d", w, i)
				dev := fmt.Sprintf("btn-%02d", w)
				write := alerting.Write{Alarms: []*alerting.Alarm{alarm(id, dev, t0, alerting.Raised)},
					Seen: []alerting.Seen{{Device: dev, Seq: uint64(i), Alarm: id, At: t0}}}
				if err := <-s.db.Commit(write); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s.restart()
	open, err := s.db.OpenAlarms()
	must(t, err)
	if len(open) != writers*each {
		t.Fatalf("%d open alarms after %d concurrent commits", len(open), writers*each)
	}
	for w := range writers {
		for i := range each {
			if s, ok, err := s.db.Seen(fmt.Sprintf("btn-%02d", w), uint64(i)); !ok || err != nil || s.Alarm != fmt.Sprintf("A-%02d-%02d", w, i) {
				t.Fatalf("seen of writer %d event %d: %+v %v %v", w, i, s, ok, err)
			}
		}
	}
}
