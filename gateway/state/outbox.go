package state

import (
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// The notification outbox. The engine's write that records a fired step
// puts the step's notifications here in the same transaction (applyWrite,
// store.go); the gateway's courier takes each out with ForgetNotification
// once it is delivered or given up, and at start replays what Outbox still
// holds.

// OutboxItem is a notification on its way.
type OutboxItem struct {
	N      alerting.Notification `json:"notification"`
	Queued time.Time             `json:"queued"`
}

// Outbox returns the notifications not yet delivered or given up, in key order.
func (db *DB) Outbox() ([]OutboxItem, error) {
	var items []OutboxItem
	err := ForEach(db, bucketOutbox, func(_ string, it *OutboxItem) error {
		items = append(items, *it)
		return nil
	})
	return items, err
}

// QueueNotification puts n in the outbox, for a notification that no
// engine write carries (the Alertmanager's, which follow an alarm's
// changes rather than its escalation). It returns once n is durable.
func (db *DB) QueueNotification(n alerting.Notification, queued time.Time) error {
	err := db.kv.batch(func(tx kvWriter) error {
		return putJSONkv(tx, bucketOutbox, n.Key, OutboxItem{N: n, Queued: queued})
	})
	if err == nil {
		db.syncs.Add(1)
	}
	return err
}

// ForgetNotification takes the notification of key out of the outbox.
// Deliveries end many at a time, so their deletes may share a transaction
// (bbolt's Batch).
func (db *DB) ForgetNotification(key string) error {
	err := db.kv.batch(func(tx kvWriter) error { return tx.delete(bucketOutbox, []byte(key)) })
	if err == nil {
		db.syncs.Add(1)
	}
	return err
}
