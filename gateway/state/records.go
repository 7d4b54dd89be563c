package state

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
)

// Small records the gateway keeps for its device path: the decoders'
// state per bridged device, operators' duty check-ins, and the links of
// site-level incidents.

// AdapterState returns what an adapter remembered of a device (zero if nothing).
func (db *DB) AdapterState(device string) (devices.AdapterState, error) {
	var s devices.AdapterState
	_, err := db.getJSON(bucketAdapterState, device, &s)
	return s, err
}

// AdapterStateRecord encodes s as Write.DeviceState holds it for device: the
// commit loop stores it with the events s was decoded with (store.go).
func AdapterStateRecord(device string, s devices.AdapterState) (map[string][]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("adapter state of %s: %w", device, err)
	}
	return map[string][]byte{device: b}, nil
}

// DutyChecks calls fn with every operator's latest check-in or check-out at each site.
func (db *DB) DutyChecks(fn func(alerting.Check) error) error {
	return ForEach(db, bucketDutyChecks, func(_ string, c *alerting.Check) error { return fn(*c) })
}

// PutDutyCheck stores c as its operator's latest at its site, with its
// audit entry e, in one transaction.
func (db *DB) PutDutyCheck(c alerting.Check, e AuditEntry) error {
	return db.Update(func(tx *Tx) error {
		if err := tx.PutJSON(bucketDutyChecks, c.Site+"\x00"+c.Operator, &c); err != nil {
			return err
		}
		return tx.Audit(e)
	})
}

// Incident is what was linked under one site-level incident alarm.
type Incident struct {
	Alarm  string   `json:"alarm"`
	Kind   string   `json:"kind"`
	Site   string   `json:"site"`
	Linked []string `json:"linked"`
}

// IncidentKey is the key of an incident's record: site \x00 kind.
func IncidentKey(site, kind string) string { return site + "\x00" + kind }

// Incidents returns every incident record by IncidentKey.
func (db *DB) Incidents() (map[string]*Incident, error) {
	out := map[string]*Incident{}
	err := ForEach(db, bucketIncidents, func(k string, r *Incident) error {
		out[k] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load incidents: %w", err)
	}
	return out, nil
}

// PutIncident stores an incident record under key.
func (db *DB) PutIncident(key string, r *Incident) error { return db.putJSON(bucketIncidents, key, r) }

// DeleteIncident removes the incident record of key.
func (db *DB) DeleteIncident(key string) error { return db.deleteKey(bucketIncidents, key) }

// Wellbeing is what the wellbeing rules of one resident remember across a
// restart (gateway/wellbeing.go). A new bucket, created on open: no
// migration, and an older anxin ignores it.
type Wellbeing struct {
	// Since is when the gateway began to watch the resident's rules: a
	// rule counts silence and deadlines only from then.
	Since time.Time `json:"since"`
	// LastActivity is the latest sign of life from the resident's devices.
	LastActivity time.Time `json:"last_activity,omitzero"`
	// LastCheckin is the latest check-in press.
	LastCheckin time.Time `json:"last_checkin,omitzero"`
	// NoActivityFrom is the start of the silence a no-activity alarm was
	// raised for, so that an alarm resolved by hand is not raised again
	// for the same silence.
	NoActivityFrom time.Time `json:"no_activity_from,omitzero"`
	// MissedDeadline is the check-in deadline a missed-check-in alarm was
	// raised for: one alarm a day.
	MissedDeadline time.Time `json:"missed_deadline,omitzero"`
}

// Wellbeings returns every resident's wellbeing record by resident id.
func (db *DB) Wellbeings() (map[string]*Wellbeing, error) {
	out := map[string]*Wellbeing{}
	err := ForEach(db, bucketWellbeing, func(k string, r *Wellbeing) error {
		out[k] = r
		return nil
	})
	return out, err
}

// PutWellbeings stores the wellbeing records of rs, by resident id, in one
// transaction.
func (db *DB) PutWellbeings(rs map[string]Wellbeing) error {
	return db.Update(func(tx *Tx) error {
		for id, r := range rs {
			if err := tx.PutJSON(bucketWellbeing, id, &r); err != nil {
				return err
			}
		}
		return nil
	})
}

// Z2MTable is the model table a Zigbee2MQTT bridge last published on its
// retained bridge/devices, kept so that a restart decodes each device by
// its model before the bridge replays the retained copy. Digest names the
// payload it was decoded from, so that a replay of the same list writes
// nothing.
type Z2MTable struct {
	Digest  string             `json:"digest"`
	Devices devices.Z2MDevices `json:"devices"`
	Updated time.Time          `json:"updated"`
}

// Z2MTables returns every stored table, by its bridge/devices topic.
func (db *DB) Z2MTables() (map[string]Z2MTable, error) {
	out := map[string]Z2MTable{}
	err := ForEach(db, bucketZ2MDevices, func(topic string, t *Z2MTable) error {
		out[topic] = *t
		return nil
	})
	return out, err
}

// PutZ2MTable stores the table of the bridge publishing on topic.
func (db *DB) PutZ2MTable(topic string, t Z2MTable) error {
	return db.putJSON(bucketZ2MDevices, topic, t)
}

// PushSeen is the record of one platform push made durable (HTTP ingest):
// a push whose ID is held for its integration raises nothing again. The
// commit loop stores an alerting.Receipt as one (Source the integration),
// in the same transaction as the push's events and its device's adapter
// state (store.go), so that a push is either wholly durable or not at all.
type PushSeen struct {
	Device string    `json:"device"`
	At     time.Time `json:"at"`
}

func pushKey(integration, id string) string { return integration + "\x00" + id }

// HasPush reports whether the push id of integration was made durable.
func (db *DB) HasPush(integration, id string) (bool, error) {
	var p PushSeen
	return db.getJSON(bucketPushes, pushKey(integration, id), &p)
}
