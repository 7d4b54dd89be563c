package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The seam between DB and where it keeps its records (bbolt or
// PostgreSQL). Everything DB knows — the commit loop and its epochs, the
// outbox written with the change that causes it, users and their
// sessions, the audit trail written with its change, the records of the
// device path — is written once, over these few operations on buckets of
// keys and values. A backend only stores bytes under (bucket, key) in
// transactions; it never interprets a record. So both backends behave alike
// by construction, and the conformance suite (statetest) checks the part
// they do not share: that a transaction is whole or absent, that keys sort
// as bytes, that a scan sees the transaction's own writes.
//
// Keys sort as unsigned bytes (bbolt's order, and PostgreSQL's for bytea).

// kvReader reads one transaction's view of the buckets.
type kvReader interface {
	// get returns the value of key in b, nil when there is none. The
	// slice is valid only until the transaction ends.
	get(b Bucket, key []byte) ([]byte, error)
	// scan calls fn with the records of b whose key is in [from, to) (nil
	// leaves that end open), in key order or, with reverse, from the
	// highest down; fn returns errStop to end the scan early (scan then
	// returns nil). fn may read
	// (get, scan) in the same transaction; it must not write.
	scan(b Bucket, from, to []byte, reverse bool, fn func(k, v []byte) error) error
	// count returns how many records b holds.
	count(b Bucket) (int, error)
}

// kvWriter is one read-write transaction: all of its writes are applied
// together at commit or not at all, and its reads see its own writes.
type kvWriter interface {
	kvReader
	put(b Bucket, key, value []byte) error
	delete(b Bucket, key []byte) error
	// nextSequence returns the next number of b's own counter (1, 2, …);
	// it is rolled back with the transaction.
	nextSequence(b Bucket) (uint64, error)
}

// backend is where the records live.
type backend interface {
	// view runs fn in a read-only transaction.
	view(fn func(r kvReader) error) error
	// update runs fn in a read-write transaction, committed (and durable)
	// when update returns nil; an error from fn rolls it back. Write
	// transactions are serialised with each other.
	update(fn func(w kvWriter) error) error
	// batch is update for small writes that many goroutines make at once
	// (outbox deletes): a backend may run several in one transaction.
	batch(fn func(w kvWriter) error) error
	// check says why the backend cannot take writes now, as far as it can
	// tell without writing (a full disk, a lost connection).
	check() error
	// backup writes a consistent snapshot to w.
	backup(w io.Writer) (int64, error)
	close() error
}

// errStop ends a scan early without an error.
var errStop = errors.New("stop scan")

// ErrNotSupported is returned for what one backend cannot do (a backup of
// a PostgreSQL state is pg_dump's work, not anxin's).
var ErrNotSupported = errors.New("not supported by this state backend")

// getJSONkv decodes the record of key in b into v; it reports whether there was one.
func getJSONkv(r kvReader, b Bucket, key string, v any) (bool, error) {
	raw, err := r.get(b, []byte(key))
	if err != nil || raw == nil {
		return false, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("%s %s: %w", b, key, err)
	}
	return true, nil
}

// putJSONkv stores v under key in b.
func putJSONkv(w kvWriter, b Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s %s: %w", b, key, err)
	}
	return w.put(b, []byte(key), raw)
}

// forEachKV calls fn with every record of b in key order.
func forEachKV(r kvReader, b Bucket, fn func(k, v []byte) error) error {
	return r.scan(b, nil, nil, false, fn)
}
