package gateway

import (
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/devices"
)

// edgeSyncPublish handles what an edge box publishes on its own sync topic
// (gateway/EDGE.md, "Operator actions done on the box"): the box's
// operator actions, applied to central's alarms. The edge-box branch
// owns this file and replaces this body; until then central counts the
// message as refused and withholds its PUBACK, so that the box keeps it
// queued and sends it again to a central that applies it.
func (h *deviceHook) edgeSyncPublish(_ *mqtt.Client, box string, _ packets.Packet, _ time.Time) error {
	h.g.reject(box, &devices.RejectError{Reason: devices.ReasonBadTopic, Detail: "this central does not apply edge sync messages yet"})
	return packets.ErrRejectPacket
}
