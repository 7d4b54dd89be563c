package state

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Tx is one read-write transaction of the state file: a record and the
// audit entry describing its change are written together or not at all.
// It is valid only inside the function given to DB.Update.
type Tx struct{ tx *bolt.Tx }

// Update runs fn in one read-write transaction; an error from fn rolls it
// back. Transactions are serialised with each other and with the commit
// loop's (bbolt has one writer).
func (db *DB) Update(fn func(tx *Tx) error) error {
	return db.update(func(tx *bolt.Tx) error { return fn(&Tx{tx}) })
}

// PutJSON stores v under key in b.
func (t *Tx) PutJSON(b Bucket, key string, v any) error { return putJSONTx(t.tx, b, key, v) }

// GetJSON decodes the record under key in b into v; it reports whether
// there was one.
func (t *Tx) GetJSON(b Bucket, key string, v any) (bool, error) {
	raw := bucket(t.tx, b).Get([]byte(key))
	if raw == nil {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

// Delete removes key from b.
func (t *Tx) Delete(b Bucket, key string) error { return bucket(t.tx, b).Delete([]byte(key)) }

// Audit appends e to the audit trail.
func (t *Tx) Audit(e AuditEntry) error { return appendAudit(t.tx, e) }

func putJSONTx(tx *bolt.Tx, b Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s %s: %w", b, key, err)
	}
	return bucket(tx, b).Put([]byte(key), raw)
}

// getJSON and putJSON read and write one record of a small bucket.
func (db *DB) getJSON(b Bucket, key string, v any) (bool, error) {
	var found bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		found, err = (&Tx{tx}).GetJSON(b, key, v)
		return err
	})
	return found, err
}

func (db *DB) putJSON(b Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return db.update(func(tx *bolt.Tx) error { return bucket(tx, b).Put([]byte(key), raw) })
}

func (db *DB) deleteKey(b Bucket, key string) error {
	return db.update(func(tx *bolt.Tx) error { return bucket(tx, b).Delete([]byte(key)) })
}

// ForEach decodes every record of b into a fresh T, in key order.
func ForEach[T any](db *DB, b Bucket, fn func(key string, v *T) error) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		return bucket(tx, b).ForEach(func(k, raw []byte) error {
			v := new(T)
			if err := json.Unmarshal(raw, v); err != nil {
				return fmt.Errorf("%s %s: %w", b, k, err)
			}
			return fn(string(k), v)
		})
	})
}
