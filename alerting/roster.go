package alerting

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Shift is a planned duty period of one operator at one site, repeated on
// the weekdays it names, in the site's time zone.
type Shift struct {
	Site     string `json:"site"`
	Operator string `json:"operator"` // Operator.ID
	// Weekdays the shift starts on: "mon" … "sun"; empty means every day.
	// A shift that crosses midnight belongs to the day it starts.
	Weekdays []string `json:"weekdays,omitempty"`
	// Start and End are wall-clock times "HH:MM". An End at or before
	// Start ends the next day ("20:00"–"08:00" is a night shift; equal
	// times make a 24-hour shift); "24:00" is midnight at the end of the day.
	Start string `json:"start"`
	End   string `json:"end"`
	// TZ is an IANA zone such as "Asia/Shanghai" or "Asia/Urumqi"; empty
	// means the roster's default zone.
	TZ string `json:"tz,omitempty"`
}

// Check is an explicit check-in (In) or check-out at a site, from the
// console or the API.
type Check struct {
	Site     string    `json:"site"`
	Operator string    `json:"operator"`
	At       time.Time `json:"at"`
	In       bool      `json:"in"`
}

// DutyRoster is the Roster of planned shifts and explicit check-ins.
//
// Who is on duty is decided per (site, operator): the plan says on during
// a shift and off outside one; an explicit check-in or check-out overrides
// the plan from its time until the next planned shift boundary (a start or
// an end) after it. So an operator who checks out sick at noon is off until
// the plan next changes, one who comes in early is on until their shift
// takes over, and one with no planned shifts stays on from check-in to
// check-out.
//
// A DutyRoster is safe for concurrent use.
type DutyRoster struct {
	ops    map[string]Operator
	shifts map[string][]shift // by site

	mu     sync.RWMutex
	checks map[dutyKey][]Check // by time
}

type dutyKey struct{ site, op string }

type shift struct {
	op         string
	days       [7]bool
	start, end int // minutes from midnight; end > start, up to start + 24 h
	loc        *time.Location
}

// ErrUnknownOperator is returned for a check-in by someone not in the roster.
var ErrUnknownOperator = errors.New("unknown operator")

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// NewDutyRoster checks the operators and shifts and builds a roster. def is
// the zone of shifts that name none; nil means UTC.
func NewDutyRoster(ops []Operator, shifts []Shift, def *time.Location) (*DutyRoster, error) {
	if def == nil {
		def = time.UTC
	}
	r := &DutyRoster{ops: map[string]Operator{}, shifts: map[string][]shift{}, checks: map[dutyKey][]Check{}}
	for i, op := range ops {
		switch {
		case op.ID == "":
			return nil, fmt.Errorf("operators[%d].id is empty", i)
		case r.ops[op.ID].ID != "":
			return nil, fmt.Errorf("operators[%d].id %q appears twice", i, op.ID)
		}
		r.ops[op.ID] = op
	}
	for i, s := range shifts {
		c, err := r.compile(s, def)
		if err != nil {
			return nil, fmt.Errorf("shifts[%d]: %w", i, err)
		}
		r.shifts[s.Site] = append(r.shifts[s.Site], c)
	}
	return r, nil
}

func (r *DutyRoster) compile(s Shift, def *time.Location) (shift, error) {
	c := shift{op: s.Operator, loc: def}
	switch {
	case s.Site == "":
		return c, errors.New("site is empty")
	case r.ops[s.Operator].ID == "":
		return c, fmt.Errorf("operator %q: %w", s.Operator, ErrUnknownOperator)
	}
	var err error
	if c.start, err = clock(s.Start); err != nil || c.start == 24*60 {
		return c, fmt.Errorf("start %q: want HH:MM from 00:00 to 23:59", s.Start)
	}
	if c.end, err = clock(s.End); err != nil {
		return c, fmt.Errorf("end %q: want HH:MM from 00:00 to 24:00", s.End)
	}
	if c.end <= c.start {
		c.end += 24 * 60
	}
	if len(s.Weekdays) == 0 {
		c.days = [7]bool{true, true, true, true, true, true, true}
	}
	for j, d := range s.Weekdays {
		wd, ok := weekdayNames[strings.ToLower(d)]
		if !ok {
			return c, fmt.Errorf("weekdays[%d] %q: want mon, tue, wed, thu, fri, sat or sun", j, d)
		}
		c.days[wd] = true
	}
	if s.TZ != "" {
		if c.loc, err = time.LoadLocation(s.TZ); err != nil {
			return c, fmt.Errorf("tz %q: %w", s.TZ, err)
		}
	}
	return c, nil
}

// clock reads "HH:MM" as minutes from midnight.
func clock(s string) (int, error) {
	var h, m int
	if n, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || n != 2 || len(s) != 5 {
		return 0, fmt.Errorf("bad clock time %q", s)
	}
	if h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("bad clock time %q", s)
	}
	return h*60 + m, nil
}

// Operator returns an operator of the roster by id.
func (r *DutyRoster) Operator(id string) (Operator, bool) {
	op, ok := r.ops[id]
	return op, ok
}

// Check records a check-in or check-out. Checks may arrive out of order.
func (r *DutyRoster) Check(c Check) error {
	if _, ok := r.ops[c.Operator]; !ok {
		return fmt.Errorf("check at %s: operator %q: %w", c.Site, c.Operator, ErrUnknownOperator)
	}
	if c.Site == "" {
		return fmt.Errorf("check of %s: site is empty", c.Operator)
	}
	k := dutyKey{c.Site, c.Operator}
	r.mu.Lock()
	defer r.mu.Unlock()
	cs := r.checks[k]
	i, _ := slices.BinarySearchFunc(cs, c.At, func(e Check, t time.Time) int { return e.At.Compare(t) })
	r.checks[k] = slices.Insert(cs, i, c)
	return nil
}

// OnDuty implements Roster.
func (r *DutyRoster) OnDuty(site string, at time.Time) []Operator {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := map[string]bool{}
	for _, s := range r.shifts[site] {
		ids[s.op] = true
	}
	for k := range r.checks {
		if k.site == site {
			ids[k.op] = true
		}
	}
	var out []Operator
	for id := range ids {
		if r.onDuty(site, id, at) {
			out = append(out, r.ops[id])
		}
	}
	slices.SortFunc(out, func(a, b Operator) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (r *DutyRoster) onDuty(site, op string, at time.Time) bool {
	var mine []shift
	planned := false
	for _, s := range r.shifts[site] {
		if s.op == op {
			mine = append(mine, s)
			planned = planned || s.covers(at)
		}
	}
	cs := r.checks[dutyKey{site, op}]
	i, found := slices.BinarySearchFunc(cs, at, func(e Check, t time.Time) int { return e.At.Compare(t) })
	if found {
		for i < len(cs) && !cs[i].At.After(at) {
			i++
		}
	}
	if i == 0 {
		return planned
	}
	last := cs[i-1]
	for _, s := range mine {
		if s.boundaryIn(last.At, at) {
			return planned
		}
	}
	return last.In
}

// occurrences calls fn with each occurrence [start, end) of s that starts
// on a day from the day before from to the day of to, in s's zone.
func (s shift) occurrences(from, to time.Time, fn func(start, end time.Time) bool) {
	d := from.In(s.loc)
	day := time.Date(d.Year(), d.Month(), d.Day()-1, 0, 0, 0, 0, s.loc)
	for !day.After(to) {
		if s.days[day.Weekday()] {
			start := time.Date(day.Year(), day.Month(), day.Day(), 0, s.start, 0, 0, s.loc)
			end := time.Date(day.Year(), day.Month(), day.Day(), 0, s.end, 0, 0, s.loc)
			if !fn(start, end) {
				return
			}
		}
		day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, s.loc)
	}
}

func (s shift) covers(at time.Time) bool {
	in := false
	s.occurrences(at, at, func(start, end time.Time) bool {
		in = !at.Before(start) && at.Before(end)
		return !in
	})
	return in
}

// boundaryIn reports whether the plan starts or ends a shift in (from, to].
func (s shift) boundaryIn(from, to time.Time) bool {
	if to.Sub(from) > 8*24*time.Hour {
		return s.days != [7]bool{} // every week has a start
	}
	found := false
	s.occurrences(from, to, func(start, end time.Time) bool {
		for _, b := range []time.Time{start, end} {
			if b.After(from) && !b.After(to) {
				found = true
			}
		}
		return !found
	})
	return found
}
