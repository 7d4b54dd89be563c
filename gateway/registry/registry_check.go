package registry

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

// check fills a device's defaults and validates it against the registry.
// self is the device's current record when d is a change to it. r.w is held.
func (r *Registry) check(d *Device, self *Device) error {
	if self == nil {
		if err := devices.ValidateID(d.ID); err != nil {
			return &state.FieldError{Field: "id", Err: err}
		}
		r.mu.RLock()
		cur, exists := r.byID[d.ID]
		r.mu.RUnlock()
		switch {
		case exists && !cur.Active():
			return &state.FieldError{Field: "id", Err: fmt.Errorf("%w: %s is the id of a retired device; "+
				"an id is never reused, so that its alarms and audit trail stay its own: choose another id", ErrDeviceExists, d.ID)}
		case exists:
			return &state.FieldError{Field: "id", Err: fmt.Errorf("%w: %s", ErrDeviceExists, d.ID)}
		}
	}
	if _, err := devices.LookupKind(d.Kind); err != nil {
		return &state.FieldError{Field: "kind", Err: err}
	}
	d.Format = orDefault(d.Format, FormatNative)
	if err := validFormat(d.Format); err != nil {
		return &state.FieldError{Field: "format", Err: err}
	}
	if d.Format == FormatNative {
		if d.Ref != "" {
			return state.FieldErrorf("ref", "a native device is found by its id; leave ref empty")
		}
	} else {
		d.Ref = orDefault(d.Ref, d.ID)
		if err := validRef(d.Ref); err != nil {
			return &state.FieldError{Field: "ref", Err: err}
		}
		r.mu.RLock()
		owner, taken := r.byRef[refKey(d.Format, d.Ref)]
		r.mu.RUnlock()
		// The device this one replaces hands its reference over.
		if taken && owner != d.ID && owner != d.Replaces {
			return &state.FieldError{Field: "ref", Err: fmt.Errorf("%w: %s %q is device %s", ErrRefTaken, d.Format, d.Ref, owner)}
		}
	}
	for _, f := range []struct{ name, v string }{{"vendor", d.Vendor}, {"model", d.Model}} {
		if err := state.ValidText(f.v, 64); err != nil {
			return &state.FieldError{Field: f.name, Err: err}
		}
	}
	if err := state.ValidText(d.Location, 200); err != nil {
		return &state.FieldError{Field: "location", Err: err}
	}
	d.Supervision = orDefault(d.Supervision, defaultSupervision(d.Kind, d.Format))
	if _, err := devices.SupervisionWindow(d.Supervision, d.Kind); err != nil {
		return &state.FieldError{Field: "supervision", Err: err}
	}
	if d.Site != "" {
		s, ok := r.sites.Get(d.Site)
		if !ok {
			return &state.FieldError{Field: "site", Err: fmt.Errorf("%w: %s", ErrSiteUnknown, d.Site)}
		}
		if s.Level != LevelRoom && s.Level != LevelBed {
			return state.FieldErrorf("site", "%s is a %s; a device is installed at a room or a bed", d.Site, s.Level)
		}
	}
	if d.Resident != "" {
		if _, ok := r.residents.Get(d.Resident); !ok {
			return &state.FieldError{Field: "resident", Err: fmt.Errorf("%w: %s", ErrResidentUnknown, d.Resident)}
		}
	}
	return nil
}

// defaultSupervision is the class of a device by how it talks: anxin
// firmware keeps a heartbeat; Zigbee devices and vendor devices, which
// report on change, are supervised by their power source.
func defaultSupervision(kind devices.Kind, format string) string {
	if format == FormatNative {
		return devices.ClassNative
	}
	if k, err := devices.LookupKind(kind); err == nil && k.BatteryLow > 0 {
		return devices.ClassZigbeeBattery
	}
	return devices.ClassZigbeeMains
}

func validFormat(f string) error {
	if f == FormatNative || f == FormatZigbee2MQTT {
		return nil
	}
	if v, ok := strings.CutPrefix(f, FormatVendorPrefix); ok && v != "" && len(v) <= 64 && strings.TrimSpace(v) == v {
		return nil
	}
	return fmt.Errorf("%q: want native, zigbee2mqtt or vendor_json:<vendor>", f)
}

// validRef accepts what can stand in one or more MQTT topic levels: a
// Zigbee2MQTT friendly name may hold spaces and slashes, never wildcards.
func validRef(ref string) error {
	if len(ref) > 128 || strings.TrimSpace(ref) != ref || !utf8.ValidString(ref) {
		return fmt.Errorf("%q: want 1-128 characters without leading or trailing space", ref)
	}
	if i := strings.IndexFunc(ref, func(c rune) bool { return c == '+' || c == '#' || c < ' ' }); i >= 0 {
		return fmt.Errorf("%q: %q cannot be in an MQTT topic", ref, ref[i])
	}
	return nil
}
