package timeseries

import (
	"slices"
	"time"
)

// agg summarises the values of one field over some span: a single point
// (count 1) or a rollup minute. Every Fn is exact from these five numbers,
// which is what lets a 24-hour query read rollups instead of raw points.
type agg struct {
	count         uint64
	sum, min, max float64
	last          float64
	lastT         int64 // Unix ns of the point that gave last
}

func pointAgg(t int64, v float64) agg {
	return agg{count: 1, sum: v, min: v, max: v, last: v, lastT: t}
}

// merge folds b into a. On equal times the later merge wins "last", so a
// repeated point replaces the earlier one's last value.
func (a *agg) merge(b agg) {
	if b.count == 0 {
		return
	}
	if a.count == 0 {
		*a = b
		return
	}
	a.count += b.count
	a.sum += b.sum
	a.min = min(a.min, b.min)
	a.max = max(a.max, b.max)
	if b.lastT >= a.lastT {
		a.last, a.lastT = b.last, b.lastT
	}
}

func (a agg) value(fn Fn) float64 {
	switch fn {
	case Mean:
		return a.sum / float64(a.count)
	case Max:
		return a.max
	case Min:
		return a.min
	case Count:
		return float64(a.count)
	case Sum:
		return a.sum
	default: // Last; Query.Validate rejects anything else
		return a.last
	}
}

// windower gathers aggs into the windows of a query.
type windower struct {
	q     Query
	start int64
	every int64
	wins  map[int64]*agg
}

func newWindower(q Query) *windower {
	return &windower{q: q, start: q.Start.UnixNano(), every: int64(q.Every), wins: map[int64]*agg{}}
}

// add puts a span starting at t (a point, or a rollup minute that lies
// wholly inside one window) into its window.
func (w *windower) add(t int64, a agg) {
	ws := t - mod(t, w.every)
	if ws < w.start {
		ws = w.start // Flux clips the first window's start to the range
	}
	cur := w.wins[ws]
	if cur == nil {
		cur = &agg{}
		w.wins[ws] = cur
	}
	cur.merge(a)
}

func (w *windower) samples() []Sample {
	out := make([]Sample, 0, len(w.wins))
	for ws, a := range w.wins {
		out = append(out, Sample{Time: time.Unix(0, ws).UTC(), Value: a.value(w.q.Fn)})
	}
	slices.SortFunc(out, func(a, b Sample) int { return a.Time.Compare(b.Time) })
	return out
}

// mod is the non-negative remainder, so that windows align to the epoch.
func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
