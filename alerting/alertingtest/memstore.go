// Package alertingtest holds helpers for testing code that uses alerting: an
// in-memory Store that behaves like the durable one, including its ordering;
// a fake clock; the Qingshan site tree with its operators (sites.go); and a
// recording Notifier that keeps every notification it was handed.
package alertingtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// MemStore is an alerting.Store in memory. Alarms are stored as JSON, as the
// real store does, so that a test "restart" (a new Engine on the same
// MemStore) sees only what was committed. Safe for concurrent use.
type MemStore struct {
	mu     sync.Mutex
	alarms map[string][]byte
	seen   map[string]alerting.Seen
	state  map[string][]byte
	recv   map[string]alerting.Receipt // source \x00 id
	// Fail, when set, makes Commit fail with it.
	Fail error
	// Commits counts successful commits.
	Commits int
	// failed is the epoch of the last write that failed, as the durable
	// store keeps it: later writes of that epoch fail too.
	failed uint64
}

var _ alerting.Store = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{alarms: map[string][]byte{}, seen: map[string]alerting.Seen{}, state: map[string][]byte{},
		recv: map[string]alerting.Receipt{}}
}

func seenKey(device string, seq uint64) string { return fmt.Sprintf("%s\x00%d", device, seq) }

// Commit applies w at once.
func (m *MemStore) Commit(w alerting.Write) <-chan error {
	ch := make(chan error, 1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		if w.Epoch != 0 {
			m.failed = w.Epoch
		}
		ch <- m.Fail
		return ch
	}
	if w.Epoch != 0 && w.Epoch == m.failed {
		ch <- fmt.Errorf("epoch %d: an earlier write failed", w.Epoch)
		return ch
	}
	for _, a := range w.Alarms {
		b, err := json.Marshal(a)
		if err != nil {
			ch <- err
			return ch
		}
		m.alarms[a.ID] = b
	}
	for _, s := range w.Seen {
		m.seen[seenKey(s.Device, s.Seq)] = s
	}
	for d, b := range w.DeviceState {
		m.state[d] = slices.Clone(b)
	}
	for _, r := range w.Receipts {
		m.recv[r.Source+"\x00"+r.ID] = r
	}
	m.Commits++
	ch <- nil
	return ch
}

// DeviceState returns what the last committed Write.DeviceState held for device.
func (m *MemStore) DeviceState(device string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state[device]
}

// HasReceipt reports whether a committed write held the receipt of
// source's message id.
func (m *MemStore) HasReceipt(source, id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.recv[source+"\x00"+id]
	return ok
}

func (m *MemStore) decode(b []byte) *alerting.Alarm {
	var a alerting.Alarm
	if err := json.Unmarshal(b, &a); err != nil {
		panic(err)
	}
	return &a
}

// OpenAlarms returns the open alarms.
func (m *MemStore) OpenAlarms() ([]*alerting.Alarm, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*alerting.Alarm
	for _, b := range m.alarms {
		if a := m.decode(b); a.State.Open() {
			out = append(out, a)
		}
	}
	return out, nil
}

// Alarm returns one alarm.
func (m *MemStore) Alarm(id string) (*alerting.Alarm, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.alarms[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", alerting.ErrNotFound, id)
	}
	return m.decode(b), nil
}

// Alarms returns alarms raised in [from, to), newest first.
func (m *MemStore) Alarms(from, to time.Time, limit int) ([]*alerting.Alarm, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*alerting.Alarm
	for _, b := range m.alarms {
		a := m.decode(b)
		if !a.Raised.Before(from) && a.Raised.Before(to) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *alerting.Alarm) int { return b.Raised.Compare(a.Raised) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Seen looks up an idempotency key.
func (m *MemStore) Seen(device string, seq uint64) (alerting.Seen, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.seen[seenKey(device, seq)]
	return s, ok, nil
}

// Clock is a fake clock that moves only when told. Besides its wall time
// (Now) it keeps a monotonic reading (Elapsed) that Advance moves and Jump
// does not, as NTP putting a clock right does.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	elapsed time.Duration
}

// Elapsed is how far Advance has moved the clock since it was made.
func (c *Clock) Elapsed() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.elapsed
}

// Jump moves the wall clock by d, forward or back, without time passing.
func (c *Clock) Jump(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.elapsed += d
	return c.now
}
