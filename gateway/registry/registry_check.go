package registry

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

// check fills a device's defaults and validates it against the registry.
// self is the device's current record when d is a change to it; batch is
// the rest of the devices being added with it, if any. r.w is held.
// Every wrong field is reported, not only the first: one *state.FieldError,
// or several joined (errors.Join) in the order of the fields.
func (r *Registry) check(d *Device, self *Device, batch []Device) error {
	var errs []error
	bad := func(err error) { errs = append(errs, err) }
	if self == nil {
		if err := devices.ValidateID(d.ID); err != nil {
			bad(&state.FieldError{Field: "id", Err: plain(err)})
		} else {
			r.mu.RLock()
			cur, exists := r.byID[d.ID]
			r.mu.RUnlock()
			switch {
			case exists && !cur.Active():
				bad(&state.FieldError{Field: "id", Err: fmt.Errorf("%w: %s is the id of a retired device; "+
					"an id is never reused, so that its alarms and audit trail stay its own: choose another id", ErrDeviceExists, d.ID)})
			case exists:
				bad(&state.FieldError{Field: "id", Err: fmt.Errorf("%w: %s", ErrDeviceExists, d.ID)})
			}
		}
	}
	_, kindErr := devices.LookupKind(d.Kind)
	if kindErr != nil {
		bad(&state.FieldError{Field: "kind", Err: kindErr})
	}
	d.Format = orDefault(d.Format, FormatNative)
	if err := validFormat(d.Format); err != nil {
		bad(&state.FieldError{Field: "format", Err: err})
	} else if d.Format == FormatNative {
		if d.Ref != "" {
			bad(state.FieldErrorf("ref", "a native device is found by its id; leave ref empty"))
		}
	} else {
		d.Ref = orDefault(d.Ref, d.ID)
		if err := validRef(d.Ref); err != nil {
			bad(&state.FieldError{Field: "ref", Err: err})
		} else {
			r.mu.RLock()
			owner, taken := r.byRef[refKey(d.Format, d.Ref)]
			r.mu.RUnlock()
			// The device this one replaces hands its reference over.
			if taken && owner != d.ID && owner != d.Replaces {
				bad(&state.FieldError{Field: "ref", Err: fmt.Errorf("%w: %s %q is device %s", ErrRefTaken, d.Format, d.Ref, owner)})
			}
		}
	}
	for _, f := range []struct{ name, v string }{{"vendor", d.Vendor}, {"model", d.Model}} {
		if err := state.ValidText(f.v, 64); err != nil {
			bad(&state.FieldError{Field: f.name, Err: err})
		}
	}
	if err := state.ValidText(d.Location, 200); err != nil {
		bad(&state.FieldError{Field: "location", Err: err})
	}
	if kindErr == nil {
		d.Supervision = orDefault(d.Supervision, defaultSupervision(d.Kind, d.Format))
		if _, err := devices.SupervisionWindow(d.Supervision, d.Kind); err != nil {
			bad(&state.FieldError{Field: "supervision", Err: err})
		}
	}
	if d.Site != "" {
		s, ok := r.sites.Get(d.Site)
		switch {
		case !ok:
			bad(&state.FieldError{Field: "site", Err: fmt.Errorf("%w: %s", ErrSiteUnknown, d.Site)})
		case d.Kind == devices.KindEdgeBox:
			if !slices.Contains(edgeBoxLevels, s.Level) {
				bad(state.FieldErrorf("site", "%s is a %s; an edge box serves a home, an institution, a room or a bed", d.Site, s.Level))
			}
		case s.Level != LevelRoom && s.Level != LevelBed:
			bad(state.FieldErrorf("site", "%s is a %s; a device is installed at a room or a bed", d.Site, s.Level))
		}
	}
	if err := r.checkEdge(d, batch); err != nil {
		bad(&state.FieldError{Field: "edge", Err: err})
	}
	if d.Resident != "" {
		if _, ok := r.residents.Get(d.Resident); !ok {
			bad(&state.FieldError{Field: "resident", Err: fmt.Errorf("%w: %s", ErrResidentUnknown, d.Resident)})
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// plain is a decoder's refusal in words for people: its detail without the
// reason code (bad_field), which is for metrics and logs.
func plain(err error) error {
	var re *devices.RejectError
	if errors.As(err, &re) && re.Detail != "" {
		return errors.New(re.Detail)
	}
	return err
}

// edgeBoxLevels are the sites an edge box may serve: the home or
// institution whose rooms it covers, or one room (or bed).
var edgeBoxLevels = []SiteLevel{LevelHome, LevelInstitution, LevelRoom, LevelBed}

// checkEdge: a device's Edge names an edge box in service, in the registry
// or earlier in batch (a box imported with its devices in one file); a box
// itself reaches central directly.
func (r *Registry) checkEdge(d *Device, batch []Device) error {
	if d.Edge == "" {
		return nil
	}
	if d.Kind == devices.KindEdgeBox {
		return fmt.Errorf("%s is an edge box itself and connects to central directly; leave edge empty", d.ID)
	}
	box, ok := r.Get(d.Edge)
	if !ok {
		i := slices.IndexFunc(batch, func(b Device) bool { return b.ID == d.Edge })
		if i < 0 {
			return fmt.Errorf("%w: edge box %s", ErrDeviceUnknown, d.Edge)
		}
		box, ok = batch[i], true
	}
	switch {
	case box.Kind != devices.KindEdgeBox:
		return fmt.Errorf("%s is a %s, not an %s", d.Edge, box.Kind, devices.KindEdgeBox)
	case !box.Active():
		return fmt.Errorf("%w: edge box %s by %s", ErrDeviceRetired, d.Edge, box.ReplacedBy)
	}
	return nil
}

// refuseOrphans refuses the devices of a batch whose edge box is in the
// batch but refused itself, and returns how many more it refused.
func (r *Registry) refuseOrphans(ds []Device, errs []error) int {
	bad := map[string]bool{}
	for i, d := range ds {
		if _, known := r.Get(d.ID); errs[i] != nil && !known {
			bad[d.ID] = true
		}
	}
	n := 0
	for i, d := range ds {
		if errs[i] == nil && d.Edge != "" && bad[d.Edge] {
			errs[i] = state.FieldErrorf("edge", "edge box %s is refused in this batch", d.Edge)
			n++
		}
	}
	return n
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
