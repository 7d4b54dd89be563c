package gateway_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/state"
)

// TestStateConfig: the state section is read from the file, its dsn from a
// file or the environment like every secret, and a mistake names the field
// without showing the connection string.
func TestStateConfig(t *testing.T) {
	dir := t.TempDir()
	const dsn = "postgres://anxin:pw-in-the-dsn@db.example:5432/anxin?sslmode=verify-full"
	if err := os.WriteFile(filepath.Join(dir, "pg-dsn"), []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ANXIN_TEST_PG_DSN", dsn)
	tests := []struct {
		name, yaml string
		want       state.Config
		err        string // a part of the error; "" for none
	}{
		{"default", ``, state.Config{}, ""},
		{"bbolt", "state: {backend: bbolt}\n", state.Config{Backend: "bbolt"}, ""},
		{"dsn from a file", "state:\n  backend: postgres\n  postgres: {dsn_file: pg-dsn}\n",
			state.Config{Backend: "postgres", Postgres: state.PostgresConfig{DSN: dsn}}, ""},
		{"dsn from the environment", "state:\n  backend: postgres\n  postgres: {dsn: \"${ANXIN_TEST_PG_DSN}\"}\n",
			state.Config{Backend: "postgres", Postgres: state.PostgresConfig{DSN: dsn}}, ""},
		{"unknown backend", "state: {backend: sqlite}\n", state.Config{}, `state.backend: "sqlite": want bbolt or postgres`},
		{"postgres without dsn", "state: {backend: postgres}\n", state.Config{}, "state.postgres.dsn: required"},
		{"dsn without postgres", "state:\n  postgres: {dsn_file: pg-dsn}\n", state.Config{}, "state.postgres.dsn: set, but state.backend is not postgres"},
		{"bad dsn", "state:\n  backend: postgres\n  postgres: {dsn: \"postgres://anxin:pw-in-the-dsn@db:notaport/x\"}\n",
			state.Config{}, "state.postgres.dsn: not a valid PostgreSQL connection string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "anxin.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := gateway.LoadConfig(path)
			if err == nil {
				err = cfg.Validate()
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "pw-in-the-dsn") {
					t.Fatalf("the error shows the dsn's password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.State != tt.want {
				t.Fatalf("state config %+v, want %+v", cfg.State, tt.want)
			}
			if w := cfg.State.Where("/var/lib/anxin"); strings.Contains(w, "pw-in-the-dsn") {
				t.Fatalf("Where shows the password: %s", w)
			}
		})
	}
}
