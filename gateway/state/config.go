package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// The backends a gateway's config may choose (state.backend).
const (
	// BackendBbolt is the default: one file, anxin.db, in the data directory.
	BackendBbolt = "bbolt"
	// BackendPostgres keeps the state in a PostgreSQL database (postgres.go).
	BackendPostgres = "postgres"
)

// Config chooses where the durable state lives: the gateway config's
// "state" section.
type Config struct {
	// Backend is bbolt (default) or postgres.
	Backend string `json:"backend"`
	// Postgres is the database of the postgres backend.
	Postgres PostgresConfig `json:"postgres"`
}

// PostgresConfig is the database of the postgres backend.
type PostgresConfig struct {
	// DSN is a libpq connection string, as a URL
	// (postgres://anxin@db.example:5432/anxin?sslmode=verify-full) or as
	// key=value pairs. It may hold a password: like every secret of the
	// config it may come from a file (dsn_file) or from the environment
	// (${ANXIN_PG_DSN}), and it never appears in an error or the log.
	DSN string `json:"dsn"`
}

// Validate checks the config, naming the field that is wrong.
func (c Config) Validate() error {
	switch c.Backend {
	case "", BackendBbolt:
		if c.Postgres.DSN != "" {
			return errors.New("state.postgres.dsn: set, but state.backend is not postgres (say backend: postgres, or drop the dsn)")
		}
	case BackendPostgres:
		if strings.TrimSpace(c.Postgres.DSN) == "" {
			return errors.New("state.postgres.dsn: required with state.backend postgres, e.g. postgres://anxin@127.0.0.1:5432/anxin")
		}
		if _, err := parsePGConfig(c.Postgres.DSN); err != nil {
			return fmt.Errorf("state.postgres.dsn: %w", err)
		}
	default:
		return fmt.Errorf("state.backend: %q: want bbolt or postgres", c.Backend)
	}
	return nil
}

// OpenConfig opens the state c chooses; dataDir is where the bbolt file is.
func OpenConfig(ctx context.Context, c Config, dataDir string) (*DB, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Backend == BackendPostgres {
		return OpenPostgres(ctx, c.Postgres.DSN)
	}
	return Open(dataDir)
}

// Where says where the state of c is, for the log: the data directory,
// or the database without its password.
func (c Config) Where(dataDir string) string {
	if c.Backend != BackendPostgres {
		return dataDir
	}
	cfg, err := parsePGConfig(c.Postgres.DSN)
	if err != nil {
		return "postgres"
	}
	return "postgres " + where(cfg)
}
