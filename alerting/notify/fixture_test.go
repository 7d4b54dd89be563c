package notify_test

import (
	"context"
	"sync"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/notify"
)

// raisedAt is 10:00:00 Beijing time.
var raisedAt = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

// note is step 2 of a P1 call from 王秀英's bedroom, 45 s after the press,
// to the township centre's robot.
func note() alerting.Notification {
	a := &alerting.Alarm{ID: "A-mho2xa-1", Device: "btn-12", Type: alerting.TypeCall, Event: "call.press",
		Priority: alerting.P1, State: alerting.Raised, Count: 2, Raised: raisedAt, Steps: 2}
	return alerting.Notification{
		Key: "A-mho2xa-1/step/2/robot:qs-town", Channel: "robot:qs-town", Kind: alerting.NoteStep, Step: 2,
		At: raisedAt.Add(45 * time.Second), Alarm: a, Site: "qs-v12-bedroom",
		Location: []string{"青山县", "青山镇", "青山村", "12号", "卧室"},
		Resident: alerting.Resident{Name: "王秀英", Age: 82, Conditions: []string{"高血压"}},
		Routed:   "qs-village", Targets: []string{"supervisor", "next_level"},
		Recipients: []alerting.Operator{
			{ID: "zhang", Name: "张伟", Phone: "13800000002", Site: "qs-town", Supervisor: true},
			{ID: "zhao", Name: "赵敏", Phone: "13800000003", Site: "qs-town"},
		},
		Mentions: []string{"13800000002", "13800000003"},
	}
}

// recorder keeps every attempt.
type recorder struct {
	mu       sync.Mutex
	attempts []notify.Attempt
}

func (r *recorder) RecordAttempt(a notify.Attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, a)
}

func (r *recorder) all() []notify.Attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Attempt(nil), r.attempts...)
}

// counters is a notify.Metrics that counts in a map.
type counters struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counters) Attempted(channel, kind string, o notify.Outcome) {
	c.add(channel + " " + kind + " " + string(o))
}

func (c *counters) Skipped(channel, reason string) { c.add(channel + " " + reason) }

func (c *counters) add(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[k]++
}

func (c *counters) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

// fakeTime is a clock and a sleeper that moves it: retries take no real time.
type fakeTime struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) Sleep(_ context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	f.now = f.now.Add(d)
	return nil
}
