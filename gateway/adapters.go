package gateway

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// Other wire formats (Zigbee2MQTT, a vendor's JSON) arrive from a bridge: a
// program such as Zigbee2MQTT that connects to anxin's broker with an
// account from the config file (`bridges`) and publishes under its own
// topics. Each publish goes through the configured adapters (`adapters`):
// the first whose topic pattern matches names the device by its reference
// (the Z2M friendly name, or the vendor's captured id), which a provisioned
// device carries with its wire format. The adapter decodes the payload
// against the device's remembered state into the same events the native
// protocol gives, and they take the same path to an alarm.
//
// The adapter's state is saved in the same group-committed write as the
// events it produced (commitBridged): one sync per message. A write that
// fails, or a crash before it, leaves the old state, against which the
// resent message yields the same events with the same seqs: the engine
// recognises those it stored and raises those it did not.

// Bridge is an MQTT account for a program that publishes other devices'
// payloads. It may publish and subscribe only under its topic filters (its
// will too), and connects with client id User or "{User}:{suffix}".
type Bridge struct {
	User     string   `json:"user"`
	Password string   `json:"password"`
	Topics   []string `json:"topics"`
}

// adapter is a configured decoder and the wire format name devices use for it.
type adapter struct {
	format string // "zigbee2mqtt" or "vendor_json:<vendor>"
	devices.Adapter
	z2m *z2mTable // Zigbee2MQTT's model table (z2m.go); nil for other adapters
}

func newAdapters(cfgs []devices.AdapterConfig) ([]adapter, error) {
	out := make([]adapter, 0, len(cfgs))
	for i, c := range cfgs {
		a, err := devices.NewAdapter(c)
		if err != nil {
			return nil, fmt.Errorf("config adapters[%d]: %w", i, err)
		}
		format := c.Type
		if v, ok := a.(*devices.VendorJSON); ok {
			format += ":" + v.Vendor
		}
		ad := adapter{format: format, Adapter: a}
		if _, ok := a.(*devices.Zigbee2MQTT); ok {
			ad.z2m = new(z2mTable)
		}
		out = append(out, ad)
	}
	return out, nil
}

func validateBridges(bs []Bridge) error {
	seen := map[string]bool{}
	for i, b := range bs {
		switch {
		case b.User == "":
			return fmt.Errorf("config bridges[%d]: user is empty", i)
		case seen[b.User]:
			return fmt.Errorf("config bridges[%d]: user %q appears twice", i, b.User)
		case len(b.Password) < state.MinPasswordLen:
			return fmt.Errorf("config bridges[%d] (%s): password must be at least %d characters", i, b.User, state.MinPasswordLen)
		case len(b.Topics) == 0:
			return fmt.Errorf("config bridges[%d] (%s): no topics", i, b.User)
		}
		for _, t := range b.Topics {
			if strings.HasPrefix(t, devices.NativePrefix) || t == "#" || t == "anxin/#" {
				return fmt.Errorf("config bridges[%d] (%s): topic %q would reach the native protocol's topics", i, b.User, t)
			}
		}
		seen[b.User] = true
	}
	return nil
}

// bridge returns the bridge account named user, if any.
func (g *Gateway) bridge(user string) (Bridge, bool) {
	for _, b := range g.cfg.Bridges {
		if b.User == user {
			return b, true
		}
	}
	return Bridge{}, false
}

func (b Bridge) authenticate(password string) bool {
	return subtle.ConstantTimeCompare([]byte(b.Password), []byte(password)) == 1
}

// allows reports whether topic is under one of the bridge's filters. Home
// Assistant discovery (homeassistant/…), which Zigbee2MQTT publishes when
// that integration is on, is always allowed and then dropped quietly
// (z2m.go): refusing it would disconnect a bridge on MQTT 3.1.1.
func (b Bridge) allows(topic string) bool {
	if strings.HasPrefix(topic, devices.HomeAssistantDiscoveryPrefix) && !strings.ContainsAny(topic, "+#") {
		return true
	}
	for _, f := range b.Topics {
		if topicMatch(f, topic) {
			return true
		}
	}
	return false
}

// topicMatch matches an MQTT topic (or a narrower filter) against a filter.
func topicMatch(filter, topic string) bool {
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fl {
		if f == "#" {
			return true
		}
		if i >= len(tl) || (f != "+" && f != tl[i]) || (f == "+" && tl[i] == "#") {
			return false
		}
	}
	return len(fl) == len(tl)
}

// deviceLocks serialises adapter decoding per device, so that two messages
// of one device never decode against the same prior state: a message's
// lock is held from reading the state until the write of the next one is
// synced (see the lock order in doc.go).
type deviceLocks struct{ m sync.Map }

func (l *deviceLocks) lock(id string) func() {
	mu, _ := l.m.LoadOrStore(id, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	return mu.(*sync.Mutex).Unlock
}

// ingestBridged handles a publish from a bridge account.
func (g *Gateway) ingestBridged(topic string, payload []byte, retained bool, arrived time.Time) error {
	if own, err := g.bridgeTopic(topic, payload, arrived); own {
		return err
	}
	for _, ad := range g.paths.Load().adapters {
		ref, ok := ad.Match(topic)
		if !ok {
			continue
		}
		dev, ok := g.reg.LookupRef(ad.format, ref)
		if !ok {
			err := &devices.RejectError{Reason: devices.ReasonUnknownDevice,
				Detail: fmt.Sprintf("no device is provisioned with format %s and ref %q", ad.format, ref)}
			g.reject(ref, err)
			return err
		}
		in := devices.Input{Topic: topic, Payload: payload, Device: dev.ID, Kind: dev.Kind, Retained: retained, Received: arrived,
			Model: ad.z2mModel(ref)}
		return g.decodeBridged(ad, dev, in, nil, nil)
	}
	err := &devices.RejectError{Reason: devices.ReasonBadTopic, Detail: "no adapter matches topic " + topic}
	g.reject("", err)
	return err
}

// decodeBridged decodes and stores one message of a bridged device (or a
// platform's push: ingest_http.go, with receipt and done as commitBridged
// takes them), then does what it calls for.
func (g *Gateway) decodeBridged(ad adapter, dev registry.Device, in devices.Input, receipt *alerting.Receipt, done func() (bool, error)) error {
	arrived := in.Received
	dec, results, err := g.commitBridged(ad, dev, in, receipt, done)
	if rej := (*devices.RejectError)(nil); errors.As(err, &rej) {
		g.reject(dev.ID, err)
		return err
	}
	for _, fe := range dec.FieldErrors {
		g.reject(dev.ID, fe)
	}
	// Out of the device's lock: its telemetry and status (an empty message
	// still marks it heard), then what its durable events call for, in
	// their order. After a failed write too: the events before it are
	// durable, and the device was heard.
	if aerr := g.accept(dev, devices.Message{Telemetry: dec.Telemetry, Status: dec.Status}, arrived); aerr != nil && err == nil {
		err = aerr
	}
	for i, res := range results {
		ev := dec.Events[i]
		g.hub.EmitAbout(dev.ID, "event", &ev, dev.Test)
		if res.checkin {
			g.recordEvent(dev, ev)
			g.answerCheckin(dev, ev.Seq)
			continue
		}
		g.eventDurable(dev, ev, res.Result, arrived)
	}
	return err
}

// taken is what became of one bridged event: a check-in press
// (checkinPress: stored as the check-in, no alarm), or the engine's result.
type taken struct {
	alerting.Result
	checkin bool
}

// commitBridged decodes one message against the device's adapter state and
// makes its events durable, the next state in the same write as the last
// of them (or, for a message without events, in a write of its own through
// the same group commit): one sync per message, shared with every device
// writing at that moment. The state advances only with the events it
// produced, so a resend after a failed write decodes against the old state
// into the same events with the same seqs, which the engine recognises
// where they were stored and raises where they were not. It returns the
// results of the events made durable, in order, even when a later one
// failed.
//
// receipt, when not nil, is written with the state (an HTTP push's record,
// ingest_http.go), and done, when not nil, is asked first under the lock:
// true means the message was made durable before, and nothing is done.
//
// A check-in press (checkinPress) goes not to the engine but to the
// wellbeing rules (takeCheckin), which store it before the events after it.
//
// It holds the device's adapter lock throughout, and calls only the store,
// the engine, the wellbeing rules' memory and the registry's read locks
// under it: the broker, the hub, supervision and the time series are the
// caller's, after it.
func (g *Gateway) commitBridged(ad adapter, dev registry.Device, in devices.Input, receipt *alerting.Receipt, done func() (bool, error)) (devices.Decoded, []taken, error) {
	defer g.adapterLocks.lock(dev.ID)()
	if done != nil {
		if held, err := done(); err != nil || held {
			return devices.Decoded{}, nil, err
		}
	}
	prior, err := g.db.AdapterState(dev.ID)
	if err != nil {
		return devices.Decoded{}, nil, fmt.Errorf("adapter state of %s: %w", dev.ID, err)
	}
	dec, next, err := ad.Decode(in, prior)
	if err != nil {
		return dec, nil, err
	}
	var rec alerting.With
	if !sameAdapterState(prior, next) { // an availability message changes nothing
		if rec.DeviceState, err = state.AdapterStateRecord(dev.ID, next); err != nil {
			return dec, nil, err
		}
	}
	if receipt != nil {
		rec.Receipts = []alerting.Receipt{*receipt}
	}
	// The state rides with the last event that goes to the engine; a
	// check-in press is stored on its own (takeCheckin) before it, and a
	// resend after a failure takes the check-in again, which changes
	// nothing.
	last := -1
	for i, ev := range dec.Events {
		if !g.checkinPress(dev, ev) {
			last = i
		}
	}
	at, test := g.reg.AlarmLocation(dev.ID), dev.InTest(g.now())
	results := make([]taken, 0, len(dec.Events))
	for i, ev := range dec.Events {
		g.metrics.events.WithLabelValues(string(ev.Type)).Inc()
		if i != last && g.checkinPress(dev, ev) {
			if err := g.takeCheckin(dev, in.Received); err != nil {
				return dec, results, err
			}
			if err := g.edgeForwardAlone(ev); err != nil { // central keeps the resident's check-ins too
				return dec, results, err
			}
			results = append(results, taken{checkin: true})
			continue
		}
		var with alerting.With
		if i == last {
			with = rec
		}
		// On an edge box the event goes to central as a native event of
		// the device, queued in the same write (edge.go).
		forward, written := g.edgeEventWrite(ev)
		with.Outbound = forward
		res, err := g.eng.HandleEventWith(ev, at, test, with)
		written(err == nil)
		if err != nil {
			return dec, results, err
		}
		results = append(results, taken{Result: res})
	}
	if last < 0 && (rec.DeviceState != nil || rec.Receipts != nil) {
		if err := <-g.db.Commit(alerting.Write{DeviceState: rec.DeviceState, Receipts: rec.Receipts}); err != nil {
			return dec, results, fmt.Errorf("adapter state of %s: %w", dev.ID, err)
		}
	}
	return dec, results, nil
}

func sameAdapterState(a, b devices.AdapterState) bool {
	return a.Seq == b.Seq && slices.Equal(a.On, b.On) && a.Last == b.Last && a.LastAt.Equal(b.LastAt)
}

// bridgePublish is OnPublish for a bridge account.
func (h *deviceHook) bridgePublish(cl *mqtt.Client, b Bridge, pk packets.Packet, arrived time.Time) (packets.Packet, error) {
	err := h.g.ingestBridged(pk.TopicName, pk.Payload, pk.FixedHeader.Retain, arrived)
	var rej *devices.RejectError
	switch {
	case errors.As(err, &rej):
		return pk, refusal(cl, pk.FixedHeader.Qos, packets.ErrPayloadFormatInvalid)
	case err != nil:
		h.g.log.Error("bridged event not stored; bridge will resend", "bridge", b.User, "topic", pk.TopicName, "err", err)
		cl.Stop(err)
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}
