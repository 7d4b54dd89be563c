package edge

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

// QueueStore is what the queue keeps on disk: the box's state file.
type QueueStore interface {
	PutEdgeQueued(n uint64, q state.EdgeQueued) error
	EdgeQueueHead(limit int) ([]state.EdgeEntry, error)
	EdgeQueueEach(fn func(state.EdgeEntry) bool) error
	EdgeQueueStats() (count int, last uint64, oldest time.Time, err error)
	RemoveEdgeQueued(n uint64) error
}

var _ QueueStore = (*state.DB)(nil)

// Queue is the box's outbound queue to central, on disk. An entry is
// numbered when it is reserved, written by the caller in the same
// transaction as the event it carries (state.EdgeQueueRecord), and counted
// once that write is durable (Added). The uplink sends entries in number
// order and removes one only when central has acknowledged it, so a
// device's events reach central in the order they were queued; an entry
// sent but not acknowledged before a reboot or a lost connection is sent
// again, and central's (device, seq) idempotency makes that a repeat.
//
// The queue holds at most max entries; beyond that new entries are not
// queued (counted as dropped, logged by the caller): the oldest are kept
// because they are the ones central has never seen.
type Queue struct {
	store QueueStore
	max   int

	mu      sync.Mutex
	next    uint64
	depth   int
	dropped uint64
	wake    chan struct{}
}

// NewQueue reads the queue's depth and last number from the store.
func NewQueue(store QueueStore, max int) (*Queue, error) {
	n, last, _, err := store.EdgeQueueStats()
	if err != nil {
		return nil, fmt.Errorf("edge queue: %w", err)
	}
	return &Queue{store: store, max: max, next: last + 1, depth: n, wake: make(chan struct{}, 1)}, nil
}

// Reserve numbers the next entry; ok is false when the queue is full.
func (q *Queue) Reserve() (n uint64, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.depth >= q.max {
		q.dropped++
		return 0, false
	}
	n = q.next
	q.next++
	return n, true
}

// Added counts a reserved entry whose write is durable and wakes the uplink.
func (q *Queue) Added() {
	q.mu.Lock()
	q.depth++
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Put queues m in a write of its own.
func (q *Queue) Put(m state.EdgeQueued) error {
	n, ok := q.Reserve()
	if !ok {
		return fmt.Errorf("edge queue is full (%d entries)", q.max)
	}
	if err := q.store.PutEdgeQueued(n, m); err != nil {
		return fmt.Errorf("edge queue: %w", err)
	}
	q.Added()
	return nil
}

// Head returns up to limit of the oldest entries.
func (q *Queue) Head(limit int) ([]state.EdgeEntry, error) { return q.store.EdgeQueueHead(limit) }

// Remove deletes entry n once central has acknowledged it.
func (q *Queue) Remove(n uint64) error {
	if err := q.store.RemoveEdgeQueued(n); err != nil {
		return err
	}
	q.mu.Lock()
	q.depth = max(q.depth-1, 0)
	q.mu.Unlock()
	return nil
}

// Depth is how many entries wait; Dropped, how many found the queue full.
func (q *Queue) Depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.depth
}

func (q *Queue) Dropped() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// Events returns the (device, seq) of every device event waiting in the
// queue.
func (q *Queue) Events() (map[EventKey]bool, error) {
	out := map[EventKey]bool{}
	err := q.store.EdgeQueueEach(func(e state.EdgeEntry) bool {
		device, ch, err := devices.ParseTopic(e.Topic)
		if err != nil || ch != devices.ChannelEvent {
			return true
		}
		var p struct {
			Seq uint64 `json:"seq"`
		}
		if json.Unmarshal(e.Payload, &p) == nil {
			out[EventKey{Device: device, Seq: p.Seq}] = true
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("edge queue: %w", err)
	}
	return out, nil
}

// EventKey is a device event's idempotency key.
type EventKey struct {
	Device string
	Seq    uint64
}

// Oldest is when the oldest waiting entry was queued; zero when none.
func (q *Queue) Oldest() time.Time {
	h, err := q.store.EdgeQueueHead(1)
	if err != nil || len(h) == 0 {
		return time.Time{}
	}
	return h[0].Queued
}
