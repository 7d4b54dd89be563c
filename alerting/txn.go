package alerting

import "fmt"

// Writes and memory (STYLE.md rule 13: a change counts only once its write
// succeeded).
//
// The engine changes its memory under e.mu and hands the write to the store
// without waiting, so that many devices share one sync. Until that write is
// settled, memory is ahead of the disk, and later changes are built on it. A
// txn keeps what its write changed in memory (the alarms as they were, and
// whether they were open and active), so that a failed write is undone.
//
// A failed write also undoes every write queued after it: they were built
// on memory that held the failed change (a second repeat counts the first).
// The store takes part through Write.Epoch: every write in flight carries
// the engine's current epoch, and once one of them fails the store fails
// every later write of that epoch without applying it (see Store.Commit),
// whatever room the disk had for it. Writes are settled in the order they
// were made, by whichever waiter holds e.settleMu: on a failure it undoes
// everything in flight, newest first, and starts a new epoch, so that
// writes made after the rollback go to the store again.
//
// Every caller gets the error and nothing of the change stays: the device's
// resend, the operator's retry and the next Tick then behave exactly as the
// first try did.
//
// Lock order: e.settleMu, then e.mu. The store's channels are read with
// neither e.mu nor any other engine lock but e.settleMu held.

// txn is one write on its way to the store.
type txn struct {
	res   <-chan error
	prior []prior // in the order first touched
	// settled and err are set under e.mu once the write is decided.
	settled bool
	err     error
}

// prior is an alarm as it was before a write first touched it.
type prior struct {
	live   *Alarm // the engine's own copy, changed in place
	was    *Alarm // a copy from before; nil when the write created the alarm
	open   bool   // e.open held live
	active bool   // e.active held live
}

// touch records a before it is changed; e.mu is held. A new alarm is
// touched after it is made and before it is put in the maps.
func (t *txn) touch(e *Engine, a *Alarm, created bool) {
	for _, p := range t.prior {
		if p.live == a {
			return
		}
	}
	p := prior{live: a}
	if !created {
		p.was = a.clone()
		p.open = e.open[a.ID] == a
		p.active = e.active[activeKey{a.Device, a.Type}] == a
	}
	t.prior = append(t.prior, p)
}

// commit hands w to the store while e.mu is held, so that writes reach the
// store in the order they were made.
func (e *Engine) commit(t *txn, w Write) {
	w.Epoch = e.epoch
	t.res = e.store.Commit(w)
	e.inflight = append(e.inflight, t)
}

// wait returns once t is settled: nil when its write is durable, else the
// error, with t and every write queued after it undone in memory.
func (e *Engine) wait(t *txn) error {
	e.settleMu.Lock()
	defer e.settleMu.Unlock()
	for {
		e.mu.Lock()
		if t.settled {
			e.mu.Unlock()
			return t.err
		}
		head := e.inflight[0]
		e.mu.Unlock()
		err := <-head.res
		e.mu.Lock()
		if err == nil {
			head.settled = true
			e.inflight[0] = nil
			e.inflight = e.inflight[1:]
		} else {
			e.rollback(err)
		}
		e.mu.Unlock()
	}
}

// rollback undoes every write in flight, newest first, because the oldest
// failed with err; e.mu is held. The writes after it fail in the store too
// (same epoch), so memory ends as the disk is.
func (e *Engine) rollback(err error) {
	failed := fmt.Errorf("%w: %w", ErrStoreFailure, err)
	behind := fmt.Errorf("%w: an earlier write failed: %w", ErrStoreFailure, err)
	for i := len(e.inflight) - 1; i >= 0; i-- {
		t := e.inflight[i]
		for j := len(t.prior) - 1; j >= 0; j-- {
			e.restore(t.prior[j])
		}
		t.settled, t.err = true, behind
		if i == 0 {
			t.err = failed
		}
	}
	e.log.Error("alarm store failed; changes in flight undone", "writes", len(e.inflight), "epoch", e.epoch, "err", err)
	clear(e.inflight)
	e.inflight = e.inflight[:0]
	if e.epoch++; e.epoch == 0 {
		e.epoch = 1 // 0 is a write outside any epoch
	}
}

// restore puts one alarm back as it was; e.mu is held.
func (e *Engine) restore(p prior) {
	a := p.live
	key := activeKey{a.Device, a.Type}
	delete(e.next, a.ID) // planned afresh at the next Tick
	if p.was != nil {
		*a = *p.was
	}
	if p.open {
		e.open[a.ID] = a
	} else if e.open[a.ID] == a {
		delete(e.open, a.ID)
	}
	if p.active {
		e.active[key] = a
	} else if e.active[key] == a {
		delete(e.active, key)
	}
}

// finish waits for t and, once it is durable, tells subscribers of changes.
// A change the store refused is not told: it is undone, and the caller gets
// the error (a device's event then goes unacknowledged and is sent again).
// what names the refused change in the log.
func (e *Engine) finish(t *txn, changes []Change, what ...any) error {
	if err := e.wait(t); err != nil {
		e.log.Error("change refused: the alarm store cannot commit", append(what, "err", err)...)
		return err
	}
	e.publish(changes)
	return nil
}
