package ctl_test

import (
	"strings"
	"testing"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestResidentPlan: `resident plan set` reads a plan from YAML (or JSON, on
// stdin), `resident plan show` shows it in order; a file with an unknown
// field or alarm type is refused naming what is wrong; {} removes the plan.
func TestResidentPlan(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	c := newCLI(t, g)
	c.login()
	g.SeedSites()
	yaml := `smoke:
  - do: call 119
    phone: "119"
  - do: call the daughter 李娜; the key is with the neighbour in No. 14
    phone: "13800000001"
call:
  - do: call her back
`
	if out, errOut, code := c.run(yaml, "resident", "plan", "set", "wang-xy", "-"); code != 0 || !strings.Contains(out, "2 alarm types") {
		t.Fatalf("plan set: exit %d %s %s", code, out, errOut)
	}
	p, _ := g.Registry().Residents().Get("wang-xy")
	if s := p.Plan["smoke"]; len(s) != 2 || s[0].Do != "call 119" || s[0].Phone != "119" {
		t.Fatalf("plan stored: %+v", p.Plan)
	}
	out := c.ok("resident", "plan", "show", "wang-xy")
	if i, j := strings.Index(out, "call 119"), strings.Index(out, "the key is with the neighbour"); i < 0 || j < i || !strings.Contains(out, "call her back") {
		t.Fatalf("plan show:\n%s", out)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"unknown field", `{"smoke": [{"do": "call 119", "who": "me"}]}`, "who"},
		{"unknown alarm type", `{"smok": [{"do": "call 119"}]}`, "plan.smok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, errOut, code := c.run(tc.file, "resident", "plan", "set", "wang-xy", "-"); code == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q: want a failure naming %q", code, errOut, tc.want)
			}
		})
	}
	if _, errOut, code := c.run("{}", "resident", "plan", "set", "wang-xy", "-"); code != 0 {
		t.Fatalf("plan set {}: exit %d %s", code, errOut)
	}
	if out := c.ok("resident", "plan", "show", "wang-xy"); !strings.Contains(out, "no response plan") {
		t.Fatalf("after {}: %s", out)
	}
}
