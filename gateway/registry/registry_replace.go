package registry

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/anxin-care/anxin/gateway/state"
)

// Replacement is the new hardware of an installation (Registry.Replace).
type Replacement struct {
	// NewID is the new device's id; empty (or the old id) keeps the id and
	// only issues a new password: the new hardware is set up with the old name.
	NewID string
	// Vendor, Model and Ref describe the new hardware; empty keeps the old
	// device's (a Zigbee device re-paired under the same friendly name
	// keeps its Ref).
	Vendor, Model, Ref string
}

// Replace swaps the hardware under an installation and returns the device
// now in service with its password, shown this once. See the registry
// design note (doc.go) for what moves and what stays.
func (r *Registry) Replace(oldID string, rep Replacement, by string, now time.Time) (Device, string, error) {
	now = now.UTC()
	r.w.Lock()
	defer r.w.Unlock()
	old, ok := r.Get(oldID)
	if !ok {
		return Device{}, "", fmt.Errorf("%w: %s", ErrDeviceUnknown, oldID)
	}
	if !old.Active() {
		if old.ReplacedBy == "" {
			return Device{}, "", old.retiredError()
		}
		return Device{}, "", fmt.Errorf("%w: %s by %s; replace %[3]s instead", ErrDeviceRetired, oldID, old.ReplacedBy)
	}
	nd := old
	nd.Vendor, nd.Model, nd.Ref = orDefault(rep.Vendor, old.Vendor), orDefault(rep.Model, old.Model), orDefault(rep.Ref, old.Ref)
	nd.Firmware = ""
	password := state.NewSecret(15)
	nd.Hash = state.HashSecret(password)

	if rep.NewID == "" || rep.NewID == oldID {
		nd.Updated = now
		if err := r.check(&nd, &old, nil); err != nil {
			return Device{}, "", err
		}
		err := r.db.Update(func(tx *state.Tx) error {
			if err := tx.PutJSON(state.Devices, oldID, &nd); err != nil {
				return err
			}
			e := state.NewAuditEntry(now, by, state.ActionReplace, "device:"+oldID, old.Public(), nd.Public())
			e.Note = "new hardware under the same id; the old password no longer works"
			return tx.Audit(e)
		})
		if err != nil {
			return Device{}, "", fmt.Errorf("save device %s: %w", oldID, err)
		}
		r.mu.Lock()
		r.cache(&nd)
		r.health.Delete(oldID)
		r.mu.Unlock()
		return nd, password, nil
	}

	nd.ID, nd.Replaces, nd.Created, nd.By, nd.Updated = rep.NewID, oldID, now, by, time.Time{}
	if err := r.check(&nd, nil, nil); err != nil {
		if fe := (*state.FieldError)(nil); errors.As(err, &fe) && fe.Field == "id" {
			fe.Field = "new_id"
		}
		return Device{}, "", err
	}
	retired := old
	retired.ReplacedBy, retired.Retired, retired.Hash, retired.Updated = nd.ID, now, "", now
	err := r.db.Update(func(tx *state.Tx) error {
		if err := tx.PutJSON(state.Devices, nd.ID, &nd); err != nil {
			return err
		}
		if err := tx.PutJSON(state.Devices, oldID, &retired); err != nil {
			return err
		}
		e := state.NewAuditEntry(now, by, state.ActionReplace, "device:"+nd.ID, nil, nd.Public())
		e.Note = "replaces " + oldID
		if err := tx.Audit(e); err != nil {
			return err
		}
		e = state.NewAuditEntry(now, by, state.ActionReplaced, "device:"+oldID, old.Public(), retired.Public())
		e.Note = "replaced by " + nd.ID
		return tx.Audit(e)
	})
	if err != nil {
		return Device{}, "", fmt.Errorf("save replacement of %s: %w", oldID, err)
	}
	r.mu.Lock()
	r.cache(&retired)
	r.cache(&nd)
	r.health.Delete(oldID)
	r.mu.Unlock()
	return nd, password, nil
}

// History is the chain of devices an installation has had, newest first:
// id, the device it replaced, the one before that…
func (r *Registry) History(id string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for id != "" && len(out) < 100 && !slices.Contains(out, id) {
		out = append(out, id)
		d, ok := r.byID[id]
		if !ok {
			break
		}
		id = d.Replaces
	}
	return out
}
