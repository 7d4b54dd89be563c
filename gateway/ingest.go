package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/registry"
)

// ingest handles one payload a device published on channel ch. It returns a
// *devices.RejectError for a payload refused, another error when an event
// could not be made durable, and nil once the payload is fully handled.
func (g *Gateway) ingest(device string, ch devices.Channel, payload []byte, arrived time.Time) error {
	dev, ok := g.reg.Get(device)
	if !ok {
		err := &devices.RejectError{Reason: devices.ReasonUnknownDevice, Detail: "device " + device + " is not provisioned"}
		g.reject(device, err)
		return err
	}
	msg, err := devices.DecodeNative(device, ch, payload, arrived)
	if err != nil {
		g.reject(device, err)
		return err
	}
	if err := g.accept(dev, msg, arrived); err != nil {
		return err
	}
	g.edgeLive(device, ch, payload)
	return nil
}

// accept handles a decoded message from a known device, whatever its wire
// format: any message shows the device is alive.
func (g *Gateway) accept(dev registry.Device, msg devices.Message, arrived time.Time) error {
	g.reg.Heard(dev.ID, arrived, msg.Status, msg.Telemetry)
	if msg.Status == nil || msg.Status.Online {
		g.heard(dev, arrived)
	}
	switch {
	case msg.Event != nil:
		g.hub.EmitAbout(dev.ID, "event", msg.Event, dev.Test)
		return g.handleEvent(dev, *msg.Event, arrived)
	case msg.Telemetry != nil:
		g.metrics.telemetry.Inc()
		g.recordTelemetry(dev, msg.Telemetry)
		g.checkBattery(dev, msg.Telemetry)
		g.careTelemetry(dev, msg.Telemetry, arrived)
		g.emitHealth(dev.ID)
	case msg.Status != nil:
		g.emitHealth(dev.ID)
		if msg.Status.Online && dev.InTest(arrived) {
			g.tellTestMode(dev, arrived) // it may have missed the switch while away
		}
	}
	return nil
}

// handleEvent raises or updates the alarm, waits for it to be durable, and
// then tells the device it was received.
func (g *Gateway) handleEvent(dev registry.Device, ev devices.Event, arrived time.Time) error {
	g.metrics.events.WithLabelValues(string(ev.Type)).Inc()
	if handled, err := g.checkinButton(dev, ev, arrived); handled {
		if err == nil {
			err = g.edgeForwardAlone(ev) // central keeps the resident's check-ins too
		}
		return err
	}
	// On an edge box the event's queue entry for central is in the same
	// write: a PUBACK means both are durable (edge.go).
	forward, written := g.edgeEventWrite(ev)
	res, err := g.eng.HandleEventWith(ev, g.reg.AlarmLocation(dev.ID), dev.InTest(g.now()), alerting.With{Outbound: forward})
	written(err == nil)
	if err != nil {
		return err
	}
	g.eventDurable(dev, ev, res, arrived)
	return nil
}

// eventDurable does what an event calls for once the engine made it
// durable: time series, metrics and the device's reassurance.
func (g *Gateway) eventDurable(dev registry.Device, ev devices.Event, res alerting.Result, arrived time.Time) {
	if !res.Duplicate {
		// After the reassurance: a check-in's write and the no-activity
		// alarms it ends need not delay the elder's "received", nor the
		// time-series buffer, whose lock every telemetry message takes.
		defer g.careEvent(dev, ev, arrived)
		defer g.recordEvent(dev, ev)
	}
	if res.Alarm == nil {
		g.log.Debug("event recorded", "device", ev.Device, "seq", ev.Seq, "type", ev.Type, "duplicate", res.Duplicate)
		return
	}
	a := res.Alarm
	if res.Duplicate {
		g.metrics.duplicates.Inc()
	} else if a.Count == 1 && a.State == alerting.Raised {
		g.metrics.raised.WithLabelValues(a.Priority.String()).Inc()
		g.log.Info("alarm raised", "alarm", a.ID, "device", ev.Device, "type", a.Type, "priority", a.Priority.String(), "seq", ev.Seq)
	}
	g.reassure(ev.Device, ev.Seq, a, "received")
	if s := deviceState(a.State); s != "" && s != "received" {
		// The elder pressed again while help is already coming: say so.
		g.reassure(ev.Device, ev.Seq, a, s)
	}
	if !res.Duplicate {
		g.metrics.pressToReceived.Observe(g.now().Sub(arrived).Seconds())
	}
}

// Reassure is the message on a device's cmd topic that tells the elder where
// their call is.
type Reassure struct {
	Type  string `json:"type"` // always "reassure"
	Seq   uint64 `json:"seq"`
	Alarm string `json:"alarm"`
	State string `json:"state"` // received, acknowledged, on_the_way, resolved, cancelled
}

// deviceState maps an alarm state to the word a device shows or speaks.
func deviceState(s alerting.State) string {
	switch s {
	case alerting.Raised:
		return "received"
	case alerting.Acknowledged:
		return "acknowledged"
	case alerting.Dispatched:
		return "on_the_way"
	case alerting.Resolved:
		return "resolved"
	case alerting.Cancelled:
		return "cancelled"
	}
	return ""
}

func (g *Gateway) reassure(device string, seq uint64, a *alerting.Alarm, state string) {
	r := Reassure{Type: "reassure", Seq: seq, Alarm: a.ID, State: state}
	b, _ := json.Marshal(r)
	g.hub.EmitAbout(device, "reassure", r, a.Test)
	if err := g.broker.Publish(devices.Topic(device, devices.ChannelCmd), b, false, 1); err != nil {
		g.log.Warn("reassurance not sent", "device", device, "alarm", a.ID, "state", state, "err", err)
		return
	}
	g.metrics.reassured.WithLabelValues(state).Inc()
}

// onChange tells the device of every state an operator moves its alarm to.
// The device hears of raises from handleEvent, which answers the exact seq.
func (g *Gateway) onChange(c alerting.Change) {
	switch c.Entry.Action {
	case alerting.ActAcknowledged, alerting.ActDispatched, alerting.ActResolved:
		// Only an alarm the device raised itself is its to hear of: one the
		// gateway raised (offline, battery, site alarms) has no press to answer.
		if _, ok := g.reg.Get(c.Alarm.Device); ok && !c.Alarm.IsSite() && c.Alarm.FromDevice() {
			g.reassure(c.Alarm.Device, c.Alarm.Seq, c.Alarm, deviceState(c.Alarm.State))
		}
	case alerting.ActEscalated:
		g.metrics.escalations.WithLabelValues(c.Alarm.Priority.String()).Inc()
	}
	if n := c.Alarm.NobodyReached; c.Entry.NobodyReached && n != nil {
		// Loud on purpose: no person anywhere heard of this alarm.
		g.log.Error("alarm reached nobody", "alarm", c.Alarm.ID, "site", c.Alarm.Site, "step", n.Step,
			"kind", string(n.Kind), "priority", c.Alarm.Priority.String(), "type", c.Alarm.Type, "reason", n.Reason)
	}
	// The action that first took the alarm (an ack, or a dispatch or
	// resolve of an untaken alarm) sets Acked to its own time.
	taking := c.Entry.Action == alerting.ActAcknowledged || c.Entry.Action == alerting.ActDispatched ||
		c.Entry.Action == alerting.ActResolved
	if a := c.Alarm; taking && !a.Test && c.Entry.Actor != "system" && a.Acked.Equal(c.Entry.At) {
		g.metrics.timeToAck.WithLabelValues(a.Priority.String()).Observe(a.Acked.Sub(a.Raised).Seconds())
	}
}

// emitHealth sends the device's health to its watchers. The copy of its
// readings is made only when someone watches: nearly never, while telemetry
// comes all the time.
func (g *Gateway) emitHealth(device string) {
	if g.hub.Watched(device) {
		g.hub.Emit(device, "health", g.reg.Health(device))
	}
}

// reject counts and logs a refused payload.
func (g *Gateway) reject(device string, err error) {
	var rej *devices.RejectError
	if !errors.As(err, &rej) {
		rej = &devices.RejectError{Reason: devices.ReasonMalformed, Detail: fmt.Sprint(err)}
	}
	g.metrics.rejections.WithLabelValues(string(rej.Reason)).Inc()
	g.hub.Emit(device, "rejected", map[string]string{"reason": string(rej.Reason), "detail": rej.Detail})
	g.refusals.Warn(device, "payload refused", "device", device, "reason", string(rej.Reason), "detail", rej.Detail)
}
