package state

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// The audit trail: every change to the registry (devices, sites, residents)
// and to users is one AuditEntry saying who did what to which object, when,
// with the object's JSON before and after. An entry is written in the same
// transaction as the change it describes, so there is never a change
// without its entry, nor an entry for a change that did not happen.
//
// Keys are the entry's time (UnixNano, 8 bytes big endian) followed by the
// bucket's sequence (8 bytes, kvWriter.nextSequence), so that a cursor walks entries in time order
// and two entries in one nanosecond stay distinct and ordered. A second
// bucket indexes entries by object ("device:btn-1" \x00 key), so that the
// history of one object is a prefix scan, not a walk of the whole trail.
//
// Secrets never reach the trail: a device is recorded without its password
// hash, a user without theirs.

// AuditEntry is one change.
type AuditEntry struct {
	ID     string          `json:"id"` // hex of the key: time then sequence; pass as ?before= to page
	At     time.Time       `json:"at"`
	Who    string          `json:"who"`    // a user name, or "device:ID" for what a device reported
	Action string          `json:"action"` // e.g. device.add, device.patch, site.remove, device.replace
	Object string          `json:"object"` // kind:id, e.g. device:btn-1, site:qs-village, resident:r-1
	Note   string          `json:"note,omitempty"`
	Before json.RawMessage `json:"before,omitempty"` // absent for an add
	After  json.RawMessage `json:"after,omitempty"`  // absent for a removal
}

// Audit actions.
const (
	ActionAdd      = "add"
	ActionPatch    = "patch"
	ActionRemove   = "remove"
	ActionReplace  = "replace"  // on the new device: it took over an installation
	ActionReplaced = "replaced" // on the old device: retired, its installation moved on
	ActionTest     = "test"     // walk-test mode switched
	ActionImport   = "import"   // added by a CSV import
	ActionFirmware = "firmware" // the device reported new firmware
	ActionInstall  = "install"  // the device left commissioning: first heard, or marked installed
	ActionBackup   = "backup"   // a snapshot of the state was taken
)

// MaxAuditLimit bounds one page of the trail.
const MaxAuditLimit = 1000

// NewAuditEntry builds an entry; before and after are marshalled now (nil
// stays absent).
func NewAuditEntry(at time.Time, who, action, object string, before, after any) AuditEntry {
	e := AuditEntry{At: at.UTC(), Who: who, Action: action, Object: object}
	if before != nil {
		e.Before, _ = json.Marshal(before)
	}
	if after != nil {
		e.After, _ = json.Marshal(after)
	}
	return e
}

// appendAudit writes e (and its index entry) in tx.
func appendAudit(tx kvWriter, e AuditEntry) error {
	seq, err := tx.nextSequence(bucketAudit)
	if err != nil {
		return err
	}
	key := binary.BigEndian.AppendUint64(nil, uint64(e.At.UnixNano()))
	key = binary.BigEndian.AppendUint64(key, seq)
	e.ID = hex.EncodeToString(key)
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Object, err)
	}
	if err := tx.put(bucketAudit, key, v); err != nil {
		return err
	}
	return tx.put(bucketAuditBy, auditIndexKey(e.Object, key), nil)
}

func auditIndexKey(object string, key []byte) []byte {
	k := make([]byte, 0, len(object)+1+len(key))
	k = append(append(append(k, object...), 0), key...)
	return k
}

// AuditQuery selects entries of the trail, newest first.
type AuditQuery struct {
	Object string // "" for every object
	Before string // an entry ID: only entries older than it
	Limit  int    // 1..MaxAuditLimit; 0 means 100
}

// Audit returns entries of the trail, newest first.
func (db *DB) Audit(q AuditQuery) ([]AuditEntry, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, MaxAuditLimit)
	var before []byte
	if q.Before != "" {
		b, err := hex.DecodeString(q.Before)
		if err != nil || len(b) != 16 {
			return nil, &FieldError{Field: "before", Err: fmt.Errorf("%q is not an audit entry id", q.Before)}
		}
		before = b
	}
	out := []AuditEntry{}
	err := db.kv.view(func(tx kvReader) error {
		add := func(key []byte) error {
			raw, err := tx.get(bucketAudit, key)
			if err != nil {
				return err
			}
			var e AuditEntry
			if err := json.Unmarshal(raw, &e); err != nil {
				return fmt.Errorf("audit entry %x: %w", key, err)
			}
			out = append(out, e)
			return nil
		}
		if q.Object == "" {
			return tx.scan(bucketAudit, nil, before, true, func(k, _ []byte) error {
				if len(out) >= q.Limit {
					return errStop
				}
				return add(k)
			})
		}
		prefix := append([]byte(q.Object), 0)
		end := append(bytes.Clone(prefix), 0xff) // above every key of this object: keys start with 8 bytes of time < 0xff…
		if before != nil {
			end = auditIndexKey(q.Object, before)
		}
		return tx.scan(bucketAuditBy, prefix, end, true, func(k, _ []byte) error {
			if len(out) >= q.Limit {
				return errStop
			}
			return add(k[len(prefix):])
		})
	})
	return out, err
}
