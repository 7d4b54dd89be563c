package gateway

import (
	"sync"

	"github.com/anxin-care/anxin/alerting"
)

// Hooks for the package's black-box tests (package gateway_test), so that a
// test waits for what it asserts instead of sleeping.

// CorrelateNow runs one incident correlation pass and returns when it is
// done: every change made before the call has then been correlated.
func (g *Gateway) CorrelateNow() {
	g.incidents.mu.Lock()
	defer g.incidents.mu.Unlock()
	g.incidents.correlate()
}

// OutboxAlarms lists the alarms of the notifications still in the outbox.
func (g *Gateway) OutboxAlarms() []string {
	items, err := g.db.Outbox()
	if err != nil {
		panic(err)
	}
	var out []string
	for _, it := range items {
		if it.N.Alarm != nil {
			out = append(out, it.N.Alarm.ID)
		}
	}
	return out
}

// HoldCorrelation takes the lock that a correlation pass holds while it
// raises alarms and writes to disk, as a pass stuck on a slow disk would,
// until release is called.
func (g *Gateway) HoldCorrelation() (release func()) {
	g.incidents.mu.Lock()
	var once sync.Once
	return func() { once.Do(g.incidents.mu.Unlock) }
}

// Inhibiting asks what the notification pipeline asks before it sends a
// notification of alarm a: does a site incident speak for it, and why.
func (g *Gateway) Inhibiting(a *alerting.Alarm) (string, bool) { return g.incidents.inhibiting(a) }

// SessionTopics lists the topic filters in a client's session at this
// gateway's broker (empty when the client is not connected).
func (g *Gateway) SessionTopics(clientID string) []string {
	cl, ok := g.broker.Clients.Get(clientID)
	if !ok {
		return nil
	}
	var out []string
	for f := range cl.State.Subscriptions.GetAll() {
		out = append(out, f)
	}
	return out
}
