package registry

import (
	"encoding/json"
	"testing"
)

// TestPlanFor: an alarm's steps are its event type's, else its alarm
// type's, else its event family's.
func TestPlanFor(t *testing.T) {
	p := Plan{"smoke.alarm": {{Do: "exact"}}, "smoke": {{Do: "type"}}, "band": {{Do: "family"}}}
	for _, c := range []struct{ event, typ, want string }{
		{"smoke.alarm", "smoke", "exact"},
		{"smoke.test", "smoke", "type"},
		{"band.fall", "fall", "family"},
		{"gas.alarm", "gas", ""},
	} {
		t.Run(c.event, func(t *testing.T) {
			got := p.PlanFor(c.event, c.typ)
			if c.want == "" && got != nil || c.want != "" && (len(got) != 1 || got[0].Do != c.want) {
				t.Fatalf("PlanFor(%s, %s) = %+v, want %q", c.event, c.typ, got, c.want)
			}
		})
	}
}

// FuzzPlanCheck: any JSON body of PUT …/plan decodes and is checked
// without a panic; a plan that passes has only known keys and steps with
// something to do.
func FuzzPlanCheck(f *testing.F) {
	for _, seed := range []string{
		`{"smoke": [{"do": "call 119", "phone": "119"}]}`, `{}`, `{"smok": [{"do": "x"}]}`,
		`{"gas": []}`, `{"call": [{"do": " ", "phone": "abc"}]}`, `{"band.fall": [{"do": "\u0000"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Plan
		if json.Unmarshal(data, &p) != nil {
			return
		}
		if p.Check() != nil {
			return
		}
		for k, steps := range p {
			if len(steps) == 0 {
				t.Fatalf("%q accepted with no steps", k)
			}
			for _, s := range steps {
				if s.Do == "" {
					t.Fatalf("%q accepted with an empty step", k)
				}
			}
		}
	})
}
