package state

import (
	"encoding/json"
	"fmt"
)

// Tx is one read-write transaction of the state: a record and the audit
// entry describing its change are written together or not at all. It is
// valid only inside the function given to DB.Update.
type Tx struct{ w kvWriter }

// Update runs fn in one read-write transaction; an error from fn rolls it
// back. Transactions are serialised with each other and with the commit
// loop's (bbolt has one writer; on PostgreSQL, see postgres.go).
func (db *DB) Update(fn func(tx *Tx) error) error {
	return db.update(func(w kvWriter) error { return fn(&Tx{w}) })
}

// PutJSON stores v under key in b.
func (t *Tx) PutJSON(b Bucket, key string, v any) error { return putJSONkv(t.w, b, key, v) }

// GetJSON decodes the record under key in b into v; it reports whether
// there was one.
func (t *Tx) GetJSON(b Bucket, key string, v any) (bool, error) {
	raw, err := t.w.get(b, []byte(key))
	if raw == nil || err != nil {
		return false, err
	}
	return true, json.Unmarshal(raw, v)
}

// Delete removes key from b.
func (t *Tx) Delete(b Bucket, key string) error { return t.w.delete(b, []byte(key)) }

// Audit appends e to the audit trail.
func (t *Tx) Audit(e AuditEntry) error { return appendAudit(t.w, e) }

// getJSON and putJSON read and write one record of a small bucket.
func (db *DB) getJSON(b Bucket, key string, v any) (bool, error) {
	var found bool
	err := db.kv.view(func(r kvReader) error {
		raw, err := r.get(b, []byte(key))
		if raw == nil || err != nil {
			return err
		}
		found = true
		return json.Unmarshal(raw, v)
	})
	return found, err
}

func (db *DB) putJSON(b Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return db.update(func(w kvWriter) error { return w.put(b, []byte(key), raw) })
}

func (db *DB) deleteKey(b Bucket, key string) error {
	return db.update(func(w kvWriter) error { return w.delete(b, []byte(key)) })
}

// ForEach decodes every record of b into a fresh T, in key order.
func ForEach[T any](db *DB, b Bucket, fn func(key string, v *T) error) error {
	return db.kv.view(func(r kvReader) error {
		return forEachKV(r, b, func(k, raw []byte) error {
			v := new(T)
			if err := json.Unmarshal(raw, v); err != nil {
				return fmt.Errorf("%s %s: %w", b, k, err)
			}
			return fn(string(k), v)
		})
	})
}
