package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// Zigbee2MQTT, model-aware. A Zigbee2MQTT bridge publishes, besides its
// devices' messages, topics of its own: bridge/state, bridge/info,
// bridge/logging, bridge/event, bridge/response/…, and, with the Home
// Assistant integration on, discovery configs under homeassistant/. Those
// are dropped quietly: no rejection counted, no warning, no disconnect (a
// bridge may always publish under homeassistant/, see Bridge.allows).
// bridge/devices, retained, lists every device with its model: it is
// decoded into the adapter's model table (devices.Z2MDevices), swapped in
// whole, and stored (state.Z2MTable, by topic) so that after a restart the
// devices decode by their model before the bridge replays it. A device
// topic is then decoded with Input.Model from the table, so that an SOS
// button raises a call on whatever its vendor calls a press.

// z2mTable holds one Zigbee2MQTT adapter's model table. Readers load the
// pointer and never modify what it points to; bridge/devices replaces it.
type z2mTable struct {
	p      atomic.Pointer[devices.Z2MDevices]
	digest atomic.Value // string: names the payload p was decoded from
}

func (t *z2mTable) load() devices.Z2MDevices {
	if p := t.p.Load(); p != nil {
		return *p
	}
	return nil
}

// bridgeTopic handles a bridge's own topic, if topic is one: it reports
// whether it did. A topic the Zigbee2MQTT adapters classify as meta (or
// Home Assistant discovery, whatever the adapters) is dropped quietly.
func (g *Gateway) bridgeTopic(topic string, payload []byte, arrived time.Time) (bool, error) {
	if strings.HasPrefix(topic, devices.HomeAssistantDiscoveryPrefix) {
		return true, nil
	}
	for _, ad := range g.paths.Load().adapters {
		z, ok := ad.Adapter.(*devices.Zigbee2MQTT)
		if !ok {
			continue
		}
		switch z.Bridge(topic) {
		case devices.BridgeMeta:
			return true, nil
		case devices.BridgeDevices:
			return true, g.z2mDevices(ad, topic, payload, arrived)
		}
	}
	return false, nil
}

// z2mDevices takes a bridge/devices list: entries left out are counted as
// bad_field, the rest replace the adapter's table and are stored. A list
// refused whole leaves the table as it was.
func (g *Gateway) z2mDevices(ad adapter, topic string, payload []byte, arrived time.Time) error {
	sum := sha256.Sum256(payload)
	digest := hex.EncodeToString(sum[:16])
	if ad.z2m.digest.Load() == digest {
		return nil // a replay of the list we hold
	}
	devs, skipped, err := devices.DecodeZ2MDevices(payload)
	if err != nil {
		g.reject("", err)
		return err
	}
	for _, s := range skipped {
		g.reject("", s)
	}
	ad.z2m.p.Store(&devs)
	ad.z2m.digest.Store(digest)
	generic := 0
	for _, l := range devs.Listing() {
		if l.Support != devices.Z2MModelRecord {
			generic++
		}
	}
	g.log.Info("zigbee2mqtt device list", "topic", topic, "devices", len(devs), "generic", generic, "skipped", len(skipped))
	if err := g.db.PutZ2MTable(topic, state.Z2MTable{Digest: digest, Devices: stripExposes(devs), Updated: arrived.UTC()}); err != nil {
		// The table is in memory; the retained list replays it after a restart.
		g.log.Error("zigbee2mqtt device list not stored", "topic", topic, "err", err)
	}
	return nil
}

// stripExposes keeps what the table is read for (models, power sources),
// not every exposed property, so the stored record stays small.
func stripExposes(devs devices.Z2MDevices) devices.Z2MDevices {
	out := make(devices.Z2MDevices, len(devs))
	for name, d := range devs {
		if d.Definition != nil {
			def := *d.Definition
			def.Exposes = nil
			d.Definition = &def
		}
		out[name] = d
	}
	return out
}

// loadZ2MTables puts the stored model tables in their adapters, at start
// and when a config reload makes new adapters.
func (g *Gateway) loadZ2MTables(ads []adapter) error {
	tables, err := g.db.Z2MTables()
	if err != nil {
		return fmt.Errorf("zigbee2mqtt device lists: %w", err)
	}
	for _, ad := range ads {
		z, ok := ad.Adapter.(*devices.Zigbee2MQTT)
		if !ok {
			continue
		}
		for topic, t := range tables {
			if z.Bridge(topic) == devices.BridgeDevices && t.Devices != nil {
				devs := t.Devices
				ad.z2m.p.Store(&devs)
				ad.z2m.digest.Store(t.Digest)
			}
		}
	}
	return nil
}

// z2mModel is the model the bridge listed for ref, zero when none.
func (ad adapter) z2mModel(ref string) devices.ModelRef {
	if ad.z2m == nil {
		return devices.ModelRef{}
	}
	return ad.z2m.load().Model(ref)
}

// modelStatus says how a Zigbee2MQTT device is decoded: "vendor model"
// when anxin has a record of the model the bridge listed, "generic"
// otherwise; "" for a device of another format.
func (g *Gateway) modelStatus(d registry.Device) string {
	if d.Format != registry.FormatZigbee2MQTT {
		return ""
	}
	for _, ad := range g.paths.Load().adapters {
		if ad.z2m == nil {
			continue
		}
		if ref := ad.z2mModel(d.Ref); ref != (devices.ModelRef{}) {
			if _, ok := devices.LookupZ2MModel(ref); ok {
				return ref.String()
			}
		}
	}
	return string(devices.Z2MGeneric)
}
