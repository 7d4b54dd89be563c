package timeseries

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// dropLogEvery rate-limits the warning about dropped points.
const dropLogEvery = 10 * time.Second

var _ Store = (*Buffered)(nil)

// Buffered puts a bounded queue in front of a Store so that producers, the
// alarm pipeline above all, never wait on the time-series database. Write
// only copies points into the queue (taking ownership of their maps) and
// drops them, counted, when the queue is full. One goroutine drains the
// queue in batches; while the store fails it retries the same batch with
// exponential backoff, so points arrive in order once it is back.
type Buffered struct {
	store   Store
	backend string
	cfg     BufferConfig
	log     *slog.Logger
	m       *metrics

	ctx    context.Context // cancelled when the drainer must stop
	cancel context.CancelFunc
	kick   chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	ring     []Point // the queue: ring[head], …, ring[head+n-1] modulo capacity
	head, n  int
	inflight int           // points the drainer took and has not finished
	idle     chan struct{} // open while depth > 0; closed when it drains
	closed   bool
	failing  bool
	written  uint64
	dropped  map[string]uint64
	lastErr  error
	lastErrT time.Time
	lastOKT  time.Time
	lastDrop time.Time // last time a drop was logged
}

// Status is the Buffered writer's state, for /readyz detail and the console.
type Status struct {
	Backend   string            `json:"backend"`
	Healthy   bool              `json:"healthy"`
	Depth     int               `json:"depth"`
	Capacity  int               `json:"capacity"`
	Written   uint64            `json:"written"`
	Dropped   uint64            `json:"dropped"`
	DroppedBy map[string]uint64 `json:"dropped_by_reason,omitempty"`
	// LastError is the most recent write error, kept after the store
	// recovers so that an operator can see what happened and when.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// LastWriteAt is the time of the last successful write.
	LastWriteAt time.Time `json:"last_write_at,omitzero"`
}

// NewBuffered starts a Buffered writer in front of store. backend names the
// store in metrics ("embedded", "influxdb"); reg may be nil.
func NewBuffered(store Store, backend string, cfg BufferConfig, reg prometheus.Registerer, logger *slog.Logger) (*Buffered, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate("timeseries.buffer"); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Buffered{store: store, backend: backend, cfg: cfg, log: logger.With("tsdb", backend),
		ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1), done: make(chan struct{}),
		ring: make([]Point, cfg.Capacity), dropped: map[string]uint64{}}
	b.m = newMetrics(backend, func() float64 { return float64(b.Depth()) }, func() float64 {
		if b.Healthy() {
			return 1
		}
		return 0
	})
	b.m.capacity.Set(float64(cfg.Capacity))
	if err := b.m.register(reg); err != nil {
		cancel()
		return nil, err
	}
	go b.run()
	return b, nil
}

// Write queues points and returns at once. It returns an error wrapping
// ErrInvalidPoint for points no store would take and ErrBufferFull when
// the queue had no room; either way the other points are queued, and the
// dropped ones are counted, so the alarm path may ignore the error. The
// ctx is not used: Write never waits.
func (b *Buffered) Write(_ context.Context, points ...Point) error {
	var errs []error
	valid := points
	for i := range points {
		if err := points[i].Validate(); err != nil {
			valid, errs = splitValid(points)
			break
		}
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.drop(DropClosed, len(valid))
		return errors.Join(append(errs, ErrClosed)...)
	}
	wasIdle := b.depth() == 0
	queued := min(len(valid), b.cfg.Capacity-b.depth())
	for _, p := range valid[:queued] {
		b.ring[(b.head+b.n)%len(b.ring)] = p
		b.n++
	}
	if wasIdle && queued > 0 {
		b.idle = make(chan struct{})
	}
	full := b.n >= b.cfg.BatchSize
	b.mu.Unlock()

	if full {
		b.wake()
	}
	b.drop(DropInvalid, len(points)-len(valid))
	if n := len(valid) - queued; n > 0 {
		b.drop(DropFull, n)
		errs = append(errs, fmt.Errorf("%w: %d of %d", ErrBufferFull, n, len(points)))
	}
	return errors.Join(errs...)
}

func splitValid(points []Point) ([]Point, []error) {
	var valid []Point
	var errs []error
	for _, p := range points {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		valid = append(valid, p)
	}
	return valid, errs
}

func (b *Buffered) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *Buffered) depth() int { return b.n + b.inflight }

func (b *Buffered) drop(reason string, n int) {
	if n <= 0 {
		return
	}
	b.m.dropped.WithLabelValues(reason).Add(float64(n))
	b.mu.Lock()
	b.dropped[reason] += uint64(n)
	logIt := time.Since(b.lastDrop) >= dropLogEvery
	if logIt {
		b.lastDrop = time.Now()
	}
	total := b.dropped[reason]
	b.mu.Unlock()
	if logIt {
		b.log.Warn("time-series points dropped", "reason", reason, "points", n, "total", total)
	}
}

// run is the drainer: it wakes when a batch is full, on every
// FlushInterval, and on Flush, and then writes until the queue is empty.
func (b *Buffered) run() {
	defer close(b.done)
	tick := time.NewTicker(time.Duration(b.cfg.FlushInterval))
	defer tick.Stop()
	batch := make([]Point, 0, b.cfg.BatchSize)
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.kick:
		case <-tick.C:
		}
		for b.ctx.Err() == nil {
			batch = b.take(batch[:0])
			if len(batch) == 0 {
				break
			}
			b.writeBatch(batch)
		}
	}
}

// take moves up to BatchSize points from the queue into batch; they stay
// counted in the depth until writeBatch finishes with them.
func (b *Buffered) take(batch []Point) []Point {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := min(b.n, b.cfg.BatchSize)
	for range k {
		batch = append(batch, b.ring[b.head])
		b.ring[b.head] = Point{} // let the maps go
		b.head = (b.head + 1) % len(b.ring)
	}
	b.n -= k
	b.inflight = k
	return batch
}

// writeBatch writes batch, retrying with backoff until it is stored, the
// store rejects it, or the Buffered is stopped.
func (b *Buffered) writeBatch(batch []Point) {
	for attempt := 0; ; attempt++ {
		start := time.Now()
		err := b.store.Write(b.ctx, batch...)
		b.m.duration.Observe(time.Since(start).Seconds())
		switch {
		case err == nil:
			b.finish(len(batch), nil)
			return
		case errors.Is(err, ErrRejected) || errors.Is(err, ErrInvalidPoint):
			b.log.Error("time-series store rejected a batch", "points", len(batch), "err", err)
			b.finish(0, err)
			b.drop(DropRejected, len(batch))
			return
		case b.ctx.Err() != nil:
			return // stopping; Close counts what is left
		}
		b.m.errors.Inc()
		b.recordFailure(err, len(batch), attempt)
		select {
		case <-time.After(b.backoff(attempt)):
		case <-b.ctx.Done():
			return
		}
	}
}

func (b *Buffered) backoff(attempt int) time.Duration {
	d := time.Duration(b.cfg.MinBackoff) << min(attempt, 30)
	if d <= 0 || d > time.Duration(b.cfg.MaxBackoff) {
		d = time.Duration(b.cfg.MaxBackoff)
	}
	return d/2 + rand.N(d/2+1) // jitter, so that gateways do not retry in step
}

func (b *Buffered) recordFailure(err error, points, attempt int) {
	b.mu.Lock()
	first := !b.failing
	b.failing, b.lastErr, b.lastErrT = true, err, time.Now()
	depth := b.depth()
	b.mu.Unlock()
	if first {
		b.log.Warn("time-series store failing, buffering points", "err", err, "batch", points, "queued", depth)
	} else {
		b.log.Debug("time-series write retry failed", "err", err, "attempt", attempt, "queued", depth)
	}
}

// finish ends the in-flight batch: written points are counted, the failure
// state is cleared on success, and Flush waiters are released when empty.
func (b *Buffered) finish(written int, err error) {
	b.mu.Lock()
	recovered := b.failing && err == nil
	if err == nil {
		b.failing = false
		b.lastOKT = time.Now()
	} else {
		b.lastErr, b.lastErrT = err, time.Now()
	}
	down := b.lastErrT
	b.written += uint64(written)
	b.inflight = 0
	if b.n == 0 && b.idle != nil {
		close(b.idle)
		b.idle = nil
	}
	depth := b.n
	b.mu.Unlock()
	b.m.written.Add(float64(written))
	if recovered {
		b.log.Info("time-series store recovered", "queued", depth, "last_error_at", down)
	}
}

// Flush waits until everything queued before it is written (or dropped by
// the store's rejection), or ctx ends.
func (b *Buffered) Flush(ctx context.Context) error {
	b.mu.Lock()
	idle := b.idle
	b.mu.Unlock()
	if idle == nil {
		return nil
	}
	b.wake()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("time-series flush: %d points still queued: %w", b.Depth(), ctx.Err())
	}
}

// Query reads from the store; queued points are not yet visible.
func (b *Buffered) Query(ctx context.Context, q Query) ([]Sample, error) {
	return b.store.Query(ctx, q)
}

// Series lists series from the store.
func (b *Buffered) Series(ctx context.Context, m Measurement, since time.Time) ([]Series, error) {
	return b.store.Series(ctx, m, since)
}

// Close stops accepting points, tries for CloseTimeout to write what is
// queued, counts the rest as dropped, and closes the store.
func (b *Buffered) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(b.cfg.CloseTimeout))
	flushErr := b.Flush(ctx)
	cancel()
	b.cancel()
	<-b.done

	b.mu.Lock()
	lost := b.depth()
	b.n, b.inflight = 0, 0
	clear(b.ring)
	if b.idle != nil {
		close(b.idle)
		b.idle = nil
	}
	b.mu.Unlock()
	if lost > 0 {
		b.drop(DropClosed, lost)
		b.log.Warn("time-series points lost at close", "points", lost, "err", flushErr)
	}
	if err := b.store.Close(); err != nil {
		return err
	}
	return nil
}

// Depth is the number of points queued or being written.
func (b *Buffered) Depth() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.depth()
}

// Dropped is the number of points dropped for any reason.
func (b *Buffered) Dropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n uint64
	for _, v := range b.dropped {
		n += v
	}
	return n
}

// LastError is the store's last write error, nil once a write succeeds again.
func (b *Buffered) LastError() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.failing {
		return nil
	}
	return b.lastErr
}

// Healthy reports whether the store takes writes and the queue has room.
// An unhealthy time-series store does not endanger alarms; the gateway
// shows it in /readyz detail rather than failing readiness for it.
func (b *Buffered) Healthy() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.closed && !b.failing && b.depth() < b.cfg.Capacity
}

// Status returns a snapshot of the writer's state.
func (b *Buffered) Status() Status {
	healthy := b.Healthy()
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Status{Backend: b.backend, Healthy: healthy, Depth: b.depth(), Capacity: b.cfg.Capacity,
		Written: b.written, LastErrorAt: b.lastErrT, LastWriteAt: b.lastOKT}
	if len(b.dropped) > 0 {
		s.DroppedBy = make(map[string]uint64, len(b.dropped))
		for k, v := range b.dropped {
			s.DroppedBy[k] = v
			s.Dropped += v
		}
	}
	if b.lastErr != nil {
		s.LastError = b.lastErr.Error()
	}
	return s
}

// Store returns the store behind the buffer.
func (b *Buffered) Store() Store { return b.store }
