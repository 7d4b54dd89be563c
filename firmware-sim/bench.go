package firmwaresim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/anxin-care/anxin/devices"
)

// Bench defaults.
const (
	DefaultBenchTimeout = 10 * time.Second
	// DefaultBenchSeqReserve keeps the per-press fsync of the seq file off
	// the measured path: at 1000 presses/s one fsync each would load the disk
	// of the machine under test more than the gateway does.
	DefaultBenchSeqReserve = 1000
	DefaultConnectParallel = 16
	// MaxBenchPresses bounds one run's schedule and its latency samples.
	MaxBenchPresses = 10_000_000
)

// BenchOptions configures a load run.
type BenchOptions struct {
	Broker          string
	Devices         []Credentials
	Kind            devices.Kind      // default call_button
	Type            devices.EventType // default: the kind's primary event
	Rate            float64           // presses per second, over all devices
	Duration        time.Duration
	Timeout         time.Duration // from a press's planned time to its "received"
	StateDir        string
	SeqReserve      int
	ConnectParallel int
	TLS             *tls.Config
	Logger          *slog.Logger
	Progress        io.Writer // one line a second while pressing; nil for none
}

func (o BenchOptions) withDefaults() (BenchOptions, error) {
	if o.Kind == "" {
		o.Kind = devices.KindCallButton
	}
	if _, err := devices.LookupKind(o.Kind); err != nil {
		return o, fmt.Errorf("%w: kind: %w", ErrInvalidConfig, err)
	}
	if o.Type == "" {
		o.Type = profileOf(o.Kind).primary
	}
	o.Timeout = cmp0(o.Timeout, DefaultBenchTimeout)
	o.SeqReserve = cmp0(o.SeqReserve, DefaultBenchSeqReserve)
	o.ConnectParallel = cmp0(o.ConnectParallel, DefaultConnectParallel)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch n := o.Rate * o.Duration.Seconds(); {
	case len(o.Devices) == 0:
		return o, fmt.Errorf("%w: bench needs at least one device", ErrInvalidConfig)
	case o.Rate <= 0 || o.Duration <= 0 || math.IsInf(o.Rate, 0):
		return o, fmt.Errorf("%w: rate and duration must be positive", ErrInvalidConfig)
	case n < 1 || n > MaxBenchPresses:
		return o, fmt.Errorf("%w: rate × duration is %.0f presses; want 1 to %d", ErrInvalidConfig, n, MaxBenchPresses)
	}
	return o, validateBroker(o.Broker)
}

func cmp0[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// BenchResult is what a load run measured.
type BenchResult struct {
	Devices  int
	Rate     float64       // the target rate
	Duration time.Duration // the target duration
	Planned  int
	Issued   int           // presses started; fewer than Planned if the run was interrupted
	Window   time.Duration // from the first planned press to one interval after the last issued
	Received int
	TimedOut int // no PUBACK or no "received" before the deadline
	Failed   int // publishing failed outright (refused, seq not saved)
	// Latencies run from each press's planned time to its "received", sorted.
	Latencies []time.Duration
}

// Lost is the number of issued presses that never got their "received".
func (r BenchResult) Lost() int { return r.TimedOut + r.Failed }

// Achieved is the rate at which presses were actually issued.
func (r BenchResult) Achieved() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Issued) / r.Window.Seconds()
}

// Quantile returns the q-quantile (0..1) of the latencies, by nearest rank.
func (r BenchResult) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(r.Latencies)))) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// WriteReport prints the result for a person.
func (r BenchResult) WriteReport(w io.Writer) error {
	_, err := fmt.Fprintf(w, "bench: %d devices, target %.1f presses/s (%.1f per device) for %s\n"+
		"issued %d of %d presses, achieved %.1f/s\n"+
		"received %d, lost %d (timed out %d, failed %d)\n"+
		"press → received: p50 %s  p95 %s  p99 %s  max %s\n",
		r.Devices, r.Rate, r.Rate/float64(max(r.Devices, 1)), r.Duration, r.Issued, r.Planned, r.Achieved(),
		r.Received, r.Lost(), r.TimedOut, r.Failed,
		ms(r.Quantile(0.50)), ms(r.Quantile(0.95)), ms(r.Quantile(0.99)), ms(r.Quantile(1)))
	return err
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// Bench connects the fleet, presses on an open-loop schedule for the
// duration, waits for the stragglers (at most Timeout), and disconnects.
// Cancelling ctx stops the schedule early; presses already issued still get
// their full Timeout and are counted. The error is ErrLost when presses were
// lost; the result is valid either way.
func Bench(ctx context.Context, o BenchOptions) (BenchResult, error) {
	o, err := o.withDefaults()
	if err != nil {
		return BenchResult{}, err
	}
	fleet, err := connectFleet(ctx, o)
	if err != nil {
		return BenchResult{}, err
	}
	defer closeFleet(fleet, o.ConnectParallel)
	o.Logger.Info("bench started", slog.Int("devices", len(fleet)), slog.Float64("rate", o.Rate),
		slog.Duration("duration", o.Duration))
	res := runSchedule(ctx, fleet, o)
	if res.Lost() > 0 {
		return res, fmt.Errorf("%d of %d: %w", res.Lost(), res.Issued, ErrLost)
	}
	return res, nil
}

// runSchedule issues press i at start + i/rate, each on its own goroutine,
// and measures from that planned time, so a slow gateway cannot slow the
// schedule down and hide its own stalls.
func runSchedule(ctx context.Context, fleet []*Device, o BenchOptions) BenchResult {
	planned := int(math.Round(o.Rate * o.Duration.Seconds()))
	interval := float64(time.Second) / o.Rate
	res := BenchResult{Devices: len(fleet), Rate: o.Rate, Duration: o.Duration, Planned: planned}
	var mu sync.Mutex
	var wg sync.WaitGroup
	// In-flight presses outlive an interrupt so that they are counted.
	inflight := context.WithoutCancel(ctx)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	start := time.Now()
	if o.Progress != nil {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			tk := time.NewTicker(time.Second)
			defer tk.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tk.C:
					mu.Lock()
					line := fmt.Sprintf("bench %s/%s: issued %d of %d  received %d  lost %d\n",
						time.Since(start).Round(time.Second), o.Duration, res.Issued, planned, res.Received, res.Lost())
					mu.Unlock()
					_, _ = io.WriteString(o.Progress, line)
				}
			}
		}()
	}
	for i := range planned {
		at := start.Add(time.Duration(float64(i) * interval))
		if !sleepUntil(ctx, timer, at) {
			break
		}
		mu.Lock()
		res.Issued++
		mu.Unlock()
		wg.Go(func() {
			lat, outcome := pressOnce(inflight, fleet[i%len(fleet)], o.Type, at, o.Timeout)
			mu.Lock()
			defer mu.Unlock()
			res.add(lat, outcome)
		})
	}
	mu.Lock()
	res.Window = time.Since(start) + time.Duration(interval)
	mu.Unlock()
	wg.Wait()
	slices.Sort(res.Latencies)
	return res
}

func sleepUntil(ctx context.Context, timer *time.Timer, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil // behind schedule: catch up at once
	}
	timer.Reset(d)
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

type outcome int

const (
	outcomeReceived outcome = iota
	outcomeTimedOut
	outcomeFailed
)

func (r *BenchResult) add(lat time.Duration, o outcome) {
	switch o {
	case outcomeReceived:
		r.Received++
		r.Latencies = append(r.Latencies, lat)
	case outcomeTimedOut:
		r.TimedOut++
	default:
		r.Failed++
	}
}

func pressOnce(ctx context.Context, d *Device, t devices.EventType, planned time.Time, timeout time.Duration) (time.Duration, outcome) {
	ctx, cancel := context.WithDeadline(ctx, planned.Add(timeout))
	defer cancel()
	sent, err := d.Press(ctx, t)
	if err != nil && ctx.Err() != nil {
		return 0, outcomeTimedOut // no PUBACK before the deadline: the gateway is slow, not refusing
	}
	if err != nil {
		d.log.Warn("bench press failed", slog.Uint64("seq", sent.Seq), slog.Any("err", err))
		return 0, outcomeFailed
	}
	r, err := d.Wait(ctx, sent.Seq, StateReceived)
	if err != nil {
		return 0, outcomeTimedOut
	}
	return r.At.Sub(planned), outcomeReceived
}

// connectFleet connects every device, a few at a time so that a large fleet
// does not arrive as one burst of TCP handshakes. One failure aborts all.
func connectFleet(ctx context.Context, o BenchOptions) ([]*Device, error) {
	fleet := make([]*Device, len(o.Devices))
	for i, c := range o.Devices {
		d, err := New(Config{ID: c.ID, Password: c.Password, Broker: o.Broker, Kind: o.Kind,
			StateDir: o.StateDir, SeqReserve: o.SeqReserve, TLS: o.TLS, Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		fleet[i] = d
	}
	errs := make([]error, len(fleet))
	forEach(fleet, o.ConnectParallel, func(i int, d *Device) { errs[i] = d.Connect(ctx) })
	if err := errors.Join(errs...); err != nil {
		closeFleet(fleet, o.ConnectParallel)
		return nil, fmt.Errorf("connect fleet: %w", err)
	}
	return fleet, nil
}

func closeFleet(fleet []*Device, parallel int) {
	forEach(fleet, parallel, func(_ int, d *Device) { _ = d.Close(context.Background()) })
}

// forEach runs f on every device, at most parallel at once.
func forEach(fleet []*Device, parallel int, f func(int, *Device)) {
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i, d := range fleet {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i, d)
		})
	}
	wg.Wait()
}
