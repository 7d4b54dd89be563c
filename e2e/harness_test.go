// Package e2e drives the gateway's browser pages in a real browser:
// Debian's chromium (/usr/bin/chromium) under playwright-core (npm, in
// this directory's package.json; never a downloaded browser). Each Go test
// builds anxin and firmware-sim, starts the gateway on 127.0.0.1:0 ports
// with a fresh data directory and an admin, and runs one `node --test`
// file against it, handing it what it needs in environment variables:
//
//	ANXIN_URL             the gateway's HTTP origin (http://127.0.0.1:port)
//	ANXIN_MQTT            its MQTT address (127.0.0.1:port)
//	ANXIN_ADMIN, ANXIN_ADMIN_PASSWORD   the admin's login
//	ANXIN_FIRMWARE_SIM    the built firmware-sim binary
//	ANXIN_CONTROL         the harness: POST /stop, /start, /restart stops
//	                      or starts the gateway process (same ports, same
//	                      data), answering when it is done
//	ANXIN_SHOTS           where screenshots go: $ANXIN_ARTIFACTS/e2e or a
//	                      temporary directory, never the repository
//	CHROMIUM              /usr/bin/chromium
//
// What a test needs that is missing (node, chromium, `npm ci` here) skips
// it, or fails it when CI=true. scripts/test.sh installs all three.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	chromium      = "/usr/bin/chromium"
	adminUser     = "admin"
	adminPassword = "e2e-admin-password-long"
	// nodeTimeout bounds one node --test file.
	nodeTimeout = 8 * time.Minute
)

// need skips the test when a tool is missing, or fails it under CI=true.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: a missing tool fails the test; scripts/test.sh installs it)", what)
	}
	t.Skipf("%s: skipped (run scripts/test.sh to install it)", what)
}

func requireTools(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("node")
	need(t, err == nil, "node is not on PATH")
	_, err = os.Stat(chromium)
	need(t, err == nil, chromium+" is missing (apt-get install chromium)")
	_, err = os.Stat(filepath.Join("node_modules", "playwright-core", "package.json"))
	need(t, err == nil, "e2e/node_modules/playwright-core is missing (npm ci in e2e/)")
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds anxin and firmware-sim once per test process.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "anxin-e2e-bin-")
		if buildErr != nil {
			return
		}
		for _, pkg := range []string{"anxin", "firmware-sim"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, pkg), "./cmd/"+pkg)
			cmd.Dir = ".."
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build ./cmd/%s: %w\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// gatewayProc is one anxin process, restartable on the same ports and data.
type gatewayProc struct {
	t         *testing.T
	bin       string
	dataDir   string
	config    string
	logFile   *os.File
	mu        sync.Mutex
	cmd       *exec.Cmd
	done      chan struct{}
	http      string
	mqtt      string
	startLine *regexp.Regexp
}

// startGateway builds the binaries, creates the admin in a fresh data
// directory and starts the gateway on 127.0.0.1:0 ports, with the config
// keys of extra (e.g. time_series) on top of the test defaults.
func startGateway(t *testing.T, artifacts string, extra map[string]any) *gatewayProc {
	t.Helper()
	bin := binaries(t)
	dir := t.TempDir()
	g := &gatewayProc{t: t, bin: filepath.Join(bin, "anxin"), dataDir: filepath.Join(dir, "data"),
		config:    filepath.Join(dir, "anxin.json"),
		startLine: regexp.MustCompile(`anxin gateway started.* mqtt=(\S+) http=(\S+)`),
		http:      "127.0.0.1:0", mqtt: "127.0.0.1:0"}
	// P1's first step after 2 s, not 30: the tests see an alarm reach
	// nobody (no one is on duty) without waiting half a minute.
	cfg := map[string]any{"time_zone": "Asia/Shanghai", "log_level": "info",
		"escalation": map[string]any{"P1": map[string]any{"steps": []any{
			map[string]any{"after": "2s", "targets": []string{"supervisor", "next_level"}},
			map[string]any{"after": "60s", "targets": []string{"top_level"}},
		}}}}
	for k, v := range extra {
		cfg[k] = v
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(g.config, b, 0o600); err != nil {
		t.Fatal(err)
	}
	add := exec.Command(g.bin, "user", "add", "-name", adminUser, "-role", "admin", "-data-dir", g.dataDir)
	add.Stdin = strings.NewReader(adminPassword + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("anxin user add: %v\n%s", err, out)
	}
	var err error
	if g.logFile, err = os.Create(filepath.Join(artifacts, "gateway.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.stop(); g.logFile.Close() })
	if err := g.start(); err != nil {
		t.Fatal(err)
	}
	return g
}

// start runs the gateway and returns when it says it has started.
func (g *gatewayProc) start() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd != nil {
		return errors.New("gateway already running")
	}
	cmd := exec.Command(g.bin, "-config", g.config, "-data-dir", g.dataDir, "-http", g.http, "-mqtt", g.mqtt)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = g.logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start anxin: %w", err)
	}
	started := make(chan [2]string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(g.logFile, line)
			if m := g.startLine.FindStringSubmatch(line); m != nil {
				select {
				case started <- [2]string{m[1], m[2]}:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
	}()
	select {
	case addrs := <-started:
		g.mqtt, g.http = addrs[0], addrs[1]
		g.cmd, g.done = cmd, done
		return nil
	case <-done:
		return fmt.Errorf("anxin exited before it started (see %s)", g.logFile.Name())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("anxin did not start within 30s (see %s)", g.logFile.Name())
	}
}

// stop ends the gateway with SIGTERM (SIGKILL after 15 s) and waits.
func (g *gatewayProc) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd == nil {
		return
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(15 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
	}
	g.cmd, g.done = nil, nil
}

// control serves the node test's requests to stop, start or restart the
// gateway process.
func (g *gatewayProc) control(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"http": g.http, "mqtt": g.mqtt})
	}
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, r *http.Request) { g.stop(); answer(w, nil) })
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) { answer(w, g.start()) })
	mux.HandleFunc("POST /restart", func(w http.ResponseWriter, r *http.Request) { g.stop(); answer(w, g.start()) })
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// artifactsDir is where screenshots and the gateway's log go.
func artifactsDir(t *testing.T, name string) string {
	t.Helper()
	base := os.Getenv("ANXIN_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, "e2e", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runNode runs `node --test file` against a fresh gateway.
func runNode(t *testing.T, file string) { runNodeWith(t, file, nodeRun{}) }

// nodeRun is how runNodeWith varies a run: config keys for the gateway,
// extra environment for node, and the artifacts' subdirectory (the
// file's name without .test.mjs when empty).
type nodeRun struct {
	config    map[string]any
	env       []string
	artifacts string
}

// runNodeWith runs `node --test file` against a fresh gateway configured by run.
func runNodeWith(t *testing.T, file string, run nodeRun) {
	t.Helper()
	requireTools(t)
	if run.artifacts == "" {
		run.artifacts = strings.TrimSuffix(file, ".test.mjs")
	}
	shots := artifactsDir(t, run.artifacts)
	g := startGateway(t, shots, run.config)
	ctl := g.control(t)
	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	args := []string{"--test", "--test-reporter=spec", "--test-concurrency=1"}
	if p := os.Getenv("ANXIN_E2E_ONLY"); p != "" { // a regexp of test names, while working on one
		args = append(args, "--test-name-pattern="+p)
	}
	cmd := exec.CommandContext(ctx, "node", append(args, file)...)
	cmd.Env = append(os.Environ(),
		"ANXIN_URL=http://"+g.http, "ANXIN_MQTT="+g.mqtt,
		"ANXIN_ADMIN="+adminUser, "ANXIN_ADMIN_PASSWORD="+adminPassword,
		"ANXIN_FIRMWARE_SIM="+filepath.Join(binaries(t), "firmware-sim"),
		"ANXIN_CONTROL="+ctl, "ANXIN_SHOTS="+shots, "CHROMIUM="+chromium)
	cmd.Env = append(cmd.Env, run.env...)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("node --test %s:\n%s", file, out)
	t.Logf("screenshots and gateway log: %s", shots)
	if err != nil {
		t.Fatalf("node --test %s: %v", file, err)
	}
}

// TestConsole is the operator console in a real browser (console.test.mjs).
func TestConsole(t *testing.T) { runNode(t, "console.test.mjs") }

// TestMain removes the binaries built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
