package gateway

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/anxin-care/anxin/devices"
)

// check fills a device's defaults and validates it against the registry.
// self is the device's current record when d is a change to it. r.w is held.
func (r *Registry) check(d *Device, self *Device) error {
	if self == nil {
		if err := devices.ValidateID(d.ID); err != nil {
			return &FieldError{"id", err}
		}
		r.mu.RLock()
		_, exists := r.byID[d.ID]
		r.mu.RUnlock()
		if exists {
			return &FieldError{"id", fmt.Errorf("%w: %s", ErrDeviceExists, d.ID)}
		}
	}
	if _, err := devices.LookupKind(d.Kind); err != nil {
		return &FieldError{"kind", err}
	}
	d.Format = orDefault(d.Format, FormatNative)
	if err := validFormat(d.Format); err != nil {
		return &FieldError{"format", err}
	}
	if d.Format == FormatNative {
		if d.Ref != "" {
			return fieldErr("ref", "a native device is found by its id; leave ref empty")
		}
	} else {
		d.Ref = orDefault(d.Ref, d.ID)
		if err := validRef(d.Ref); err != nil {
			return &FieldError{"ref", err}
		}
		r.mu.RLock()
		owner, taken := r.byRef[refKey(d.Format, d.Ref)]
		r.mu.RUnlock()
		// The device this one replaces hands its reference over.
		if taken && owner != d.ID && owner != d.Replaces {
			return &FieldError{"ref", fmt.Errorf("%w: %s %q is device %s", ErrRefTaken, d.Format, d.Ref, owner)}
		}
	}
	for _, f := range []struct{ name, v string }{{"vendor", d.Vendor}, {"model", d.Model}} {
		if err := validText(f.v, 64); err != nil {
			return &FieldError{f.name, err}
		}
	}
	if err := validText(d.Location, 200); err != nil {
		return &FieldError{"location", err}
	}
	d.Supervision = orDefault(d.Supervision, defaultSupervision(d.Kind, d.Format))
	if _, err := devices.SupervisionWindow(d.Supervision, d.Kind); err != nil {
		return &FieldError{"supervision", err}
	}
	if d.Site != "" {
		s, ok := r.sites.Get(d.Site)
		if !ok {
			return &FieldError{"site", fmt.Errorf("%w: %s", ErrSiteUnknown, d.Site)}
		}
		if s.Level != LevelRoom && s.Level != LevelBed {
			return fieldErr("site", "%s is a %s; a device is installed at a room or a bed", d.Site, s.Level)
		}
	}
	if d.Resident != "" {
		if _, ok := r.residents.Get(d.Resident); !ok {
			return &FieldError{"resident", fmt.Errorf("%w: %s", ErrResidentUnknown, d.Resident)}
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

// validText accepts free text of at most n characters without control characters.
func validText(s string, n int) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > n {
		return fmt.Errorf("want at most %d characters of UTF-8 text", n)
	}
	if strings.ContainsFunc(s, func(c rune) bool { return c < ' ' || c == 0x7f }) {
		return fmt.Errorf("%q has a control character", s)
	}
	return nil
}
