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
//
// A later migration appends to pgMigrations; its test opens a database
// left at the version before it (TestPostgresMigrations in statetest's
// users shows how).

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
}

// PGSchemaVersion is the schema version this anxin writes to PostgreSQL.
var PGSchemaVersion = pgMigrations[len(pgMigrations)-1].Version

// pgMigrateLock is the advisory lock key of migrations ("anxinmg").
const pgMigrateLock int64 = 0x616e78696e6d67

// pgMigrateTimeout bounds the migrations at open.
const pgMigrateTimeout = 5 * time.Minute

// migratePG brings the database to the last version of steps.
func migratePG(ctx context.Context, pool *pgxpool.Pool, steps []pgMigration) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", pgMigrateLock); err != nil {
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
