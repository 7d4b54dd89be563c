// Package pgtest runs a throw-away PostgreSQL server for tests: Debian's
// postgresql package (the binaries in /usr/lib/postgresql/<version>/bin,
// or the directory $ANXIN_PG_BIN), a cluster made by initdb in a
// temporary directory, listening on 127.0.0.1 on a free port and on a
// socket in that directory, trust authentication for the user postgres.
//
// PostgreSQL refuses to run as root, so when the test runs as root the
// directory is given to the postgres user and every server command runs
// as that user (runuser -u postgres).
//
// Two ways to use it:
//
//   - NewDatabase(t) returns the connection string of a new, empty
//     database on one server shared by the test binary: each test has a
//     schema of its own, which the connection string selects
//     (search_path), dropped at its end. A schema costs a millisecond
//     where a CREATE DATABASE costs half a second. The package's TestMain must run the
//     tests through Main, which stops the server at the end:
//
//     func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//   - Start(t) starts a server of the test's own, stopped at its end; Stop
//     and Restart take it away and bring it back on the same port and
//     data, as an outage test needs.
//
// Without PostgreSQL a test is skipped, except when CI=true, where it fails.
//
// A test binary that dies without closing its server (a test timeout's
// panic, kill -9) must not leave a PostgreSQL running on the machine: each
// server has a small shell beside it that stops the server and removes
// its directory once the test process is gone.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvBin names the environment variable of a directory holding initdb and pg_ctl.
const EnvBin = "ANXIN_PG_BIN"

// startTimeout bounds how long the server may take to accept connections.
const startTimeout = 60 * time.Second

// Bin finds the directory of PostgreSQL's server binaries (the newest
// version installed), or says where it looked.
func Bin() (string, error) {
	if d := os.Getenv(EnvBin); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			return "", fmt.Errorf("pgtest: %s=%s: %w", EnvBin, d, err)
		}
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(dirs) == 0 {
		return "", fmt.Errorf("pgtest: no PostgreSQL server in $%s or /usr/lib/postgresql/*/bin; install it with apt-get install -y postgresql", EnvBin)
	}
	slices.SortFunc(dirs, func(a, b string) int { return version(a) - version(b) })
	return filepath.Dir(dirs[len(dirs)-1]), nil
}

// version reads the major version from /usr/lib/postgresql/<v>/bin/initdb.
func version(p string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return n
}

// Server is one PostgreSQL cluster.
type Server struct {
	// Port is its TCP port on 127.0.0.1.
	Port int

	bin    string
	dir    string // holds data/, the socket and the log
	runAs  *user.User
	reaper *exec.Cmd
	mu     sync.Mutex
	closed bool
}

// StartServer makes and starts a cluster in a new temporary directory.
func StartServer() (*Server, error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "anxin-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		if s.runAs, err = user.Lookup("postgres"); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: running as root needs the user postgres (made by the postgresql package): %w", err)
		}
		uid, _ := strconv.Atoi(s.runAs.Uid)
		gid, _ := strconv.Atoi(s.runAs.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	if out, err := s.run("initdb", "-D", s.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// A free port may be taken between asking and binding: try a few.
	for range 3 {
		if s.Port, err = freePort(); err != nil {
			break
		}
		if err = s.start(); err == nil {
			s.startReaper()
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, err
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// run runs one of the server's binaries, as postgres when we are root.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.runAs != nil {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

func (s *Server) start() error {
	opts := fmt.Sprintf("-k %s -c listen_addresses=127.0.0.1 -p %d", s.dir, s.Port)
	out, err := s.run("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "server.log"), "-w",
		"-t", strconv.Itoa(int(startTimeout.Seconds())), "-o", opts, "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		return fmt.Errorf("pgtest: pg_ctl start: %w\n%s\n%s", err, out, lastLines(string(log), 20))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// startReaper starts the shell that cleans up after a test process that
// died without Close.
func (s *Server) startReaper() {
	stop := filepath.Join(s.bin, "pg_ctl") + " -D " + s.data() + " -m immediate -w stop"
	if s.runAs != nil {
		stop = "runuser -u postgres -- " + stop
	}
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done; %s >/dev/null 2>&1; rm -rf %s", os.Getpid(), stop, s.dir)
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // not in the test's process group
	if cmd.Start() == nil {
		s.reaper = cmd
	}
}

// Stop stops the server as a crash would (immediate shutdown); Restart
// brings it back with what it had committed.
func (s *Server) Stop() error {
	out, err := s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// Restart starts a stopped server again on the same port and data.
func (s *Server) Restart() error { return s.start() }

// Close stops the server if it runs and removes its directory.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.run("pg_ctl", "-D", s.data(), "-m", "fast", "-w", "stop")
	os.RemoveAll(s.dir)
	if s.reaper != nil {
		s.reaper.Process.Kill()
		s.reaper.Wait()
	}
}

// DSN is the connection string of database db as the user postgres.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

var dbSeq atomic.Int64

// CreateDatabase makes a new empty database and returns its name.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	return name, s.exec(ctx, "CREATE DATABASE "+name)
}

// DropDatabase drops database name, ending its connections.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	return s.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
}

// CreateSchema makes a new empty schema in the database postgres and
// returns a connection string whose search_path is that schema.
func (s *Server) CreateSchema(ctx context.Context) (name, dsn string, err error) {
	name = fmt.Sprintf("s%d_%d", os.Getpid(), dbSeq.Add(1))
	return name, s.DSN("postgres") + "&search_path=" + name, s.exec(ctx, "CREATE SCHEMA "+name)
}

// DropSchema drops a schema made by CreateSchema, with what it holds.
func (s *Server) DropSchema(ctx context.Context, name string) error {
	return s.exec(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE")
}

func (s *Server) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgtest: %s: %w", sql, err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// missing skips t, or fails it under CI=true.
func missing(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v (CI=true, so this is a failure, not a skip)", err)
	}
	t.Skip(err)
}

// Start starts a server of t's own and closes it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := Bin(); err != nil {
		missing(t, err)
	}
	s, err := StartServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// The server NewDatabase shares, started on first use and closed by Main.
var shared struct {
	mu      sync.Mutex
	main    bool
	srv     *Server
	err     error
	started bool
}

// errNoMain says a package uses NewDatabase without Main.
var errNoMain = errors.New("pgtest: NewDatabase needs the package's TestMain to run the tests through pgtest.Main (which stops the shared server)")

// NewDatabase returns the connection string of a new, empty database on
// the test binary's shared server, dropped when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	shared.mu.Lock()
	if !shared.main {
		shared.mu.Unlock()
		t.Fatal(errNoMain)
	}
	if !shared.started {
		shared.started = true
		if _, err := Bin(); err != nil {
			shared.err = err
		} else {
			shared.srv, shared.err = StartServer()
		}
	}
	srv, err := shared.srv, shared.err
	shared.mu.Unlock()
	if srv == nil {
		if _, binErr := Bin(); binErr != nil {
			missing(t, err)
		}
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name, dsn, err := srv.CreateSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.DropSchema(ctx, name); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	return dsn
}

// Main runs the tests of m and then closes the shared server, if a test
// started it. Use it as TestMain's: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.main = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	if shared.srv != nil {
		shared.srv.Close()
	}
	shared.mu.Unlock()
	return code
}
