// Package scenario parses the small scripts that drive a simulated fleet:
// one step a line, each at a time from the start of the run,
//
//	# a kitchen fire, then a fall, then an institution's uplink fails
//	at 0s   telemetry-rate 5000/s
//	at 0s   press-rate 100/s
//	at 10s  smoke home-12/kitchen
//	at 12s  gas home-12/kitchen
//	at 40s  fall room-3
//	at 60s  storm institution-2
//	at 90s  uplink-drop institution-2 5m
//	at 7m   end
//
// Parse only checks the script's own syntax and says which line is wrong;
// whether "home-12/kitchen" names something is the fleet's business
// (firmwaresim resolves targets against its fleet, again naming the line).
// A Script is plain data: tests and demos replay the same file, and nothing
// here runs, sleeps or holds state. Safe for concurrent use once parsed.
package scenario

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits of a script, so that a bad file cannot make a run unbounded.
const (
	MaxSteps   = 10_000
	MaxAt      = 7 * 24 * time.Hour
	MaxRate    = 1_000_000 // per second
	maxLineLen = 1024
)

// ErrSyntax is wrapped by every error Parse returns for a bad line.
var ErrSyntax = errors.New("scenario syntax")

// Action is what a step does.
type Action string

// The actions. The event actions press a device at the target that can
// report that event; the others shape the load.
const (
	ActionPress    Action = "press"    // call button, pull cord or band: the call
	ActionPullcord Action = "pullcord" // pull cord
	ActionSmoke    Action = "smoke"
	ActionGas      Action = "gas"
	ActionFall     Action = "fall"
	ActionSOS      Action = "sos"
	ActionBedExit  Action = "bed-exit"
	ActionClear    Action = "clear"       // the target's detectors and buttons clear or cancel
	ActionStorm    Action = "storm"       // every device of the target presses within one second
	ActionDrop     Action = "uplink-drop" // the target's devices lose the network for Duration
	ActionPressAt  Action = "press-rate"  // presses a second from here on, spread over the fleet
	ActionTeleAt   Action = "telemetry-rate"
	ActionEnd      Action = "end" // the run ends here
)

// EventActions are the actions that press one device at a target.
var EventActions = []Action{ActionPress, ActionPullcord, ActionSmoke, ActionGas, ActionFall, ActionSOS, ActionBedExit}

// Step is one line of a script.
type Step struct {
	Line     int // in the file, from 1
	At       time.Duration
	Action   Action
	Target   string        // a device id, a site id, or building/room; "" for rates and end
	Rate     float64       // per second, for press-rate and telemetry-rate
	Duration time.Duration // for uplink-drop
}

func (s Step) String() string {
	out := fmt.Sprintf("at %s %s", s.At, s.Action)
	switch s.Action {
	case ActionPressAt, ActionTeleAt:
		out += " " + strconv.FormatFloat(s.Rate, 'f', -1, 64) + "/s"
	case ActionDrop:
		out += " " + s.Target + " " + s.Duration.String()
	case ActionEnd:
	default:
		out += " " + s.Target
	}
	return out
}

// Script is a parsed scenario, its steps in time order (stable for equal
// times, so "at 0s" lines run in file order).
type Script struct {
	Steps []Step
}

// End is when the run ends: the "end" step, else the last step's time plus
// its drop duration.
func (s Script) End() time.Duration {
	var end time.Duration
	for _, st := range s.Steps {
		if st.Action == ActionEnd {
			return st.At
		}
		end = max(end, st.At+st.Duration)
	}
	return end
}

// Parse reads a script. Blank lines and lines starting with '#' are
// skipped; a '#' after a step starts a comment. Every error names its line.
func Parse(r io.Reader) (Script, error) {
	var sc Script
	br := bufio.NewScanner(r)
	br.Buffer(make([]byte, 0, maxLineLen), maxLineLen)
	line := 0
	ended := false
	for br.Scan() {
		line++
		text, _, _ := strings.Cut(br.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if ended {
			return Script{}, fmt.Errorf("line %d: %w: a step after \"end\"", line, ErrSyntax)
		}
		st, err := parseStep(fields)
		if err != nil {
			return Script{}, fmt.Errorf("line %d: %w: %w", line, ErrSyntax, err)
		}
		st.Line = line
		ended = st.Action == ActionEnd
		if len(sc.Steps) == MaxSteps {
			return Script{}, fmt.Errorf("line %d: %w: more than %d steps", line, ErrSyntax, MaxSteps)
		}
		sc.Steps = append(sc.Steps, st)
	}
	if err := br.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Script{}, fmt.Errorf("line %d: %w: longer than %d bytes", line+1, ErrSyntax, maxLineLen)
		}
		return Script{}, fmt.Errorf("read scenario: %w", err)
	}
	if len(sc.Steps) == 0 {
		return Script{}, fmt.Errorf("%w: no steps (want lines like \"at 10s smoke home-12/kitchen\")", ErrSyntax)
	}
	slices.SortStableFunc(sc.Steps, func(a, b Step) int { return cmp.Compare(a.At, b.At) })
	if last := sc.Steps[len(sc.Steps)-1]; ended && last.Action != ActionEnd {
		return Script{}, fmt.Errorf("line %d: %w: a step at %s is after \"end\"", last.Line, ErrSyntax, last.At)
	}
	return sc, nil
}

func parseStep(f []string) (Step, error) {
	var st Step
	if f[0] != "at" {
		return st, fmt.Errorf("a step starts with \"at TIME\", got %q", f[0])
	}
	if len(f) < 3 {
		return st, errors.New("want \"at TIME ACTION …\"")
	}
	at, err := parseDuration(f[1])
	if err != nil {
		return st, fmt.Errorf("time %q: %w", f[1], err)
	}
	st.At, st.Action = at, Action(f[2])
	args := f[3:]
	switch {
	case slices.Contains(EventActions, st.Action), st.Action == ActionClear, st.Action == ActionStorm:
		if len(args) != 1 {
			return st, fmt.Errorf("%s takes one target (a device, site or building/room), got %d words", st.Action, len(args))
		}
		st.Target, err = parseTarget(args[0])
	case st.Action == ActionDrop:
		if len(args) != 2 {
			return st, fmt.Errorf("uplink-drop takes a target and a duration, e.g. \"uplink-drop institution-2 5m\"")
		}
		if st.Target, err = parseTarget(args[0]); err != nil {
			return st, err
		}
		st.Duration, err = parseDuration(args[1])
		if err == nil && st.Duration == 0 {
			err = errors.New("uplink-drop duration must be positive")
		}
	case st.Action == ActionPressAt, st.Action == ActionTeleAt:
		if len(args) != 1 {
			return st, fmt.Errorf("%s takes one rate, e.g. \"%s 1000/s\"", st.Action, st.Action)
		}
		st.Rate, err = parseRate(args[0])
	case st.Action == ActionEnd:
		if len(args) != 0 {
			return st, fmt.Errorf("end takes nothing, got %q", strings.Join(args, " "))
		}
	default:
		return st, fmt.Errorf("unknown action %q; known: %s", st.Action, knownActions())
	}
	return st, err
}

func knownActions() string {
	all := append(slices.Clone(EventActions), ActionClear, ActionStorm, ActionDrop, ActionPressAt, ActionTeleAt, ActionEnd)
	names := make([]string, len(all))
	for i, a := range all {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, errors.New("want a duration like 90s, 5m or 1h30m")
	case d < 0:
		return 0, errors.New("must not be negative")
	case d > MaxAt:
		return 0, fmt.Errorf("longer than %s", MaxAt)
	}
	return d, nil
}

func parseRate(s string) (float64, error) {
	num, ok := strings.CutSuffix(s, "/s")
	if !ok {
		return 0, fmt.Errorf("rate %q: want a number per second, e.g. 1000/s", s)
	}
	r, err := strconv.ParseFloat(num, 64)
	switch {
	case err != nil || r != r: // NaN
		return 0, fmt.Errorf("rate %q: not a number", s)
	case r < 0 || r > MaxRate:
		return 0, fmt.Errorf("rate %q: want 0 to %d/s", s, MaxRate)
	}
	return r, nil
}

// parseTarget accepts a device or site id (letters, digits, '-', '_', '.')
// or building/room.
func parseTarget(s string) (string, error) {
	parts := strings.Split(s, "/")
	if len(parts) > 2 {
		return "", fmt.Errorf("target %q: want a device, a site or building/room", s)
	}
	for _, p := range parts {
		if p == "" || len(p) > 64 {
			return "", fmt.Errorf("target %q: a part is empty or longer than 64 characters", s)
		}
		for _, r := range p {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				return "", fmt.Errorf("target %q has %q; use letters, digits, '-', '_', '.' and one '/'", s, r)
			}
		}
	}
	return s, nil
}
