package registry

import (
	"time"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

// Heard records traffic from a device at now, with its status or readings
// if any. New firmware in a status is also saved with the device (and
// audited), so that it survives a restart; that write happens only when the
// version changes.
func (r *Registry) Heard(id string, now time.Time, st *devices.Status, tm *devices.Telemetry) {
	r.mu.Lock()
	d, ok := r.byID[id]
	if !ok {
		r.mu.Unlock()
		return
	}
	h := r.health[id]
	if h == nil {
		h = &Health{}
		r.health[id] = h
	}
	h.LastSeen, h.Online = now.UTC(), true
	newFirmware := ""
	if st != nil {
		h.Online = st.Online
		if st.Firmware != "" {
			h.Firmware = st.Firmware
			if st.Firmware != d.Firmware {
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
	r.mu.Unlock()
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
	defer r.mu.RUnlock()
	var c Health
	if h, ok := r.health[id]; ok {
		c = *h
		c.Readings = make(map[string]float64, len(h.Readings))
		for k, v := range h.Readings {
			c.Readings[k] = v
		}
	}
	if d, ok := r.byID[id]; ok && c.Firmware == "" {
		c.Firmware = d.Firmware
	}
	return c
}

// Connected counts devices whose last word was online.
func (r *Registry) Connected() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, h := range r.health {
		if h.Online {
			n++
		}
	}
	return n
}

// SetOffline marks a device offline, as its will or a lost connection says.
func (r *Registry) SetOffline(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h := r.health[id]; h != nil {
		h.Online = false
	}
}
