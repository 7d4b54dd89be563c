package ctl_test

import (
	"strings"
	"testing"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestDeviceStateAndCare: device ls shows a new device commissioning and
// `device install` makes it active; `resident care` sets and removes a
// resident's wellbeing rules and marks them away.
func TestDeviceStateAndCare(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	c := newCLI(t, g)
	c.login()
	g.SeedSites()
	c.ok("device", "add", "btn-1", "--kind", "call_button")
	if ls := c.ok("device", "ls"); !strings.Contains(ls, "STATE") || !strings.Contains(ls, "commissioning") {
		t.Fatalf("device ls does not show btn-1 commissioning:\n%s", ls)
	}
	if out := c.ok("device", "install", "btn-1"); !strings.Contains(out, "active since") {
		t.Fatalf("device install: %s", out)
	}
	if d, _ := g.Registry().Get("btn-1"); d.Commissioning {
		t.Fatal("btn-1 still commissioning after `device install`")
	}
	out := c.ok("resident", "care", "wang-xy", "--no-activity", "6", "--window", "08:00-21:00", "--checkin-by", "09:30")
	if !strings.Contains(out, "6h without activity within 08:00-21:00") || !strings.Contains(out, "check-in expected by 09:30") {
		t.Fatalf("resident care: %s", out)
	}
	p, _ := g.Registry().Residents().Get("wang-xy")
	if w := p.Wellbeing; w == nil || w.NoActivityHours != 6 || w.CheckinBy != "09:30" || w.TimeZone != "Asia/Shanghai" {
		t.Fatalf("rules stored: %+v", p.Wellbeing)
	}
	if out := c.ok("resident", "care", "wang-xy", "--away-until", "2026-12-05T18:00:00+08:00"); !strings.Contains(out, "away until") {
		t.Fatalf("resident care --away-until: %s", out)
	}
	c.ok("resident", "care", "wang-xy", "--off", "--back")
	if p, _ := g.Registry().Residents().Get("wang-xy"); p.Wellbeing != nil || !p.AwayUntil.IsZero() {
		t.Fatalf("after --off --back: %+v, away %v", p.Wellbeing, p.AwayUntil)
	}
	if _, errOut, code := c.run("", "resident", "care", "wang-xy", "--checkin-by", "9.30"); code == 0 || !strings.Contains(errOut, "checkin_by") {
		t.Fatalf("a bad check-in time: exit %d %s", code, errOut)
	}
}
