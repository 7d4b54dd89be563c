package alerting

// OpenCounts counts the open alarms by priority, walk-test alarms only
// when withTest: what a gauge needs, without copying a single alarm (Open
// copies each with its timeline, under the engine's lock, which every
// press then waits for).
func (e *Engine) OpenCounts(withTest bool) map[Priority]int {
	out := map[Priority]int{P1: 0, P2: 0, P3: 0}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range e.open {
		if withTest || !a.Test {
			out[a.Priority]++
		}
	}
	return out
}
