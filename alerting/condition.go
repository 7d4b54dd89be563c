package alerting

// Conditions are alarms the gateway detects itself rather than a device
// reporting them: a device gone silent, a battery reading under its kind's
// threshold. They share the one-open-alarm-per-(device, type) rule with
// device events, have no seq, and a condition that ends by itself is
// resolved with OutcomeRestored by "system".

// RaiseCondition opens an alarm of type typ at device unless one is open
// already (then it is returned unchanged, raised false).
func (e *Engine) RaiseCondition(device, typ string, p Priority, note string, test bool) (a *Alarm, raised bool, err error) {
	e.mu.Lock()
	key := activeKey{device, typ}
	if open, ok := e.active[key]; ok {
		snap := open.clone()
		e.mu.Unlock()
		return snap, false, nil
	}
	now := e.now().UTC()
	a = &Alarm{ID: e.newID(now), Device: device, Type: typ, Event: typ, Priority: p, State: Raised,
		Count: 1, Test: test, Raised: now}
	entry := Entry{At: now, Actor: "system", Action: ActRaised, State: Raised, Note: note}
	a.record(entry)
	e.place(a)
	t := &txn{}
	t.touch(e, a, true)
	e.open[a.ID] = a
	e.active[key] = a
	snap := a.clone()
	e.commit(t, Write{Alarms: []*Alarm{snap}})
	e.mu.Unlock()
	if err := e.finish(t, []Change{{Alarm: snap, Entry: entry}}, "device", device, "condition", typ, "action", string(ActRaised)); err != nil {
		return snap, true, err
	}
	e.kick()
	return snap.clone(), true, nil
}

// EndCondition resolves the open alarm of type typ at device, whatever its
// state, because what it was about is over. It returns nil when none is open.
func (e *Engine) EndCondition(device, typ, note string) (*Alarm, error) {
	e.mu.Lock()
	key := activeKey{device, typ}
	a, ok := e.active[key]
	if !ok {
		e.mu.Unlock()
		return nil, nil
	}
	now := e.now().UTC()
	t := &txn{}
	t.touch(e, a, false)
	delete(e.active, key)
	delete(e.open, a.ID)
	delete(e.next, a.ID)
	a.State, a.Closed, a.Outcome = Resolved, now, OutcomeRestored
	entry := Entry{At: now, Actor: "system", Action: ActResolved, State: Resolved, Note: note}
	a.record(entry)
	snap := a.clone()
	e.commit(t, Write{Alarms: []*Alarm{snap}})
	e.mu.Unlock()
	if err := e.finish(t, []Change{{Alarm: snap, Entry: entry}}, "device", device, "condition", typ, "action", string(ActResolved)); err != nil {
		return nil, err
	}
	return snap.clone(), nil
}

// OpenOf returns the open alarm of type typ at device, if any.
func (e *Engine) OpenOf(device, typ string) (*Alarm, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.active[activeKey{device, typ}]
	if !ok {
		return nil, false
	}
	return a.clone(), true
}
