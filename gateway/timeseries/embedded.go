package timeseries

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/anxin-care/anxin/internal/durable"
)

// EmbeddedFile is the store's file inside EmbeddedConfig.Dir.
const EmbeddedFile = "tsdb.bolt"

const (
	// maxFuture: points further ahead of the gateway's clock are skipped;
	// the devices package already distrusts device clocks beyond 24 h.
	maxFuture = 24 * time.Hour
	// maxFields bounds the field-name dictionary (ids are u16).
	maxFields = 4096
	// expireEvery is how often an idle store looks for expired hours.
	expireEvery = time.Minute
)

var _ Store = (*Embedded)(nil)

// Embedded is the default Store: one bbolt file in the data directory.
type Embedded struct {
	cfg EmbeddedConfig
	now func() time.Time
	log *slog.Logger
	db  *bolt.DB

	// writeMu serialises writers and expiry, so that the in-memory index is
	// changed only after its transaction committed.
	writeMu     sync.Mutex
	expiredHour int64 // hour of the last expiry pass (Unix s)

	mu     sync.RWMutex // guards the index below; readers are queries
	series map[string]*seriesEntry
	fields map[string]uint16
	closed bool

	stop chan struct{}
	done chan struct{}
}

type seriesEntry struct {
	key      string
	id       uint64
	s        Series
	lastSeen int64 // Unix ns of its newest point
}

// OpenEmbedded opens (or creates) the store in cfg.Dir. The clock cfg.Now
// decides what is expired; nil means time.Now.
func OpenEmbedded(cfg EmbeddedConfig, logger *slog.Logger) (*Embedded, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate("embedded"); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := durable.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded time-series: %w", err)
	}
	path := filepath.Join(cfg.Dir, EmbeddedFile)
	_, statErr := os.Stat(path)
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: time.Second, // another process holding the file is an error, not a hang
		// The freelist is rebuilt at open instead of written at every
		// commit: expiry frees many pages and commits stay small.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded time-series: open %s: %w", path, err)
	}
	if errors.Is(statErr, os.ErrNotExist) { // bbolt syncs the new file, not its name
		if err := durable.SyncDir(cfg.Dir); err != nil {
			db.Close()
			return nil, fmt.Errorf("embedded time-series: %w", err)
		}
	}
	e := &Embedded{cfg: cfg, now: cfg.Now, log: logger.With("tsdb", "embedded"), db: db,
		series: map[string]*seriesEntry{}, fields: map[string]uint16{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := e.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded time-series: load %s: %w", path, err)
	}
	if err := e.expire(); err != nil {
		db.Close()
		return nil, err
	}
	go e.expireLoop()
	e.log.Info("time-series store opened", "path", path, "series", len(e.series),
		"retention", cfg.Retention, "raw_retention", cfg.RawRetention)
	return e, nil
}

func (e *Embedded) load() error {
	return e.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketSeries, bucketFields, bucketRaw, bucketMin} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyVersion); v == nil {
			if err := meta.Put(keyVersion, u64(schemaVersion)); err != nil {
				return err
			}
		} else if len(v) != 8 || binary.BigEndian.Uint64(v) != schemaVersion {
			return fmt.Errorf("unsupported schema version %x (want %d)", v, schemaVersion)
		}
		err := tx.Bucket(bucketSeries).ForEach(func(k, v []byte) error {
			if len(v) != 16 {
				return fmt.Errorf("%w: series value of %d bytes", errCorrupt, len(v))
			}
			s, err := parseSeriesKey(string(k))
			if err != nil {
				return err
			}
			e.series[string(k)] = &seriesEntry{key: string(k), id: binary.BigEndian.Uint64(v), s: s,
				lastSeen: int64(binary.BigEndian.Uint64(v[8:]))}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketFields).ForEach(func(k, v []byte) error {
			if len(v) != 2 {
				return fmt.Errorf("%w: field id of %d bytes", errCorrupt, len(v))
			}
			e.fields[string(k)] = binary.BigEndian.Uint16(v)
			return nil
		})
	})
}

// Write stores points in one transaction, synced to disk before it returns.
// Points older than the retention are skipped (late data nobody can query),
// as are points more than a day ahead of the clock and points of new series
// beyond MaxSeries; these are logged, not returned as errors, so that one odd
// point never fails a batch.
func (e *Embedded) Write(ctx context.Context, points ...Point) error {
	for i := range points {
		if err := points[i].Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrRejected, err)
		}
	}
	if len(points) == 0 {
		return ctx.Err()
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if e.isClosed() {
		return ErrClosed
	}
	w := newEmbeddedWrite(e, e.now().UnixNano())
	if err := e.db.Update(func(tx *bolt.Tx) error { return w.run(tx, points) }); err != nil {
		return fmt.Errorf("embedded time-series write: %w", err)
	}
	w.install()
	if w.skipped() > 0 {
		e.log.Warn("time-series points skipped", "too_old", w.tooOld, "too_new", w.tooNew,
			"too_many_series", w.tooManySeries, "max_series", e.cfg.MaxSeries)
	}
	if hourOf(w.now) != e.expiredHour {
		return e.expireLocked(w.now)
	}
	return nil
}

func (e *Embedded) isClosed() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.closed
}

func (e *Embedded) expireLoop() {
	defer close(e.done)
	t := time.NewTicker(expireEvery)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			if err := e.expire(); err != nil && !errors.Is(err, ErrClosed) {
				e.log.Error("time-series expiry failed", "err", err)
			}
		}
	}
}

func (e *Embedded) expire() error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if e.isClosed() {
		return ErrClosed
	}
	now := e.now().UnixNano()
	if hourOf(now) == e.expiredHour {
		return nil
	}
	return e.expireLocked(now)
}

// expireLocked drops raw hours older than RawRetention, rollup hours and
// series older than Retention. Whole hours go at once (DeleteBucket), so
// data is kept for between the retention and the retention plus an hour.
func (e *Embedded) expireLocked(now int64) error {
	rawCut := now - int64(e.cfg.RawRetention)
	cut := now - int64(e.cfg.Retention)
	var gone []string
	e.mu.RLock()
	for k, se := range e.series {
		if se.lastSeen < cut {
			gone = append(gone, k)
		}
	}
	e.mu.RUnlock()
	var hours int
	err := e.db.Update(func(tx *bolt.Tx) error {
		n, err := deleteHoursBefore(tx.Bucket(bucketRaw), rawCut)
		if err != nil {
			return err
		}
		m, err := deleteHoursBefore(tx.Bucket(bucketMin), cut)
		if err != nil {
			return err
		}
		hours = n + m
		sb := tx.Bucket(bucketSeries)
		for _, k := range gone {
			if err := sb.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("embedded time-series expiry: %w", err)
	}
	e.mu.Lock()
	for _, k := range gone {
		delete(e.series, k)
	}
	e.mu.Unlock()
	e.expiredHour = hourOf(now)
	if hours > 0 || len(gone) > 0 {
		e.log.Debug("time-series data expired", "hour_buckets", hours, "series", len(gone))
	}
	return nil
}

func deleteHoursBefore(parent *bolt.Bucket, cut int64) (int, error) {
	var old [][]byte
	c := parent.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) != 8 {
			continue
		}
		if end := int64(binary.BigEndian.Uint64(k)) + 3600; end*int64(time.Second) > cut {
			break // hours are in order; this one and later still hold live data
		}
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := parent.DeleteBucket(k); err != nil {
			return 0, err
		}
	}
	return len(old), nil
}

// Flush is a no-op: Write returns only after its transaction is synced.
func (e *Embedded) Flush(ctx context.Context) error { return ctx.Err() }

// Close stops the expiry loop and closes the file. Closing twice is harmless.
func (e *Embedded) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	close(e.stop)
	<-e.done
	// A Write that started before closed was set finishes first.
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if err := e.db.Close(); err != nil {
		return fmt.Errorf("embedded time-series close: %w", err)
	}
	return nil
}

// DiskSize is the size of the store's file in bytes.
func (e *Embedded) DiskSize() (int64, error) {
	fi, err := os.Stat(e.db.Path())
	if err != nil {
		return 0, fmt.Errorf("embedded time-series: %w", err)
	}
	return fi.Size(), nil
}
