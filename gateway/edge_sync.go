package gateway

// Central's side of an edge box's sync messages: an operator's action done
// on a box's own console (package edge, edge.go) arrives on
// anxin/v1/{box}/sync and is applied to central's alarm for the raising
// event's (device, seq), with who did it and "at box {box}" and when on the
// timeline. The box queues the message after the event itself, in one
// queue sent in order, so central has the alarm by then.
//
// A sync message is idempotent: its note names the box, the action and
// the box's time of it, and a timeline that already has that note is not
// touched again. An action central has already passed (acknowledged at
// central first, or closed) is recorded as a note, not refused: the box
// did it, and the timeline says so.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/edge"
)

// edgeSyncPublish handles what an edge box publishes on its own sync topic
// (the ACL allows only that), before its PUBACK: a malformed message is
// refused with a reason (an MQTT 3 box gets a plain PUBACK and drops it
// from its queue: it would never apply); one that could not be stored
// withholds the PUBACK and drops the connection, so the box sends it again.
func (h *deviceHook) edgeSyncPublish(cl *mqtt.Client, box string, pk packets.Packet, _ time.Time) error {
	err := h.g.applyEdgeSync(box, pk.Payload)
	switch {
	case errors.Is(err, edge.ErrBadSync):
		h.g.reject(box, &devices.RejectError{Reason: devices.ReasonBadField, Detail: err.Error()})
		return refusal(cl, pk.FixedHeader.Qos, packets.ErrPayloadFormatInvalid)
	case err != nil:
		h.g.log.Error("edge sync not applied; the box will resend", "box", box, "err", err)
		cl.Stop(err)
		return packets.ErrRejectPacket
	}
	return nil
}

// applyEdgeSync applies one sync message from box. An error is a message
// that can never apply (malformed, or of a device that is not the box's);
// a message whose alarm central does not know is logged and dropped, so
// that one stale entry cannot hold up the box's queue.
func (g *Gateway) applyEdgeSync(box string, payload []byte) error {
	s, err := edge.DecodeSync(payload)
	if err != nil {
		return err
	}
	seen, ok, err := g.db.Seen(s.Device, s.Seq)
	if err != nil {
		return fmt.Errorf("sync from box %s: %w", box, err)
	}
	if !ok || seen.Alarm == "" {
		g.log.Warn("edge sync: no alarm for that event at central; dropped", "box", box, "device", s.Device,
			"seq", s.Seq, "action", s.Type)
		return nil
	}
	a, err := g.eng.Get(seen.Alarm)
	if err != nil {
		return fmt.Errorf("sync from box %s: alarm %s: %w", box, seen.Alarm, err)
	}
	mark := syncNote(box, s)
	if slices.ContainsFunc(a.Timeline, func(e alerting.Entry) bool { return strings.HasPrefix(e.Note, mark) }) {
		return nil // a repeat
	}
	note := mark
	if s.Note != "" && s.Type != edge.SyncNote {
		note += ": " + s.Note
	}
	switch s.Type {
	case edge.SyncAck:
		_, err = g.eng.Ack(a.ID, s.By, note)
	case edge.SyncDispatch:
		_, err = g.eng.Dispatch(a.ID, s.By, note)
	case edge.SyncResolve:
		_, err = g.eng.Resolve(a.ID, s.By, s.Outcome, note)
	case edge.SyncNote:
		_, err = g.eng.Note(a.ID, s.By, note+": "+s.Note)
	}
	if errors.Is(err, alerting.ErrTransition) || errors.Is(err, alerting.ErrOutcome) {
		_, err = g.eng.Note(a.ID, s.By, note+" (central had already passed it)")
	}
	if err != nil {
		return fmt.Errorf("sync from box %s: alarm %s: %w", box, a.ID, err)
	}
	g.log.Info("edge sync applied", "box", box, "alarm", a.ID, "device", s.Device, "seq", s.Seq, "action", s.Type, "by", s.By)
	return nil
}

// syncNote is the first words of the timeline note of a sync: what was
// done, at which box, at what time by the box's clock.
func syncNote(box string, s edge.Sync) string {
	verb := map[string]string{edge.SyncAck: "acknowledged", edge.SyncDispatch: "dispatched",
		edge.SyncResolve: "resolved", edge.SyncNote: "note"}[s.Type]
	return fmt.Sprintf("%s at box %s at %s", verb, box, time.UnixMilli(s.At).UTC().Format(time.RFC3339Nano))
}
