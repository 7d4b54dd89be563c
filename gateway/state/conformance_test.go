package state_test

import (
	"context"
	"os"
	"testing"

	"github.com/anxin-care/anxin/gateway/state"
	"github.com/anxin-care/anxin/gateway/state/statetest"
	"github.com/anxin-care/anxin/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestConformance runs the state conformance suite against both backends:
// the bbolt file in a temporary directory, and a new database on a real
// PostgreSQL (pgtest) for each test.
func TestConformance(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) {
		statetest.Run(t, func(t *testing.T) statetest.Opener {
			dir := t.TempDir()
			return func() (*state.DB, error) { return state.Open(dir) }
		})
	})
	t.Run("postgres", func(t *testing.T) {
		statetest.Run(t, func(t *testing.T) statetest.Opener {
			dsn := pgtest.NewDatabase(t)
			return func() (*state.DB, error) { return state.OpenPostgres(context.Background(), dsn) }
		})
	})
}
