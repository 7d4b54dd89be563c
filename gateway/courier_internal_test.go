package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/state"
)

// The courier built from its parts: a pipeline that records what it is
// handed, and the real outbox of a state file (or one in memory where the
// test runs in a synctest bubble).

// recordingPipe is a deliverer that records each notification and, when
// told, looks at the world while it is delivering or waits to be cancelled.
type recordingPipe struct {
	// during runs inside Deliver, before it returns.
	during func(n alerting.Notification)
	// block makes Deliver wait until its context is done.
	block bool

	mu   sync.Mutex
	got  []string      // keys, in the order delivered
	busy chan struct{} // gets a value as each delivery starts
}

func newRecordingPipe() *recordingPipe { return &recordingPipe{busy: make(chan struct{}, 16)} }

func (p *recordingPipe) Deliver(ctx context.Context, ns ...alerting.Notification) error {
	for _, n := range ns {
		if p.during != nil {
			p.during(n)
		}
		p.mu.Lock()
		p.got = append(p.got, n.Key)
		p.mu.Unlock()
		p.busy <- struct{}{}
		if p.block {
			<-ctx.Done()
			return ctx.Err()
		}
	}
	return nil
}

func (p *recordingPipe) keys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.got)
}

// waitBusy waits for n deliveries to have started.
func (p *recordingPipe) waitBusy(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-p.busy:
		case <-time.After(5 * time.Second):
			t.Fatalf("delivery did not start; delivered so far: %v", p.keys())
		}
	}
}

// memOutbox is an outbox in memory.
type memOutbox struct {
	mu    sync.Mutex
	items map[string]state.OutboxItem
}

func (m *memOutbox) put(ns ...alerting.Notification) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = map[string]state.OutboxItem{}
	}
	for _, n := range ns {
		m.items[n.Key] = state.OutboxItem{N: n}
	}
}

func (m *memOutbox) Outbox() ([]state.OutboxItem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []state.OutboxItem
	for _, it := range m.items {
		out = append(out, it)
	}
	return out, nil
}

func (m *memOutbox) ForgetNotification(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, key)
	return nil
}

func (m *memOutbox) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.items {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// testLog is a logger whose lines a test can read.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newTestLog() (*testLog, *slog.Logger) {
	l := &testLog{}
	return l, slog.New(slog.NewTextHandler(l, nil))
}

var courierT0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// stepOf is a notification of alarm a's first step on channel.
func stepOf(a *alerting.Alarm, channel string, kind alerting.NoteKind) alerting.Notification {
	return alerting.Notification{Key: a.ID + "/" + string(kind) + "/1/" + channel, Channel: channel, Kind: kind,
		Step: 1, At: a.Raised, Alarm: a, Site: a.Site}
}

func alarmOf(id, typ string, s alerting.State) *alerting.Alarm {
	return &alerting.Alarm{ID: id, Device: "dev-" + id, Type: typ, Priority: alerting.P1, State: s,
		Site: "home-12-bedroom", Raised: courierT0}
}

// queue writes alarms and their notifications to db as the engine does: in
// one write, which puts the notifications in the outbox.
func queue(t *testing.T, db *state.DB, as []*alerting.Alarm, ns ...alerting.Notification) {
	t.Helper()
	if err := <-db.Commit(alerting.Write{Alarms: as, Notifications: ns}); err != nil {
		t.Fatal(err)
	}
}

func outboxKeys(t *testing.T, db *state.DB) []string {
	t.Helper()
	items, err := db.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.N.Key)
	}
	slices.Sort(out)
	return out
}

func openState(t *testing.T, dir string) *state.DB {
	t.Helper()
	db, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestCourierOutboxAroundDelivery: a notification is in the outbox while
// the pipeline delivers it, and out of it once delivered.
func TestCourierOutboxAroundDelivery(t *testing.T) {
	db := openState(t, t.TempDir())
	defer db.Close()
	a := alarmOf("A-1", alerting.TypeSmoke, alerting.Raised)
	n := stepOf(a, "webhook:county", alerting.NoteStep)
	queue(t, db, []*alerting.Alarm{a}, n)

	pipe := newRecordingPipe()
	var during []string
	pipe.during = func(alerting.Notification) { during = outboxKeys(t, db) }
	_, log := newTestLog()
	c := newCourier(pipe, db, nil, log)
	c.deliver([]alerting.Notification{n})
	pipe.waitBusy(t, 1)
	c.close() // waits for the delivery's goroutine, which forgets it

	if !slices.Equal(during, []string{n.Key}) {
		t.Errorf("outbox during delivery: %v, want [%s]", during, n.Key)
	}
	if got := outboxKeys(t, db); len(got) != 0 {
		t.Errorf("outbox after delivery: %v, want empty", got)
	}
	if got := pipe.keys(); !slices.Equal(got, []string{n.Key}) {
		t.Errorf("delivered %v, want [%s]", got, n.Key)
	}
}

// TestCourierReplayAfterRestart: after a restart, replay sends once what
// the outbox still holds and its alarm still wants, drops the rest, and
// leaves nothing for the next start.
func TestCourierReplayAfterRestart(t *testing.T) {
	dir := t.TempDir()
	db := openState(t, dir)
	sent := alarmOf("A-1", alerting.TypeSmoke, alerting.Raised)       // delivered before the restart
	pending := alarmOf("A-2", alerting.TypeSOS, alerting.Raised)      // still due after it
	acked := alarmOf("A-3", alerting.TypeFall, alerting.Raised)       // acknowledged meanwhile
	reminded := alarmOf("A-4", alerting.TypeFall, alerting.Raised)    // a reminder, still acknowledged
	resolved := alarmOf("A-5", alerting.TypeOffline, alerting.Raised) // resolved meanwhile
	nSent := stepOf(sent, "webhook:county", alerting.NoteStep)
	nPending := stepOf(pending, "webhook:county", alerting.NoteStep)
	nAcked := stepOf(acked, "robot:qingshan", alerting.NoteStep)
	nReminded := stepOf(reminded, "robot:qingshan", alerting.NoteReminder)
	nResolved := stepOf(resolved, "webhook:county", alerting.NoteStep)
	queue(t, db, []*alerting.Alarm{sent, pending, acked, reminded, resolved},
		nSent, nPending, nAcked, nReminded, nResolved)

	// Before the "crash", one notification is delivered; the others were
	// never handed over and stay in the outbox.
	before := newRecordingPipe()
	_, log := newTestLog()
	c := newCourier(before, db, nil, log)
	c.deliver([]alerting.Notification{nSent})
	before.waitBusy(t, 1)
	c.close()
	db.Close()

	db = openState(t, dir)
	defer db.Close()
	now := map[string]alerting.State{"A-1": alerting.Raised, "A-2": alerting.Raised, "A-3": alerting.Acknowledged,
		"A-4": alerting.Acknowledged, "A-5": alerting.Resolved}
	get := func(id string) (*alerting.Alarm, error) {
		s, ok := now[id]
		if !ok {
			return nil, alerting.ErrNotFound
		}
		a := alarmOf(id, "", s)
		return a, nil
	}
	after := newRecordingPipe()
	c = newCourier(after, db, nil, log)
	c.replay(get)
	after.waitBusy(t, 2)
	c.close()

	got := after.keys()
	slices.Sort(got)
	want := []string{nPending.Key, nReminded.Key}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("replayed %v, want %v", got, want)
	}
	if left := outboxKeys(t, db); len(left) != 0 {
		t.Errorf("outbox after replay: %v, want empty", left)
	}

	// The next start finds nothing left to send.
	again := newRecordingPipe()
	c = newCourier(again, db, nil, log)
	c.replay(get)
	c.close() // waits for any delivery replay started
	if got := again.keys(); len(got) != 0 {
		t.Errorf("a second replay sent %v", got)
	}
}

// TestCourierClosed: a courier that is closed drops what it is handed with
// a log line and sends nothing; the notification stays in the outbox for
// the next start, as does one whose delivery the close cut short.
func TestCourierClosed(t *testing.T) {
	db := openState(t, t.TempDir())
	defer db.Close()
	a := alarmOf("A-1", alerting.TypeSOS, alerting.Raised)
	b := alarmOf("A-2", alerting.TypeSOS, alerting.Raised)
	inFlight := stepOf(a, "webhook:county", alerting.NoteStep)
	late := stepOf(b, "webhook:county", alerting.NoteStep)
	queue(t, db, []*alerting.Alarm{a, b}, inFlight, late)

	pipe := newRecordingPipe()
	pipe.block = true
	logs, log := newTestLog()
	c := newCourier(pipe, db, nil, log)
	c.deliver([]alerting.Notification{inFlight})
	pipe.waitBusy(t, 1)
	c.close() // cancels the delivery in flight and waits for it

	c.deliver([]alerting.Notification{late}) // returns without starting anything: the courier is closed
	if got := pipe.keys(); !slices.Equal(got, []string{inFlight.Key}) {
		t.Errorf("delivered %v, want only [%s]", got, inFlight.Key)
	}
	if line := logs.String(); !strings.Contains(line, "notifications not sent: the gateway is stopping") ||
		!strings.Contains(line, "count=1") {
		t.Errorf("log: %q, want the dropped notification's line", line)
	}
	want := []string{inFlight.Key, late.Key}
	slices.Sort(want)
	if got := outboxKeys(t, db); !slices.Equal(got, want) {
		t.Errorf("outbox after close: %v, want %v", got, want)
	}
}

// TestCourierHoldsOfflineNotifications: an offline alarm's notification
// waits the offline hold before it is delivered, others go at once, and a
// close during the hold leaves it in the outbox.
func TestCourierHoldsOfflineNotifications(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		off := stepOf(alarmOf("A-1", alerting.TypeOffline, alerting.Raised), "webhook:county", alerting.NoteStep)
		sos := stepOf(alarmOf("A-2", alerting.TypeSOS, alerting.Raised), "webhook:county", alerting.NoteStep)
		box := &memOutbox{}
		box.put(off, sos)
		pipe := newRecordingPipe()
		_, log := newTestLog()
		c := newCourier(pipe, box, offlineHold(time.Minute), log)

		c.deliver([]alerting.Notification{off, sos})
		synctest.Wait()
		if got := pipe.keys(); !slices.Equal(got, []string{sos.Key}) {
			t.Fatalf("delivered at once: %v, want [%s]", got, sos.Key)
		}
		time.Sleep(time.Minute - time.Millisecond)
		synctest.Wait()
		if got := pipe.keys(); len(got) != 1 {
			t.Fatalf("delivered before the hold ended: %v", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := pipe.keys(); !slices.Equal(got, []string{sos.Key, off.Key}) {
			t.Fatalf("delivered after the hold: %v, want [%s %s]", got, sos.Key, off.Key)
		}
		if got := box.keys(); len(got) != 0 {
			t.Errorf("outbox after delivery: %v", got)
		}

		held := stepOf(alarmOf("A-3", alerting.TypeOffline, alerting.Raised), "webhook:county", alerting.NoteStep)
		box.put(held)
		c.deliver([]alerting.Notification{held})
		synctest.Wait()
		c.close()
		if got := pipe.keys(); slices.Contains(got, held.Key) {
			t.Errorf("a held notification was delivered after close: %v", got)
		}
		if got := box.keys(); !slices.Equal(got, []string{held.Key}) {
			t.Errorf("outbox after a close during the hold: %v, want [%s]", got, held.Key)
		}
	})
}
