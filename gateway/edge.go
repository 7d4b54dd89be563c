package gateway

// The edge box: a gateway with an `edge:` section (package edge) runs as a
// box in a room or small institution. It is the whole gateway (broker,
// alarms, console for its own site) plus the box's pins and its uplink to
// central. This file wires the two:
//
//   - an event from any device on the box is queued for central in the same
//     write that makes it durable (handleEvent: the engine's write carries
//     the queue entry), so the device's PUBACK means both are on disk;
//   - the local rules run as the event arrives (smoke sounds the buzzer);
//   - an operator's action on the box's console is queued for central's
//     timeline as a sync message once it is durable (edgeOnChange);
//   - central's commands are relayed to the devices on the box's broker.
//
// Central's side of sync messages is edgesync.go.

import (
	"strings"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/edge"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/internal/buildinfo"
)

// openEdge builds the box when the config has an edge section; its pins are
// claimed here, so a missing or busy pin fails the start.
func (g *Gateway) openEdge() error {
	if !g.cfg.Edge.Enabled() {
		return nil
	}
	box, err := edge.Open(g.cfg.Edge, edge.Deps{
		Store: g.db, Logger: g.log, Registerer: g.prom, Version: buildinfo.Get().Version,
		Devices: func() []string {
			var ids []string
			for _, d := range g.reg.Select(func(d *registry.Device) bool { return d.Active() }) {
				ids = append(ids, d.ID)
			}
			return ids
		},
		Ingest: func(device string, payload []byte) error {
			return g.ingest(device, devices.ChannelEvent, payload, g.now())
		},
		Relay: func(device string, payload []byte) {
			if err := g.broker.Publish(devices.Topic(device, devices.ChannelCmd), payload, false, 1); err != nil {
				g.log.Warn("edge: central's command not relayed", "device", device, "err", err)
			}
		},
	})
	if err != nil {
		return err
	}
	g.box = box
	g.eng.Subscribe(g.edgeOnChange)
	// After a reboot, smoke or gas nobody has taken yet sounds again, and
	// the LED shows the open calls as before (a call central never
	// acknowledged: "not yet delivered").
	var calls []edge.OpenCall
	for _, a := range g.eng.Open() {
		if (a.Type == alerting.TypeSmoke || a.Type == alerting.TypeGas) && a.State == alerting.Raised && !a.Cleared {
			box.Arrived(devices.Event{Device: a.Device, Type: devices.EventType(a.Event)})
		}
		if !a.IsSite() && a.FromDevice() {
			calls = append(calls, edge.OpenCall{Device: a.Device, Event: devices.EventType(a.Event),
				Seq: a.Timeline[0].Seq, State: deviceState(a.State)})
		}
	}
	if err := box.Resume(calls); err != nil {
		g.log.Error("edge: open calls not shown on the LED after the restart", "err", err)
	}
	return nil
}

// edgeEventWrite is what the engine's write of ev carries for the box: its
// queue entry for central, and what to call once the write is done. Not
// an edge box: nil and a no-op.
func (g *Gateway) edgeEventWrite(ev devices.Event) ([]alerting.Outbound, func(bool)) {
	if g.box == nil {
		return nil, func(bool) {}
	}
	g.box.Arrived(ev)
	return g.box.QueueEvent(ev)
}

// edgeForwardAlone queues for central an event that took no engine write
// (a daily check-in press), in a write of its own before the PUBACK.
func (g *Gateway) edgeForwardAlone(ev devices.Event) error {
	if g.box == nil {
		return nil
	}
	rec, written := g.box.QueueEvent(ev)
	if rec == nil {
		return nil // the queue is full: logged and counted
	}
	err := <-g.db.Commit(alerting.Write{Outbound: rec})
	written(err == nil)
	return err
}

// edgeDevicesChanged has the box subscribe to the commands of devices
// added since it connected to central, and drop those of devices removed.
func (g *Gateway) edgeDevicesChanged() {
	if g.box != nil {
		g.box.DevicesChanged()
	}
}

// edgeLive forwards a device's telemetry or status to central.
func (g *Gateway) edgeLive(device string, ch devices.Channel, payload []byte) {
	if g.box != nil && ch != devices.ChannelEvent {
		g.box.Live(device, ch, payload)
	}
}

// edgeOnChange shows a local alarm's progress on the box and queues an
// operator's action on the box for central.
func (g *Gateway) edgeOnChange(c alerting.Change) {
	a := c.Alarm
	if a.IsSite() || !a.FromDevice() {
		return
	}
	if s := deviceState(a.State); s != "" {
		g.box.AlarmChanged(a.Device, a.Type, s)
	}
	by, ok := strings.CutPrefix(c.Entry.Actor, "operator:")
	if !ok || a.Test {
		return
	}
	s := edge.Sync{Device: a.Device, Seq: a.Timeline[0].Seq, By: by, At: c.Entry.At.UnixMilli(), Note: c.Entry.Note}
	switch c.Entry.Action {
	case alerting.ActAcknowledged:
		s.Type = edge.SyncAck
	case alerting.ActDispatched:
		s.Type = edge.SyncDispatch
	case alerting.ActResolved:
		s.Type, s.Outcome = edge.SyncResolve, a.Outcome
	case alerting.ActNote:
		s.Type = edge.SyncNote
	default:
		return
	}
	if err := g.box.QueueSync(s); err != nil {
		g.log.Error("edge: operator's action not queued for central", "alarm", a.ID, "action", s.Type, "err", err)
	}
}

// EdgeStatus is the box's status; ok is false when this gateway is no box.
func (g *Gateway) EdgeStatus() (edge.Status, bool) {
	if g.box == nil {
		return edge.Status{}, false
	}
	return g.box.Status(), true
}
