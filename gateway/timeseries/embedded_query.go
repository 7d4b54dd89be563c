package timeseries

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxRawSamples bounds what a raw (unwindowed) query may return, so that a
// careless dashboard cannot make the gateway hold a day of a fleet in memory.
const maxRawSamples = 1_000_000

// Query reads q. Windows that are whole minutes read the per-minute rollups
// (and raw points only for the partial minutes at the range's ends), so a
// 24-hour query of one series reads 1,440 rollups; shorter windows and raw
// queries read raw points, which exist for RawRetention.
func (e *Embedded) Query(ctx context.Context, q Query) ([]Sample, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	ids, fid, ok, err := e.lookup(q)
	if err != nil || !ok {
		return nil, err
	}
	start, end := q.Start.UnixNano(), q.End.UnixNano()
	var out []Sample
	err = e.db.View(func(tx *bolt.Tx) error {
		if q.Every == 0 {
			return readRaw(ctx, tx, ids, fid, start, end, func(t int64, v float64) error {
				if len(out) >= maxRawSamples {
					return fmt.Errorf("%w: more than %d raw points; set a window", ErrInvalidQuery, maxRawSamples)
				}
				out = append(out, Sample{Time: time.Unix(0, t).UTC(), Value: v})
				return nil
			})
		}
		w := newWindower(q)
		addPoint := func(t int64, v float64) error { w.add(t, pointAgg(t, v)); return nil }
		lo := ceilTo(start, int64(time.Minute))
		hi := end - mod(end, int64(time.Minute))
		if q.Every%time.Minute != 0 || lo >= hi {
			if err := readRaw(ctx, tx, ids, fid, start, end, addPoint); err != nil {
				return err
			}
			out = w.samples()
			return nil
		}
		if err := readRaw(ctx, tx, ids, fid, start, lo, addPoint); err != nil {
			return err
		}
		if err := readRollups(ctx, tx, ids, fid, lo, hi, func(m int64, a agg) { w.add(m, a) }); err != nil {
			return err
		}
		if err := readRaw(ctx, tx, ids, fid, hi, end, addPoint); err != nil {
			return err
		}
		out = w.samples()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded time-series query: %w", err)
	}
	if len(ids) > 1 && q.Every == 0 {
		slices.SortStableFunc(out, func(a, b Sample) int { return a.Time.Compare(b.Time) })
	}
	return out, nil
}

// lookup finds the ids of the series q selects and the id of its field;
// ok is false when nothing can match.
func (e *Embedded) lookup(q Query) (ids []uint64, fid uint16, ok bool, err error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, 0, false, ErrClosed
	}
	fid, ok = e.fields[q.Field]
	if !ok {
		return nil, 0, false, nil
	}
	for _, se := range e.series {
		if se.s.Measurement == q.Measurement && matches(se.s.Tags, q.Tags) {
			ids = append(ids, se.id)
		}
	}
	slices.Sort(ids)
	return ids, fid, len(ids) > 0, nil
}

func ceilTo(t, step int64) int64 {
	if m := mod(t, step); m != 0 {
		return t - m + step
	}
	return t
}

// hours calls fn for each existing hour bucket of parent that overlaps [from, to).
func hours(ctx context.Context, parent *bolt.Bucket, from, to int64, fn func(b *bolt.Bucket, start int64) error) error {
	for h := hourOf(from); h*int64(time.Second) < to; h += 3600 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if b := parent.Bucket(u64(uint64(h))); b != nil {
			if err := fn(b, h*int64(time.Second)); err != nil {
				return err
			}
		}
	}
	return nil
}

// idSet answers "is this one of the query's series" for a scan.
type idSet []uint64 // sorted

func (s idSet) has(id uint64) bool {
	if len(s) == 1 {
		return s[0] == id
	}
	_, ok := slices.BinarySearch(s, id)
	return ok
}

// readRaw scans the raw points of [from, to), keeping those of ids.
func readRaw(ctx context.Context, tx *bolt.Tx, ids idSet, fid uint16, from, to int64, emit func(int64, float64) error) error {
	if from >= to {
		return nil
	}
	return hours(ctx, tx.Bucket(bucketRaw), from, to, func(b *bolt.Bucket, _ int64) error {
		c := b.Cursor()
		for k, v := c.Seek(u64(uint64(from))); k != nil; k, v = c.Next() {
			t := int64(binary.BigEndian.Uint64(k))
			if t >= to {
				break
			}
			if !ids.has(binary.BigEndian.Uint64(k[8:])) {
				continue
			}
			val, ok, err := rawValue(v, fid)
			if err != nil {
				return err
			}
			if ok {
				if err := emit(t, val); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// seekSeries is the most series a rollup read looks up key by key; for
// more, scanning the hour's minutes is cheaper.
const seekSeries = 32

// readRollups reads the rollup minutes of [from, to) (both minute-aligned).
func readRollups(ctx context.Context, tx *bolt.Tx, ids idSet, fid uint16, from, to int64, emit func(int64, agg)) error {
	minute := int64(time.Minute)
	decode := func(m int64, v []byte) error {
		return decodeRollup(m, v, func(f rollupField) bool {
			if f.id == fid {
				emit(m, f.a)
				return false
			}
			return true
		})
	}
	return hours(ctx, tx.Bucket(bucketMin), from, to, func(b *bolt.Bucket, h int64) error {
		if len(ids) <= seekSeries {
			for m := max(from, h); m < to && m < h+int64(time.Hour); m += minute {
				for _, id := range ids {
					if v := b.Get(minuteKey(m/minute, id)); v != nil {
						if err := decode(m, v); err != nil {
							return err
						}
					}
				}
			}
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint32(nil, uint32(from/minute))); k != nil; k, v = c.Next() {
			m := int64(binary.BigEndian.Uint32(k)) * minute
			if m >= to {
				break
			}
			if ids.has(binary.BigEndian.Uint64(k[4:])) {
				if err := decode(m, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Series lists the series of measurement seen at or after since.
func (e *Embedded) Series(ctx context.Context, measurement Measurement, since time.Time) ([]Series, error) {
	if !measurement.Valid() {
		return nil, fmt.Errorf("%w: measurement %q is not one of %v", ErrInvalidQuery, measurement, Measurements())
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	var out []Series
	for _, se := range e.series {
		if se.s.Measurement == measurement && se.lastSeen >= since.UnixNano() {
			out = append(out, Series{Measurement: measurement, Tags: maps.Clone(se.s.Tags)})
		}
	}
	slices.SortFunc(out, func(a, b Series) int { return strings.Compare(a.String(), b.String()) })
	return out, ctx.Err()
}
