package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// Stage is one step of delivering a notification.
type Stage interface {
	Exec(ctx context.Context, n alerting.Notification) error
}

// StageFunc is a Stage in a function.
type StageFunc func(ctx context.Context, n alerting.Notification) error

// Exec calls f.
func (f StageFunc) Exec(ctx context.Context, n alerting.Notification) error { return f(ctx, n) }

// MultiStage runs its stages in order and stops at the first error.
type MultiStage []Stage

// Exec runs every stage in order.
func (ms MultiStage) Exec(ctx context.Context, n alerting.Notification) error {
	for _, s := range ms {
		if err := s.Exec(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// FanoutStage sends many notifications through one stage at once and
// waits for all of them.
func FanoutStage(ctx context.Context, s Stage, ns []alerting.Notification) []error {
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Go(func() { errs[i] = s.Exec(ctx, n) })
	}
	wg.Wait()
	return errs
}

// Errors of the pipeline. ErrDuplicate and ErrInhibited stop a
// notification on purpose; Deliver does not report them as failures.
var (
	ErrDuplicate = errors.New("notification already delivered or in flight")
	ErrInhibited = errors.New("notification inhibited")
	ErrNoChannel = errors.New("no notifier for channel")
	ErrBadConfig = errors.New("bad notifier config")
	ErrGaveUp    = errors.New("notification not delivered")
)

// Outcome is what became of one attempt.
type Outcome string

// The outcomes of an attempt.
const (
	Delivered Outcome = "delivered"
	Retrying  Outcome = "retrying" // failed; another attempt follows
	Failed    Outcome = "failed"   // failed; no attempt follows
)

// Attempt is one try at delivering a notification, as the Recorder sees it.
type Attempt struct {
	Key     string            `json:"key"`
	Alarm   string            `json:"alarm"`
	Channel string            `json:"channel"`
	Kind    string            `json:"kind"` // the notifier: "webhook", "wecom", "dingtalk" …
	Note    alerting.NoteKind `json:"note"`
	Step    int               `json:"step"`
	Number  int               `json:"attempt"` // 1-based
	At      time.Time         `json:"at"`
	Took    time.Duration     `json:"took"`
	Status  int               `json:"status,omitempty"` // HTTP status, 0 when none came back
	Outcome Outcome           `json:"outcome"`
	Error   string            `json:"error,omitempty"`
	RetryIn time.Duration     `json:"retry_in,omitempty"` // the wait before the next attempt
}

// Recorder hears of every attempt, after it is made. It is called on the
// delivering goroutine and should not block for long.
type Recorder interface {
	RecordAttempt(a Attempt)
}

// RecorderFunc is a Recorder in a function.
type RecorderFunc func(Attempt)

// RecordAttempt calls f.
func (f RecorderFunc) RecordAttempt(a Attempt) { f(a) }

// Metrics counts what the pipeline does, by channel and notifier kind.
// The gateway implements it with Prometheus counters.
type Metrics interface {
	// Attempted counts one attempt and its outcome.
	Attempted(channel, kind string, outcome Outcome)
	// Skipped counts a notification not sent: "duplicate" or "inhibited".
	Skipped(channel, reason string)
}

type noMetrics struct{}

func (noMetrics) Attempted(string, string, Outcome) {}
func (noMetrics) Skipped(string, string)            {}

// Config configures a Pipeline. Zero values take the defaults named below.
type Config struct {
	// Channels maps channel names ("webhook:county", "robot:qingshan",
	// "console") to their notifiers.
	Channels map[string]alerting.Notifier
	Backoff  Backoff // DefaultBackoff when zero
	Recorder Recorder
	Metrics  Metrics
	// Log remembers delivered keys; NewMemLog(DefaultDedupTTL) when nil.
	Log DeliveredLog
	// Inhibit, when set, drops the notifications it returns true for
	// (the members of a site-level incident, those whose alarm moved on),
	// before the first attempt and again before every retry.
	Inhibit func(alerting.Notification) bool
	Now     func() time.Time                                 // time.Now when nil
	Sleep   func(ctx context.Context, d time.Duration) error // a timer when nil
	Rand    func() float64                                   // math/rand/v2 when nil
}

// Pipeline delivers notifications: inhibit → dedup → retry → notifier.
// It is safe for concurrent use.
type Pipeline struct {
	stage   Stage
	metrics Metrics
}

// New checks cfg and builds a pipeline.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Backoff == (Backoff{}) {
		cfg.Backoff = DefaultBackoff
	}
	if err := cfg.Backoff.Validate(); err != nil {
		return nil, err
	}
	for name, n := range cfg.Channels {
		if n == nil {
			return nil, fmt.Errorf("%w: channel %q has no notifier", ErrBadConfig, name)
		}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.Log == nil {
		cfg.Log = NewMemLog(DefaultDedupTTL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	retry := &Retry{Channels: cfg.Channels, Backoff: cfg.Backoff, Recorder: cfg.Recorder,
		Metrics: cfg.Metrics, Inhibit: cfg.Inhibit, Now: cfg.Now, Sleep: cfg.Sleep, Rand: cfg.Rand}
	var ms MultiStage
	if cfg.Inhibit != nil {
		ms = append(ms, StageFunc(func(_ context.Context, n alerting.Notification) error {
			if cfg.Inhibit(n) {
				return ErrInhibited
			}
			return nil
		}))
	}
	ms = append(ms, &Dedup{Log: cfg.Log, Next: retry, Now: cfg.Now})
	return &Pipeline{stage: ms, metrics: cfg.Metrics}, nil
}

// Deliver sends the notifications at once, each through the whole
// pipeline, and waits for all of them. It returns the failures joined;
// duplicates and inhibited notifications are not failures. Deliver blocks
// while retries back off: callers that must not wait run it on a
// goroutine, and cancel ctx to give up.
func (p *Pipeline) Deliver(ctx context.Context, ns ...alerting.Notification) error {
	var failed []error
	for i, err := range FanoutStage(ctx, p.stage, ns) {
		switch {
		case err == nil:
		case errors.Is(err, ErrDuplicate):
			p.metrics.Skipped(ns[i].Channel, "duplicate")
		case errors.Is(err, ErrInhibited):
			p.metrics.Skipped(ns[i].Channel, "inhibited")
		default:
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}
