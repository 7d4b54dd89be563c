package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// boltKV is the embedded backend: one bbolt file in the data directory.
type boltKV struct {
	db  *bolt.DB
	dir string // the data directory, whose disk check watches
}

var _ backend = (*boltKV)(nil)

// boltTx is one bbolt transaction seen as a kvWriter (a read-only one
// only reads).
type boltTx struct{ tx *bolt.Tx }

func (k *boltKV) view(fn func(r kvReader) error) error {
	return k.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (k *boltKV) update(fn func(w kvWriter) error) error {
	return k.db.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (k *boltKV) batch(fn func(w kvWriter) error) error {
	return k.db.Batch(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

// check fails when the disk is nearly full. A probe write can succeed on
// a full disk: bbolt reuses the pages the last probe freed, while a new
// alarm needs new ones. So the disk's own free space is checked.
func (k *boltKV) check() error {
	if free, ok := freeBytes(k.dir); ok && free < MinFreeBytes {
		return fmt.Errorf("%d bytes free on the data directory's disk (%s); an alarm may not fit (at least %d needed)",
			free, k.dir, MinFreeBytes)
	}
	return nil
}

func (k *boltKV) backup(w io.Writer) (int64, error) {
	var n int64
	err := k.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

func (k *boltKV) close() error { return k.db.Close() }

func (t boltTx) get(b Bucket, key []byte) ([]byte, error) { return bucket(t.tx, b).Get(key), nil }

func (t boltTx) put(b Bucket, key, value []byte) error { return bucket(t.tx, b).Put(key, value) }

func (t boltTx) delete(b Bucket, key []byte) error { return bucket(t.tx, b).Delete(key) }

func (t boltTx) nextSequence(b Bucket) (uint64, error) { return bucket(t.tx, b).NextSequence() }

func (t boltTx) count(b Bucket) (int, error) { return bucket(t.tx, b).Stats().KeyN, nil }

func (t boltTx) scan(b Bucket, from, to []byte, reverse bool, fn func(k, v []byte) error) error {
	c := bucket(t.tx, b).Cursor()
	var k, v []byte
	var step func() ([]byte, []byte)
	if reverse {
		step = c.Prev
		if to == nil {
			k, v = c.Last()
		} else if k, v = c.Seek(to); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	} else {
		step = c.Next
		if from == nil {
			k, v = c.First()
		} else {
			k, v = c.Seek(from)
		}
	}
	for ; k != nil; k, v = step() {
		if from != nil && bytes.Compare(k, from) < 0 || to != nil && bytes.Compare(k, to) >= 0 {
			break
		}
		if err := fn(k, v); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
	return nil
}
