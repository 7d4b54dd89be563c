package gateway

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
	var out []string
	err := forEachJSON(g.db, bucketOutbox, func(_ string, it *outboxItem) error {
		if it.N.Alarm != nil {
			out = append(out, it.N.Alarm.ID)
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
	return out
}
