package edge

import (
	"slices"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/devices"
)

// subAckFailure is the SUBACK return code of a refused filter (MQTT 3.1.1
// §3.9.3): central refuses the cmd topic of a device that is not behind
// the box there.
const subAckFailure = 0x80

// subscriptions are the cmd topics the box holds at central on the current
// connection: asked for (granted or waiting for the SUBACK), or refused.
// Guarded by uplink.mu.
type subscriptions struct {
	gen     uint64 // the connection's: a late SUBACK of an earlier one changes nothing
	held    map[string]bool
	refused map[string]bool
	warned  map[string]bool // refusals logged on this connection
}

// reset starts a connection's subscriptions with filters asked for; it
// returns the connection's generation.
func (s *subscriptions) reset(filters map[string]byte) uint64 {
	s.gen++
	s.held, s.refused, s.warned = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for t := range filters {
		s.held[t] = true
	}
	return s.gen
}

// wanted is the cmd topic of the box and of every device provisioned on it.
func (u *uplink) wanted() map[string]byte {
	filters := map[string]byte{devices.Topic(u.cfg.BoxID, devices.ChannelCmd): 1}
	for _, d := range u.devices() {
		filters[devices.Topic(d, devices.ChannelCmd)] = 1
	}
	return filters
}

// DevicesChanged tells the box that devices were added to or removed from
// its registry: the uplink subscribes to the commands of the new ones and
// unsubscribes from those of the removed ones at once, while connected (a
// new connection subscribes to all anyway).
func (b *Box) DevicesChanged() {
	select {
	case b.up.changed <- struct{}{}:
	default:
	}
}

// unsubscribed reports whether the device a queued message is about has
// no cmd subscription asked for at central on this connection, nor had one
// refused.
func (u *uplink) unsubscribed(topic string) bool {
	device, _, err := devices.ParseTopic(topic)
	if err != nil || device == u.cfg.BoxID {
		return false
	}
	cmd := devices.Topic(device, devices.ChannelCmd)
	u.mu.Lock()
	defer u.mu.Unlock()
	return !u.subs.held[cmd] && !u.subs.refused[cmd]
}

// reconcile subscribes to the cmd topics of devices added since the
// connection's subscriptions were made and unsubscribes from those of
// devices removed; retryRefused asks again for those central refused (a
// device may have been put behind the box at central since: at every
// change and heartbeat, not before every message). It waits for
// central's answers: it runs on the uplink's own goroutine, never paho's.
func (u *uplink) reconcile(c paho.Client, retryRefused bool) {
	want := u.wanted()
	add := map[string]byte{}
	var drop, added []string
	u.mu.Lock()
	gen := u.subs.gen
	for t, qos := range want {
		if !u.subs.held[t] && (retryRefused || !u.subs.refused[t]) {
			add[t] = qos
			u.subs.held[t] = true
			if !u.subs.refused[t] {
				added = append(added, t)
			}
			delete(u.subs.refused, t)
		}
	}
	for t := range u.subs.held {
		if _, ok := want[t]; !ok {
			drop = append(drop, t)
			delete(u.subs.held, t)
		}
	}
	for t := range u.subs.refused {
		if _, ok := want[t]; !ok {
			delete(u.subs.refused, t)
		}
	}
	u.mu.Unlock()
	if len(added) > 0 {
		slices.Sort(added)
		u.log.Info("edge uplink: subscribing to central's commands of devices added", "topics", added)
	}
	if len(add) > 0 {
		u.granted(gen, c.SubscribeMultiple(add, u.receive), add)
	}
	if len(drop) > 0 {
		slices.Sort(drop)
		u.log.Info("edge uplink: unsubscribing from central's commands of devices removed", "topics", drop)
		if tok := c.Unsubscribe(drop...); !tok.WaitTimeout(connectTimeout) || tok.Error() != nil {
			u.log.Warn("edge uplink: unsubscribing failed", "topics", drop, "err", tok.Error())
		}
	}
}

// granted waits for the SUBACK of filters asked for on connection gen: a
// filter that failed is no longer held (asked again at the next
// reconcile); one central refused is marked refused.
func (u *uplink) granted(gen uint64, tok paho.Token, filters map[string]byte) {
	done := tok.WaitTimeout(connectTimeout)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.subs.gen != gen {
		return
	}
	if !done || tok.Error() != nil {
		u.log.Warn("edge uplink: subscribing to central's commands failed", "err", tok.Error(), "timed_out", !done)
		for t := range filters {
			delete(u.subs.held, t)
		}
		return
	}
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		return
	}
	var refused []string
	for t, code := range st.Result() {
		if code == subAckFailure {
			delete(u.subs.held, t)
			u.subs.refused[t] = true
			if !u.subs.warned[t] {
				u.subs.warned[t] = true
				refused = append(refused, t)
			}
		}
	}
	if len(refused) > 0 {
		slices.Sort(refused)
		u.log.Warn("edge uplink: central refused the commands of devices not behind this box there", "topics", refused)
	}
}
