package alerting

// Entries the gateway adds to a timeline on the system's behalf: each
// delivery attempt of a notification (so that a robot that keeps failing is
// visible on the alarm it failed for), and the links between a site-level
// incident and the alarms it groups.

// RecordNotification adds one delivery attempt of a notification to the
// timeline of an alarm, open or closed, as Record does, with Action
// ActNotified.
func (e *Engine) RecordNotification(alarmID string, entry Entry) error {
	entry.Action = ActNotified
	return e.Record(alarmID, entry)
}

// Record adds a system-made entry to the timeline of an alarm, open or
// closed, and returns once it is durable; subscribers hear of it as a
// Change. The entry's State is set to the alarm's; an empty Actor is
// "system" and a zero At is now. Record never changes an alarm's state or
// its escalation: the next step is planned as before.
//
// A closed alarm lives only in the store, and its close may still be on its
// way there (the engine hands writes over without waiting for them), so
// Record first waits, under the engine's lock, for every write queued before
// it: the alarm it reads is then the latest, and no close or earlier entry
// is lost. That wait is one sync; records on closed alarms are rare (an
// attempt that finished after the alarm was resolved).
func (e *Engine) Record(alarmID string, entry Entry) error {
	if entry.Actor == "" {
		entry.Actor = "system"
	}
	e.mu.Lock()
	if entry.At.IsZero() {
		entry.At = e.now()
	}
	entry.At = entry.At.UTC()
	if a, open := e.open[alarmID]; open {
		return e.recordOn(a, entry) // unlocks
	}
	e.mu.Unlock()

	// A closed alarm: wait, without the engine's lock (every device's
	// events need it), for every write queued before this record, under a
	// lock of its own so that two records on closed alarms do not read the
	// same stale copy. Closed alarms never reopen.
	e.closedMu.Lock()
	defer e.closedMu.Unlock()
	e.mu.Lock()
	barrier := &txn{}
	e.commit(barrier, Write{})
	e.mu.Unlock()
	if err := e.wait(barrier); err != nil {
		return err
	}
	a, err := e.store.Alarm(alarmID)
	if err != nil {
		return err
	}
	e.mu.Lock()
	return e.recordOn(a, entry)
}

// recordOn adds entry to a and commits it; e.mu is held and released.
func (e *Engine) recordOn(a *Alarm, entry Entry) error {
	t := &txn{}
	t.touch(e, a, false)
	entry.State = a.State
	a.record(entry)
	snap := a.clone()
	e.commit(t, Write{Alarms: []*Alarm{snap}})
	e.mu.Unlock()
	return e.finish(t, []Change{{Alarm: snap, Entry: entry}}, "alarm", a.ID, "action", string(entry.Action))
}
