package gateway

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/registry"
)

// supervisionTick is how often the gateway looks for silent devices. The
// shortest window is minutes, so a few seconds' lateness does not matter.
const supervisionTick = 5 * time.Second

// Supervision: every provisioned device has a check-in window by its
// supervision class (devices.SupervisionWindow). A device silent for longer
// raises a P3 offline alarm naming it, its room and resident; any message
// from it resolves that alarm ("restored"). A battery reading at or under
// its kind's threshold raises a P3 low-battery alarm.
//
// What the gateway last heard lives in memory. After a restart every
// device gets a whole window to check in, and a device whose offline alarm
// is still open is restored by its first message.

// supervise brings the supervisor in line with the registry and raises an
// offline alarm for each device newly silent at now. An edge box that
// falls silent raises edge.offline for its site instead (edge_central.go),
// and while it is down the devices behind it are not supervised at all.
func (g *Gateway) supervise(now time.Time) {
	if jump, before := g.wallJump(now); jump != 0 {
		g.moveWallDeadlines(jump, before, now)
	}
	g.expireTests(now)
	g.checkWellbeing(now)
	known := map[string]bool{}
	for _, d := range g.reg.List() {
		if d.Commissioning { // not fitted yet: supervised from its first message (lifecycle.go)
			continue
		}
		if g.behindDownBox(d) {
			continue // forgotten below; tracked afresh once its box is back
		}
		known[d.ID] = true
		g.track(d, now)
	}
	for _, id := range g.sup.Tracked() {
		if !known[id] {
			g.sup.Forget(id)
		}
	}
	silent := g.sup.Silent(now)
	// Boxes first: a device whose box fell silent in this same pass is
	// the box's to report.
	slices.SortStableFunc(silent, func(a, b devices.Silence) int { return boolOrder(!g.isBox(a.Device), !g.isBox(b.Device)) })
	for _, s := range silent {
		d, ok := g.reg.Get(s.Device)
		if !ok {
			continue
		}
		if d.Kind == devices.KindEdgeBox {
			g.edgeSilent(d, s, now)
			continue
		}
		if g.behindDownBox(d) {
			g.sup.Forget(d.ID)
			continue
		}
		note := fmt.Sprintf("no message for %s (window %s); last seen %s", now.Sub(s.LastSeen).Round(time.Second),
			s.Window, s.LastSeen.UTC().Format(time.RFC3339))
		a, raised, err := g.eng.RaiseCondition(d.ID, g.reg.AlarmLocation(d.ID), alerting.TypeOffline, alerting.P3, note, d.InTest(now))
		if err != nil {
			g.sup.UndoSilent(d.ID) // reported again at the next pass
			g.log.Error("offline alarm not stored", "device", d.ID, "err", err)
			continue
		}
		if raised {
			g.reg.SetOffline(d.ID)
			g.log.Warn("device offline", "device", d.ID, "alarm", a.ID, "last_seen", s.LastSeen)
		}
	}
}

// track supervises d, heard last at now if it is new to the supervisor.
func (g *Gateway) track(d registry.Device, now time.Time) {
	window, err := devices.SupervisionWindow(d.Supervision, d.Kind)
	if err != nil {
		g.log.Warn("device not supervised", "device", d.ID, "err", err)
		return
	}
	g.sup.Track(d.ID, window, now, g.offlineOpen(d))
}

func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// heard is called for every message from a device: it closes the device's
// offline alarm if it had one.
func (g *Gateway) heard(d registry.Device, at time.Time) {
	if d.Commissioning {
		g.install(d, at)
		return
	}
	if !g.sup.Heard(d.ID, at) {
		return
	}
	if d.Kind == devices.KindEdgeBox {
		g.edgeRestored(d, at)
		return
	}
	a, err := g.eng.EndCondition(d.ID, alerting.TypeOffline, "device heard again")
	if err != nil {
		g.sup.UndoHeard(d.ID) // closed at the next message
		g.log.Error("offline alarm not closed", "device", d.ID, "err", err)
		return
	}
	if a != nil {
		g.log.Info("device restored", "device", d.ID, "alarm", a.ID)
	}
}

// checkBattery raises a low-battery alarm when a reading crosses under the
// threshold of the device's kind.
func (g *Gateway) checkBattery(d registry.Device, tm *devices.Telemetry) {
	level, ok := tm.Fields[devices.FieldBattery]
	if !ok {
		return
	}
	k, err := devices.LookupKind(d.Kind)
	if err != nil || !g.sup.Battery(d.ID, level, k.BatteryLow) {
		return
	}
	note := fmt.Sprintf("battery %.0f%%, at or under %.0f%% for a %s", level, k.BatteryLow, d.Kind)
	if _, _, err := g.eng.RaiseCondition(d.ID, g.reg.AlarmLocation(d.ID), alerting.TypeBatteryLow, alerting.P3, note, d.InTest(g.now())); err != nil {
		g.sup.UndoBattery(d.ID) // raised at the next reading
		g.log.Error("low-battery alarm not stored", "device", d.ID, "err", err)
	}
}

// runSupervision checks for silent devices every supervisionTick.
func (g *Gateway) runSupervision(ctx context.Context) {
	t := time.NewTicker(supervisionTick)
	defer t.Stop()
	for {
		g.supervise(g.now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Supervise runs one supervision pass at now; tests on a fake clock call it.
func (g *Gateway) Supervise(now time.Time) { g.supervise(now) }
