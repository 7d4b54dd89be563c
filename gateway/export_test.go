package gateway

import (
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/alerting"
)

// Hooks for the package's black-box tests (package gateway_test), so that a
// test waits for what it asserts instead of sleeping.

// CorrelateNow runs one incident correlation pass and returns when it is
// done: every change made before the call has then been correlated.
func (g *Gateway) CorrelateNow() {
	g.incidents.mu.Lock()
	defer g.incidents.mu.Unlock()
	g.incidents.correlate()
}

// OutboxAlarms lists the alarms of the notifications still in the outbox.
func (g *Gateway) OutboxAlarms() []string {
	items, err := g.db.Outbox()
	if err != nil {
		panic(err)
	}
	var out []string
	for _, it := range items {
		if it.N.Alarm != nil {
			out = append(out, it.N.Alarm.ID)
		}
	}
	return out
}

// HoldCorrelation takes the lock that a correlation pass holds while it
// raises alarms and writes to disk, as a pass stuck on a slow disk would,
// until release is called.
func (g *Gateway) HoldCorrelation() (release func()) {
	g.incidents.mu.Lock()
	var once sync.Once
	return func() { once.Do(g.incidents.mu.Unlock) }
}

// Inhibiting asks what the notification pipeline asks before it sends a
// notification of alarm a: does a site incident speak for it, and why.
func (g *Gateway) Inhibiting(a *alerting.Alarm) (string, bool) { return g.incidents.inhibiting(a) }

// TapMessage is one message the broker routed, as an admin-side
// subscriber saw it.
type TapMessage struct {
	Topic   string
	Payload string
	Retain  bool
}

// tapIDs numbers the taps' inline subscriptions, far above any the gateway
// might use.
var tapIDs struct {
	sync.Mutex
	next int
}

// Tap subscribes an admin-side listener inside the broker (its inline
// client, which no ACL limits) to filter: every message the broker routes
// there, and the retained ones at once, arrive on the channel in the
// order the broker routes them, until stop.
func (g *Gateway) Tap(filter string) (msgs <-chan TapMessage, stop func()) {
	tapIDs.Lock()
	tapIDs.next++
	id := 1<<20 + tapIDs.next
	tapIDs.Unlock()
	ch := make(chan TapMessage, 4096)
	err := g.broker.Subscribe(filter, id, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		select {
		case ch <- TapMessage{Topic: pk.TopicName, Payload: string(pk.Payload), Retain: pk.FixedHeader.Retain}:
		default:
			panic("tap: 4096 messages unread")
		}
	})
	if err != nil {
		panic(err)
	}
	return ch, func() { g.broker.Unsubscribe(filter, id) }
}

// BrokerPublish publishes as the gateway's own inline client, past the
// ACL, as the gateway does on a device's cmd topic.
func (g *Gateway) BrokerPublish(topic, payload string) error {
	return g.broker.Publish(topic, []byte(payload), false, 1)
}

// Retained is the payload the broker keeps retained on topic, if any.
func (g *Gateway) Retained(topic string) (string, bool) {
	for _, pk := range g.broker.Topics.Messages(topic) {
		return string(pk.Payload), true
	}
	return "", false
}

// SessionTopics lists the topic filters in a client's session at this
// gateway's broker (empty when the client is not connected).
func (g *Gateway) SessionTopics(clientID string) []string {
	cl, ok := g.broker.Clients.Get(clientID)
	if !ok {
		return nil
	}
	var out []string
	for f := range cl.State.Subscriptions.GetAll() {
		out = append(out, f)
	}
	return out
}
