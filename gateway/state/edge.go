package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// An edge box's uplink queue (package edge) lives in the box's own state
// file: bucket edge_outbound maps an entry number, 8 bytes big endian, to
// the message to publish to central. Numbers only grow, so key order is the
// order entries were queued in. An event's entry is written in the same
// transaction as the event (EdgeQueueRecord in alerting.Write.DeviceState),
// so a device's PUBACK means both are on disk.

// EdgeQueued is one message waiting for central's PUBACK.
type EdgeQueued struct {
	Topic   string    `json:"topic"`
	Payload []byte    `json:"payload"`
	Device  string    `json:"device"` // whose message it is, for the log
	Queued  time.Time `json:"queued"` // the box's wall clock when queued
}

// EdgeEntry is a queued message with its number.
type EdgeEntry struct {
	N uint64
	EdgeQueued
}

func edgeKey(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// EdgeQueueRecord encodes entry n for alerting.Write.Outbound: the commit
// loop stores it in edge_outbound in the same transaction as the event.
func EdgeQueueRecord(n uint64, q EdgeQueued) (alerting.Outbound, error) {
	b, err := json.Marshal(q)
	if err != nil {
		return alerting.Outbound{}, fmt.Errorf("edge queue entry %d: %w", n, err)
	}
	return alerting.Outbound{N: n, Entry: b}, nil
}

// PutEdgeQueued stores entry n in a transaction of its own.
func (db *DB) PutEdgeQueued(n uint64, q EdgeQueued) error {
	b, err := json.Marshal(q)
	if err != nil {
		return fmt.Errorf("edge queue entry %d: %w", n, err)
	}
	return db.update(func(tx kvWriter) error { return tx.put(bucketEdgeQueue, edgeKey(n), b) })
}

// EdgeQueueHead returns up to limit entries from the oldest on.
func (db *DB) EdgeQueueHead(limit int) ([]EdgeEntry, error) {
	var out []EdgeEntry
	err := db.kv.view(func(tx kvReader) error {
		return tx.scan(bucketEdgeQueue, nil, nil, false, func(k, v []byte) error {
			if len(out) >= limit {
				return errStop
			}
			if len(k) != 8 {
				return fmt.Errorf("edge queue: key %x is not an entry number", k)
			}
			e := EdgeEntry{N: binary.BigEndian.Uint64(k)}
			if err := json.Unmarshal(v, &e.EdgeQueued); err != nil {
				return fmt.Errorf("edge queue entry %d: %w", e.N, err)
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// EdgeQueueEach calls fn with every entry, oldest first, until fn returns
// false; a malformed entry is an error naming it.
func (db *DB) EdgeQueueEach(fn func(EdgeEntry) bool) error {
	err := db.kv.view(func(tx kvReader) error {
		return tx.scan(bucketEdgeQueue, nil, nil, false, func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("edge queue: key %x is not an entry number", k)
			}
			e := EdgeEntry{N: binary.BigEndian.Uint64(k)}
			if err := json.Unmarshal(v, &e.EdgeQueued); err != nil {
				return fmt.Errorf("edge queue entry %d: %w", e.N, err)
			}
			if !fn(e) {
				return errStop
			}
			return nil
		})
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// EdgeQueueStats returns how many entries the queue holds, the highest
// entry number (0 when empty) and when the oldest was queued.
func (db *DB) EdgeQueueStats() (count int, last uint64, oldest time.Time, err error) {
	err = db.kv.view(func(tx kvReader) error {
		var err error
		if count, err = tx.count(bucketEdgeQueue); err != nil {
			return err
		}
		err = tx.scan(bucketEdgeQueue, nil, nil, false, func(_, v []byte) error {
			var q EdgeQueued
			if err := json.Unmarshal(v, &q); err == nil {
				oldest = q.Queued
			}
			return errStop
		})
		if err != nil {
			return err
		}
		return tx.scan(bucketEdgeQueue, nil, nil, true, func(k, _ []byte) error {
			if len(k) == 8 {
				last = binary.BigEndian.Uint64(k)
			}
			return errStop
		})
	})
	return count, last, oldest, err
}

// RemoveEdgeQueued deletes entry n once central has it.
func (db *DB) RemoveEdgeQueued(n uint64) error {
	return db.update(func(tx kvWriter) error { return tx.delete(bucketEdgeQueue, edgeKey(n)) })
}

// NextEdgeSeq advances and returns device's seq, durable before it returns:
// the box's own button device numbers its events across reboots.
func (db *DB) NextEdgeSeq(device string) (uint64, error) {
	var seq uint64
	err := db.update(func(tx kvWriter) error {
		v, err := tx.get(bucketEdgeSeq, []byte(device))
		if err != nil {
			return err
		}
		if v != nil {
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return fmt.Errorf("edge seq of %s: %q: %w", device, v, err)
			}
			seq = n
		}
		seq++
		return tx.put(bucketEdgeSeq, []byte(device), []byte(strconv.FormatUint(seq, 10)))
	})
	return seq, err
}
