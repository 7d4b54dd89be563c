package alertingtest

import (
	"context"
	"sync"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// Notifier is an alerting.Notifier that records what it is given and
// answers as told. Safe for concurrent use.
type Notifier struct {
	// Now stamps each call; time.Now when nil.
	Now func() time.Time
	// Answer, when set, decides each call's result from the notification
	// and how many calls came before.
	Answer func(n alerting.Notification, calls int) (retry bool, err error)

	mu    sync.Mutex
	calls []Call
}

// Call is one call of a Notifier.
type Call struct {
	At time.Time
	N  alerting.Notification
}

var _ alerting.Notifier = (*Notifier)(nil)

// Notify records n and answers.
func (r *Notifier) Notify(_ context.Context, n alerting.Notification) (bool, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	r.mu.Lock()
	r.calls = append(r.calls, Call{At: now(), N: n})
	k := len(r.calls) - 1
	r.mu.Unlock()
	if r.Answer != nil {
		return r.Answer(n, k)
	}
	return false, nil
}

// Calls returns the calls so far.
func (r *Notifier) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}
