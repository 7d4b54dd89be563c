// Package state is the gateway's durable store: one bbolt file, anxin.db,
// in the data directory, or a PostgreSQL database (state.backend:
// postgres, OpenConfig).
//
// DB is the store. Open creates or opens the file and brings it to the
// current schema (schema.go: every bucket, what it maps, and the schema
// version kept in the meta bucket; migrate.go: the step from files of
// version 1). A file of a newer version than this code knows is refused.
// OpenPostgres does the same for a database (postgres.go, pgschema.go).
//
// The two backends share everything but where the bytes go: DB's logic
// is written once over a few operations on buckets of keys and values in
// transactions (kv.go: get, scan, count, put, delete, a counter), which
// bolt.go and postgres.go implement. Both are held to one conformance
// suite, statetest, run by TestConformance against each.
//
// Alarm writes (DB implements alerting.Store) go through one committer
// goroutine (store.go) that takes every write queued while the previous
// fsync ran and commits them in one transaction: under load many devices
// share one fsync, and when idle a write is synced at once. The same write
// puts a fired step's notifications in the outbox (outbox.go), so a step
// never fires twice and its notifications are never lost; the courier
// takes them out with ForgetNotification. A failed commit makes Healthy
// probe the disk until it takes writes again.
//
// Besides alarms the file holds users and their sessions (users.go, with
// the password and secret hashing of secrets.go), the audit trail
// (audit.go), and small records of the gateway's device path (records.go).
// The registry's own collections are written through the exported Tx API:
//
//	err := db.Update(func(tx *state.Tx) error {
//		if err := tx.PutJSON(state.Devices, d.ID, &d); err != nil {
//			return err
//		}
//		return tx.Audit(state.NewAuditEntry(now, by, state.ActionAdd, "device:"+d.ID, nil, d))
//	})
//
// so a record and the audit entry of its change are written together or
// not at all. FieldError and the field checks of validate.go are shared by
// every record people type into.
//
// Concurrency: every method of DB is safe for concurrent use. DB takes no
// lock of anyone else's: Commit takes DB.closing for reading and queues
// the write (waiting only when its queue of 4×maxBatch writes is full),
// which is why the alarm engine may call it under its own lock. Update,
// the typed writes and the committer share bbolt's single writer; on
// PostgreSQL they take one advisory lock per transaction, to the same
// effect (postgres.go).
package state
