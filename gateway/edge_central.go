package gateway

import (
	"fmt"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/registry"
)

// Edge boxes at central (gateway/EDGE.md). A box is a device of kind
// edge_box: it connects with its own credentials, forwards the messages of
// the devices whose Edge names it (broker_acl.go) and heartbeats on its own
// telemetry every 30 s with its queue depth. Central supervises it with the
// other devices (supervision.go), by its kind's window (3 heartbeats), and:
//
//   - a box silent past its window raises one P3 edge.offline alarm whose
//     subject is the box's site (a site alarm, like the incidents); a box
//     provisioned without a site raises it about the box itself. A message
//     from the box resolves it, unless another box of the same site is
//     still down;
//   - while a box is down, the devices behind it are not supervised at all:
//     their device offline alarms are not raised (not raised and hidden:
//     nothing about them is known while their only way to central is gone,
//     and the box's alarm already says so). An offline alarm a device had
//     before stays open;
//   - when the box is heard again, every device behind it is supervised
//     afresh from that moment: a whole window to be heard through the box
//     (which forwards what it queued) before it is called offline.
//
// Whether a box is down is the supervisor's word (Supervisor.Offline): it
// is in memory, and after a restart a box whose edge.offline alarm is
// still open counts as down until it is heard.

// TypeEdgeOffline is the alarm of a silent edge box.
const TypeEdgeOffline = "edge.offline"

// Uplink states of an edge box, as GET /api/v1/edge-boxes shows them.
const (
	UplinkConnected    = "connected"    // connected to central and heard within its window
	UplinkDisconnected = "disconnected" // no connection (or its will said offline), still within its window
	UplinkOffline      = "offline"      // silent past its window: edge.offline raised
	UplinkNever        = "never"        // not heard since central started
)

func (g *Gateway) isBox(id string) bool {
	d, ok := g.reg.Get(id)
	return ok && d.Kind == devices.KindEdgeBox
}

// behindDownBox reports whether d reaches central through a box that is down.
func (g *Gateway) behindDownBox(d registry.Device) bool {
	return d.Edge != "" && g.sup.Offline(d.Edge)
}

// offlineOpen reports whether d's offline alarm is open: edge.offline for
// a box, the device's offline alarm for anything else.
func (g *Gateway) offlineOpen(d registry.Device) bool {
	if d.Kind != devices.KindEdgeBox {
		_, open := g.eng.OpenOf(d.ID, alerting.TypeOffline)
		return open
	}
	_, open := g.edgeAlarm(d)
	return open
}

// edgeAlarm is the open edge.offline alarm of box: its site's, or its own
// when it has no site.
func (g *Gateway) edgeAlarm(box registry.Device) (*alerting.Alarm, bool) {
	if box.Site == "" {
		return g.eng.OpenOf(box.ID, TypeEdgeOffline)
	}
	return g.eng.OpenAtSite(box.Site, TypeEdgeOffline)
}

// behind lists the devices in service whose edge is box.
func (g *Gateway) behind(box string) []registry.Device {
	return g.reg.Select(func(d *registry.Device) bool { return d.Active() && d.Edge == box })
}

// edgeSilent raises edge.offline for a box the supervisor found silent,
// and stops supervising the devices behind it.
func (g *Gateway) edgeSilent(box registry.Device, s devices.Silence, now time.Time) {
	behind := g.behind(box.ID)
	note := fmt.Sprintf("edge box %s: no message for %s (window %s); last seen %s; %d devices behind it are not supervised until it is back",
		box.ID, now.Sub(s.LastSeen).Round(time.Second), s.Window, s.LastSeen.UTC().Format(time.RFC3339), len(behind))
	var a *alerting.Alarm
	var raised bool
	var err error
	if box.Site == "" {
		a, raised, err = g.eng.RaiseCondition(box.ID, g.reg.AlarmLocation(box.ID), TypeEdgeOffline, alerting.P3, note, box.InTest(now))
	} else {
		a, raised, err = g.eng.RaiseSiteCondition(g.siteLocation(box.Site), TypeEdgeOffline, alerting.P3, note)
	}
	if err != nil {
		g.sup.UndoSilent(box.ID) // reported again at the next pass
		g.log.Error("edge box offline alarm not stored", "box", box.ID, "site", box.Site, "err", err)
		return
	}
	g.reg.SetOffline(box.ID)
	for _, d := range behind {
		g.sup.Forget(d.ID)
	}
	if raised {
		g.log.Warn("edge box offline", "box", box.ID, "site", box.Site, "alarm", a.ID, "last_seen", s.LastSeen, "devices", len(behind))
	}
}

// edgeRestored closes a box's edge.offline alarm when it is heard again,
// and supervises the devices behind it afresh from at.
func (g *Gateway) edgeRestored(box registry.Device, at time.Time) {
	var a *alerting.Alarm
	var err error
	switch {
	case box.Site == "":
		a, err = g.eng.EndCondition(box.ID, TypeEdgeOffline, "edge box heard again")
	case g.otherBoxDown(box):
		g.log.Info("edge box back; another box of its site is still down", "box", box.ID, "site", box.Site)
	default:
		a, err = g.eng.EndSiteCondition(box.Site, TypeEdgeOffline, "edge box "+box.ID+" heard again")
	}
	if err != nil {
		g.sup.UndoHeard(box.ID) // closed at the next message
		g.log.Error("edge box offline alarm not closed", "box", box.ID, "err", err)
		return
	}
	behind := g.behind(box.ID)
	for _, d := range behind {
		if !d.Commissioning {
			g.track(d, at)
		}
	}
	if a != nil {
		g.log.Info("edge box restored", "box", box.ID, "site", box.Site, "alarm", a.ID, "devices", len(behind))
	}
}

// otherBoxDown reports whether another box of box's site is down.
func (g *Gateway) otherBoxDown(box registry.Device) bool {
	others := g.reg.Select(func(d *registry.Device) bool {
		return d.Active() && d.Kind == devices.KindEdgeBox && d.Site == box.Site && d.ID != box.ID
	})
	for _, o := range others {
		if g.sup.Offline(o.ID) {
			return true
		}
	}
	return false
}

// EdgeBoxes is every edge box in service as the API shows it.
func (g *Gateway) EdgeBoxes() []httpapi.EdgeBox {
	boxes := g.reg.Select(func(d *registry.Device) bool { return d.Active() && d.Kind == devices.KindEdgeBox })
	counts := map[string]int{}
	for _, d := range g.reg.Select(func(d *registry.Device) bool { return d.Active() && d.Edge != "" }) {
		counts[d.Edge]++
	}
	out := make([]httpapi.EdgeBox, len(boxes))
	for i, b := range boxes {
		h := g.reg.Health(b.ID)
		v := httpapi.EdgeBox{ID: b.ID, Site: b.Site, SitePath: registry.PathString(g.reg.Sites().Path(b.Site)),
			Online: h.Online, Firmware: h.Firmware, Model: h.Model, LastSeen: h.LastSeen, Devices: counts[b.ID],
			QueueDepth: int(h.Readings[devices.FieldQueueDepth])}
		if ms := int64(h.Readings[devices.FieldQueueOldestTS]); ms > 0 {
			v.QueueOldest = time.UnixMilli(ms).UTC()
		}
		switch {
		case g.sup.Offline(b.ID):
			v.Uplink, v.Online = UplinkOffline, false
		case h.Online:
			v.Uplink = UplinkConnected
		case h.LastSeen.IsZero():
			v.Uplink = UplinkNever
		default:
			v.Uplink = UplinkDisconnected
		}
		if b.Commissioning {
			v.Uplink = UplinkNever
		}
		if a, ok := g.edgeAlarm(b); ok {
			v.Alarm = a.ID
		}
		out[i] = v
	}
	return out
}
