package firmwaresim

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/anxin-care/anxin/devices"
)

// State is a reassurance state the gateway reports for an alarm.
type State string

// The reassurance states, in the order an alarm moves through them.
const (
	StateReceived     State = "received"
	StateAcknowledged State = "acknowledged"
	StateOnTheWay     State = "on_the_way"
	StateResolved     State = "resolved"
	// StateCancelled ends an alarm the elder cancelled or a detector cleared.
	StateCancelled State = "cancelled"
)

// stateRank orders the states; resolved and cancelled are both terminal.
var stateRank = map[State]int{
	StateReceived: 1, StateAcknowledged: 2, StateOnTheWay: 3, StateResolved: 4, StateCancelled: 4,
}

// ParseState accepts a state name as the gateway spells it.
func ParseState(s string) (State, error) {
	if _, ok := stateRank[State(s)]; !ok {
		return "", fmt.Errorf("unknown reassurance state %q (known: received, acknowledged, on_the_way, resolved, cancelled)", s)
	}
	return State(s), nil
}

// reaches reports whether an alarm in state got has reached want: the
// gateway may skip a state (an operator acknowledges and dispatches at once),
// and a device cannot tell a lost message from a skipped one.
func (got State) reaches(want State) bool {
	if got == want {
		return true
	}
	g, w := stateRank[got], stateRank[want]
	return w > 0 && g >= w
}

// Reassurance is one state report for one event, as the device saw it.
type Reassurance struct {
	Seq   uint64
	Type  devices.EventType // the event's type, when it was pressed in this run
	Alarm string
	State State
	At    time.Time     // when the device received it
	RTT   time.Duration // At minus the press; zero when the press is not from this run
}

// Command is one message from the gateway on the device's cmd topic.
type Command struct {
	Type        string      // "reassure", "silence", "config", or whatever the gateway sent
	Reassurance Reassurance // for "reassure"
	HeartbeatS  int         // for "config"
	Raw         []byte
	At          time.Time
}

type wireCommand struct {
	Type       string `json:"type"`
	Seq        uint64 `json:"seq"`
	Alarm      string `json:"alarm"`
	State      State  `json:"state"`
	HeartbeatS int    `json:"heartbeat_s"`
}

func decodeCommand(payload []byte, at time.Time) (Command, error) {
	cmd := Command{Raw: payload, At: at}
	var w wireCommand
	if err := json.Unmarshal(payload, &w); err != nil {
		return cmd, fmt.Errorf("decode cmd: %w", err)
	}
	cmd.Type, cmd.HeartbeatS = w.Type, w.HeartbeatS
	if w.Type == "reassure" {
		if w.Seq == 0 || w.State == "" {
			return cmd, fmt.Errorf("reassure without seq or state")
		}
		cmd.Reassurance = Reassurance{Seq: w.Seq, Alarm: w.Alarm, State: w.State, At: at}
	}
	return cmd, nil
}

// maxTracked bounds how many seqs a device remembers reassurances for; the
// oldest are forgotten first. A waiter on a forgotten seq times out.
const maxTracked = 1 << 16

// tracked is what the device knows about one of its events.
type tracked struct {
	pressed time.Time
	typ     devices.EventType
	states  []Reassurance
	changed chan struct{} // closed and replaced on every new state
}

// tracker records reassurances by seq and wakes waiters.
type tracker struct {
	mu    sync.Mutex
	bySeq map[uint64]*tracked
	order []uint64 // insertion order, for eviction
}

func newTracker() *tracker { return &tracker{bySeq: map[uint64]*tracked{}} }

// entry returns the record of seq, creating it; callers hold mu.
func (t *tracker) entry(seq uint64) *tracked {
	if e, ok := t.bySeq[seq]; ok {
		return e
	}
	if len(t.order) >= maxTracked {
		delete(t.bySeq, t.order[0])
		t.order = t.order[1:]
	}
	e := &tracked{changed: make(chan struct{})}
	t.bySeq[seq] = e
	t.order = append(t.order, seq)
	return e
}

// pressed notes when seq was pressed, before it is published.
func (t *tracker) pressed(seq uint64, typ devices.EventType, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(seq)
	e.pressed, e.typ = at, typ
}

// record stores a reassurance, fills its RTT and wakes waiters.
func (t *tracker) record(r Reassurance) Reassurance {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(r.Seq)
	if !e.pressed.IsZero() {
		r.RTT, r.Type = r.At.Sub(e.pressed), e.typ
	}
	e.states = append(e.states, r)
	close(e.changed)
	e.changed = make(chan struct{})
	return r
}

// wait returns the first reassurance of seq that reaches want.
func (t *tracker) wait(ctx context.Context, seq uint64, want State) (Reassurance, error) {
	for {
		t.mu.Lock()
		e := t.entry(seq)
		for _, r := range e.states {
			if r.State.reaches(want) {
				t.mu.Unlock()
				return r, nil
			}
		}
		changed := e.changed
		t.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return Reassurance{}, fmt.Errorf("seq %d: %w (wanted %s): %w", seq, ErrTimeout, want, context.Cause(ctx))
		}
	}
}

// history returns every reassurance of seq so far, oldest first.
func (t *tracker) history(seq uint64) []Reassurance {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.bySeq[seq]; ok {
		return append([]Reassurance(nil), e.states...)
	}
	return nil
}
