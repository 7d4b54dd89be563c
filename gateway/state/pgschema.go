package state

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The schema of a PostgreSQL state, and its migrations.
//
// Table anxin_schema holds one row per migration applied (version, when).
// OpenPostgres runs, in one transaction under an advisory lock (so that
// gateways starting together on one database migrate it once), every
// migration above the database's highest version, in order, and records
// each; a failing one rolls back all of them, so a database is at one
// version or another, never between. A database of a version higher than
// this anxin knows is refused (ErrNewerSchema), as a newer bbolt file is.
//
// Version history:
//
//	1  state_records (bucket, key, value): every bucket of schema.go, the
//	   same keys and the same values as the bbolt file's;
//	   state_sequences (bucket, n): each bucket's own counter (the audit
//	   trail's, see appendAudit).
//	2  read-only views for people with psql or a reporting tool (Grafana's
//	   PostgreSQL data source): anxin_alarms (one row an alarm, its main
//	   fields as columns, whether it is open, the whole record as jsonb)
//	   and anxin_audit (the trail, newest first by id). anxin never reads
//	   them; they follow the records' JSON, so a later field shows in doc
//	   at once.
//
// A later migration appends to pgMigrations; TestPostgresMigrations opens
// a database left at the version before it, with records in it.

// pgMigration is one step of the schema.
type pgMigration struct {
	Version int
	Name    string
	SQL     string
}

// pgMigrations is the schema, step by step; PGSchemaVersion is the last.
var pgMigrations = []pgMigration{
	{Version: 1, Name: "records and sequences", SQL: `
CREATE TABLE state_records (
	bucket text  NOT NULL,
	key    bytea NOT NULL,
	value  bytea NOT NULL,
	PRIMARY KEY (bucket, key)
);
CREATE TABLE state_sequences (
	bucket text   PRIMARY KEY,
	n      bigint NOT NULL
);`},
	{Version: 2, Name: "views of alarms and audit", SQL: `
CREATE VIEW anxin_alarms AS
SELECT convert_from(r.key, 'UTF8') AS id,
	r.doc->>'state' AS state,
	r.doc->>'priority' AS priority,
	r.doc->>'type' AS type,
	r.doc->>'device' AS device,
	r.doc->>'site' AS site,
	(r.doc->>'raised_at')::timestamptz AS raised_at,
	EXISTS (SELECT 1 FROM state_records o WHERE o.bucket = 'open' AND o.key = r.key) AS open,
	r.doc
FROM (SELECT key, convert_from(value, 'UTF8')::jsonb AS doc FROM state_records WHERE bucket = 'alarms') r;
CREATE VIEW anxin_audit AS
SELECT a.doc->>'id' AS id,
	(a.doc->>'at')::timestamptz AS at,
	a.doc->>'who' AS who,
	a.doc->>'action' AS action,
	a.doc->>'object' AS object,
	a.doc
FROM (SELECT convert_from(value, 'UTF8')::jsonb AS doc FROM state_records WHERE bucket = 'audit') a;`},
}

// PGSchemaVersion is the schema version this anxin writes to PostgreSQL.
var PGSchemaVersion = pgMigrations[len(pgMigrations)-1].Version

// pgMigrateTimeout bounds the migrations at open.
const pgMigrateTimeout = 5 * time.Minute

// migratePG brings the database to the last version of steps.
func migratePG(ctx context.Context, pool *pgxpool.Pool, steps []pgMigration) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", pgMigrateLock); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS anxin_schema (
	version integer PRIMARY KEY,
	name    text NOT NULL,
	applied timestamptz NOT NULL DEFAULT now()
)`)
		if err != nil {
			return fmt.Errorf("schema table: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM anxin_schema`).Scan(&have); err != nil {
			return fmt.Errorf("schema version: %w", err)
		}
		last := steps[len(steps)-1].Version
		if have > last {
			return fmt.Errorf("%w: the database is version %d, this anxin knows versions up to %d", ErrNewerSchema, have, last)
		}
		for _, m := range steps {
			if m.Version <= have {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO anxin_schema (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
		}
		return nil
	})
}
