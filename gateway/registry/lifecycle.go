package registry

import (
	"errors"
	"time"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

// The device life cycle: a device is commissioning from provisioning (Add,
// AddBatch, a CSV import) until it is first heard or an installer marks it
// installed, then active until it is replaced or removed. Only active
// devices are supervised, so that devices imported before they are fitted
// raise no offline alarms. A replacement takes over the state of the
// device it replaces: an installation in service stays supervised.
//
// Devices stored before the life cycle existed have no Commissioning flag
// and count as active: they were supervised before the upgrade, and a
// state file does not say whether they were ever heard (health was kept in
// memory only), so they stay supervised rather than fall silent unnoticed.

// Device states as the API shows them.
const (
	StateCommissioning = "commissioning"
	StateActive        = "active"
	StateRetired       = "retired"
)

// State is the device's life-cycle state.
func (d Device) State() string {
	switch {
	case !d.Active():
		return StateRetired
	case d.Commissioning:
		return StateCommissioning
	}
	return StateActive
}

// CheckinButton reports whether the device is a dedicated check-in button
// (平安钟), marked so (Checkin) or of a check-in kind: its press is a
// check-in, never a call alarm.
func (d Device) CheckinButton() bool {
	if d.Checkin {
		return true
	}
	k, err := devices.LookupKind(d.Kind)
	return err == nil && k.Checkin
}

// errInstalled stops Install from writing a device already active.
var errInstalled = errors.New("device already installed")

// Install ends a device's commissioning at now, by who ("device:<id>" when
// it was first heard). installed is false when the device was active
// already and nothing was written.
func (r *Registry) Install(id, by string, now time.Time) (d Device, installed bool, err error) {
	d, err = r.Update(id, state.ActionInstall, by, now, func(d *Device) error {
		if !d.Commissioning {
			return errInstalled
		}
		d.Commissioning, d.Installed = false, now.UTC()
		return nil
	})
	if errors.Is(err, errInstalled) {
		d, _ = r.Get(id)
		return d, false, nil
	}
	return d, err == nil, err
}
