package alerting

// Conditions are alarms the gateway detects itself rather than a device
// reporting them: a device gone silent, a battery reading under its kind's
// threshold, and site-level incidents (alarms about a site, not a device).
// They share the one-open-alarm-per-(subject, type) rule with device
// events, have no seq, and a condition that ends by itself is resolved with
// OutcomeRestored by "system".

// RaiseCondition opens an alarm of type typ about device, which is at at,
// unless one is open already (then it is returned unchanged, raised false).
func (e *Engine) RaiseCondition(device string, at Location, typ string, p Priority, note string, test bool) (a *Alarm, raised bool, err error) {
	return e.raiseCondition(&Alarm{Device: device, Type: typ, Priority: p, Test: test}, at, note)
}

// RaiseSiteCondition opens an alarm of type typ about the site at.Site (a
// home or an institution) unless one is open already (then it is returned
// unchanged, raised false). at.Resident is the one resident living there,
// if there is exactly one.
func (e *Engine) RaiseSiteCondition(at Location, typ string, p Priority, note string) (a *Alarm, raised bool, err error) {
	return e.raiseCondition(&Alarm{Subject: SubjectSite, Type: typ, Priority: p}, at, note)
}

func (e *Engine) raiseCondition(a *Alarm, at Location, note string) (*Alarm, bool, error) {
	a.place(at)
	key := keyOf(a)
	e.mu.Lock()
	if open, ok := e.active[key]; ok {
		snap := open.clone()
		e.mu.Unlock()
		return snap, false, nil
	}
	now := e.now().UTC()
	a.ID, a.Event, a.State, a.Count, a.Raised = e.newID(now), a.Type, Raised, 1, now
	entry := Entry{At: now, Actor: "system", Action: ActRaised, State: Raised, Note: note}
	a.record(entry)
	t := &txn{}
	t.touch(e, a, true)
	e.open[a.ID] = a
	e.active[key] = a
	snap := a.clone()
	e.commit(t, Write{Alarms: []*Alarm{snap}})
	e.mu.Unlock()
	if err := e.finish(t, []Change{{Alarm: snap, Entry: entry}}, key.logAttrs(string(ActRaised))...); err != nil {
		return snap, true, err
	}
	e.kick()
	return snap.clone(), true, nil
}

// EndCondition resolves the open alarm of type typ about device, whatever
// its state, because what it was about is over. It returns nil when none is
// open.
func (e *Engine) EndCondition(device, typ, note string) (*Alarm, error) {
	return e.endCondition(deviceKey(device, typ), note)
}

// EndSiteCondition is EndCondition for an alarm about a site.
func (e *Engine) EndSiteCondition(site, typ, note string) (*Alarm, error) {
	return e.endCondition(siteKey(site, typ), note)
}

func (e *Engine) endCondition(key activeKey, note string) (*Alarm, error) {
	e.mu.Lock()
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
	if err := e.finish(t, []Change{{Alarm: snap, Entry: entry}}, key.logAttrs(string(ActResolved))...); err != nil {
		return nil, err
	}
	return snap.clone(), nil
}

// OpenOf returns the open alarm of type typ about device, if any.
func (e *Engine) OpenOf(device, typ string) (*Alarm, bool) {
	return e.openOf(deviceKey(device, typ))
}

// OpenAtSite returns the open alarm of type typ about site, if any.
func (e *Engine) OpenAtSite(site, typ string) (*Alarm, bool) {
	return e.openOf(siteKey(site, typ))
}

func (e *Engine) openOf(key activeKey) (*Alarm, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.active[key]
	if !ok {
		return nil, false
	}
	return a.clone(), true
}

// logAttrs names a condition and what was done to it, for a log line.
func (k activeKey) logAttrs(action string) []any {
	return []any{string(k.subject), k.id, "condition", k.typ, "action", action}
}
