package alerting_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/devices"
)

const year = 365 * 24 * time.Hour

// jumpyClock is a wall clock that can jump, as a Raspberry Pi's does when
// NTP first corrects it, beside synctest's monotonic clock, which never does.
type jumpyClock struct {
	origin time.Time // synctest's start: elapsed time is measured from it
	off    atomic.Int64
}

func (c *jumpyClock) now() time.Time         { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *jumpyClock) jump(d time.Duration)   { c.off.Add(int64(d)) }
func (c *jumpyClock) elapsed() time.Duration { return time.Since(c.origin) }
func (c *jumpyClock) options(t *testing.T) alerting.Options {
	esc, err := alerting.NewEscalator(alerting.EscalatorConfig{Policies: alerting.EscalationPolicies{{
		Priority:  alerting.P1,
		Steps:     []alerting.Step{{After: alerting.Duration(time.Minute), Targets: []string{"supervisor"}}},
		Reminders: []alerting.Step{{After: alerting.Duration(time.Minute), Targets: []string{"supervisor"}}},
	}}, Tree: alerting.SiteMap{}, Roster: mustRoster(t)})
	if err != nil {
		t.Fatal(err)
	}
	// A P1 escalates once, 60 s after it was raised; once acknowledged, a
	// reminder follows 60 s after the acknowledgement.
	return alerting.Options{Now: c.now, Elapsed: c.elapsed, Escalator: esc}
}

// fired records, by synctest's elapsed time, each escalation and reminder.
type fired struct {
	mu  sync.Mutex
	got []string
}

func (f *fired) watch(c *jumpyClock, eng *alerting.Engine) {
	eng.Subscribe(func(ch alerting.Change) {
		if ch.Entry.Action == alerting.ActEscalated || ch.Entry.Action == alerting.ActReminded {
			f.mu.Lock()
			f.got = append(f.got, string(ch.Entry.Action)+" at +"+c.elapsed().String())
			f.mu.Unlock()
		}
	})
}

func (f *fired) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// TestClockJumpKeepsEscalationsOnTime: a wall clock that jumps a year
// either way while an alarm waits for its escalation (or its reminder)
// neither fires it early nor holds it: it fires 60 s after the raise (or
// the acknowledgement) by the monotonic clock, once, also across a restart
// after the jump and a reboot with the clock a year behind.
func TestClockJumpKeepsEscalationsOnTime(t *testing.T) {
	tests := []struct {
		name string
		jump time.Duration // at +10 s
		ack  bool          // acknowledged at +5 s: the reminder is what waits
		// restart stops the engine at +20 s and starts a new one on the same
		// store; startBehind starts it with the wall clock that far behind,
		// and the jump at +30 s then puts it right.
		restart     bool
		startBehind time.Duration
		want        []string
	}{
		{name: "a year forward", jump: year, want: []string{"escalated at +1m0s"}},
		{name: "a year back", jump: -year, want: []string{"escalated at +1m0s"}},
		{name: "a year forward, acknowledged", jump: year, ack: true, want: []string{"reminded at +1m5s"}},
		{name: "a year back, acknowledged", jump: -year, ack: true, want: []string{"reminded at +1m5s"}},
		{name: "a year forward, then a restart", jump: year, restart: true, want: []string{"escalated at +1m0s"}},
		{name: "a year back, then a restart", jump: -year, restart: true, want: []string{"escalated at +1m0s"}},
		// Nothing tells how long the box was down: the restart counts as
		// taking no time since the alarm's newest stored time (its raise, at
		// +0 s), so the step is late by the 20 s the engine ran before it.
		{name: "reboot a year behind, corrected later", restart: true, startBehind: year,
			want: []string{"escalated at +1m20s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := &jumpyClock{origin: time.Now()}
				store := alertingtest.NewMemStore()
				var f fired
				start := func() (*alerting.Engine, context.CancelFunc) {
					eng, err := alerting.NewEngine(store, c.options(t))
					if err != nil {
						t.Fatal(err)
					}
					f.watch(c, eng)
					ctx, cancel := context.WithCancel(t.Context())
					done := make(chan struct{})
					go func() { eng.Run(ctx); close(done) }()
					return eng, func() { cancel(); <-done }
				}
				eng, stop := start()
				r, err := eng.HandleEvent(devices.Event{Device: "btn-1", Seq: 1, Type: devices.CallPress, Received: c.now()}, alerting.Location{}, false)
				if err != nil {
					t.Fatal(err)
				}
				if tt.ack {
					time.Sleep(5 * time.Second)
					if _, err := eng.Ack(r.Alarm.ID, "li", ""); err != nil {
						t.Fatal(err)
					}
				}
				time.Sleep(10*time.Second - c.elapsed())
				c.jump(tt.jump)
				if tt.restart {
					time.Sleep(10 * time.Second)
					stop()
					c.jump(-tt.startBehind)
					eng, stop = start()
					if tt.startBehind != 0 {
						time.Sleep(10 * time.Second)
						c.jump(tt.startBehind)
					}
				}
				time.Sleep(time.Hour)
				synctest.Wait()
				if got := f.list(); !equalStrings(got, tt.want) {
					t.Errorf("fired %q, want %q", got, tt.want)
				}
				// What the store holds reads in the corrected frame: the raise
				// was at the start, by the clock as it is now.
				stop()
				a, err := store.Alarm(r.Alarm.ID)
				if err != nil {
					t.Fatal(err)
				}
				wantRaised := c.now().Add(-c.elapsed())
				if tt.startBehind != 0 {
					wantRaised = wantRaised.Add(20 * time.Second)
				}
				if d := a.Raised.Sub(wantRaised); d < -time.Second || d > time.Second {
					t.Errorf("stored raised_at %s, want %s", a.Raised, wantRaised)
				}
			})
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
