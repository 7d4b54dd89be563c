package registry

import (
	"maps"
	"sync"
	"time"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

// liveHealth is one device's Health with the lock that guards it, a leaf.
type liveHealth struct {
	mu sync.Mutex
	h  Health
}

// Heard records traffic from a device at now, with its status or readings
// if any. New firmware in a status is also saved with the device (and
// audited), so that it survives a restart; that write happens only when the
// version changes. It takes only the device's own lock, and the
// registry's for reading the first time a device is heard and for a
// status that names firmware.
func (r *Registry) Heard(id string, now time.Time, st *devices.Status, tm *devices.Telemetry) {
	lh := r.liveHealth(id)
	if lh == nil {
		return
	}
	known := ""
	if st != nil && st.Firmware != "" {
		r.mu.RLock()
		if d, ok := r.byID[id]; ok {
			known = d.Firmware
		}
		r.mu.RUnlock()
	}
	lh.mu.Lock()
	h := &lh.h
	h.LastSeen, h.Online = now.UTC(), true
	newFirmware := ""
	if st != nil {
		h.Online = st.Online
		if st.Firmware != "" {
			h.Firmware = st.Firmware
			if st.Firmware != known {
				newFirmware = st.Firmware
			}
		}
		if st.Model != "" {
			h.Model = st.Model
		}
	}
	if tm != nil {
		if h.Readings == nil {
			h.Readings = map[string]float64{}
		}
		for k, v := range tm.Fields {
			h.Readings[k] = v
		}
	}
	lh.mu.Unlock()
	if newFirmware != "" {
		r.saveFirmware(id, newFirmware, now)
	}
}

// liveHealth returns the health record of a known device, made the first
// time; nil for an unknown one.
func (r *Registry) liveHealth(id string) *liveHealth {
	if v, ok := r.health.Load(id); ok {
		return v.(*liveHealth)
	}
	// mu for reading keeps a removal (which deletes the entry with mu held
	// for writing) from falling between the check and the store, and lets
	// a fleet reconnecting at once make theirs side by side.
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, ok := r.byID[id]; !ok {
		return nil
	}
	v, _ := r.health.LoadOrStore(id, &liveHealth{})
	return v.(*liveHealth)
}

func (r *Registry) saveFirmware(id, fw string, now time.Time) {
	// A failed save needs no handling: the version is in Health, and the
	// next status that carries it differs from the record again and retries.
	r.Update(id, state.ActionFirmware, "device:"+id, now, func(d *Device) error {
		d.Firmware = fw
		return nil
	})
}

// Health returns a copy of what was last heard from a device. Before the
// device has said anything since the gateway started, its firmware is the
// version it last reported.
func (r *Registry) Health(id string) Health {
	r.mu.RLock()
	var firmware string
	if d, ok := r.byID[id]; ok {
		firmware = d.Firmware
	}
	r.mu.RUnlock()
	var c Health
	if v, ok := r.health.Load(id); ok {
		lh := v.(*liveHealth)
		lh.mu.Lock()
		c = lh.h
		c.Readings = maps.Clone(lh.h.Readings)
		lh.mu.Unlock()
		if c.Readings == nil {
			c.Readings = map[string]float64{}
		}
	}
	if c.Firmware == "" {
		c.Firmware = firmware
	}
	return c
}

// Connected counts devices whose last word was online.
func (r *Registry) Connected() int {
	n := 0
	r.health.Range(func(_, v any) bool {
		lh := v.(*liveHealth)
		lh.mu.Lock()
		if lh.h.Online {
			n++
		}
		lh.mu.Unlock()
		return true
	})
	return n
}

// SetOffline marks a device offline, as its will or a lost connection says.
func (r *Registry) SetOffline(id string) {
	if v, ok := r.health.Load(id); ok {
		lh := v.(*liveHealth)
		lh.mu.Lock()
		lh.h.Online = false
		lh.mu.Unlock()
	}
}
