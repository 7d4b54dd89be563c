package notify_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/alerting/notify"
)

var errDown = errors.New("receiver down")

// TestBackoffOnRealTimers runs the pipeline on real timers in a synctest
// bubble: the attempts land exactly Base·Factor^n apart, jitter aside.
func TestBackoffOnRealTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &alertingtest.Notifier{Answer: func(_ alerting.Notification, calls int) (bool, error) {
			if calls < 3 {
				return true, errDown
			}
			return false, nil
		}}
		p, err := notify.New(notify.Config{
			Channels: map[string]alerting.Notifier{"robot:qs-town": sink},
			Backoff:  notify.Backoff{Base: time.Second, Factor: 3, Max: 5 * time.Second, MaxAttempts: 6},
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := p.Deliver(t.Context(), note()); err != nil {
			t.Fatal(err)
		}
		var offsets []time.Duration
		for _, c := range sink.Calls() {
			offsets = append(offsets, c.At.Sub(start))
		}
		// 1 s, then 3 s, then 9 s capped at 5 s.
		if want := []time.Duration{0, time.Second, 4 * time.Second, 9 * time.Second}; !slices.Equal(offsets, want) {
			t.Fatalf("attempts at %v, want %v", offsets, want)
		}
	})
}

func TestDedupConcurrentHandOvers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		sink := &alertingtest.Notifier{Answer: func(alerting.Notification, int) (bool, error) {
			<-release
			return false, nil
		}}
		met := &counters{}
		p, err := notify.New(notify.Config{Channels: map[string]alerting.Notifier{"robot:qs-town": sink}, Metrics: met})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if err := p.Deliver(t.Context(), note()); err != nil {
					t.Error(err)
				}
			})
		}
		synctest.Wait() // one delivery waits in the notifier, four were turned away
		close(release)
		wg.Wait()
		if n := len(sink.Calls()); n != 1 {
			t.Fatalf("%d calls, want 1", n)
		}
		if d := met.get("robot:qs-town duplicate"); d != 4 {
			t.Fatalf("%d duplicates counted, want 4", d)
		}
	})
}

func TestFailedDeliveryCanBeHandedOverAgain(t *testing.T) {
	rec := &recorder{}
	sink := &alertingtest.Notifier{Answer: func(_ alerting.Notification, calls int) (bool, error) {
		if calls == 0 {
			return false, errDown // not worth retrying now
		}
		return false, nil
	}}
	p, err := notify.New(notify.Config{Channels: map[string]alerting.Notifier{"robot:qs-town": sink}, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Deliver(t.Context(), note()); !errors.Is(err, notify.ErrGaveUp) || !errors.Is(err, errDown) {
		t.Fatalf("Deliver: %v, want ErrGaveUp wrapping the notifier's error", err)
	}
	if err := p.Deliver(t.Context(), note()); err != nil {
		t.Fatalf("Deliver again: %v", err)
	}
	var outcomes []notify.Outcome
	for _, a := range rec.all() {
		outcomes = append(outcomes, a.Outcome)
	}
	if !slices.Equal(outcomes, []notify.Outcome{notify.Failed, notify.Delivered}) {
		t.Fatalf("outcomes %v", outcomes)
	}
}

func TestGiveUpAfterMaxAttempts(t *testing.T) {
	clock := &fakeTime{now: raisedAt}
	rec := &recorder{}
	sink := &alertingtest.Notifier{Answer: func(alerting.Notification, int) (bool, error) { return true, errDown }}
	p, err := notify.New(notify.Config{Channels: map[string]alerting.Notifier{"robot:qs-town": sink},
		Backoff:  notify.Backoff{Base: time.Second, Factor: 2, Max: 4 * time.Second, MaxAttempts: 4, Jitter: 0.5},
		Recorder: rec, Now: clock.Now, Sleep: clock.Sleep, Rand: func() float64 { return 1 }})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Deliver(t.Context(), note()); !errors.Is(err, notify.ErrGaveUp) {
		t.Fatalf("Deliver: %v, want ErrGaveUp", err)
	}
	// Full jitter up: 1.5 s, 3 s, then 6 s held to the 4 s maximum.
	if want := []time.Duration{1500 * time.Millisecond, 3 * time.Second, 4 * time.Second}; !slices.Equal(clock.sleeps, want) {
		t.Errorf("slept %v, want %v", clock.sleeps, want)
	}
	as := rec.all()
	if len(as) != 4 || as[3].Outcome != notify.Failed || as[3].Error != errDown.Error() || as[3].Number != 4 {
		t.Fatalf("attempts %+v", as)
	}
}

func TestCancelledWhileBackingOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &alertingtest.Notifier{Answer: func(alerting.Notification, int) (bool, error) { return true, errDown }}
		p, err := notify.New(notify.Config{Channels: map[string]alerting.Notifier{"robot:qs-town": sink}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		err = p.Deliver(ctx, note())
		if !errors.Is(err, notify.ErrGaveUp) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Deliver: %v, want ErrGaveUp and the deadline", err)
		}
		if n := len(sink.Calls()); n != 2 {
			t.Fatalf("%d attempts before the deadline, want 2 (at 0 s and about 2 s)", n)
		}
	})
}

func TestInhibitAndUnknownChannel(t *testing.T) {
	sink := &alertingtest.Notifier{}
	met := &counters{}
	rec := &recorder{}
	p, err := notify.New(notify.Config{
		Channels: map[string]alerting.Notifier{"robot:qs-town": sink}, Metrics: met, Recorder: rec,
		Inhibit: func(n alerting.Notification) bool { return n.Alarm.Type == alerting.TypeOffline },
	})
	if err != nil {
		t.Fatal(err)
	}
	off := note()
	a := *off.Alarm
	a.Type = alerting.TypeOffline
	off.Alarm = &a
	if err := p.Deliver(t.Context(), off); err != nil || len(sink.Calls()) != 0 || met.get("robot:qs-town inhibited") != 1 {
		t.Fatalf("inhibited: err %v, %d calls, metrics %v", err, len(sink.Calls()), met.m)
	}
	lost := note()
	lost.Channel, lost.Key = "robot:nowhere", "A-mho2xa-1/step/2/robot:nowhere"
	if err := p.Deliver(t.Context(), lost); !errors.Is(err, notify.ErrNoChannel) {
		t.Fatalf("unknown channel: %v, want ErrNoChannel", err)
	}
	if as := rec.all(); len(as) != 1 || as[0].Channel != "robot:nowhere" || as[0].Outcome != notify.Failed {
		t.Fatalf("the unknown channel was not recorded as a failure: %+v", as)
	}
}

// TestRetryStopsWhenInhibited: a receiver down for minutes while the
// alarm is taken: the retries stop at the first one after the take,
// counted as inhibited and not as a failure.
func TestRetryStopsWhenInhibited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &alertingtest.Notifier{Answer: func(alerting.Notification, int) (bool, error) { return true, errDown }}
		met := &counters{}
		var mu sync.Mutex
		taken := false
		p, err := notify.New(notify.Config{Channels: map[string]alerting.Notifier{"robot:qs-town": sink}, Metrics: met,
			Rand:    func() float64 { return 0.5 }, // no jitter
			Inhibit: func(alerting.Notification) bool { mu.Lock(); defer mu.Unlock(); return taken }})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(40 * time.Second) // after the attempts at 0, 2, 6, 14 and 30 s
			mu.Lock()
			taken = true
			mu.Unlock()
		}()
		start := time.Now()
		if err := p.Deliver(t.Context(), note()); err != nil {
			t.Fatalf("Deliver: %v, want nil (inhibited is not a failure)", err)
		}
		if n, took := len(sink.Calls()), time.Since(start); n != 5 || took != 62*time.Second {
			t.Fatalf("%d attempts over %v, want 5 and a stop at the next retry (≈ 62 s)", n, took)
		}
		if met.get("robot:qs-town inhibited") != 1 || met.get("robot:qs-town *alertingtest.Notifier failed") != 0 {
			t.Fatalf("metrics %v", met.m)
		}
	})
}

// TestDefaultBackoffRidesOutMinutes: the default schedule keeps trying for
// about a quarter of an hour, with no wait over a minute.
func TestDefaultBackoffRidesOutMinutes(t *testing.T) {
	b := notify.DefaultBackoff
	var total time.Duration
	for n := 1; n < b.MaxAttempts; n++ {
		d := b.Delay(n, 0) // jitter all the way down: the shortest schedule
		if d > b.Max {
			t.Fatalf("wait %d is %v, over the maximum %v", n, d, b.Max)
		}
		total += d
	}
	if total < 10*time.Minute || total > 20*time.Minute {
		t.Fatalf("the default retries span %v (jitter down), want 10 to 20 minutes", total)
	}
}

func TestBackoffValidate(t *testing.T) {
	for _, b := range []notify.Backoff{
		{Base: 0, Factor: 2, Max: time.Second, MaxAttempts: 1},
		{Base: time.Second, Factor: 0.5, Max: time.Second, MaxAttempts: 1},
		{Base: time.Second, Factor: 2, Max: time.Millisecond, MaxAttempts: 1},
		{Base: time.Second, Factor: 2, Max: time.Second, MaxAttempts: 0},
		{Base: time.Second, Factor: 2, Max: time.Second, MaxAttempts: 1, Jitter: 2},
	} {
		if _, err := notify.New(notify.Config{Backoff: b}); !errors.Is(err, notify.ErrBadConfig) {
			t.Errorf("New with backoff %+v: %v, want ErrBadConfig", b, err)
		}
	}
	if err := notify.DefaultBackoff.Validate(); err != nil {
		t.Fatal(err)
	}
}
