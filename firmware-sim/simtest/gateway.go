package simtest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/devices"
)

// Message is one message the fake gateway saw from a device.
type Message struct {
	Device   string
	Channel  devices.Channel
	Payload  []byte
	Retained bool
	Decoded  devices.Message // the real decoder's view
	Err      error           // non-nil when the real decoder refused it
	At       time.Time
}

// Gateway is a fake gateway: it subscribes to every device's event,
// telemetry and status, records them, and answers each event with a
// "received" reassurance, then with the follow-up states if set.
type Gateway struct {
	client  mqtt.Client
	mu      sync.Mutex
	msgs    []Message
	changed chan struct{}
	alarms  map[string]string // (device, type) → alarm id: one open alarm per pair
	follow  []string
	step    time.Duration
	mute    atomic.Bool
}

// NewGateway connects a fake gateway to broker and disconnects it when t ends.
func NewGateway(t testing.TB, broker string) *Gateway {
	t.Helper()
	g := &Gateway{changed: make(chan struct{}), alarms: map[string]string{}}
	// Messages are recorded in arrival order (paho's OrderMatters), and
	// answered on goroutines of their own so that recording never waits.
	opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("fake-gateway-%d", time.Now().UnixNano())).
		SetCleanSession(true)
	g.client = mqtt.NewClient(opts)
	if tok := g.client.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("fake gateway connect: %v", tok.Error())
	}
	t.Cleanup(func() { g.client.Disconnect(0) })
	for _, ch := range []devices.Channel{devices.ChannelEvent, devices.ChannelTelemetry, devices.ChannelStatus} {
		tok := g.client.Subscribe(devices.NativePrefix+"+/"+string(ch), 1, g.onMessage)
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("fake gateway subscribe %s: %v", ch, tok.Error())
		}
	}
	return g
}

// Mute stops (or resumes) answering events, to test a silent gateway.
func (g *Gateway) Mute(m bool) { g.mute.Store(m) }

// FollowUp makes the gateway send these states after "received", step apart,
// as if an operator acknowledged and dispatched. Call it before any press.
func (g *Gateway) FollowUp(step time.Duration, states ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.step, g.follow = step, states
}

func (g *Gateway) onMessage(c mqtt.Client, m mqtt.Message) {
	device, ch, err := devices.ParseTopic(m.Topic())
	msg := Message{Device: device, Channel: ch, Payload: m.Payload(), Retained: m.Retained(), At: time.Now(), Err: err}
	if err == nil {
		msg.Decoded, msg.Err = devices.DecodeNative(device, ch, m.Payload(), msg.At)
	}
	g.mu.Lock()
	g.msgs = append(g.msgs, msg)
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
	if ev := msg.Decoded.Event; ev != nil && !g.mute.Load() {
		go g.reassure(c, ev)
	}
}

func (g *Gateway) reassure(c mqtt.Client, ev *devices.Event) {
	g.mu.Lock()
	key := ev.Device + "/" + string(ev.Type)
	alarm, ok := g.alarms[key]
	if !ok {
		alarm = fmt.Sprintf("A-%d", len(g.alarms)+1)
		g.alarms[key] = alarm
	}
	follow, step := g.follow, g.step
	g.mu.Unlock()
	topic := devices.Topic(ev.Device, devices.ChannelCmd)
	for i, state := range append([]string{"received"}, follow...) {
		if i > 0 {
			time.Sleep(step) // on this event's own goroutine
		}
		b, _ := json.Marshal(map[string]any{"type": "reassure", "seq": ev.Seq, "alarm": alarm, "state": state})
		c.Publish(topic, 1, false, b).Wait()
	}
}

// Send publishes a command to a device, as the gateway would.
func (g *Gateway) Send(t testing.TB, device string, cmd map[string]any) {
	t.Helper()
	b, _ := json.Marshal(cmd)
	if tok := g.client.Publish(devices.Topic(device, devices.ChannelCmd), 1, false, b); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("send cmd to %s: %v", device, tok.Error())
	}
}

// Messages returns what the gateway has seen that matches keep (nil: all).
func (g *Gateway) Messages(keep func(Message) bool) []Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Message
	for _, m := range g.msgs {
		if keep == nil || keep(m) {
			out = append(out, m)
		}
	}
	return out
}

// WaitFor waits until n messages match keep and returns them; it fails the
// test after timeout.
func (g *Gateway) WaitFor(t testing.TB, timeout time.Duration, n int, keep func(Message) bool) []Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		g.mu.Lock()
		changed := g.changed
		g.mu.Unlock()
		if got := g.Messages(keep); len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("waited %v for %d matching messages, got %d", timeout, n, len(g.Messages(keep)))
			return nil
		}
	}
}

// On matches messages of one device on one channel.
func On(device string, ch devices.Channel) func(Message) bool {
	return func(m Message) bool { return m.Device == device && m.Channel == ch }
}
