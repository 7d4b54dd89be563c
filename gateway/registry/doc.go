// Package registry is the registry model (DESIGN.md §4): the sites,
// residents and devices the gateway serves, kept in the state file
// (package state) and cached in memory. Registry is the entry point;
// Sites and Residents are its other two collections. Besides the records
// it answers where a device is (Location, AlarmLocation), what was last
// heard of it (Health, in memory only) and whether a device's password is
// right (Authenticate). Bad input is a *state.FieldError naming the field,
// wrapping one of the Err* sentinels of registry.go.
//
// The three collections are the site tree (sites.go), the residents
// (residents.go) and the devices (registry.go). Devices are read on every
// MQTT connect and publish; sites and residents on every alarm (Location).
// Reads take only the read lock of their own collection.
//
// Concurrency: every method is safe for concurrent use. Changes are rare
// and go through one writer lock (Registry.w) shared by the three, because they check each other: a device may be installed only at a
// room or bed that exists, a site may be removed only when no device and no
// resident is there. Holding one lock while a change is checked, written
// and cached makes those checks true at the moment of the write. Every
// change writes its state.AuditEntry in the same transaction (state.Tx).
//
// A device's identity is its id (its MQTT user name). A foreign device is
// also found by its adapter reference (Ref: the Zigbee2MQTT friendly name,
// the id a vendor's topic carries), unique per wire format: LookupRef.
//
// Replacing a device (Replace, registry_replace.go) swaps the hardware under an installation.
// With a new id, the new device takes the old one's kind, site, resident,
// format, reference, supervision class and test mode; the old device stays
// in the registry retired (ReplacedBy set, no password, no reference), so
// that its record and its alarms remain findable by its id and through the
// new device's Replaces chain. With the same id, only the password and the
// hardware fields change. Removing a device (Remove) retires it the same way
// without a successor (Retired set, ReplacedBy empty). Retired devices are
// left out of List and LookupRef: nothing supervises or authenticates
// them; their ids are never reused.
//
// Lock order (the gateway's doc.go writes the whole order): Registry.w,
// then Registry.mu, Sites.mu and Residents.mu. The registry calls nothing
// outside itself and package state while holding them, so the alarm
// engine may take the read locks under its own lock. Registry.w is held
// across the registry's own bbolt transactions.
package registry
