package timeseries

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"
)

// On-disk layout of the embedded store (one bbolt file, tsdb.bolt):
//
//	meta/version                          → schemaVersion
//	series/<series key>                   → id u64 | lastSeen i64 (Unix ns)
//	fields/<field name>                   → id u16
//	raw/<hour u64>/<t u64|id u64>          → fields, see encodeRaw
//	min/<hour u64>/<minute u32|id u64>     → per-field rollups, see encodeRollup
//
// Integers are big-endian, so bbolt's key order is time order. Keys are
// time-major: every write appends at the end of the current hour's trees,
// which keeps a commit to a handful of pages however many series it
// touches (series-major keys would rewrite every leaf of the hour at every
// batch). A query for a few series looks their minutes up directly; one for
// many series scans the hour. Hours are Unix seconds of the hour's start; a
// series key is the measurement and the sorted tag pairs joined by NUL,
// which tag keys and values may not contain (Point.Validate).
const schemaVersion = 1

var (
	bucketMeta   = []byte("meta")
	bucketSeries = []byte("series")
	bucketFields = []byte("fields")
	bucketRaw    = []byte("raw")
	bucketMin    = []byte("min")
	keyVersion   = []byte("version")
)

// appendSeriesKey appends the series key of (m, tags) to dst; keys is
// scratch space for sorting the tag keys, so that a lookup allocates nothing.
func appendSeriesKey(dst []byte, keys []string, m Measurement, tags map[string]string) ([]byte, []string) {
	keys = keys[:0]
	for k := range tags {
		keys = append(keys, k)
	}
	sortStrings(keys)
	dst = append(dst, m...)
	for _, k := range keys {
		dst = append(dst, 0)
		dst = append(dst, k...)
		dst = append(dst, 0)
		dst = append(dst, tags[k]...)
	}
	return dst, keys
}

func parseSeriesKey(key string) (Series, error) {
	parts := strings.Split(key, "\x00")
	if len(parts)%2 != 1 {
		return Series{}, fmt.Errorf("%w: series key %q", errCorrupt, key)
	}
	s := Series{Measurement: Measurement(parts[0]), Tags: make(map[string]string, len(parts)/2)}
	for i := 1; i < len(parts); i += 2 {
		s.Tags[parts[i]] = parts[i+1]
	}
	return s, nil
}

// sortStrings is an insertion sort: tag sets are small.
func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func hourOf(ns int64) int64 { return ns/int64(time.Second) - mod(ns/int64(time.Second), 3600) }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func rawKey(t int64, id uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(t))
	binary.BigEndian.PutUint64(k[8:], id)
	return k
}

func minuteKey(minute int64, id uint64) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint32(k, uint32(minute))
	binary.BigEndian.PutUint64(k[4:], id)
	return k
}

func encodeSeriesValue(id uint64, lastSeen int64) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, id)
	binary.BigEndian.PutUint64(v[8:], uint64(lastSeen))
	return v
}

// rawField is one field of a raw point.
type rawField struct {
	id uint16
	v  float64
}

// Values are stored as float32 when that is exact (battery 87, temp 36.5,
// rssi -67 …), as float64 otherwise; the tag byte says which.
const (
	tagF64 byte = iota
	tagF32
	tagAgg // a rollup of several points: count, sum, min, max, last
)

func appendValue(b []byte, v float64) []byte {
	if f := float32(v); float64(f) == v {
		b = append(b, tagF32)
		return binary.BigEndian.AppendUint32(b, math.Float32bits(f))
	}
	b = append(b, tagF64)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(v))
}

// readValue decodes a value written by appendValue; n is 0 on bad input.
func readValue(b []byte) (v float64, n int) {
	switch {
	case len(b) >= 5 && b[0] == tagF32:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b[1:]))), 5
	case len(b) >= 9 && b[0] == tagF64:
		return math.Float64frombits(binary.BigEndian.Uint64(b[1:])), 9
	}
	return 0, 0
}

// encodeRaw writes each field as: id uvarint, value (appendValue).
func encodeRaw(fs []rawField) []byte {
	b := make([]byte, 0, 7*len(fs))
	for _, f := range fs {
		b = binary.AppendUvarint(b, uint64(f.id))
		b = appendValue(b, f.v)
	}
	return b
}

func decodeRaw(b []byte, fn func(rawField) bool) error {
	for len(b) > 0 {
		id, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("%w: raw field id", errCorrupt)
		}
		v, m := readValue(b[n:])
		if m == 0 {
			return fmt.Errorf("%w: raw field value", errCorrupt)
		}
		b = b[n+m:]
		if !fn(rawField{uint16(id), v}) {
			return nil
		}
	}
	return nil
}

// rawValue finds field id in an encoded raw value.
func rawValue(b []byte, id uint16) (v float64, ok bool, err error) {
	err = decodeRaw(b, func(f rawField) bool {
		if f.id == id {
			v, ok = f.v, true
			return false
		}
		return true
	})
	return v, ok, err
}

// rollupField is one field's summary of one minute.
type rollupField struct {
	id uint16
	a  agg
}

// encodeRollup writes each field as: id uvarint, then a single point's
// value (appendValue) or tagAgg, count uvarint and sum, min, max, last
// f64; then the offset of last within the minute in µs (uvarint). Minute
// telemetry is one point a minute, so the common case is 7–14 bytes a field.
func encodeRollup(minuteStart int64, fs []rollupField) []byte {
	b := make([]byte, 0, 12*len(fs))
	for _, f := range fs {
		b = binary.AppendUvarint(b, uint64(f.id))
		if f.a.count == 1 {
			b = appendValue(b, f.a.last)
		} else {
			b = append(b, tagAgg)
			b = binary.AppendUvarint(b, f.a.count)
			for _, v := range [...]float64{f.a.sum, f.a.min, f.a.max, f.a.last} {
				b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
			}
		}
		b = binary.AppendUvarint(b, uint64((f.a.lastT-minuteStart)/int64(time.Microsecond)))
	}
	return b
}

// decodeRollup calls fn for each field of an encoded rollup until fn returns false.
func decodeRollup(minuteStart int64, b []byte, fn func(rollupField) bool) error {
	for len(b) > 0 {
		f, n, err := decodeRollupField(minuteStart, b)
		if err != nil {
			return err
		}
		b = b[n:]
		if !fn(f) {
			return nil
		}
	}
	return nil
}

// appendRollup decodes every field of an encoded rollup onto dst.
func appendRollup(dst []rollupField, minuteStart int64, b []byte) ([]rollupField, error) {
	for len(b) > 0 {
		f, n, err := decodeRollupField(minuteStart, b)
		if err != nil {
			return dst, err
		}
		dst = append(dst, f)
		b = b[n:]
	}
	return dst, nil
}

func decodeRollupField(minuteStart int64, b []byte) (rollupField, int, error) {
	size := len(b)
	id, n := binary.Uvarint(b)
	if n <= 0 || len(b) == n {
		return rollupField{}, 0, fmt.Errorf("%w: rollup field id", errCorrupt)
	}
	b = b[n:]
	f := rollupField{id: uint16(id)}
	if b[0] == tagAgg {
		count, n := binary.Uvarint(b[1:])
		if n <= 0 || len(b) < 1+n+32 {
			return rollupField{}, 0, fmt.Errorf("%w: rollup aggregate", errCorrupt)
		}
		b = b[1+n:]
		var v [4]float64
		for i := range v {
			v[i] = math.Float64frombits(binary.BigEndian.Uint64(b[8*i:]))
		}
		b = b[32:]
		f.a = agg{count: count, sum: v[0], min: v[1], max: v[2], last: v[3]}
	} else {
		v, n := readValue(b)
		if n == 0 {
			return rollupField{}, 0, fmt.Errorf("%w: rollup value", errCorrupt)
		}
		b = b[n:]
		f.a = pointAgg(0, v)
	}
	off, n := binary.Uvarint(b)
	if n <= 0 {
		return rollupField{}, 0, fmt.Errorf("%w: rollup offset", errCorrupt)
	}
	b = b[n:]
	f.a.lastT = minuteStart + int64(off)*int64(time.Microsecond)
	return f, size - len(b), nil
}
