package state

import (
	"errors"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// The schema of the state file: every bucket, what it maps, and the
// version of that layout. Nothing else in anxin creates a bucket.
//
// Version history:
//
//	1  every file written before the version was stored (there is no
//	   meta bucket): site-level incidents may still be alarms of the
//	   pretend device "site:<id>" (migrate.go).
//	2  site alarms have a subject; meta.schema_version is stored.
//	   Later buckets that start empty (z2m_devices, ingest_pushes,
//	   wall_tokens; edge_outbound and edge_seq of an edge box) need no
//	   migration: Open creates them, and an older anxin ignores them.
//	   Nor do later optional fields of a record, written with omitempty
//	   (a resident's plan, an alarm's nobody_reached, a session's csrf):
//	   a record without them reads as before, and an older anxin ignores
//	   them.
//
// Open reads the version (absent: 1), runs the migrations from it to
// SchemaVersion in the transaction that creates the buckets, and stores
// the new version there, so that a file is wholly migrated or not at all.
// A file of a version newer than SchemaVersion, written by a newer anxin,
// is refused rather than half understood.

// SchemaVersion is the layout this code writes.
const SchemaVersion = 2

// ErrNewerSchema refuses a state file written by a newer anxin.
var ErrNewerSchema = errors.New("state file is of a newer schema")

// Bucket names one bucket of the state file.
type Bucket string

// The buckets. Only the registry's three are exported: the rest are
// reached through the typed methods of DB.
const (
	Devices   Bucket = "devices"   // device id → registry device JSON
	Sites     Bucket = "sites"     // site id → registry site JSON
	Residents Bucket = "residents" // resident id → registry resident JSON

	bucketAlarms       Bucket = "alarms"        // alarm id → alerting.Alarm JSON
	bucketOpen         Bucket = "open"          // alarm id → "" for alarms still open
	bucketSeen         Bucket = "seen"          // device \x00 seq(8, big endian) → alerting.Seen JSON
	bucketUsers        Bucket = "users"         // user name → User JSON
	bucketTokens       Bucket = "tokens"        // sha256(token) hex → Session JSON
	bucketAudit        Bucket = "audit"         // time(8, big endian) seq(8) → AuditEntry JSON
	bucketAuditBy      Bucket = "audit_obj"     // object \x00 audit key → "" (index of audit by object)
	bucketHealth       Bucket = "health"        // "probe" → filler written by readiness probes
	bucketAdapterState Bucket = "adapter_state" // device id → devices.AdapterState JSON
	bucketDutyChecks   Bucket = "duty_checks"   // site \x00 operator → the latest alerting.Check there
	bucketIncidents    Bucket = "incidents"     // site \x00 kind → the gateway's incident record JSON
	bucketOutbox       Bucket = "notify_outbox" // notification key → OutboxItem JSON, while it is being delivered
	bucketWellbeing    Bucket = "wellbeing"     // resident id → Wellbeing JSON: last sign of life and check-in
	bucketMeta         Bucket = "meta"          // keySchemaVersion → SchemaVersion in decimal
	bucketZ2MDevices   Bucket = "z2m_devices"   // bridge/devices topic → Z2MTable JSON (Zigbee2MQTT's model table)
	bucketPushes       Bucket = "ingest_pushes" // integration \x00 push id → PushSeen JSON (HTTP ingest idempotency)
	bucketWallTokens   Bucket = "wall_tokens"   // wall token id → WallToken JSON (its session is in tokens)
	bucketEdgeQueue    Bucket = "edge_outbound" // entry number (8, big endian) → EdgeQueued JSON: an edge box's uplink queue
	bucketEdgeSeq      Bucket = "edge_seq"      // device id → its last seq in decimal: the box's own button device
)

// keySchemaVersion is the meta key of the file's schema version.
const keySchemaVersion = "schema_version"

var allBuckets = []Bucket{bucketAlarms, bucketOpen, bucketSeen, Devices, bucketUsers, bucketTokens,
	Sites, Residents, bucketAudit, bucketAuditBy, bucketHealth, bucketAdapterState, bucketDutyChecks,
	bucketIncidents, bucketOutbox, bucketWellbeing, bucketMeta, bucketZ2MDevices, bucketPushes, bucketWallTokens,
	bucketEdgeQueue, bucketEdgeSeq}

// bucket returns b of tx; every bucket exists once Open has run.
func bucket(tx *bolt.Tx, b Bucket) *bolt.Bucket { return tx.Bucket([]byte(b)) }

// schemaVersion reads the file's version: 1 when none is stored.
func schemaVersion(tx *bolt.Tx) (int, error) {
	meta := bucket(tx, bucketMeta)
	if meta == nil {
		return 1, nil
	}
	v := meta.Get([]byte(keySchemaVersion))
	if v == nil {
		return 1, nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("meta %s %q is not a schema version", keySchemaVersion, v)
	}
	return n, nil
}

// upgrade creates the buckets and migrates the file to SchemaVersion; it
// returns how many records the migrations rewrote.
func upgrade(tx *bolt.Tx) (int, error) {
	version, err := schemaVersion(tx)
	if err != nil {
		return 0, err
	}
	if version > SchemaVersion {
		return 0, fmt.Errorf("%w: the file is version %d, this anxin knows versions up to %d", ErrNewerSchema, version, SchemaVersion)
	}
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return 0, err
		}
	}
	migrated := 0
	if version < 2 {
		if migrated, err = migrateSiteAlarms(tx); err != nil {
			return 0, err
		}
	}
	if version == SchemaVersion {
		return migrated, nil
	}
	return migrated, bucket(tx, bucketMeta).Put([]byte(keySchemaVersion), []byte(strconv.Itoa(SchemaVersion)))
}
