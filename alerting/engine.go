package alerting

import (
	"cmp"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anxin-care/anxin/devices"
)

// Options configure an Engine. Zero values take the defaults named below.
type Options struct {
	Now func() time.Time // the clock; time.Now when nil
	// Elapsed reads a clock that never jumps (time since any fixed
	// point), against which jumps of Now are found (clockjump.go). Nil
	// with Now nil: the process's monotonic clock; nil with Now given:
	// jumps are not looked for.
	Elapsed func() time.Duration
	Logger  *slog.Logger
	// Policies are the escalation per priority, applied with nobody on
	// duty when there is no Escalator; DefaultPolicies when nil. Giving
	// both is an error (ErrOptions): an Escalator brings its own policies.
	Policies Policies
	// Escalator applies escalation policies over the site tree and duty
	// roster; nil applies Policies with nobody on duty.
	Escalator *Escalator
	// Info tells the escalator what is known now of an alarm's place and
	// resident; nil uses what the alarm carries (site, location,
	// resident's name). The engine calls it while holding its lock, so it
	// must be quick, do no I/O and never call the Engine; any lock it takes
	// must never be held while calling the Engine.
	Info func(*Alarm) AlarmInfo
	// Deliver hands notifications over once their step is durable. It is
	// called on the engine's goroutine and must not block.
	Deliver func([]Notification)
	// Watched reports whether an installer follows a device live; a P1
	// walk-test alarm of an unwatched device goes to operators after
	// TestGrace (testmode.go). It is called with the engine's lock held and
	// must not call into the engine. Nil watches nothing.
	Watched   func(device string) bool
	TestGrace time.Duration // DefaultTestGrace when zero
}

// Location is where an alarm's subject is, as the caller looked it up
// before handing an event or a condition to the engine: a device's room or
// bed and who uses it, or a site-level alarm's site itself.
type Location struct {
	Site     string   // room or bed site id; the site of a site alarm
	Path     []string // site names, root to leaf
	Resident string
}

// Change is one thing that happened to an alarm, after it is durable.
type Change struct {
	Alarm *Alarm // a snapshot after the change; do not modify
	Entry Entry  // the timeline entry the change added
}

// Result is what HandleEvent did with one event.
type Result struct {
	// Alarm is a snapshot of the alarm the event raised, repeated, cleared
	// or duplicated; nil when the event touched no alarm.
	Alarm *Alarm
	// Duplicate is true when (device, seq) was accepted before: nothing changed.
	Duplicate bool
}

// Engine owns every open alarm. All its methods are safe for concurrent use;
// each returns only once its change is durable in the Store, and tells the
// subscribers afterwards.
type Engine struct {
	store    Store
	now      func() time.Time // the wall clock read under e.mu, jumps looked for (clockjump.go)
	wall     func() time.Time
	clock    jumpWatch
	policies Policies
	log      *slog.Logger
	esc      *Escalator
	info     func(*Alarm) AlarmInfo
	deliver  func([]Notification)
	watched  func(string) bool
	grace    time.Duration // how long a P1 walk-test alarm waits for an installer

	mu sync.Mutex
	// closedMu serialises records on closed alarms (delivery.go), which
	// read them back from the store.
	closedMu sync.Mutex
	open     map[string]*Alarm // by id
	active   map[activeKey]*Alarm
	recent   map[string]*recentSeen // idempotency keys still held in memory, by device
	// next is when each open alarm's escalation next falls due, zero when
	// nothing will without a change; an alarm missing here is planned at
	// the next Tick.
	next map[string]time.Time

	subsMu sync.RWMutex
	subs   map[int]func(Change)
	nextID int

	// settleMu is held by the one waiter that reads the store's results,
	// in order; inflight are the writes not settled yet, oldest first,
	// all of epoch (txn.go).
	settleMu sync.Mutex
	inflight []*txn
	epoch    uint64

	wake  chan struct{}
	idSeq atomic.Uint32
}

// activeKey identifies the one open, uncleared alarm of a type about one
// subject: a device, or a site.
type activeKey struct {
	subject Subject
	id, typ string
}

func deviceKey(device, typ string) activeKey { return activeKey{SubjectDevice, device, typ} }

func siteKey(site, typ string) activeKey { return activeKey{SubjectSite, site, typ} }

// keyOf is a's slot among the active alarms.
func keyOf(a *Alarm) activeKey {
	if a.IsSite() {
		return siteKey(a.Site, a.Type)
	}
	return deviceKey(a.Device, a.Type)
}

// NewEngine loads the open alarms from store.
func NewEngine(store Store, opts Options) (*Engine, error) {
	if opts.Policies != nil && opts.Escalator != nil {
		return nil, fmt.Errorf("%w: Policies and Escalator both given; the Escalator's policies apply", ErrOptions)
	}
	e := &Engine{
		store:    store,
		wall:     opts.Now,
		clock:    jumpWatch{elapsed: opts.Elapsed},
		policies: opts.Policies,
		log:      opts.Logger,
		esc:      opts.Escalator,
		info:     opts.Info,
		deliver:  opts.Deliver,
		watched:  opts.Watched,
		grace:    cmp.Or(opts.TestGrace, DefaultTestGrace),
		next:     map[string]time.Time{},
		open:     map[string]*Alarm{},
		active:   map[activeKey]*Alarm{},
		recent:   map[string]*recentSeen{},
		subs:     map[int]func(Change){},
		wake:     make(chan struct{}, 1),
	}
	if e.wall == nil {
		e.wall = time.Now
		if e.clock.elapsed == nil {
			start := time.Now()
			e.clock.elapsed = func() time.Duration { return time.Since(start) }
		}
	}
	e.now = e.readClock
	if e.policies == nil {
		e.policies = DefaultPolicies()
	}
	if e.esc == nil {
		var err error
		if e.esc, err = defaultEscalator(e.policies); err != nil {
			return nil, fmt.Errorf("escalation policies: %w", err)
		}
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.idSeq.Store(rand.Uint32())
	// A random start, so that a new engine on a store whose last writes
	// failed is never taken for the engine that wrote them.
	e.epoch = rand.Uint64() | 1
	alarms, err := store.OpenAlarms()
	if err != nil {
		return nil, fmt.Errorf("load open alarms: %w", err)
	}
	for _, a := range alarms {
		e.open[a.ID] = a
		if !a.Cleared {
			e.active[keyOf(a)] = a
		}
	}
	e.mu.Lock()
	e.clockAtStart()
	e.mu.Unlock()
	return e, nil
}

// Subscribe calls fn with every change from now on. fn runs on the goroutine
// that made the change and must not block. The returned func unsubscribes.
func (e *Engine) Subscribe(fn func(Change)) (cancel func()) {
	e.subsMu.Lock()
	defer e.subsMu.Unlock()
	id := e.nextID
	e.nextID++
	e.subs[id] = fn
	return func() {
		e.subsMu.Lock()
		delete(e.subs, id)
		e.subsMu.Unlock()
	}
}

func (e *Engine) publish(changes []Change) {
	e.subsMu.RLock()
	defer e.subsMu.RUnlock()
	for _, c := range changes {
		for _, fn := range e.subs {
			fn(c)
		}
	}
}

// newID returns a short id that sorts by time: A-<ms base36>-<counter base36>.
func (e *Engine) newID(t time.Time) string {
	n := e.idSeq.Add(1) & 0xffffff
	return "A-" + strings36(uint64(t.UnixMilli())) + "-" + strings36(uint64(n))
}

func strings36(n uint64) string { return strconv.FormatUint(n, 36) }

// Open returns snapshots of the open alarms, P1 first, then oldest first.
func (e *Engine) Open() []*Alarm {
	e.mu.Lock()
	out := make([]*Alarm, 0, len(e.open))
	for _, a := range e.open {
		out = append(out, a.clone())
	}
	e.mu.Unlock()
	slices.SortFunc(out, func(a, b *Alarm) int {
		if a.Priority != b.Priority {
			return int(a.Priority - b.Priority)
		}
		return a.Raised.Compare(b.Raised)
	})
	return out
}

// Get returns a snapshot of one alarm, open or closed.
func (e *Engine) Get(id string) (*Alarm, error) {
	e.mu.Lock()
	a, ok := e.open[id]
	if ok {
		a = a.clone()
	}
	e.mu.Unlock()
	if ok {
		return a, nil
	}
	return e.store.Alarm(id)
}

// HandleEvent applies one device event; at is where the device is, which
// a new alarm keeps. It returns once the event and any alarm it touched
// are durable; only then may the device be acknowledged.
func (e *Engine) HandleEvent(ev devices.Event, at Location, test bool) (Result, error) {
	return e.HandleEventWith(ev, at, test, With{})
}

// HandleEventWith is HandleEvent that also stores with (Write.DeviceState,
// Write.Receipts) in the same write as the event, so that it is durable
// exactly when the event is: on an error neither is. A duplicate stores
// with in a write of its own once the event it repeats is durable.
func (e *Engine) HandleEventWith(ev devices.Event, at Location, test bool, with With) (Result, error) {
	stored, inStore := e.storedSeen(ev)
	e.mu.Lock()
	if r, wait, dup := e.duplicate(ev, stored, inStore); dup {
		e.mu.Unlock()
		if wait != nil {
			<-wait.done
			if wait.err != nil {
				return r, wait.err
			}
		}
		if !with.empty() {
			e.mu.Lock()
			t := &txn{}
			e.commit(t, Write{DeviceState: with.DeviceState, Receipts: with.Receipts, Outbound: with.Outbound})
			e.mu.Unlock()
			if err := e.finish(t, nil, "device", ev.Device, "event", string(ev.Type), "seq", ev.Seq); err != nil {
				return Result{}, err
			}
		}
		return r, nil
	}
	now := e.now().UTC()
	seen := Seen{Device: ev.Device, Seq: ev.Seq, Type: string(ev.Type), At: now}
	if !ev.DeviceTime.IsZero() {
		seen.TS = ev.DeviceTime.UnixMilli()
	}
	var changes []Change
	var touched *Alarm
	r := rules[ev.Type]
	actor := "device:" + ev.Device
	t := &txn{}
	if r.raise != "" {
		touched, changes = e.raise(t, ev, r, at, test, actor, now)
	}
	for _, typ := range r.clears {
		if a, c := e.clear(t, ev, typ, actor, now); a != nil {
			touched, changes = a, append(changes, c)
		}
	}
	w := Write{Seen: []Seen{seen}, DeviceState: with.DeviceState, Receipts: with.Receipts, Outbound: with.Outbound}
	var res Result
	if touched != nil {
		seen.Alarm = touched.ID
		w.Seen[0] = seen
		res.Alarm = touched.clone()
	}
	for _, c := range changes {
		w.Alarms = append(w.Alarms, c.Alarm)
	}
	e.commit(t, w)
	pending := e.remember(seen)
	e.mu.Unlock()

	err := e.finish(t, changes, "device", ev.Device, "event", string(ev.Type), "seq", ev.Seq)
	e.settle(pending, err)
	if err == nil && res.Alarm != nil && (res.Alarm.Count == 1 && res.Alarm.State == Raised || handedOver(changes)) {
		e.kick() // a new alarm may be due sooner than anything else
	}
	return res, err
}

// raise opens a new alarm or repeats the open one of the same type.
func (e *Engine) raise(t *txn, ev devices.Event, r rule, at Location, test bool, actor string, now time.Time) (*Alarm, []Change) {
	key := deviceKey(ev.Device, r.raise)
	if a, ok := e.active[key]; ok {
		t.touch(e, a, false)
		var changes []Change
		if a.Test && !test {
			changes = append(changes, e.handOver(t, a, "a real "+string(ev.Type)+" while its walk-test alarm was open: given to operators", now))
		}
		a.Count++
		a.Seq = ev.Seq
		entry := Entry{At: now, Actor: actor, Action: ActRepeated, State: a.State, Seq: ev.Seq,
			Note: fmt.Sprintf("%s again (%d times)", ev.Type, a.Count)}
		a.record(entry)
		return a, append(changes, Change{Alarm: a.clone(), Entry: entry})
	}
	a := &Alarm{
		ID: e.newID(now), Device: ev.Device, Type: r.raise, Event: string(ev.Type),
		Priority: r.priority, State: Raised, Count: 1, Seq: ev.Seq, Test: test,
		Data: ev.Data, Raised: now,
	}
	entry := Entry{At: now, Actor: actor, Action: ActRaised, State: Raised, Seq: ev.Seq, Note: string(ev.Type)}
	a.record(entry)
	a.place(at)
	t.touch(e, a, true)
	e.open[a.ID] = a
	e.active[key] = a
	return a, []Change{{Alarm: a.clone(), Entry: entry}}
}

// place fills in where the alarm's subject is.
func (a *Alarm) place(at Location) {
	a.Site, a.Location, a.Resident = at.Site, at.Path, at.Resident
}

// clear ends a device's condition of type typ. An alarm nobody has taken yet
// is cancelled; one an operator holds stays open for them to resolve. Either
// way the next alarm event of that type raises a new alarm.
func (e *Engine) clear(t *txn, ev devices.Event, typ, actor string, now time.Time) (*Alarm, Change) {
	key := deviceKey(ev.Device, typ)
	a, ok := e.active[key]
	if !ok {
		return nil, Change{}
	}
	t.touch(e, a, false)
	delete(e.active, key)
	a.Cleared = true
	a.Seq = ev.Seq
	entry := Entry{At: now, Actor: actor, Action: ActCleared, State: a.State, Seq: ev.Seq, Note: string(ev.Type)}
	if a.State == Raised {
		entry.Action, entry.State = ActCancelled, Cancelled
		a.State, a.Closed = Cancelled, now
		delete(e.open, a.ID)
		delete(e.next, a.ID)
	}
	a.record(entry)
	return a, Change{Alarm: a.clone(), Entry: entry}
}

// Ack, Dispatch, Resolve and Note are the operator's actions.

// Ack takes an alarm: the operator owns it from now on.
func (e *Engine) Ack(id, operator, note string) (*Alarm, error) {
	return e.act(id, operator, ActAcknowledged, Acknowledged, "", note, "")
}

// Dispatch records that a responder is on the way.
func (e *Engine) Dispatch(id, operator, note string) (*Alarm, error) {
	return e.DispatchTo(id, operator, "", note)
}

// DispatchTo records that responder (who is going, e.g. 村医张医生; may
// be empty) is on the way.
func (e *Engine) DispatchTo(id, operator, responder, note string) (*Alarm, error) {
	return e.act(id, operator, ActDispatched, Dispatched, "", note, responder)
}

// Resolve closes an alarm with an outcome from Outcomes.
func (e *Engine) Resolve(id, operator, outcome, note string) (*Alarm, error) {
	if !slices.Contains(Outcomes, outcome) {
		return nil, fmt.Errorf("%w: %q is not one of %v", ErrOutcome, outcome, Outcomes)
	}
	return e.act(id, operator, ActResolved, Resolved, outcome, note, "")
}

// Note adds a note to an open or closed alarm.
func (e *Engine) Note(id, operator, note string) (*Alarm, error) {
	if note == "" {
		return nil, ErrEmptyNote
	}
	return e.act(id, operator, ActNote, "", "", note, "")
}

func (e *Engine) act(id, operator string, action Action, to State, outcome, note, responder string) (*Alarm, error) {
	e.mu.Lock()
	a, ok := e.open[id]
	if !ok {
		e.mu.Unlock()
		if action != ActNote {
			if closed, err := e.store.Alarm(id); err == nil {
				return nil, fmt.Errorf("%w: alarm %s is %s", ErrTransition, id, closed.State)
			}
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return e.noteClosed(id, operator, note)
	}
	now := e.now().UTC()
	entry := Entry{At: now, Actor: "operator:" + operator, Action: action, State: a.State, Note: note, Responder: responder}
	if to != "" && !canMove(a.State, to) {
		e.mu.Unlock()
		return nil, fmt.Errorf("%w: alarm %s is %s, not %s", ErrTransition, id, a.State, to)
	}
	t := &txn{}
	t.touch(e, a, false)
	if to != "" {
		e.move(a, to, operator, outcome, now)
		entry.State = to
	}
	a.record(entry)
	delete(e.next, a.ID) // the state changed: plan it afresh
	if !a.State.Open() {
		delete(e.open, a.ID)
		if !a.Cleared {
			delete(e.active, keyOf(a))
		}
	}
	snap := a.clone()
	e.commit(t, Write{Alarms: []*Alarm{snap}})
	e.mu.Unlock()
	if err := e.finish(t, []Change{{Alarm: snap, Entry: entry}}, "alarm", id, "action", string(action), "operator", operator); err != nil {
		return nil, err
	}
	e.kick()
	return snap.clone(), nil
}

func (e *Engine) move(a *Alarm, to State, operator, outcome string, now time.Time) {
	if a.Owner == "" {
		a.Owner = operator
	}
	if a.Acked.IsZero() && to != Cancelled {
		a.Acked = now // dispatching or resolving an untaken alarm takes it
	}
	switch to {
	case Dispatched:
		a.Sent = now
	case Resolved, Cancelled:
		a.Closed = now
		a.Outcome = outcome
	}
	a.State = to
}

// noteClosed adds a note to an alarm that is no longer open (through
// Record, which first waits for the alarm's close to reach the store).
func (e *Engine) noteClosed(id, operator, note string) (*Alarm, error) {
	if err := e.Record(id, Entry{Actor: "operator:" + operator, Action: ActNote, Note: note}); err != nil {
		return nil, err
	}
	return e.Get(id)
}
