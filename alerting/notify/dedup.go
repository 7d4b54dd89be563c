package notify

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// DefaultDedupTTL is how long a MemLog remembers a delivered key: longer
// than any alarm stays open unattended.
const DefaultDedupTTL = 48 * time.Hour

// DeliveredLog remembers which notification keys were delivered. The
// gateway may back it with its durable store so that a notification
// delivered before a restart is not delivered again after it.
type DeliveredLog interface {
	Delivered(key string) (bool, error)
	MarkDelivered(key string, at time.Time) error
}

// Dedup is the stage that lets each notification key through once: a key
// already delivered, or in flight on another goroutine, stops with
// ErrDuplicate. A key whose delivery failed is released, so that the
// caller may hand it over again later. When the log cannot be read, Dedup
// delivers anyway: a duplicate beats a missed emergency.
type Dedup struct {
	Log  DeliveredLog
	Next Stage
	Now  func() time.Time

	mu       sync.Mutex
	inflight map[string]bool
}

// Exec delivers n through Next unless its key was delivered or is in flight.
func (d *Dedup) Exec(ctx context.Context, n alerting.Notification) error {
	d.mu.Lock()
	if d.inflight == nil {
		d.inflight = map[string]bool{}
	}
	if d.inflight[n.Key] {
		d.mu.Unlock()
		return fmt.Errorf("%s: %w", n.Key, ErrDuplicate)
	}
	if done, err := d.Log.Delivered(n.Key); err == nil && done {
		d.mu.Unlock()
		return fmt.Errorf("%s: %w", n.Key, ErrDuplicate)
	}
	d.inflight[n.Key] = true
	d.mu.Unlock()

	err := d.Next.Exec(ctx, n)

	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.inflight, n.Key)
	if err != nil {
		return err
	}
	if err := d.Log.MarkDelivered(n.Key, d.Now()); err != nil {
		return fmt.Errorf("%s delivered, but not remembered: %w", n.Key, err)
	}
	return nil
}

// MemLog is a DeliveredLog in memory that forgets keys after a while.
// Safe for concurrent use.
type MemLog struct {
	ttl  time.Duration
	mu   sync.Mutex
	keys map[string]time.Time
	last time.Time // of the last sweep
}

// NewMemLog returns a log that remembers keys for ttl.
func NewMemLog(ttl time.Duration) *MemLog {
	return &MemLog{ttl: ttl, keys: map[string]time.Time{}}
}

// Delivered reports whether key was marked delivered within the ttl.
func (m *MemLog) Delivered(key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.keys[key]
	return ok, nil
}

// MarkDelivered remembers key, and forgets keys older than the ttl.
func (m *MemLog) MarkDelivered(key string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[key] = at
	if at.Sub(m.last) > m.ttl/4 {
		for k, t := range m.keys {
			if at.Sub(t) > m.ttl {
				delete(m.keys, k)
			}
		}
		m.last = at
	}
	return nil
}
