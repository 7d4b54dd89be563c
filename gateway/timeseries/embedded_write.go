package timeseries

import (
	"encoding/binary"
	"fmt"
	"maps"
	"time"

	bolt "go.etcd.io/bbolt"
)

// embeddedWrite is one Write's transaction: the points go to the raw hour
// and the rollup minute in the same transaction, so a crash never leaves a
// rollup that disagrees with its raw points. New series and field names are
// kept aside and put in the shared index only after the commit.
type embeddedWrite struct {
	e   *Embedded
	now int64

	newSeries map[string]*seriesEntry
	newFields map[string]uint16
	seen      map[*seriesEntry]int64 // newest point per touched series
	rawHours  map[int64]*bolt.Bucket
	minHours  map[int64]*bolt.Bucket

	tooOld, tooNew, tooManySeries int

	// scratch, reused for every point
	key    []byte
	keys   []string
	fields []rawField
	rollup []rollupField
}

// hourFillPercent is how full bbolt fills a page of an hour bucket before splitting it.
const hourFillPercent = 0.95

func newEmbeddedWrite(e *Embedded, now int64) *embeddedWrite {
	return &embeddedWrite{e: e, now: now,
		newSeries: map[string]*seriesEntry{}, newFields: map[string]uint16{},
		seen: map[*seriesEntry]int64{}, rawHours: map[int64]*bolt.Bucket{}, minHours: map[int64]*bolt.Bucket{}}
}

func (w *embeddedWrite) skipped() int { return w.tooOld + w.tooNew + w.tooManySeries }

func (w *embeddedWrite) run(tx *bolt.Tx, points []Point) error {
	rawCut := w.now - int64(w.e.cfg.RawRetention)
	cut := w.now - int64(w.e.cfg.Retention)
	future := w.now + int64(maxFuture)
	for i := range points {
		p := &points[i]
		t := p.Time.UnixNano()
		switch {
		case t < cut:
			w.tooOld++
			continue
		case t > future:
			w.tooNew++
			continue
		}
		se, err := w.seriesFor(tx, p)
		if err != nil {
			return err
		}
		if se == nil {
			w.tooManySeries++
			continue
		}
		if last, ok := w.seen[se]; !ok || t > last {
			w.seen[se] = t
		}
		fs := w.fields[:0]
		for name, v := range p.Fields {
			id, err := w.fieldID(tx, name)
			if err != nil {
				return err
			}
			fs = append(fs, rawField{id, v})
		}
		w.fields = fs
		sortFields(fs)
		fresh := fs
		if t >= rawCut {
			if fresh, err = w.putRaw(tx, se.id, t, fs); err != nil {
				return err
			}
		}
		if err := w.putRollup(tx, se.id, t, fresh); err != nil {
			return err
		}
	}
	sb := tx.Bucket(bucketSeries)
	for se, t := range w.seen {
		if t > se.lastSeen {
			if err := sb.Put([]byte(se.key), encodeSeriesValue(se.id, t)); err != nil {
				return err
			}
		}
	}
	return nil
}

// seriesFor finds or creates p's series; nil (no error) when creating it
// would pass MaxSeries.
// seriesFor finds or creates p's series; nil (no error) when creating it
// would pass MaxSeries.
func (w *embeddedWrite) seriesFor(tx *bolt.Tx, p *Point) (*seriesEntry, error) {
	w.key, w.keys = appendSeriesKey(w.key[:0], w.keys, p.Measurement, p.Tags)
	w.e.mu.RLock()
	se, n := w.e.series[string(w.key)], len(w.e.series)
	w.e.mu.RUnlock()
	if se != nil {
		return se, nil
	}
	if se := w.newSeries[string(w.key)]; se != nil {
		return se, nil
	}
	if n+len(w.newSeries) >= w.e.cfg.MaxSeries {
		return nil, nil
	}
	id, err := tx.Bucket(bucketSeries).NextSequence()
	if err != nil {
		return nil, err
	}
	key := string(w.key)
	se = &seriesEntry{key: key, id: id, s: Series{Measurement: p.Measurement, Tags: maps.Clone(p.Tags)}, lastSeen: -1}
	w.newSeries[key] = se
	return se, nil
}

func (w *embeddedWrite) fieldID(tx *bolt.Tx, name string) (uint16, error) {
	w.e.mu.RLock()
	id, ok := w.e.fields[name]
	n := len(w.e.fields)
	w.e.mu.RUnlock()
	if ok {
		return id, nil
	}
	if id, ok := w.newFields[name]; ok {
		return id, nil
	}
	if n+len(w.newFields) >= maxFields {
		return 0, fmt.Errorf("%w: more than %d field names", ErrRejected, maxFields)
	}
	id = uint16(n + len(w.newFields) + 1)
	if err := tx.Bucket(bucketFields).Put([]byte(name), binary.BigEndian.AppendUint16(nil, id)); err != nil {
		return 0, err
	}
	w.newFields[name] = id
	return id, nil
}

func (w *embeddedWrite) hourBucket(tx *bolt.Tx, parent []byte, cache map[int64]*bolt.Bucket, t int64) (*bolt.Bucket, error) {
	h := hourOf(t)
	if b := cache[h]; b != nil {
		return b, nil
	}
	b, err := tx.Bucket(parent).CreateBucketIfNotExists(u64(uint64(h)))
	if err != nil {
		return nil, err
	}
	// Keys mostly arrive in ascending order, so pages may be filled almost
	// full when they split; bbolt's default of half-full pages doubles the file.
	b.FillPercent = hourFillPercent
	cache[h] = b
	return b, nil
}

// putRaw stores a raw point and returns the fields that are new for this
// series and instant. A repeated point (a redelivery, or a retried batch)
// adds nothing to the rollups; a repeat with a different value replaces the
// raw value while the rollup keeps the first one.
func (w *embeddedWrite) putRaw(tx *bolt.Tx, id uint64, t int64, fs []rawField) ([]rawField, error) {
	b, err := w.hourBucket(tx, bucketRaw, w.rawHours, t)
	if err != nil {
		return nil, err
	}
	key := rawKey(t, id)
	old := b.Get(key)
	if old == nil {
		return fs, b.Put(key, encodeRaw(fs))
	}
	var merged, fresh []rawField
	if err := decodeRaw(old, func(f rawField) bool { merged = append(merged, f); return true }); err != nil {
		return nil, err
	}
	for _, f := range fs {
		if i := indexField(merged, f.id); i < 0 {
			fresh = append(fresh, f)
			merged = append(merged, f)
		} else {
			merged[i].v = f.v
		}
	}
	sortFields(merged)
	return fresh, b.Put(key, encodeRaw(merged))
}

func indexField(fs []rawField, id uint16) int {
	for i := range fs {
		if fs[i].id == id {
			return i
		}
	}
	return -1
}

// sortFields is an insertion sort by id: a point has a handful of fields.
func sortFields(fs []rawField) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].id < fs[j-1].id; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

func (w *embeddedWrite) putRollup(tx *bolt.Tx, id uint64, t int64, fs []rawField) error {
	if len(fs) == 0 {
		return nil
	}
	b, err := w.hourBucket(tx, bucketMin, w.minHours, t)
	if err != nil {
		return err
	}
	minuteStart := t - mod(t, int64(time.Minute))
	key := minuteKey(minuteStart/int64(time.Minute), id)
	rs := w.rollup[:0]
	if old := b.Get(key); old != nil {
		if rs, err = appendRollup(rs, minuteStart, old); err != nil {
			return err
		}
	}
	for _, f := range fs {
		i := 0
		for i < len(rs) && rs[i].id != f.id {
			i++
		}
		if i == len(rs) {
			rs = append(rs, rollupField{id: f.id, a: pointAgg(t, f.v)})
		} else {
			rs[i].a.merge(pointAgg(t, f.v))
		}
	}
	w.rollup = rs
	return b.Put(key, encodeRollup(minuteStart, rs))
}

// install publishes the committed transaction's series, fields and times.
func (w *embeddedWrite) install() {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	for k, se := range w.newSeries {
		w.e.series[k] = se
	}
	for name, id := range w.newFields {
		w.e.fields[name] = id
	}
	for se, t := range w.seen {
		if t > se.lastSeen {
			se.lastSeen = t
		}
	}
}
