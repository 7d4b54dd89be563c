package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The PostgreSQL backend (state.backend: postgres). The records are the
// same bytes under the same (bucket, key) as in the bbolt file, in one
// table, state_records, whose primary key (bucket, key) sorts keys as
// bytes like bbolt does (bytea compares as unsigned bytes); pgschema.go
// creates it and runs the migrations.
//
// Transactions:
//   - a write transaction first takes one transaction-scoped advisory lock
//     (pgWriterLock), so that write transactions are serialised as
//     bbolt's are: the read-check-write of a transaction (the last admin,
//     a device's edge seq, the audit sequence) sees no other writer, on
//     this gateway or any other on the same database. Reads take no lock.
//   - its writes are queued and sent in one round trip (a pgx batch)
//     before its next read and at commit, so a commit of many alarms costs
//     a few round trips, not one a record.
//   - a read-only transaction is REPEATABLE READ: one snapshot, as a bbolt
//     View is.
//
// Every transaction has pgTxTimeout: a database that stops answering
// fails the write (the engine undoes it in memory, the device's event goes
// unacknowledged and comes again) instead of holding the commit loop.
// A commit whose answer is lost is reported failed though it may have
// been applied; the (device, seq) key then makes the device's resend a
// repeat.

// Advisory locks are taken as (class, hashtext(current_schema())): the
// state is the tables of one schema, so two states in two schemas of one
// database (tests do that) do not hold each other up.
const (
	pgWriterLock  int32 = 0x616e7877 // "anxw": write transactions
	pgOwnerLock   int32 = 0x616e786f // "anxo": an open store
	pgMigrateLock int32 = 0x616e786d // "anxm": migrations
)

// pgTxTimeout bounds one transaction.
const pgTxTimeout = 15 * time.Second

// pgPingTimeout bounds Healthy's check of the connection.
const pgPingTimeout = 2 * time.Second

// pgDefaultMaxConns is the connection pool's size unless the dsn says
// (pool_max_conns).
const pgDefaultMaxConns = 16

// pgScanPage is how many records a scan reads in one query: scans read a
// page, then hand its records to the caller, who may query in between.
const pgScanPage = 512

// ErrPostgresDSN says the connection string could not be read. The string
// itself is never quoted: it may hold a password.
var ErrPostgresDSN = errors.New("not a valid PostgreSQL connection string (want postgres://user@host:port/db?sslmode=… or key=value pairs)")

// pgKV is the PostgreSQL backend.
type pgKV struct {
	pool *pgxpool.Pool
	// owner holds the session advisory lock pgOwnerLock while the store
	// is open (nil in tests that build a pgKV by hand). A database that
	// restarts ends the session and the lock with it: check takes it
	// again on a new connection, or says the database is in use.
	ownerMu sync.Mutex
	owner   *pgx.Conn
}

// An open store holds the session advisory lock pgOwnerLock: one gateway
// per database (schema), as one process per bbolt file. Its engine keeps
// open alarms in memory, so a second gateway on the same database would
// act on alarms the first one changed. Several gateways sharing a
// database need the claims of the cluster mode (not built yet).

// ErrInUse refuses a database that another anxin has open.
var ErrInUse = errors.New("the state database is in use by another anxin (one gateway per database; anxin user commands need the gateway stopped)")

var _ backend = (*pgKV)(nil)

// OpenPostgres connects to the database of dsn, brings its schema to
// PGSchemaVersion (pgschema.go) and returns the store. A database of a
// newer schema is ErrNewerSchema.
func OpenPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := parsePGConfig(dsn)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	owner, err := lockOwner(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres %s: %w", where(cfg), err)
	}
	mctx, cancel := context.WithTimeout(ctx, pgMigrateTimeout)
	defer cancel()
	if err := migratePG(mctx, pool, pgMigrations); err != nil {
		owner.Close(context.Background())
		pool.Close()
		return nil, fmt.Errorf("postgres %s: %w", where(cfg), err)
	}
	return newDB(&pgKV{pool: pool, owner: owner}), nil
}

// lockOwner takes pgOwnerLock on a connection of its own, waiting up to
// openTimeout for a gateway that is stopping to let go of it.
func lockOwner(ctx context.Context, pool *pgxpool.Pool) (*pgx.Conn, error) {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	conn := c.Hijack() // out of the pool: the lock lives as long as this connection
	deadline := time.Now().Add(openTimeout)
	for {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))", pgOwnerLock).Scan(&got); err != nil {
			conn.Close(context.Background())
			return nil, err
		}
		if got {
			return conn, nil
		}
		if time.Now().After(deadline) {
			conn.Close(context.Background())
			return nil, ErrInUse
		}
		select {
		case <-ctx.Done():
			conn.Close(context.Background())
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// parsePGConfig reads dsn; its error never quotes it.
func parsePGConfig(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, ErrPostgresDSN
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "anxin"
	}
	// pgxpool's default (4 on a small machine) would let a burst of API
	// reads hold every connection while an alarm commit waits;
	// pool_max_conns in the dsn still decides.
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, pgDefaultMaxConns)
	}
	return cfg, nil
}

// where names the database of cfg for an error, without its password.
func where(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

func (k *pgKV) view(fn func(r kvReader) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgTxTimeout)
	defer cancel()
	tx, err := k.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := fn(&pgTx{ctx: ctx, tx: tx}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (k *pgKV) update(fn func(w kvWriter) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgTxTimeout)
	defer cancel()
	tx, err := k.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", pgWriterLock); err != nil {
		return fmt.Errorf("postgres: writer lock: %w", err)
	}
	w := &pgTx{ctx: ctx, tx: tx}
	if err := fn(w); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

func (k *pgKV) batch(fn func(w kvWriter) error) error { return k.update(fn) }

func (k *pgKV) check() error {
	ctx, cancel := context.WithTimeout(context.Background(), pgPingTimeout)
	defer cancel()
	if err := k.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres does not answer: %w", err)
	}
	return k.checkOwner(ctx)
}

// checkOwner makes sure the store still holds pgOwnerLock.
func (k *pgKV) checkOwner(ctx context.Context) error {
	k.ownerMu.Lock()
	defer k.ownerMu.Unlock()
	if k.owner == nil {
		return nil
	}
	if k.owner.Ping(ctx) == nil {
		return nil
	}
	// The session, and so the lock, is gone (the database restarted, or
	// the connection broke): take it again before anyone else does.
	k.owner.Close(ctx)
	var got bool
	conn, err := pgx.ConnectConfig(ctx, k.pool.Config().ConnConfig)
	if err == nil {
		err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))", pgOwnerLock).Scan(&got)
	}
	switch {
	case err != nil:
		if conn != nil {
			conn.Close(ctx)
		}
		return fmt.Errorf("postgres: lock of the state lost with its connection, not taken again: %w", err)
	case !got:
		conn.Close(ctx)
		return ErrInUse
	}
	k.owner = conn
	return nil
}

func (k *pgKV) backup(io.Writer) (int64, error) {
	return 0, fmt.Errorf("backup: %w: the state is in PostgreSQL; back it up with pg_dump or the database's own backups", ErrNotSupported)
}

func (k *pgKV) close() error {
	k.ownerMu.Lock()
	defer k.ownerMu.Unlock()
	if k.owner != nil {
		ctx, cancel := context.WithTimeout(context.Background(), pgPingTimeout)
		defer cancel()
		k.owner.Close(ctx) // ends the session, and so its lock
	}
	k.pool.Close()
	return nil
}

// pgTx is one transaction; writes wait in pending until flush.
type pgTx struct {
	ctx     context.Context
	tx      pgx.Tx
	pending pgx.Batch
}

const (
	pgPut = `INSERT INTO state_records (bucket, key, value) VALUES ($1, $2, $3)
	ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value`
	pgDelete = `DELETE FROM state_records WHERE bucket = $1 AND key = $2`
)

func (t *pgTx) put(b Bucket, key, value []byte) error {
	if len(key) == 0 {
		return fmt.Errorf("%s: empty key", b) // bbolt refuses one too
	}
	if value == nil {
		value = []byte{}
	}
	t.pending.Queue(pgPut, string(b), key, value)
	return nil
}

func (t *pgTx) delete(b Bucket, key []byte) error {
	t.pending.Queue(pgDelete, string(b), key)
	return nil
}

// flush sends the queued writes in one round trip.
func (t *pgTx) flush() error {
	n := t.pending.Len()
	if n == 0 {
		return nil
	}
	batch := t.pending
	t.pending = pgx.Batch{}
	br := t.tx.SendBatch(t.ctx, &batch)
	var first error
	for range n {
		if _, err := br.Exec(); err != nil && first == nil {
			first = err
		}
	}
	if err := br.Close(); err != nil && first == nil {
		first = err
	}
	if first != nil {
		return fmt.Errorf("postgres: write: %w", first)
	}
	return nil
}

func (t *pgTx) get(b Bucket, key []byte) ([]byte, error) {
	if err := t.flush(); err != nil {
		return nil, err
	}
	var v []byte
	err := t.tx.QueryRow(t.ctx, `SELECT value FROM state_records WHERE bucket = $1 AND key = $2`, string(b), key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read %s: %w", b, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (t *pgTx) count(b Bucket) (int, error) {
	if err := t.flush(); err != nil {
		return 0, err
	}
	var n int
	if err := t.tx.QueryRow(t.ctx, `SELECT count(*) FROM state_records WHERE bucket = $1`, string(b)).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count %s: %w", b, err)
	}
	return n, nil
}

func (t *pgTx) nextSequence(b Bucket) (uint64, error) {
	if err := t.flush(); err != nil {
		return 0, err
	}
	var n int64
	err := t.tx.QueryRow(t.ctx, `INSERT INTO state_sequences (bucket, n) VALUES ($1, 1)
	ON CONFLICT (bucket) DO UPDATE SET n = state_sequences.n + 1 RETURNING n`, string(b)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: sequence of %s: %w", b, err)
	}
	return uint64(n), nil
}

type pgRecord struct{ k, v []byte }

// scan reads a page of records at a time and hands them to fn once the
// page's query is done, so that fn may query the same transaction.
func (t *pgTx) scan(b Bucket, from, to []byte, reverse bool, fn func(k, v []byte) error) error {
	if err := t.flush(); err != nil {
		return err
	}
	for {
		page, err := t.scanPage(b, from, to, reverse)
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r.k, r.v); err != nil {
				if errors.Is(err, errStop) {
					return nil
				}
				return err
			}
		}
		if len(page) < pgScanPage {
			return nil
		}
		last := page[len(page)-1].k
		if reverse {
			to = last
		} else {
			from = append(slices.Clone(last), 0) // the least key above last
		}
	}
}

func (t *pgTx) scanPage(b Bucket, from, to []byte, reverse bool) ([]pgRecord, error) {
	var q strings.Builder
	q.WriteString(`SELECT key, value FROM state_records WHERE bucket = $1`)
	args := []any{string(b)}
	if from != nil {
		args = append(args, from)
		fmt.Fprintf(&q, " AND key >= $%d", len(args))
	}
	if to != nil {
		args = append(args, to)
		fmt.Fprintf(&q, " AND key < $%d", len(args))
	}
	q.WriteString(" ORDER BY key")
	if reverse {
		q.WriteString(" DESC")
	}
	fmt.Fprintf(&q, " LIMIT %d", pgScanPage)
	rows, err := t.tx.Query(t.ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: scan %s: %w", b, err)
	}
	var page []pgRecord
	for rows.Next() {
		var r pgRecord
		if err := rows.Scan(&r.k, &r.v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres: scan %s: %w", b, err)
		}
		page = append(page, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: scan %s: %w", b, err)
	}
	return page, nil
}
