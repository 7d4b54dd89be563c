// Package influxtest starts a real InfluxDB 1.8 server for tests.
//
// The server is the influxd binary built with
//
//	go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10
//
// and found, in this order, at $ANXIN_INFLUXD, on $PATH, or in
// $(go env GOPATH)/bin. Start writes a throw-away config (loopback HTTP and
// RPC addresses on free ports, data, meta and WAL directories under
// t.TempDir(), Flux enabled, auth and reporting off), starts influxd, waits
// for /ping, creates the database "db" (bucket "db/autogen") and stops the
// server when the test ends. A test that needs InfluxDB is skipped when the
// binary is missing, except when CI=true, where it fails instead.
//
// Stop kills the process the way a crash or power cut would; Restart brings
// it back on the same port and data directory, which is how outage tests
// take InfluxDB away from a running gateway and give it back. Pause and
// Resume freeze and thaw it (SIGSTOP, SIGCONT) for tests of a hung store.
package influxtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvBinary names the environment variable that points at an influxd binary.
const EnvBinary = "ANXIN_INFLUXD"

// DefaultDatabase is created at start; its bucket is DefaultDatabase+"/autogen".
const DefaultDatabase = "db"

// startTimeout bounds how long influxd may take to answer /ping.
const startTimeout = 30 * time.Second

// Server is one running influxd owned by a test.
type Server struct {
	// URL is the HTTP base address, e.g. http://127.0.0.1:41234.
	URL string
	// Bucket is the v2-compatible bucket of the default database: "db/autogen".
	Bucket string

	t       testing.TB
	binary  string
	dir     string
	config  string
	logFile string

	mu  sync.Mutex
	cmd *exec.Cmd
	// exited is closed when cmd's Wait returns.
	exited chan struct{}
}

// Binary finds the influxd binary, or returns an error saying where it looked.
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("influxtest: %s=%s: %w", EnvBinary, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("influxd"); err == nil {
		return p, nil
	}
	var tried []string
	for _, dir := range gopathBins() {
		p := filepath.Join(dir, "influxd")
		tried = append(tried, p)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("influxtest: influxd not found in $%s, $PATH or %v; build it with "+
		"go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10", EnvBinary, tried)
}

func gopathBins() []string {
	var dirs []string
	if gb := os.Getenv("GOBIN"); gb != "" {
		dirs = append(dirs, gb)
	}
	gp := os.Getenv("GOPATH")
	if gp == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gp = strings.TrimSpace(string(out))
		}
	}
	if gp == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gp = filepath.Join(home, "go")
		}
	}
	for _, p := range filepath.SplitList(gp) {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	return dirs
}

// Start starts influxd for t and registers its stop with t.Cleanup. It skips
// t when influxd is missing, unless CI=true.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI=true, so this is a failure, not a skip)", err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	s := &Server{t: t, binary: bin, dir: dir, Bucket: DefaultDatabase + "/autogen",
		config: filepath.Join(dir, "influxdb.conf"), logFile: filepath.Join(dir, "influxd.log")}
	httpPort, rpcPort := freePort(t), freePort(t)
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	if err := os.WriteFile(s.config, []byte(config(dir, httpPort, rpcPort)), 0o600); err != nil {
		t.Fatalf("influxtest: write config: %v", err)
	}
	t.Cleanup(s.Stop)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	s.CreateDatabase(DefaultDatabase)
	return s
}

func config(dir string, httpPort, rpcPort int) string {
	return fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"

[meta]
  dir = %q
  logging-enabled = false

[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
  trace-logging-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  auth-enabled = false
  log-enabled = false
  flux-enabled = true
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("influxtest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) start() error {
	log, err := os.OpenFile(s.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("influxtest: open log: %w", err)
	}
	cmd := exec.Command(s.binary, "run", "-config", s.config)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("influxtest: start %s: %w", s.binary, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		log.Close()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("influxtest: influxd exited at start:\n%s", s.logTail())
		default:
		}
		if s.ping() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("influxtest: influxd did not answer /ping within %v:\n%s", startTimeout, s.logTail())
}

func (s *Server) ping() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(s.URL + "/ping")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusNoContent
}

// Stop kills influxd at once (SIGKILL: no graceful shutdown, as in a crash)
// and waits for it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Pause freezes influxd with SIGSTOP: its sockets stay open and the
// kernel still accepts connections, but nothing answers, as when the
// database's machine hangs or its disk stalls. Resume undoes it; Stop
// kills it paused or not.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume lets a paused influxd run again (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		s.t.Fatalf("influxtest: %v to a stopped server", sig)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("influxtest: %v: %v", sig, err)
	}
}

// Restart starts a stopped server again on the same port and data directory.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// CreateDatabase creates a database (idempotent) and returns its autogen bucket.
func (s *Server) CreateDatabase(name string) string {
	s.t.Helper()
	if err := s.InfluxQL("CREATE DATABASE " + quoteIdent(name)); err != nil {
		s.t.Fatal(err)
	}
	return name + "/autogen"
}

// InfluxQL runs a statement through the v1 /query endpoint.
func (s *Server) InfluxQL(stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body := strings.NewReader(url.Values{"q": {stmt}}.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/query", body)
	if err != nil {
		return fmt.Errorf("influxtest: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("influxtest: %s: %w", stmt, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(buf.Bytes(), []byte(`"error"`)) {
		return fmt.Errorf("influxtest: %s: %s: %s", stmt, resp.Status, strings.TrimSpace(buf.String()))
	}
	return nil
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// Log returns the server's log so far, for failure messages.
func (s *Server) Log() string {
	b, err := os.ReadFile(s.logFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err.Error()
	}
	return string(b)
}

func (s *Server) logTail() string {
	l := s.Log()
	if len(l) > 4000 {
		l = "…" + l[len(l)-4000:]
	}
	return l
}
