package timeseries

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a point is dropped, the values of the "reason" label.
const (
	DropFull     = "full"     // the queue was at capacity
	DropInvalid  = "invalid"  // Point.Validate refused it
	DropRejected = "rejected" // the store refused its batch (ErrRejected)
	DropClosed   = "closed"   // written after Close, or still queued when Close gave up
)

type metrics struct {
	dropped  *prometheus.CounterVec
	written  prometheus.Counter
	errors   prometheus.Counter
	duration prometheus.Histogram
	depth    prometheus.GaugeFunc
	capacity prometheus.Gauge
	healthy  prometheus.GaugeFunc
}

func newMetrics(backend string, depth, healthy func() float64) *metrics {
	cl := prometheus.Labels{"backend": backend}
	m := &metrics{
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "anxin_tsdb_dropped_points_total", ConstLabels: cl,
			Help: "Time-series points dropped instead of stored, by reason (full, invalid, rejected, closed).",
		}, []string{"reason"}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "anxin_tsdb_written_points_total", ConstLabels: cl,
			Help: "Time-series points the store accepted.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "anxin_tsdb_write_errors_total", ConstLabels: cl,
			Help: "Failed batch writes to the time-series store (each retry counts).",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "anxin_tsdb_write_duration_seconds", ConstLabels: cl,
			Help:    "Duration of one batch write to the time-series store, failed ones included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10), // 1 ms … 3.8 s
		}),
		depth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "anxin_tsdb_buffer_depth", ConstLabels: cl,
			Help: "Time-series points queued or being written.",
		}, depth),
		capacity: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "anxin_tsdb_buffer_capacity", ConstLabels: cl,
			Help: "Most time-series points the buffer holds before dropping.",
		}),
		healthy: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "anxin_tsdb_healthy", ConstLabels: cl,
			Help: "1 when the last write to the time-series store succeeded and the buffer is not full.",
		}, healthy),
	}
	for _, r := range []string{DropFull, DropInvalid, DropRejected, DropClosed} {
		m.dropped.WithLabelValues(r) // export zeros, so rate() works from the start
	}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{m.dropped, m.written, m.errors, m.duration, m.depth, m.capacity, m.healthy} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register time-series metrics: %w", err)
		}
	}
	return nil
}
