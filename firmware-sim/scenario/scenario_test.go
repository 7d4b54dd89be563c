package scenario_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/firmware-sim/scenario"
)

const example = `# a kitchen fire, a fall, an institution offline
at 0s telemetry-rate 5000/s
at 0s press-rate 1000/s
at 12s gas home-12/kitchen   # the same home
at 10s smoke home-12/kitchen
at 40s fall room-3
at 90s uplink-drop institution-2 5m
at 7m end
`

func TestParseExample(t *testing.T) {
	sc, err := scenario.Parse(strings.NewReader(example))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range sc.Steps {
		got = append(got, st.String())
	}
	want := []string{
		"at 0s telemetry-rate 5000/s", "at 0s press-rate 1000/s",
		"at 10s smoke home-12/kitchen", "at 12s gas home-12/kitchen",
		"at 40s fall room-3", "at 1m30s uplink-drop institution-2 5m0s", "at 7m0s end",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if sc.Steps[2].Line != 5 || sc.Steps[3].Line != 4 {
		t.Errorf("lines of the sorted smoke and gas steps: %d, %d; want 5, 4", sc.Steps[2].Line, sc.Steps[3].Line)
	}
	if sc.End() != 7*time.Minute {
		t.Errorf("End = %s, want 7m", sc.End())
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ name, script, want string }{
		{"empty", "# nothing\n\n", "no steps"},
		{"no at", "smoke home-1", `line 1: scenario syntax: a step starts with "at TIME", got "smoke"`},
		{"bad time", "\nat ten smoke home-1", `line 2: scenario syntax: time "ten": want a duration`},
		{"negative time", "at -5s smoke x", "line 1: scenario syntax: time \"-5s\": must not be negative"},
		{"unknown action", "at 1s flood home-1", `line 1: scenario syntax: unknown action "flood"; known: press,`},
		{"missing target", "at 1s smoke", "line 1: scenario syntax: smoke takes one target"},
		{"missing action", "at 1s", `line 1: scenario syntax: want "at TIME ACTION …"`},
		{"two targets", "at 1s smoke a b", "line 1: scenario syntax: smoke takes one target"},
		{"bad target", "at 1s smoke home-1/kitchen/x", `target "home-1/kitchen/x"`},
		{"bad char", "at 1s fall room$3", `target "room$3" has '$'`},
		{"rate without unit", "at 0s press-rate 1000", `rate "1000": want a number per second`},
		{"rate NaN", "at 0s press-rate NaN/s", `rate "NaN/s": not a number`},
		{"rate huge", "at 0s telemetry-rate 1e9/s", "want 0 to 1000000/s"},
		{"drop no duration", "at 0s uplink-drop inst-1", "uplink-drop takes a target and a duration"},
		{"drop zero", "at 0s uplink-drop inst-1 0s", "duration must be positive"},
		{"after end", "at 1s end\nat 2s smoke x", `line 2: scenario syntax: a step after "end"`},
		{"end too early", "at 9s smoke x\nat 5s end", `line 1: scenario syntax: a step at 9s is after "end"`},
		{"end args", "at 5s end now", `end takes nothing, got "now"`},
		{"too long", "at 1s smoke " + strings.Repeat("x", 2000), "line 1: scenario syntax: longer than 1024 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenario.Parse(strings.NewReader(tc.script))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if !errors.Is(err, scenario.ErrSyntax) {
				t.Errorf("error %v does not wrap ErrSyntax", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(example)
	f.Add("at 0s press-rate 1000/s\nat 1s storm inst-1\n")
	f.Add("at 1h2m3s uplink-drop a/b 1ms # c\nat 2h end")
	f.Add("at 0s telemetry-rate 1e5/s")
	f.Fuzz(func(t *testing.T, in string) {
		sc, err := scenario.Parse(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, scenario.ErrSyntax) && !strings.HasPrefix(err.Error(), "read scenario") {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			return
		}
		if len(sc.Steps) == 0 || len(sc.Steps) > scenario.MaxSteps {
			t.Fatalf("%d steps", len(sc.Steps))
		}
		// What was parsed prints back to a script that parses the same.
		var b strings.Builder
		for _, st := range sc.Steps {
			if st.At < 0 || st.At > scenario.MaxAt || st.Line < 1 || st.Rate < 0 || st.Rate > scenario.MaxRate {
				t.Fatalf("step out of bounds: %+v", st)
			}
			b.WriteString(st.String() + "\n")
		}
		again, err := scenario.Parse(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("reparse of\n%s: %v", b.String(), err)
		}
		for i := range sc.Steps {
			a, c := sc.Steps[i], again.Steps[i]
			a.Line, c.Line = 0, 0
			if a != c {
				t.Fatalf("step %d: %+v reparsed as %+v", i, a, c)
			}
		}
	})
}
