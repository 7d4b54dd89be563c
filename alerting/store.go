package alerting

import (
	"errors"
	"time"
)

// Store keeps alarms and idempotency keys durably. The engine is its only
// writer. Implementations group concurrent Commits into shared syncs.
type Store interface {
	// Commit queues a write and returns at once; the channel yields nil
	// once the write is durable (synced), or the error that prevented it.
	// Writes are applied in the order Commit was called. Once a write
	// fails, every later write of the same non-zero Epoch fails too,
	// unapplied: the engine built it on the failed one (txn.go).
	Commit(w Write) <-chan error
	// OpenAlarms returns every alarm that was open at the last commit.
	OpenAlarms() ([]*Alarm, error)
	// Alarm returns one alarm, open or closed, or ErrNotFound.
	Alarm(id string) (*Alarm, error)
	// Alarms returns closed and open alarms raised in [from, to), newest first, at most limit.
	Alarms(from, to time.Time, limit int) ([]*Alarm, error)
	// Seen returns the record of (device, seq), if that event was accepted before.
	Seen(device string, seq uint64) (Seen, bool, error)
}

// Write is one atomic change: alarm snapshots to store, events to remember,
// and the notifications that the change made due. The store keeps those
// notifications (an outbox) until the deliverer says they are done, so that
// a crash between the write and the delivery loses none of them.
type Write struct {
	Alarms        []*Alarm
	Seen          []Seen
	Notifications []Notification
	// DeviceState is the caller's own memory of devices, by device id,
	// stored in the same transaction (an adapter's decoding state, which
	// must advance exactly when the events it produced are durable). The
	// engine neither reads nor keeps it; the store replaces a device's
	// value with the one given.
	DeviceState map[string][]byte
	// Receipts are the caller's idempotency records of messages an outside
	// system delivered (an IoT platform's push ids), stored in the same
	// transaction as what the messages produced, so that a message is
	// durable exactly when its receipt is. The engine neither reads nor
	// keeps them.
	Receipts []Receipt
	// Outbound are entries of an edge box's queue to central (package
	// gateway/edge), stored in the same transaction as the event they
	// forward, so that a device's PUBACK means both are durable. The engine
	// neither reads nor keeps them.
	Outbound []Outbound
	// Epoch is set by the engine; a store fails a write whose epoch is
	// that of a write that failed before it.
	Epoch uint64
}

// Receipt records one message of an outside system made durable: a
// message whose (Source, ID) the store holds is a retry.
type Receipt struct {
	Source string    // who sent it: an HTTP ingest integration's name
	ID     string    // the sender's message id
	Device string    // the device it was about
	At     time.Time // when it was received
}

// Outbound is one entry of an edge box's queue to central: its place N in
// the queue and the entry as the box encoded it.
type Outbound struct {
	N     uint64
	Entry []byte
}

// With is what a caller stores in the same write as an event
// (HandleEventWith): its device state, its receipts, its queue entries.
type With struct {
	DeviceState map[string][]byte
	Receipts    []Receipt
	Outbound    []Outbound
}

func (w With) empty() bool {
	return len(w.DeviceState) == 0 && len(w.Receipts) == 0 && len(w.Outbound) == 0
}

// Seen records an accepted device event, the idempotency key (Device, Seq).
type Seen struct {
	Device string    `json:"device"`
	Seq    uint64    `json:"seq"`
	Type   string    `json:"type"`
	TS     int64     `json:"ts,omitempty"` // the device's timestamp in ms, 0 if absent
	Alarm  string    `json:"alarm,omitempty"`
	At     time.Time `json:"at"`
}

// Errors returned by the engine.
var (
	ErrNotFound     = errors.New("alarm not found")
	ErrTransition   = errors.New("alarm cannot move to that state")
	ErrOutcome      = errors.New("resolution needs a known outcome")
	ErrEmptyNote    = errors.New("note is empty")
	ErrStoreFailure = errors.New("alarm store failed")
	ErrOptions      = errors.New("engine options conflict")
)
