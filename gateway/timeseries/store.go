package timeseries

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Store is what the gateway needs from a time-series database. Embedded,
// Influx and Buffered implement it; all are safe for concurrent use.
type Store interface {
	// Write stores points. Embedded and Influx write synchronously and
	// return the store's error; Buffered only queues and never blocks.
	Write(ctx context.Context, points ...Point) error
	// Query reads one field of the series matching q over [q.Start, q.End),
	// aggregated over windows of q.Every (or raw points when q.Every is 0).
	Query(ctx context.Context, q Query) ([]Sample, error)
	// Series lists the series of measurement with a point at or after since,
	// ordered by their String form.
	Series(ctx context.Context, measurement Measurement, since time.Time) ([]Series, error)
	// Flush returns once every point accepted so far is stored.
	Flush(ctx context.Context) error
	// Close flushes what it can and releases the store.
	Close() error
}

// Sentinel errors of the package.
var (
	// ErrInvalidPoint: a point that no store would accept (see Point.Validate).
	ErrInvalidPoint = errors.New("invalid point")
	// ErrInvalidQuery: a query with missing or inconsistent parameters.
	ErrInvalidQuery = errors.New("invalid query")
	// ErrBufferFull: Buffered.Write dropped points because its queue was full.
	ErrBufferFull = errors.New("time-series buffer full, points dropped")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("time-series store closed")
	// ErrTooManySeries: the embedded store's series limit was reached.
	ErrTooManySeries = errors.New("too many series")
	// ErrRejected marks a write error that retrying cannot fix (the store
	// refused the data itself); Buffered drops such a batch and counts it.
	ErrRejected = errors.New("store rejected the points")
	// ErrInvalidConfig wraps every configuration error; the message names the field.
	ErrInvalidConfig = errors.New("invalid time-series config")

	// errCorrupt: the embedded store's file holds a record it cannot decode.
	errCorrupt = errors.New("corrupt time-series record")
)

// Fn is an aggregation function over a window.
type Fn string

// The aggregation functions both stores implement. Each is exact over
// per-minute rollups, which is why the set is small.
const (
	Mean  Fn = "mean"
	Max   Fn = "max"
	Min   Fn = "min"
	Count Fn = "count"
	Sum   Fn = "sum"
	Last  Fn = "last"
)

// Fns lists the supported aggregation functions.
func Fns() []Fn { return []Fn{Mean, Max, Min, Count, Sum, Last} }

// Query selects one field of the series of a measurement whose tags include
// all of Tags (all matching series are read as one: with Tags naming a
// device that is the device's series; with Tags naming a village it is the
// village's devices together).
type Query struct {
	Measurement Measurement
	Tags        map[string]string
	Field       string
	// Start is inclusive, End exclusive.
	Start, End time.Time
	// Every is the window length; windows are aligned to the Unix epoch, as
	// Flux's aggregateWindow aligns them. Zero returns raw points.
	Every time.Duration
	// Fn aggregates each window; required when Every is set.
	Fn Fn
}

// Sample is one value of a query result. For aggregated queries Time is the
// start of the window (clipped to Query.Start for the first window); empty
// windows are left out.
type Sample struct {
	Time  time.Time
	Value float64
}

// Validate reports what is wrong with q, wrapping ErrInvalidQuery.
func (q Query) Validate() error {
	switch {
	case !q.Measurement.Valid():
		return fmt.Errorf("%w: measurement %q is not one of %v", ErrInvalidQuery, q.Measurement, Measurements())
	case q.Field == "":
		return fmt.Errorf("%w: field is empty", ErrInvalidQuery)
	case q.Start.IsZero() || q.End.IsZero():
		return fmt.Errorf("%w: start and end are required", ErrInvalidQuery)
	case !q.End.After(q.Start):
		return fmt.Errorf("%w: end %v is not after start %v", ErrInvalidQuery, q.End, q.Start)
	case q.Every < 0:
		return fmt.Errorf("%w: every %v is negative", ErrInvalidQuery, q.Every)
	case q.Every > 0 && q.Every%time.Second != 0:
		return fmt.Errorf("%w: every %v is not a whole number of seconds", ErrInvalidQuery, q.Every)
	case q.Every > 0 && !slices.Contains(Fns(), q.Fn):
		return fmt.Errorf("%w: fn %q is not one of %v", ErrInvalidQuery, q.Fn, Fns())
	case q.Every == 0 && q.Fn != "":
		return fmt.Errorf("%w: fn %q needs a window (every)", ErrInvalidQuery, q.Fn)
	}
	return nil
}
