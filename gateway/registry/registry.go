package registry

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

// Wire formats of Device.Format.
const (
	FormatNative      = "native"
	FormatZigbee2MQTT = "zigbee2mqtt"
	// FormatVendorPrefix is followed by the vendor's name as its adapter
	// config names it: "vendor_json:acme".
	FormatVendorPrefix = "vendor_json:"
)

// Device is a provisioned device as the registry stores it.
type Device struct {
	ID     string       `json:"id"`
	Kind   devices.Kind `json:"kind"`
	Vendor string       `json:"vendor,omitempty"`
	Model  string       `json:"model,omitempty"`
	// Format is the wire format: native, zigbee2mqtt or vendor_json:<vendor>.
	Format string `json:"format"`
	// Ref is the adapter's reference of a foreign device; empty for native ones.
	Ref string `json:"ref,omitempty"`
	// Site is the room or bed where the device is installed.
	Site string `json:"site,omitempty"`
	// Resident is the id of the person who wears or uses it.
	Resident string `json:"resident,omitempty"`
	// Location is a free-text note on where exactly, e.g. "by the bed, left wall".
	Location string `json:"location,omitempty"`
	// Supervision is the device's supervision class (devices.SupervisionWindow).
	Supervision string `json:"supervision"`
	// Firmware is the version the device last reported.
	Firmware string `json:"fw,omitempty"`
	// Test is walk-test mode, switched on until TestUntil (testmode.go):
	// meanwhile the device's alarms go to the installer.
	Test      bool      `json:"test,omitempty"`
	TestUntil time.Time `json:"test_until,omitzero"`
	// Commissioning is set from provisioning until the device is first
	// heard or an installer marks it installed (lifecycle.go): meanwhile it
	// is not supervised. Installed is when that ended.
	Commissioning bool      `json:"commissioning,omitempty"`
	Installed     time.Time `json:"installed,omitzero"`
	// Edge is the edge box (a device of kind edge_box) this device reaches
	// central through, "" for a device that connects directly: the box may
	// publish for it and read its commands (gateway/EDGE.md), and its own
	// offline alarms wait while the box is down.
	Edge string `json:"edge,omitempty"`
	// Checkin marks a dedicated check-in button (平安钟): its press is the
	// resident's daily check-in, answered "checked_in", never a call alarm.
	Checkin bool `json:"checkin,omitempty"`
	// Replaces is the device this one took the installation over from;
	// ReplacedBy, set on a retired device, is the one that took it over.
	// Retired is when the device left service: replaced (ReplacedBy set)
	// or removed (ReplacedBy empty; Remove).
	Replaces   string    `json:"replaces,omitempty"`
	ReplacedBy string    `json:"replaced_by,omitempty"`
	Retired    time.Time `json:"retired,omitzero"`
	Created    time.Time `json:"created"`
	By         string    `json:"created_by"`
	Updated    time.Time `json:"updated,omitzero"`
	Hash       string    `json:"password_hash,omitempty"`
}

// Active reports whether the device is in service (not replaced or removed).
func (d Device) Active() bool { return d.ReplacedBy == "" && d.Retired.IsZero() }

// retiredError says why a retired device cannot change.
func (d Device) retiredError() error {
	if d.ReplacedBy != "" {
		return fmt.Errorf("%w: %s was replaced by %s", ErrDeviceRetired, d.ID, d.ReplacedBy)
	}
	return fmt.Errorf("%w: %s was removed on %s", ErrDeviceRetired, d.ID, d.Retired.Format(time.RFC3339))
}

// Public is the device as the audit trail and the API show it: without its hash.
func (d Device) Public() Device {
	d.Hash = ""
	return d
}

// Health is what the gateway last heard from a device. It lives in memory:
// after a restart every device reports again within one heartbeat.
type Health struct {
	Online   bool               `json:"online"`
	LastSeen time.Time          `json:"last_seen,omitzero"`
	Firmware string             `json:"fw,omitempty"`
	Model    string             `json:"model,omitempty"`
	Readings map[string]float64 `json:"readings,omitempty"`
}

// Registry errors. A *state.FieldError wraps them when a field of a request is at fault.
var (
	ErrDeviceExists    = errors.New("device already exists")
	ErrDeviceUnknown   = errors.New("device not found")
	ErrDeviceRetired   = errors.New("device is retired")
	ErrRefTaken        = errors.New("reference already used by another device")
	ErrSiteExists      = errors.New("site already exists")
	ErrSiteUnknown     = errors.New("site not found")
	ErrSiteInUse       = errors.New("site is in use")
	ErrResidentExists  = errors.New("resident already exists")
	ErrResidentUnknown = errors.New("resident not found")
	ErrResidentInUse   = errors.New("resident is in use")
	ErrDeviceInUse     = errors.New("device is in use")
)

// Registry is the registry model: devices, with the Sites and Residents
// they refer to. Safe for concurrent use.
type Registry struct {
	db *state.DB
	w  sync.Mutex // serialises changes to devices, sites and residents

	mu    sync.RWMutex // guards byID, byRef
	byID  map[string]*Device
	byRef map[string]string // format \x00 ref → id, active devices only
	// health is what was last heard of each device: id → *liveHealth, read
	// without a lock, each device's under its own, so that the traffic of
	// different devices (Heard, on every message) never waits for each
	// other (issue 16: one write lock here held 97 % of the mutex
	// contention under telemetry). An entry is added with mu held for
	// reading, and removed with it held for writing.
	health sync.Map

	sites     *Sites
	residents *Residents
}

// NewRegistry loads devices, sites and residents from db.
func NewRegistry(db *state.DB) (*Registry, error) {
	r := &Registry{db: db, byID: map[string]*Device{}, byRef: map[string]string{}}
	err := state.ForEach(db, state.Devices, func(id string, d *Device) error {
		if d.Format == "" { // provisioned before formats existed
			d.Format = FormatNative
		}
		r.byID[id] = d
		if d.Active() && d.Ref != "" {
			r.byRef[refKey(d.Format, d.Ref)] = id
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load devices: %w", err)
	}
	if r.sites, err = loadSites(r); err != nil {
		return nil, err
	}
	if r.residents, err = loadResidents(r); err != nil {
		return nil, err
	}
	return r, nil
}

// Sites is the site tree.
func (r *Registry) Sites() *Sites { return r.sites }

// Residents is the set of residents.
func (r *Registry) Residents() *Residents { return r.residents }

func refKey(format, ref string) string { return format + "\x00" + ref }

// LookupRef finds the active device an adapter's reference belongs to,
// e.g. LookupRef("zigbee2mqtt", "kitchen_smoke").
func (r *Registry) LookupRef(format, ref string) (Device, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	id, ok := r.byRef[refKey(format, ref)]
	if !ok {
		return Device{}, false
	}
	return *r.byID[id], true
}

// Add provisions a device and returns its password, the only time it is shown.
func (r *Registry) Add(d Device, by string, now time.Time) (string, error) {
	pw, errs, err := r.AddBatch([]Device{d}, BatchOptions{By: by, Now: now})
	if err != nil {
		return "", err
	}
	if errs[0] != nil {
		return "", errs[0]
	}
	return pw[0], nil
}

// BatchOptions control AddBatch.
type BatchOptions struct {
	By     string
	Now    time.Time
	Action string // audit action; state.ActionAdd by default
	// Partial adds the valid devices even when others are refused.
	Partial bool
	// DryRun checks every device and adds none.
	DryRun bool
}

// AddBatch checks every device, then adds the valid ones in one
// transaction when all are valid or opts.Partial is set. errs[i] says why
// ds[i] was refused (a *state.FieldError), passwords[i] is the password of ds[i]
// when it was added. A non-nil error means nothing was added.
func (r *Registry) AddBatch(ds []Device, opts BatchOptions) (passwords []string, errs []error, err error) {
	now := opts.Now.UTC()
	action := orDefault(opts.Action, state.ActionAdd)
	r.w.Lock()
	defer r.w.Unlock()
	errs = make([]error, len(ds))
	passwords = make([]string, len(ds))
	ids, refs := map[string]bool{}, map[string]bool{}
	ok := 0
	for i := range ds {
		d := &ds[i]
		d.Commissioning = d.Installed.IsZero() // provisioned ahead of fitting unless said installed
		settleTest(d, nil, now)
		if errs[i] = r.check(d, nil, ds); errs[i] == nil {
			switch {
			case ids[d.ID]:
				errs[i] = &state.FieldError{Field: "id", Err: fmt.Errorf("%w: %s appears twice", ErrDeviceExists, d.ID)}
			case d.Ref != "" && refs[refKey(d.Format, d.Ref)]:
				errs[i] = &state.FieldError{Field: "ref", Err: fmt.Errorf("%w: %s %q appears twice", ErrRefTaken, d.Format, d.Ref)}
			}
		}
		ids[d.ID] = true
		if d.Ref != "" {
			refs[refKey(d.Format, d.Ref)] = true
		}
		if errs[i] == nil {
			ok++
		}
	}
	ok -= r.refuseOrphans(ds, errs)
	if opts.DryRun || ok == 0 || (ok < len(ds) && !opts.Partial) {
		return make([]string, len(ds)), errs, nil
	}
	for i := range ds {
		if errs[i] == nil {
			passwords[i] = state.NewSecret(15)
			ds[i].Hash, ds[i].Created, ds[i].By = state.HashSecret(passwords[i]), now, opts.By
		}
	}
	err = r.db.Update(func(tx *state.Tx) error {
		for i, d := range ds {
			if errs[i] != nil {
				continue
			}
			if err := tx.PutJSON(state.Devices, d.ID, &d); err != nil {
				return err
			}
			if err := tx.Audit(state.NewAuditEntry(now, opts.By, action, "device:"+d.ID, nil, d.Public())); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("save devices: %w", err)
	}
	r.mu.Lock()
	for i := range ds {
		if errs[i] == nil {
			r.cache(&ds[i])
		}
	}
	r.mu.Unlock()
	return passwords, errs, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// cache stores d in the maps; r.mu must be held for writing.
func (r *Registry) cache(d *Device) {
	if old, ok := r.byID[d.ID]; ok && old.Ref != "" && r.byRef[refKey(old.Format, old.Ref)] == d.ID {
		delete(r.byRef, refKey(old.Format, old.Ref))
	}
	r.byID[d.ID] = d
	if d.Active() && d.Ref != "" {
		r.byRef[refKey(d.Format, d.Ref)] = d.ID
	}
}

// Update changes a device with fn and records it in the audit trail under
// action. fn gets a copy; the result is checked like a new device.
func (r *Registry) Update(id, action, by string, now time.Time, fn func(*Device) error) (Device, error) {
	r.w.Lock()
	defer r.w.Unlock()
	cur, ok := r.Get(id)
	if !ok {
		return Device{}, fmt.Errorf("%w: %s", ErrDeviceUnknown, id)
	}
	if !cur.Active() {
		return Device{}, cur.retiredError()
	}
	d := cur
	if err := fn(&d); err != nil {
		return Device{}, err
	}
	d.ID, d.Hash, d.Created, d.By = cur.ID, cur.Hash, cur.Created, cur.By
	settleTest(&d, &cur, now)
	if err := r.check(&d, &cur, nil); err != nil {
		return Device{}, err
	}
	d.Updated = now.UTC()
	err := r.db.Update(func(tx *state.Tx) error {
		if err := tx.PutJSON(state.Devices, id, &d); err != nil {
			return err
		}
		return tx.Audit(state.NewAuditEntry(now, by, action, "device:"+id, cur.Public(), d.Public()))
	})
	if err != nil {
		return Device{}, fmt.Errorf("save device %s: %w", id, err)
	}
	r.mu.Lock()
	r.cache(&d)
	r.mu.Unlock()
	return d, nil
}

// Remove retires a device: it stays in the registry, state retired, with
// its record, its reference and its alarms' history, but without its
// password (it can no longer connect), out of List (nothing supervises it)
// and out of LookupRef (its reference may be given to a new device). Its
// id is never given to another device (check): the alarms, audit trail
// and time series keyed by it stay its own.
func (r *Registry) Remove(id, by string, now time.Time) error {
	r.w.Lock()
	defer r.w.Unlock()
	cur, ok := r.Get(id)
	if !ok {
		return fmt.Errorf("%w: %s", ErrDeviceUnknown, id)
	}
	if !cur.Active() {
		return cur.retiredError()
	}
	if behind := r.Select(func(d *Device) bool { return d.Active() && d.Edge == id }); len(behind) > 0 {
		return fmt.Errorf("%w: %d devices reach central through edge box %s, e.g. %s", ErrDeviceInUse, len(behind), id, behind[0].ID)
	}
	d := cur
	d.Retired, d.Updated, d.Hash, d.Test, d.TestUntil = now.UTC(), now.UTC(), "", false, time.Time{}
	err := r.db.Update(func(tx *state.Tx) error {
		if err := tx.PutJSON(state.Devices, id, &d); err != nil {
			return err
		}
		return tx.Audit(state.NewAuditEntry(now, by, state.ActionRemove, "device:"+id, cur.Public(), d.Public()))
	})
	if err != nil {
		return fmt.Errorf("save device %s: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cache(&d)
	r.health.Delete(id)
	return nil
}

// Get returns a copy of one device, retired or not.
func (r *Registry) Get(id string) (Device, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.byID[id]
	if !ok {
		return Device{}, false
	}
	return *d, true
}

// List returns copies of every device in service, by id.
func (r *Registry) List() []Device {
	return r.Select(func(d *Device) bool { return d.Active() })
}

// Select returns copies of the devices keep accepts, by id. keep runs
// under the registry's read lock and must not call back into it.
func (r *Registry) Select(keep func(*Device) bool) []Device {
	r.mu.RLock()
	out := make([]Device, 0, len(r.byID))
	for _, d := range r.byID {
		if keep(d) {
			out = append(out, *d)
		}
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b Device) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Authenticate reports whether password is the device's.
func (r *Registry) Authenticate(id, password string) bool {
	r.mu.RLock()
	d, ok := r.byID[id]
	r.mu.RUnlock()
	return ok && d.Hash != "" && state.CheckHash(d.Hash, password)
}
