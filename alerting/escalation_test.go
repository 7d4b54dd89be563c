package alerting_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/devices"
)

func escalations(a *alerting.Alarm) []int {
	var out []int
	for _, e := range a.Timeline {
		if e.Action == alerting.ActEscalated {
			out = append(out, e.Step)
		}
	}
	return out
}

func TestEscalationOnFakeClock(t *testing.T) {
	// DefaultPolicies: P1 steps at 30 s and 60 s.
	tests := []struct {
		name    string
		ackAt   time.Duration // 0: never
		restart time.Duration // 0: never; else restart the engine at this offset
		checks  map[time.Duration][]int
	}{
		{name: "nobody answers: every step on time",
			checks: map[time.Duration][]int{29 * time.Second: nil, 30 * time.Second: {1}, 59 * time.Second: {1}, 60 * time.Second: {1, 2}, time.Hour: {1, 2}}},
		{name: "acknowledged at 20 s: nothing escalates", ackAt: 20 * time.Second,
			checks: map[time.Duration][]int{30 * time.Second: nil, time.Hour: nil}},
		{name: "acknowledged at 45 s: only the first step", ackAt: 45 * time.Second,
			checks: map[time.Duration][]int{30 * time.Second: {1}, time.Hour: {1}}},
		{name: "restart between steps resumes at step 2", restart: 40 * time.Second,
			checks: map[time.Duration][]int{30 * time.Second: {1}, 45 * time.Second: {1}, 60 * time.Second: {1, 2}}},
		{name: "restart while down past both steps fires each once", restart: 10 * time.Minute,
			checks: map[time.Duration][]int{10 * time.Minute: {1, 2}, 11 * time.Minute: {1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			id := f.event("btn-1", 1, devices.CallPress).Alarm.ID
			offsets := sortedKeys(tt.checks)
			acked, restarted := false, false
			for _, off := range offsets {
				if tt.ackAt != 0 && !acked && tt.ackAt <= off {
					tickTo(t, f, tt.ackAt)
					if _, err := f.eng.Ack(id, "li", ""); err != nil {
						t.Fatal(err)
					}
					acked = true
				}
				if tt.restart != 0 && !restarted && tt.restart <= off {
					// The gateway is down from the last tick until the restart.
					f.clock = alertingtest.NewClock(t0.Add(tt.restart))
					f.restart()
					restarted = true
				}
				tickTo(t, f, off)
				a, err := f.eng.Get(id)
				if err != nil {
					t.Fatal(err)
				}
				if got := escalations(a); !equal(got, tt.checks[off]) {
					t.Fatalf("at +%s: escalation steps %v, want %v", off, got, tt.checks[off])
				}
			}
		})
	}
}

func tickTo(t *testing.T, f *fixture, off time.Duration) {
	t.Helper()
	now := t0.Add(off)
	if now.Before(f.clock.Now()) {
		return
	}
	f.clock.Advance(now.Sub(f.clock.Now()))
	if err := f.eng.Tick(now); err != nil {
		t.Fatal(err)
	}
}

func sortedKeys(m map[time.Duration][]int) []time.Duration {
	var out []time.Duration
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestRunFiresOnTime drives the real Run loop with synctest's fake time: the
// escalation lands exactly at raise + 30 s, and a restored engine's Run fires
// the pending step on time after a restart.
func TestRunFiresOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := alertingtest.NewMemStore()
		eng, err := alerting.NewEngine(store, alerting.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		go eng.Run(ctx)
		fired := make(chan time.Time, 4)
		eng.Subscribe(func(c alerting.Change) {
			if c.Entry.Action == alerting.ActEscalated {
				fired <- c.Entry.At
			}
		})
		start := time.Now()
		r, err := eng.HandleEvent(devices.Event{Device: "btn-1", Seq: 1, Type: devices.CallPress, Received: start}, alerting.Location{}, false)
		if err != nil {
			t.Fatal(err)
		}
		if at := <-fired; at.Sub(start) != 30*time.Second {
			t.Fatalf("step 1 fired at +%s, want +30s", at.Sub(start))
		}
		cancel() // the gateway stops 40 s in
		time.Sleep(10 * time.Second)
		synctest.Wait()

		eng2, err := alerting.NewEngine(store, alerting.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fired2 := make(chan time.Time, 4)
		eng2.Subscribe(func(c alerting.Change) {
			if c.Entry.Action == alerting.ActEscalated {
				fired2 <- c.Entry.At
			}
		})
		ctx2, cancel2 := context.WithCancel(t.Context())
		defer cancel2()
		go eng2.Run(ctx2)
		if at := <-fired2; at.Sub(start) != 60*time.Second {
			t.Fatalf("after restart step 2 fired at +%s, want +60s", at.Sub(start))
		}
		a, _ := eng2.Get(r.Alarm.ID)
		if got := escalations(a); !equal(got, []int{1, 2}) {
			t.Fatalf("steps %v, want [1 2]", got)
		}
		cancel2()
		synctest.Wait()
	})
}
