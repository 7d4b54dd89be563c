package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/internal/durable"
)

// Errors of the state store.
var (
	ErrClosed = errors.New("state store is closed")
	// ErrAfterFailure refuses a write the engine built on one that failed.
	ErrAfterFailure = errors.New("an earlier alarm write failed")
	// ErrDamaged refuses a state file whose pages fail bbolt's check.
	ErrDamaged = errors.New("state file is damaged")
)

// maxBatch bounds how many queued writes share one transaction and sync.
const maxBatch = 512

// DB is the gateway's durable state: a bbolt file in the data directory
// (Open), or a PostgreSQL database (OpenPostgres).
//
// Alarm writes go through one committer goroutine that takes every write
// queued while the previous sync ran and commits them together: under load
// many devices share one fsync, and when idle a write is synced at once with
// no added delay. Other writes (devices, users) are rare and use their own
// transactions.
type DB struct {
	kv backend
	// bolt is the file of the embedded backend; nil on PostgreSQL.
	bolt  *bolt.DB
	queue chan commitReq
	done  chan struct{}
	// closing guards queue: Commit after Close fails instead of panicking.
	closing sync.RWMutex
	closed  bool
	// onBatch, when set, observes each committed batch's size and duration.
	onBatch func(n int, d time.Duration)

	// failedEpoch is the engine epoch of the last write that failed; the
	// committer goroutine alone uses it.
	failedEpoch uint64
	// lastErr is the last commit's result; failures counts writes refused.
	healthMu sync.Mutex
	lastErr  error
	failures atomic.Uint64
	// syncs counts the write transactions committed (update).
	syncs atomic.Uint64

	// Migrated counts the records Open rewrote from an older schema
	// (schema.go, migrate.go), for the log.
	Migrated int
}

type commitReq struct {
	w     alerting.Write
	probe bool // a readiness probe, not an engine write
	res   chan error
}

// probeSize is about what one alarm with its timeline takes: a probe that
// fits shows that an alarm write fits too.
const probeSize = 4096

var _ alerting.Store = (*DB)(nil)

// openTimeout is how long Open waits for another process's lock on the
// state file: long enough for a restart to find the old process gone.
const openTimeout = 2 * time.Second

// Open opens (creating if needed) the state file in dir and brings it to
// SchemaVersion (schema.go). A directory that another process holds open is
// an error after openTimeout, not a wait; a file of a newer schema is
// ErrNewerSchema, a file that fails bbolt's page check ErrDamaged.
func Open(dir string) (*DB, error) {
	if err := durable.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	_, statErr := os.Stat(path)
	if statErr == nil {
		if err := checkFile(path); err != nil {
			if errors.Is(err, bolt.ErrTimeout) {
				return nil, fmt.Errorf("data directory %s is in use by another process (%s is locked)", dir, path)
			}
			return nil, err
		}
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: openTimeout,
		// The free list is rebuilt at open instead of written at every
		// commit: each alarm commit then writes only its own pages.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// Reserve address space up front so that growing the file does
		// not remap it (a remap waits for every reader) under load.
		InitialMmapSize: 1 << 30,
	})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("data directory %s is in use by another process (%s is locked)", dir, path)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// bbolt syncs the file it creates but not its name: without this, a
	// power cut soon after the first start (or after `anxin user add`)
	// could take the whole file with it.
	if errors.Is(statErr, os.ErrNotExist) {
		if err := durable.SyncDir(dir); err != nil {
			b.Close()
			return nil, err
		}
	}
	var migrated int
	err = b.Update(func(tx *bolt.Tx) error {
		var err error
		migrated, err = upgrade(tx)
		return err
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	db := newDB(&boltKV{db: b, dir: dir})
	db.bolt, db.Migrated = b, migrated
	return db, nil
}

// checkFile reads every page of the state file that holds a record,
// read-only, before Open opens it for writing. Open rebuilds the free list
// by walking the same pages (NoFreelistSync), and on a damaged one bbolt
// panics in a goroutine of its own, which no caller can recover; here the
// walk runs on the caller's goroutine, so a damaged page is ErrDamaged, a
// clear refusal. (tx.Check is no help: it rebuilds the free list the same
// way first.) A power cut does not damage the file, since every commit is
// synced (TestStorePowerCut); a failing disk, or a copy taken while the
// file was written, can.
func checkFile(path string) error {
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: openTimeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return err
		}
		return fmt.Errorf("%w: %s: %w; %s", ErrDamaged, path, err, damagedHint)
	}
	defer b.Close()
	if err := b.View(walkAll); err != nil {
		return fmt.Errorf("%w: %s: %w; %s", ErrDamaged, path, err, damagedHint)
	}
	return nil
}

// walkAll visits every record of every bucket, nested ones too. bbolt
// reports a damaged page by panicking, and a page pointing outside the
// file faults: both become the error.
func walkAll(tx *bolt.Tx) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				if nested := b.Bucket(k); nested != nil {
					return walk(nested)
				}
			}
			return nil
		})
	}
	return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
}

// damagedHint is the way back from a damaged state file (README, "Backup
// and restore").
const damagedHint = "move it aside and restore the last backup into an empty data directory (anxin restore -data-dir DIR FILE)"

// newDB starts the commit loop of a DB over kv.
func newDB(kv backend) *DB {
	db := &DB{kv: kv, queue: make(chan commitReq, 4*maxBatch), done: make(chan struct{})}
	go db.commitLoop()
	return db
}

// Backend names where the state is: BackendBbolt or BackendPostgres.
func (db *DB) Backend() string {
	if db.bolt != nil {
		return BackendBbolt
	}
	return BackendPostgres
}

// ObserveBatches has fn observe each committed batch's size and duration.
// Call it before the first Commit.
func (db *DB) ObserveBatches(fn func(n int, d time.Duration)) { db.onBatch = fn }

// Close finishes queued writes and closes the file.
func (db *DB) Close() error {
	db.closing.Lock()
	if !db.closed {
		db.closed = true
		close(db.queue)
	}
	db.closing.Unlock()
	<-db.done
	return db.kv.close()
}

// Commit queues w; the channel yields once it is synced.
func (db *DB) Commit(w alerting.Write) <-chan error {
	return db.enqueue(commitReq{w: w})
}

func (db *DB) enqueue(req commitReq) <-chan error {
	req.res = make(chan error, 1)
	db.closing.RLock()
	defer db.closing.RUnlock()
	if db.closed {
		req.res <- ErrClosed
		return req.res
	}
	db.queue <- req
	return req.res
}

// MinFreeBytes is the free space on the data directory's disk below which
// the store is not healthy (readiness and the watchdog say so).
const MinFreeBytes = 1 << 20

// freeBytes is the space an unprivileged writer may still use on the disk
// of dir; ok is false when the system cannot say.
func freeBytes(dir string) (free uint64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}

// probeTimeout bounds how long Healthy waits for its probe write.
const probeTimeout = 2 * time.Second

// Healthy returns nil when the store's last commit succeeded. Otherwise it
// sends a probe write through the commit queue and returns its error, nil
// once the disk takes writes again.
func (db *DB) Healthy() error {
	if err := db.kv.check(); err != nil {
		return err
	}
	db.healthMu.Lock()
	err := db.lastErr
	db.healthMu.Unlock()
	if err == nil {
		return nil
	}
	select {
	case err := <-db.enqueue(commitReq{probe: true}):
		return err
	case <-time.After(probeTimeout):
		return fmt.Errorf("probe write not done within %s after: %w", probeTimeout, err)
	}
}

// Syncs counts the write transactions committed since the store opened:
// each is one fsync of the file, however many writes the commit loop put in
// it. Outbox deletes that bbolt's Batch groups count one each.
func (db *DB) Syncs() uint64 { return db.syncs.Load() }

// update runs fn in one read-write transaction of its own and counts it.
func (db *DB) update(fn func(w kvWriter) error) error {
	err := db.kv.update(fn)
	if err == nil {
		db.syncs.Add(1)
	}
	return err
}

// CommitFailures counts the writes the store refused since it opened.
func (db *DB) CommitFailures() uint64 { return db.failures.Load() }

// settle sends a write's result and keeps the store's health.
func (db *DB) settle(r commitReq, err error) {
	if err != nil {
		db.failures.Add(1)
		if r.w.Epoch != 0 {
			db.failedEpoch = r.w.Epoch
		}
	}
	db.healthMu.Lock()
	db.lastErr = err
	db.healthMu.Unlock()
	r.res <- err
}

func (db *DB) commitLoop() {
	defer close(db.done)
	batch := make([]commitReq, 0, maxBatch)
	for req := range db.queue {
		batch = append(batch[:0], req)
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-db.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		db.commitBatch(batch)
	}
}

// commitBatch writes the batch in one transaction. If that fails, each write
// is tried alone, so that one bad write cannot take its neighbours down.
//
// A write of the epoch of one that failed is refused unapplied: the engine
// made it on memory that held the failed write, and undoes both.
func (db *DB) commitBatch(batch []commitReq) {
	start := time.Now()
	var err error
	if db.refused(batch[0]) == nil { // else the batch is retried one by one below
		err = db.update(func(tx kvWriter) error {
			for _, r := range batch {
				if err := db.refused(r); err != nil {
					return err
				}
				if err := apply(tx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			if db.onBatch != nil {
				db.onBatch(len(batch), time.Since(start))
			}
			for _, r := range batch {
				db.settle(r, nil)
			}
			return
		}
		if len(batch) == 1 {
			db.settle(batch[0], err)
			return
		}
	}
	for _, r := range batch {
		err := db.refused(r)
		if err == nil {
			err = db.update(func(tx kvWriter) error { return apply(tx, r) })
		}
		db.settle(r, err)
	}
}

// refused says why r must not be applied: an earlier write of its epoch failed.
func (db *DB) refused(r commitReq) error {
	if r.w.Epoch != 0 && r.w.Epoch == db.failedEpoch {
		return fmt.Errorf("%w (epoch %d)", ErrAfterFailure, r.w.Epoch)
	}
	return nil
}

func apply(tx kvWriter, r commitReq) error {
	if r.probe {
		return tx.put(bucketHealth, []byte("probe"), make([]byte, probeSize))
	}
	return applyWrite(tx, r.w)
}

func applyWrite(tx kvWriter, w alerting.Write) error {
	for _, a := range w.Alarms {
		b, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("alarm %s: %w", a.ID, err)
		}
		if err := tx.put(bucketAlarms, []byte(a.ID), b); err != nil {
			return err
		}
		if a.State.Open() {
			err = tx.put(bucketOpen, []byte(a.ID), nil)
		} else {
			err = tx.delete(bucketOpen, []byte(a.ID))
		}
		if err != nil {
			return err
		}
	}
	for _, s := range w.Seen {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if err := tx.put(bucketSeen, seenKey(s.Device, s.Seq), b); err != nil {
			return err
		}
	}
	for device, b := range w.DeviceState {
		if err := tx.put(bucketAdapterState, []byte(device), b); err != nil {
			return fmt.Errorf("adapter state of %s: %w", device, err)
		}
	}
	for _, o := range w.Outbound {
		if err := tx.put(bucketEdgeQueue, edgeKey(o.N), o.Entry); err != nil {
			return fmt.Errorf("edge queue entry %d: %w", o.N, err)
		}
	}
	for _, r := range w.Receipts {
		if err := putJSONkv(tx, bucketPushes, pushKey(r.Source, r.ID), PushSeen{Device: r.Device, At: r.At.UTC()}); err != nil {
			return fmt.Errorf("push record %s of %s: %w", r.ID, r.Source, err)
		}
	}
	queued := time.Now().UTC()
	for _, n := range w.Notifications {
		if err := putJSONkv(tx, bucketOutbox, n.Key, OutboxItem{N: n, Queued: queued}); err != nil {
			return fmt.Errorf("outbox %s: %w", n.Key, err)
		}
	}
	return nil
}

func seenKey(device string, seq uint64) []byte {
	k := make([]byte, 0, len(device)+9)
	k = append(k, device...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// OpenAlarms returns the alarms open at the last commit.
func (db *DB) OpenAlarms() ([]*alerting.Alarm, error) {
	var out []*alerting.Alarm
	err := db.kv.view(func(tx kvReader) error {
		return forEachKV(tx, bucketOpen, func(k, _ []byte) error {
			raw, err := tx.get(bucketAlarms, k)
			if err != nil {
				return err
			}
			var a alerting.Alarm
			if err := json.Unmarshal(raw, &a); err != nil {
				return fmt.Errorf("alarm %s: %w", k, err)
			}
			out = append(out, &a)
			return nil
		})
	})
	return out, err
}

// Alarm returns one alarm.
func (db *DB) Alarm(id string) (*alerting.Alarm, error) {
	var a alerting.Alarm
	err := db.kv.view(func(tx kvReader) error {
		found, err := getJSONkv(tx, bucketAlarms, id, &a)
		if err == nil && !found {
			return fmt.Errorf("%w: %s", alerting.ErrNotFound, id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// Alarms returns alarms raised in [from, to), newest first, at most limit.
// Alarm ids begin with their raise time, so the scan walks ids backwards and
// stops at from; it decodes only alarms in range.
func (db *DB) Alarms(from, to time.Time, limit int) ([]*alerting.Alarm, error) {
	var out []*alerting.Alarm
	err := db.kv.view(func(tx kvReader) error {
		return tx.scan(bucketAlarms, nil, nil, true, func(k, v []byte) error {
			var a alerting.Alarm
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("alarm %s: %w", k, err)
			}
			if a.Raised.Before(from) {
				return errStop
			}
			if !a.Raised.Before(to) {
				return nil
			}
			out = append(out, &a)
			if limit > 0 && len(out) >= limit {
				return errStop
			}
			return nil
		})
	})
	return out, err
}

// Seen looks up an idempotency key.
func (db *DB) Seen(device string, seq uint64) (alerting.Seen, bool, error) {
	var s alerting.Seen
	var ok bool
	err := db.kv.view(func(tx kvReader) error {
		b, err := tx.get(bucketSeen, seenKey(device, seq))
		if b == nil || err != nil {
			return err
		}
		ok = true
		return json.Unmarshal(b, &s)
	})
	return s, ok, err
}

// pruneScan bounds the keys one pruning transaction looks at, so that it
// holds bbolt's single writer (which every alarm commit needs) for a few
// milliseconds at a time however many keys there are.
const pruneScan = 2000

// PruneSeen forgets idempotency keys accepted before cutoff. It walks the
// bucket once, pruneScan keys a transaction, resuming where the last one
// stopped, so alarm commits slip in between.
func (db *DB) PruneSeen(cutoff time.Time) (int, error) {
	return db.prune(bucketSeen, func(v []byte) bool {
		var s alerting.Seen
		return json.Unmarshal(v, &s) != nil || s.At.Before(cutoff)
	})
}

// PrunePushes forgets the records of platform pushes (ingest_pushes)
// received before cutoff, as PruneSeen does: a platform's retries of a
// push come within minutes or hours, and a retry of a push forgotten would
// still find its events' own idempotency keys (seen) for as long as those
// are kept.
func (db *DB) PrunePushes(cutoff time.Time) (int, error) {
	return db.prune(bucketPushes, func(v []byte) bool {
		var p PushSeen
		return json.Unmarshal(v, &p) != nil || p.At.Before(cutoff)
	})
}

// prune deletes the records of bkt that stale says are, pruneScan keys a
// transaction.
func (db *DB) prune(bkt Bucket, stale func(v []byte) bool) (int, error) {
	total := 0
	var from []byte
	for {
		var old [][]byte
		var next []byte
		err := db.update(func(tx kvWriter) error {
			scanned := 0
			err := tx.scan(bkt, from, nil, false, func(k, v []byte) error {
				if scanned == pruneScan {
					next = slices.Clone(k)
					return errStop
				}
				scanned++
				if stale(v) {
					old = append(old, slices.Clone(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
			// Deleting behind a cursor can make it skip keys: delete after the walk.
			for _, k := range old {
				if err := tx.delete(bkt, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(old)
		if next == nil {
			return total, nil
		}
		from = next
	}
}
