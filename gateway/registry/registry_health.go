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
// version changes. It takes the registry's lock only for reading (and once
// per device for writing, the first time it is heard), then the device's
// own.
func (r *Registry) Heard(id string, now time.Time, st *devices.Status, tm *devices.Telemetry) {
	r.mu.RLock()
	d, ok := r.byID[id]
	var lh *liveHealth
	var known string
	if ok {
		lh, known = r.health[id], d.Firmware
	}
	r.mu.RUnlock()
	if !ok {
		return
	}
	if lh == nil {
		r.mu.Lock()
		if _, still := r.byID[id]; !still {
			r.mu.Unlock()
			return
		}
		if lh = r.health[id]; lh == nil {
			lh = &liveHealth{}
			r.health[id] = lh
		}
		r.mu.Unlock()
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
	lh := r.health[id]
	var firmware string
	if d, ok := r.byID[id]; ok {
		firmware = d.Firmware
	}
	r.mu.RUnlock()
	var c Health
	if lh != nil {
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
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, lh := range r.health {
		lh.mu.Lock()
		if lh.h.Online {
			n++
		}
		lh.mu.Unlock()
	}
	return n
}

// SetOffline marks a device offline, as its will or a lost connection says.
func (r *Registry) SetOffline(id string) {
	r.mu.RLock()
	lh := r.health[id]
	r.mu.RUnlock()
	if lh != nil {
		lh.mu.Lock()
		lh.h.Online = false
		lh.mu.Unlock()
	}
}
