package timeseries

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeStore records what it is given; it can fail or hang on demand.
type fakeStore struct {
	mu      sync.Mutex
	points  []Point
	err     error         // returned by Write while set
	gate    chan struct{} // while non-nil, Write waits for it to close
	calls   int
	batches []int // sizes of the successful writes
	closed  bool
}

func (f *fakeStore) Write(ctx context.Context, points ...Point) error {
	f.mu.Lock()
	f.calls++
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.points = append(f.points, points...)
	f.batches = append(f.batches, len(points))
	return nil
}

func (f *fakeStore) set(err error, gate chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err, f.gate = err, gate
}

func (f *fakeStore) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *fakeStore) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.batches...)
}

func (f *fakeStore) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeStore) stored() []Point {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Point(nil), f.points...)
}

func (f *fakeStore) Query(context.Context, Query) ([]Sample, error) { return nil, nil }
func (f *fakeStore) Series(context.Context, Measurement, time.Time) ([]Series, error) {
	return nil, nil
}
func (f *fakeStore) Flush(context.Context) error { return nil }
func (f *fakeStore) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func seqPoint(i int) Point {
	return Point{Measurement: Telemetry, Tags: map[string]string{TagDevice: "d"},
		Fields: map[string]float64{"seq": float64(i)}, Time: t0.Add(time.Duration(i) * time.Second)}
}

// inOrder checks that points carry seq 0…n-1 in order.
func inOrder(t *testing.T, points []Point, n int) {
	t.Helper()
	if len(points) != n {
		t.Fatalf("stored %d points, want %d", len(points), n)
	}
	for i, p := range points {
		if p.Fields["seq"] != float64(i) {
			t.Fatalf("point %d has seq %v: order lost", i, p.Fields["seq"])
		}
	}
}

// metric reads one sample of a gathered metric (labels as name=value pairs).
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

func newTestBuffered(t *testing.T, store Store, cfg BufferConfig) (*Buffered, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	b, err := NewBuffered(store, "fake", cfg, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b, reg
}

// TestBufferedOutage: the store hangs, then fails, then comes back. Write
// never blocks, the queue holds up to its capacity, the excess is counted,
// and everything queued arrives in order once the store is back.
func TestBufferedOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &fakeStore{}
		b, reg := newTestBuffered(t, store, BufferConfig{Capacity: 100, BatchSize: 10, FlushInterval: Duration(time.Second)})
		defer b.Close()

		hang := make(chan struct{})
		store.set(nil, hang)
		for i := range 100 {
			if err := b.Write(context.Background(), seqPoint(i)); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		synctest.Wait() // the drainer is stuck in the hung store
		if err := b.Write(context.Background(), seqPoint(100), seqPoint(101)); !errors.Is(err, ErrBufferFull) {
			t.Fatalf("write beyond capacity: %v, want ErrBufferFull", err)
		}
		if got := metric(t, reg, "anxin_tsdb_dropped_points_total", "reason", DropFull); got != 2 {
			t.Errorf("dropped(full) = %v, want 2", got)
		}
		if got := metric(t, reg, "anxin_tsdb_buffer_depth"); got != 100 {
			t.Errorf("depth = %v, want 100", got)
		}
		if b.Healthy() {
			t.Error("healthy with a full buffer")
		}

		// The hang turns into errors: retries back off, points stay queued.
		store.set(errors.New("connection refused"), nil)
		close(hang)
		time.Sleep(10 * time.Second)
		if b.LastError() == nil || b.Healthy() {
			t.Errorf("during outage: last error %v, healthy %v", b.LastError(), b.Healthy())
		}
		st := b.Status()
		if st.Depth != 100 || st.Dropped != 2 || st.LastError != "connection refused" {
			t.Errorf("status during outage: %+v", st)
		}
		calls := store.callCount()
		if calls < 3 || calls > 15 {
			t.Errorf("%d write attempts in 10 s of outage, want a few (backoff)", calls)
		}

		store.set(nil, nil)
		time.Sleep(time.Minute) // longer than DefaultMaxBackoff
		if err := b.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		inOrder(t, store.stored(), 100)
		if !b.Healthy() || b.LastError() != nil || b.Depth() != 0 {
			t.Errorf("after recovery: healthy %v, last error %v, depth %d", b.Healthy(), b.LastError(), b.Depth())
		}
		if got := metric(t, reg, "anxin_tsdb_written_points_total"); got != 100 {
			t.Errorf("written = %v, want 100", got)
		}
		if got := metric(t, reg, "anxin_tsdb_write_errors_total"); got < 3 {
			t.Errorf("write errors = %v, want the failed attempts", got)
		}
	})
}

func TestBufferedWriteNeverWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &fakeStore{}
		hang := make(chan struct{})
		store.set(nil, hang)
		b, _ := newTestBuffered(t, store, BufferConfig{Capacity: 1000, BatchSize: 10})
		start := time.Now()
		for i := range 5000 {
			_ = b.Write(context.Background(), seqPoint(i))
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("writes into a hung store took %v of (fake) time", d)
		}
		if b.Dropped() != 4000 {
			t.Errorf("dropped %d, want 4000", b.Dropped())
		}
		close(hang)
		b.Close()
	})
}

func TestBufferedBatchesAndFlushInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &fakeStore{}
		b, _ := newTestBuffered(t, store, BufferConfig{Capacity: 1000, BatchSize: 50, FlushInterval: Duration(2 * time.Second)})
		defer b.Close()
		for i := range 30 {
			_ = b.Write(context.Background(), seqPoint(i))
		}
		synctest.Wait()
		if n := len(store.stored()); n != 0 {
			t.Errorf("%d points stored before the batch filled or the interval passed", n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		inOrder(t, store.stored(), 30)

		for i := 30; i < 150; i++ {
			_ = b.Write(context.Background(), seqPoint(i))
		}
		synctest.Wait() // full batches go at once; a partial rest waits for the interval
		if n := len(store.stored()); n < 80 {
			t.Errorf("%d points stored after 120 more were written, want at least the full batches", n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		inOrder(t, store.stored(), 150)
		if max := slices.Max(store.batchSizes()); max > 50 {
			t.Errorf("a batch of %d points, want at most 50", max)
		}
	})
}

func TestBufferedRejectedBatchIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &fakeStore{}
		b, reg := newTestBuffered(t, store, BufferConfig{Capacity: 100, BatchSize: 10})
		defer b.Close()
		store.set(fmt.Errorf("influxdb write: %w: field type conflict", ErrRejected), nil)
		for i := range 10 {
			_ = b.Write(context.Background(), seqPoint(i))
		}
		if err := b.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		store.set(nil, nil)
		_ = b.Write(context.Background(), seqPoint(0))
		if err := b.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(store.stored()); n != 1 {
			t.Errorf("stored %d, want only the point after the rejected batch", n)
		}
		if got := metric(t, reg, "anxin_tsdb_dropped_points_total", "reason", DropRejected); got != 10 {
			t.Errorf("dropped(rejected) = %v, want 10", got)
		}
		if store.callCount() != 2 {
			t.Errorf("%d store writes: a rejected batch must not be retried", store.callCount())
		}
	})
}

func TestBufferedInvalidPoints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &fakeStore{}
		b, reg := newTestBuffered(t, store, BufferConfig{})
		defer b.Close()
		err := b.Write(context.Background(), seqPoint(0), Point{Measurement: "weather"}, seqPoint(1))
		if !errors.Is(err, ErrInvalidPoint) {
			t.Errorf("err %v, want ErrInvalidPoint", err)
		}
		if err := b.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		inOrder(t, store.stored(), 2)
		if got := metric(t, reg, "anxin_tsdb_dropped_points_total", "reason", DropInvalid); got != 1 {
			t.Errorf("dropped(invalid) = %v, want 1", got)
		}
	})
}

func TestBufferedCloseGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &fakeStore{}
		store.set(errors.New("down"), nil)
		b, reg := newTestBuffered(t, store, BufferConfig{CloseTimeout: Duration(3 * time.Second)})
		for i := range 5 {
			_ = b.Write(context.Background(), seqPoint(i))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := b.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("flush into a down store: %v, want deadline exceeded", err)
		}
		start := time.Now()
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 3*time.Second || d > 4*time.Second {
			t.Errorf("close took %v, want the 3 s close timeout", d)
		}
		if !store.isClosed() {
			t.Error("store not closed")
		}
		if got := metric(t, reg, "anxin_tsdb_dropped_points_total", "reason", DropClosed); got != 5 {
			t.Errorf("dropped(closed) = %v, want 5", got)
		}
		if err := b.Write(context.Background(), seqPoint(9)); !errors.Is(err, ErrClosed) {
			t.Errorf("write after close: %v, want ErrClosed", err)
		}
	})
}

func TestBufferedCloseFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &fakeStore{}
		b, _ := newTestBuffered(t, store, BufferConfig{FlushInterval: Duration(time.Hour)})
		for i := range 7 {
			_ = b.Write(context.Background(), seqPoint(i))
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		inOrder(t, store.stored(), 7)
	})
}

func TestBufferedMetricsNeedOwnRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	b1, err := NewBuffered(&fakeStore{}, "fake", BufferConfig{}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b1.Close()
	if _, err := NewBuffered(&fakeStore{}, "fake", BufferConfig{}, reg, nil); err == nil {
		t.Error("second writer registered the same metrics without error")
	}
	b3, err := NewBuffered(&fakeStore{}, "fake", BufferConfig{}, nil, nil)
	if err != nil {
		t.Fatalf("nil registerer: %v", err)
	}
	b3.Close()
	for _, name := range []string{"anxin_tsdb_dropped_points_total", "anxin_tsdb_buffer_depth",
		"anxin_tsdb_write_duration_seconds", "anxin_tsdb_written_points_total"} {
		metric(t, reg, name)
	}
}
