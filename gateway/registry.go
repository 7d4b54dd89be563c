package gateway

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anxin-care/anxin/devices"
)

// Device is a provisioned device as the registry stores it.
type Device struct {
	ID       string       `json:"id"`
	Kind     devices.Kind `json:"kind"`
	Model    string       `json:"model,omitempty"`
	Location string       `json:"location,omitempty"` // where it is installed, e.g. "Qingshan village / No. 12 / bedroom"
	Resident string       `json:"resident,omitempty"`
	Test     bool         `json:"test,omitempty"` // walk-test mode: alarms go to the installer only
	Created  time.Time    `json:"created"`
	By       string       `json:"created_by"`
	Hash     string       `json:"password_hash"`
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

// Registry errors.
var (
	ErrDeviceExists  = errors.New("device already exists")
	ErrDeviceUnknown = errors.New("device not found")
)

// Registry is the set of provisioned devices: the bbolt bucket, cached in
// memory because every MQTT connect and publish consults it. Safe for
// concurrent use.
type Registry struct {
	db     *DB
	mu     sync.RWMutex
	byID   map[string]*Device
	health map[string]*Health
}

// NewRegistry loads the devices from db.
func NewRegistry(db *DB) (*Registry, error) {
	r := &Registry{db: db, byID: map[string]*Device{}, health: map[string]*Health{}}
	err := forEachJSON(db, bucketDevices, func(id string, d *Device) error {
		r.byID[id] = d
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load devices: %w", err)
	}
	return r, nil
}

// Add provisions a device and returns its password, the only time it is shown.
func (r *Registry) Add(d Device, by string, now time.Time) (string, error) {
	if err := devices.ValidateID(d.ID); err != nil {
		return "", err
	}
	if _, err := devices.LookupKind(d.Kind); err != nil {
		return "", err
	}
	password := newSecret(15)
	d.Hash, d.Created, d.By = hashSecret(password), now.UTC(), by
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[d.ID]; ok {
		return "", fmt.Errorf("%w: %s", ErrDeviceExists, d.ID)
	}
	if err := r.db.putJSON(bucketDevices, d.ID, &d); err != nil {
		return "", fmt.Errorf("save device %s: %w", d.ID, err)
	}
	r.byID[d.ID] = &d
	return password, nil
}

// Remove deletes a device; its alarms stay in the history.
func (r *Registry) Remove(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[id]; !ok {
		return fmt.Errorf("%w: %s", ErrDeviceUnknown, id)
	}
	if err := r.db.deleteKey(bucketDevices, id); err != nil {
		return err
	}
	delete(r.byID, id)
	delete(r.health, id)
	return nil
}

// Get returns a copy of one device.
func (r *Registry) Get(id string) (Device, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.byID[id]
	if !ok {
		return Device{}, false
	}
	return *d, true
}

// List returns copies of every device, by id.
func (r *Registry) List() []Device {
	r.mu.RLock()
	out := make([]Device, 0, len(r.byID))
	for _, d := range r.byID {
		out = append(out, *d)
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
	return ok && checkHash(d.Hash, password)
}

// Heard records traffic from a device at now, with its status or readings if any.
func (r *Registry) Heard(id string, now time.Time, st *devices.Status, tm *devices.Telemetry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[id]; !ok {
		return
	}
	h := r.health[id]
	if h == nil {
		h = &Health{}
		r.health[id] = h
	}
	h.LastSeen, h.Online = now.UTC(), true
	if st != nil {
		h.Online = st.Online
		if st.Firmware != "" {
			h.Firmware = st.Firmware
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
}

// Health returns a copy of what was last heard from a device.
func (r *Registry) Health(id string) Health {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, ok := r.health[id]
	if !ok {
		return Health{}
	}
	c := *h
	c.Readings = make(map[string]float64, len(h.Readings))
	for k, v := range h.Readings {
		c.Readings[k] = v
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
