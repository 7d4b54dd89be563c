package gateway

import (
	"encoding/json"
	"fmt"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/devices"
)

// Who may make the broker publish what, in one place. A client can cause a
// publish in these ways, and each goes through mayPublish:
//
//   - its PUBLISH packets: mochi asks OnACLCheck with the topic;
//   - its will, which mochi publishes without asking anyone when the
//     connection drops: checked at CONNECT (willRefusal), and a CONNECT whose
//     will breaks the rule is refused, so no forbidden will is ever held;
//   - retained messages: only a PUBLISH or a will can leave one, so they are
//     covered by the two above; a device's retain flag is kept only on its
//     status (OnPublish), the one topic the protocol retains;
//   - MQTT 5 topic aliases: mochi checks the ACL before it resolves an alias,
//     so the broker accepts none (TopicAliasMaximum 0, which is also what its
//     CONNACK advertises by leaving the property out);
//   - session takeover: a client id belongs to one account (clientIDAllowed),
//     so a session and its subscriptions only pass to the same account.
//
// An edge box (a device of kind edge_box, gateway/EDGE.md) is a device
// account that also speaks for the devices behind it: it may publish
// event, telemetry and status for itself and for every device whose Edge
// is the box, publish its own sync topic, and subscribe to the cmd topics
// of the same devices. Its will is still only its own status. Which
// devices are behind a box is read from the registry at each check, so a
// device moved to another box is refused at once.

// account is whom a client authenticated as: a device, an edge box, or a
// bridge.
type account struct {
	user   string
	bridge *Bridge // nil for a device
	// behind reports whether a device is behind this edge box; nil for any
	// other account.
	behind func(device string) bool
}

// speaksFor says whether the account may publish as, and read the
// commands of, device id: its own, or one behind it if it is an edge box.
func (a account) speaksFor(id string) bool {
	return id == a.user || (a.behind != nil && a.behind(id))
}

// accountOf is the account a client authenticated as.
func (h *deviceHook) accountOf(cl *mqtt.Client) account {
	return h.account(deviceOf(cl))
}

func (h *deviceHook) account(user string) account {
	if b, ok := h.g.bridge(user); ok {
		return account{user: user, bridge: &b}
	}
	if d, ok := h.g.reg.Get(user); ok && d.Kind == devices.KindEdgeBox && d.Active() {
		return account{user: user, behind: func(id string) bool {
			x, ok := h.g.reg.Get(id)
			return ok && x.Active() && x.Edge == user
		}}
	}
	return account{user: user}
}

// mayPublish is the rule for every publish a client causes: a device only
// under anxin/v1/{its id}/ on event, telemetry and status; an edge box the
// same for itself and the devices behind it, and its own sync; a bridge
// only under its configured topic filters.
func (a account) mayPublish(topic string) bool {
	if a.bridge != nil {
		return a.bridge.allows(topic)
	}
	id, ch, err := devices.ParseTopic(topic)
	if err != nil {
		return false
	}
	switch ch {
	case devices.ChannelEvent, devices.ChannelTelemetry, devices.ChannelStatus:
		return a.speaksFor(id)
	case devices.ChannelSync:
		return a.behind != nil && id == a.user
	}
	return false
}

// maySubscribe: a device reads only its own cmd topic, an edge box also
// those of the devices behind it (one filter each, no wildcards); a bridge
// only under its filters.
func (a account) maySubscribe(filter string) bool {
	if a.bridge != nil {
		return a.bridge.allows(filter)
	}
	id, ch, err := devices.ParseTopic(filter)
	return err == nil && ch == devices.ChannelCmd && a.speaksFor(id)
}

// clientIDAllowed: every account, device or bridge, owns the client ids
// "{user}" and "{user}:{suffix}", and no other, so that no login can take
// over another account's session. A suffixed connection may not keep a
// session: otherwise every suffix ever used would stay in the broker's
// memory.
func (a account) clientIDAllowed(clientID string, pk packets.Packet) bool {
	transient := pk.Connect.Clean && pk.Properties.SessionExpiryInterval == 0
	return clientID == a.user || (strings.HasPrefix(clientID, a.user+":") && transient)
}

// willRefusal says why the will of a CONNECT is not allowed, or "" when it
// is (or there is none). A device's will is its own status saying
// {"online": false}, exactly as the protocol defines it; a bridge's is any
// message it may publish.
func (a account) willRefusal(pk packets.Packet) string {
	if !pk.Connect.WillFlag {
		return ""
	}
	topic := pk.Connect.WillTopic
	if !a.mayPublish(topic) {
		return fmt.Sprintf("will topic %q is not one this account may publish on", topic)
	}
	if a.bridge != nil {
		return ""
	}
	if id, ch, _ := devices.ParseTopic(topic); ch != devices.ChannelStatus || id != a.user {
		return fmt.Sprintf("will topic %q: a device's will goes on its own status topic", topic)
	}
	var will map[string]any
	if err := json.Unmarshal(pk.Connect.WillPayload, &will); err != nil || len(will) != 1 || will["online"] != false {
		return `will payload must be {"online": false}`
	}
	return ""
}
