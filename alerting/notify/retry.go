package notify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// Backoff is the schedule of retries: the wait after the n-th failed
// attempt is Base·Factor^(n-1), at most Max, spread by ±Jitter of itself.
type Backoff struct {
	Base        time.Duration `json:"base"`
	Factor      float64       `json:"factor"`
	Max         time.Duration `json:"max"`
	MaxAttempts int           `json:"max_attempts"`
	Jitter      float64       `json:"jitter"` // 0 to 1
}

// DefaultBackoff tries 20 times over about 15 minutes (2, 4, 8, 16, 32 s,
// then once a minute): long enough that a receiver down for minutes still
// gets what is due once it is back, and a robot's per-minute rate limit is
// ridden out. A stale notification is not what bounds it: before each retry
// the Retry stage asks Inhibit, so one whose alarm was taken meanwhile stops.
var DefaultBackoff = Backoff{Base: 2 * time.Second, Factor: 2, Max: time.Minute, MaxAttempts: 20, Jitter: 0.2}

// Validate checks b, naming the bad field.
func (b Backoff) Validate() error {
	switch {
	case b.Base <= 0:
		return fmt.Errorf("%w: backoff base %s: must be positive", ErrBadConfig, b.Base)
	case b.Factor < 1:
		return fmt.Errorf("%w: backoff factor %g: must be at least 1", ErrBadConfig, b.Factor)
	case b.Max < b.Base:
		return fmt.Errorf("%w: backoff max %s: must be at least base %s", ErrBadConfig, b.Max, b.Base)
	case b.MaxAttempts < 1:
		return fmt.Errorf("%w: backoff max_attempts %d: must be at least 1", ErrBadConfig, b.MaxAttempts)
	case b.Jitter < 0 || b.Jitter > 1:
		return fmt.Errorf("%w: backoff jitter %g: must be from 0 to 1", ErrBadConfig, b.Jitter)
	}
	return nil
}

// Delay is the wait after failed attempt n (1-based); rnd is uniform in [0, 1).
func (b Backoff) Delay(n int, rnd float64) time.Duration {
	d := float64(b.Base) * math.Pow(b.Factor, float64(n-1))
	d = min(d, float64(b.Max))
	d *= 1 + b.Jitter*(2*rnd-1)
	return time.Duration(min(d, float64(b.Max)))
}

// Retry is the stage that makes the attempts: it sends n through the
// notifier of its channel until one succeeds, the notifier says retrying
// is pointless, MaxAttempts are spent, or Inhibit, asked before each
// retry, says n is no longer wanted (ErrInhibited), recording every attempt.
type Retry struct {
	Channels map[string]alerting.Notifier
	Backoff  Backoff
	Recorder Recorder
	Metrics  Metrics
	// Inhibit, when set, is asked before every attempt after the first:
	// the alarm may have been taken while the receiver was down.
	Inhibit func(alerting.Notification) bool
	Now     func() time.Time
	Sleep   func(ctx context.Context, d time.Duration) error
	Rand    func() float64
}

// Kinder is implemented by notifiers that name their kind for attempts
// and metrics.
type Kinder interface{ Kind() string }

func kindOf(n alerting.Notifier) string {
	if k, ok := n.(Kinder); ok {
		return k.Kind()
	}
	return fmt.Sprintf("%T", n)
}

// Exec makes the attempts.
func (r *Retry) Exec(ctx context.Context, n alerting.Notification) error {
	now, sleep, rnd := r.Now, r.Sleep, r.Rand
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = timerSleep
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	base := Attempt{Key: n.Key, Channel: n.Channel, Note: n.Kind, Step: n.Step}
	if n.Alarm != nil {
		base.Alarm = n.Alarm.ID
	}
	nf, ok := r.Channels[n.Channel]
	if !ok {
		a := base
		a.Number, a.At, a.Outcome, a.Error = 1, now(), Failed, ErrNoChannel.Error()
		r.record(a)
		return fmt.Errorf("%s: %w %q", n.Key, ErrNoChannel, n.Channel)
	}
	base.Kind = kindOf(nf)
	for attempt := 1; ; attempt++ {
		n.Attempt = attempt
		a := base
		a.Number, a.At = attempt, now()
		actx, info := withAttemptInfo(ctx)
		retry, err := nf.Notify(actx, n)
		a.Took, a.Status = now().Sub(a.At), info.status
		switch {
		case err == nil:
			a.Outcome = Delivered
			r.record(a)
			return nil
		case !retry || attempt >= r.Backoff.MaxAttempts || ctx.Err() != nil:
			a.Outcome, a.Error = Failed, err.Error()
			r.record(a)
			return fmt.Errorf("%s: %w after %d attempts: %w", n.Key, ErrGaveUp, attempt, err)
		}
		wait := r.Backoff.Delay(attempt, rnd())
		var he *HTTPError
		if errors.As(err, &he) && he.RetryAfter > wait {
			wait = min(he.RetryAfter, r.Backoff.Max)
		}
		a.Outcome, a.Error, a.RetryIn = Retrying, err.Error(), wait
		r.record(a)
		if err := sleep(ctx, wait); err != nil {
			// Given up between attempts (the gateway is stopping): the
			// last attempt recorded says retrying, the error says why not.
			return fmt.Errorf("%s: %w after %d attempts: %w", n.Key, ErrGaveUp, attempt, err)
		}
		if r.Inhibit != nil && r.Inhibit(n) {
			return fmt.Errorf("%s: %w after %d attempts", n.Key, ErrInhibited, attempt)
		}
	}
}

func (r *Retry) record(a Attempt) {
	if r.Recorder != nil {
		r.Recorder.RecordAttempt(a)
	}
	if r.Metrics != nil {
		r.Metrics.Attempted(a.Channel, a.Kind, a.Outcome)
	}
}

func timerSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
