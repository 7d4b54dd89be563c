package state

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/internal/pgtest"
)

func pgPool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestPostgresOneGatewayPerDatabase: a database another store has open is
// refused, as a locked bbolt file is, until that store closes.
func TestPostgresOneGatewayPerDatabase(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	first, err := OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := OpenPostgres(ctx, dsn); !errors.Is(err, ErrInUse) {
		t.Fatalf("second open: %v, want ErrInUse", err)
	}
	if d := time.Since(start); d < openTimeout {
		t.Errorf("second open gave up after %s, want it to wait %s for a stopping gateway", d, openTimeout)
	}
	first.Close()
	second, err := OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatalf("open after the first closed: %v", err)
	}
	second.Close()
}

func pgVersions(t *testing.T, pool *pgxpool.Pool) []int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT version FROM anxin_schema ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

// TestPostgresMigrations: a database is brought to PGSchemaVersion from
// empty and from the version before, keeping its records; a database of a
// newer version is refused; a failing migration leaves the database as it
// was; gateways opening one empty database together migrate it once.
func TestPostgresMigrations(t *testing.T) {
	ctx := context.Background()
	t.Run("from empty", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		db, err := OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		if got := pgVersions(t, pgPool(t, dsn)); len(got) != PGSchemaVersion || got[len(got)-1] != PGSchemaVersion {
			t.Fatalf("versions %v after opening an empty database, want 1..%d", got, PGSchemaVersion)
		}
	})
	t.Run("from the previous version", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		pool := pgPool(t, dsn)
		prev := pgMigrations[:len(pgMigrations)-1]
		if err := migratePG(ctx, pool, prev); err != nil {
			t.Fatal(err)
		}
		// A store of the previous version, with an open alarm and an audit entry.
		old := newDB(&pgKV{pool: pool})
		a := &alerting.Alarm{ID: "A-1", Device: "btn-1", Type: "call", State: alerting.Raised, Priority: alerting.P1, Raised: time.Now()}
		if err := <-old.Commit(alerting.Write{Alarms: []*alerting.Alarm{a}}); err != nil {
			t.Fatal(err)
		}
		if err := old.Update(func(tx *Tx) error {
			return tx.Audit(NewAuditEntry(time.Now(), "admin", ActionAdd, "device:btn-1", nil, nil))
		}); err != nil {
			t.Fatal(err)
		}
		close(old.queue) // stop its commit loop; the pool is the test's
		<-old.done

		db, err := OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if got := pgVersions(t, pool); got[len(got)-1] != PGSchemaVersion {
			t.Fatalf("versions %v, want up to %d", got, PGSchemaVersion)
		}
		if got, err := db.Alarm("A-1"); err != nil || got.State != alerting.Raised {
			t.Fatalf("alarm after migration: %+v %v", got, err)
		}
		// Version 2's views show the records written before it.
		var state string
		var open bool
		if err := pool.QueryRow(ctx, `SELECT state, open FROM anxin_alarms WHERE id = 'A-1'`).Scan(&state, &open); err != nil {
			t.Fatal(err)
		}
		var who string
		if err := pool.QueryRow(ctx, `SELECT who FROM anxin_audit WHERE object = 'device:btn-1'`).Scan(&who); err != nil {
			t.Fatal(err)
		}
		if state != string(alerting.Raised) || !open || who != "admin" {
			t.Fatalf("views say state %q open %v who %q", state, open, who)
		}
	})
	t.Run("newer database refused", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		db, err := OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		if _, err := pgPool(t, dsn).Exec(ctx, `INSERT INTO anxin_schema (version, name) VALUES (99, 'from the future')`); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenPostgres(ctx, dsn); !errors.Is(err, ErrNewerSchema) {
			t.Fatalf("open of a version 99 database: %v, want ErrNewerSchema", err)
		}
	})
	t.Run("failing migration changes nothing", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		pool := pgPool(t, dsn)
		if err := migratePG(ctx, pool, pgMigrations[:1]); err != nil {
			t.Fatal(err)
		}
		steps := append(pgMigrations[:1:1],
			pgMigration{Version: 2, Name: "good", SQL: `CREATE TABLE half_done (x int)`},
			pgMigration{Version: 3, Name: "bad", SQL: `SELECT 1/0`})
		if err := migratePG(ctx, pool, steps); err == nil {
			t.Fatal("a migration dividing by zero succeeded")
		}
		if got := pgVersions(t, pool); len(got) != 1 {
			t.Fatalf("versions %v after a failed migration, want [1]", got)
		}
		var exists bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass('half_done') IS NOT NULL`).Scan(&exists); err != nil || exists {
			t.Fatalf("table of the step before the failing one exists=%v (%v)", exists, err)
		}
	})
	t.Run("gateways starting together", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = migratePG(ctx, pgPool(t, dsn), pgMigrations) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := pgVersions(t, pgPool(t, dsn)); len(got) != PGSchemaVersion {
			t.Fatalf("versions %v", got)
		}
	})
	t.Run("bad dsn", func(t *testing.T) {
		_, err := OpenPostgres(ctx, "postgres://anxin:s3cret-pw@127.0.0.1:notaport/x")
		if !errors.Is(err, ErrPostgresDSN) {
			t.Fatalf("open of a bad dsn: %v", err)
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Fatalf("the error quotes the password: %v", err)
		}
	})
}
