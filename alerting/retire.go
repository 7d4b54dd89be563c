package alerting

import (
	"slices"
	"strings"
)

// OutcomeDeviceRemoved closes the alarms of a device taken out of service:
// nobody can act on what it reports any more.
const OutcomeDeviceRemoved = "device_removed"

// CancelDevice cancels every open alarm about device with OutcomeDeviceRemoved,
// by who, each with a timeline entry; the alarms stay in the history. It
// returns the alarms it closed, oldest first, once their closing is durable.
func (e *Engine) CancelDevice(device, who, note string) ([]*Alarm, error) {
	e.mu.Lock()
	var hit []*Alarm
	for _, a := range e.open {
		if a.Device == device && !a.IsSite() {
			hit = append(hit, a)
		}
	}
	if len(hit) == 0 {
		e.mu.Unlock()
		return nil, nil
	}
	slices.SortFunc(hit, func(a, b *Alarm) int { return strings.Compare(a.ID, b.ID) })
	now := e.now().UTC()
	t := &txn{}
	w := Write{}
	changes := make([]Change, 0, len(hit))
	for _, a := range hit {
		t.touch(e, a, false)
		entry := Entry{At: now, Actor: "operator:" + who, Action: ActCancelled, State: Cancelled, Note: note}
		a.State, a.Closed, a.Outcome = Cancelled, now, OutcomeDeviceRemoved
		a.record(entry)
		delete(e.open, a.ID)
		delete(e.next, a.ID)
		if k := keyOf(a); e.active[k] == a {
			delete(e.active, k)
		}
		snap := a.clone()
		w.Alarms = append(w.Alarms, snap)
		changes = append(changes, Change{Alarm: snap, Entry: entry})
	}
	e.commit(t, w)
	e.mu.Unlock()
	if err := e.finish(t, changes, "device", device, "action", string(ActCancelled), "outcome", OutcomeDeviceRemoved); err != nil {
		return nil, err
	}
	out := make([]*Alarm, len(changes))
	for i, c := range changes {
		out[i] = c.Alarm.clone()
	}
	return out, nil
}
