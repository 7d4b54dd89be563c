package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// busyAddr holds a TCP port for the rest of the test and returns its address.
func busyAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// startAnxin runs bin on dataDir and returns the HTTP address it says it
// started on; it is stopped with SIGTERM when the test ends.
func startAnxin(t *testing.T, bin, dataDir string) string {
	t.Helper()
	cmd := exec.Command(bin, "-mqtt", "127.0.0.1:0", "-http", "127.0.0.1:0", "-data-dir", dataDir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	httpAddr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		started := regexp.MustCompile(`anxin gateway started.* http=(\S+)`)
		for sc.Scan() {
			if m := started.FindStringSubmatch(sc.Text()); m != nil {
				httpAddr <- m[1]
				break
			}
		}
		for sc.Scan() { // keep draining so that the process never blocks on a full pipe
		}
	}()
	select {
	case a := <-httpAddr:
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("anxin did not start within 30s")
		return ""
	}
}

// TestStartupFailures runs the real binary into each way start-up can fail
// and checks that it says what is wrong in one line and exits non-zero,
// instead of panicking with a stack that hides the reason.
func TestStartupFailures(t *testing.T) {
	bin := buildAt(t, ".")
	tmp := t.TempDir()
	free := []string{"-mqtt", "127.0.0.1:0", "-http", "127.0.0.1:0"}

	busyMQTT, busyHTTP := busyAddr(t), busyAddr(t)

	locked := filepath.Join(tmp, "locked")
	startAnxin(t, bin, locked)

	aFile := filepath.Join(tmp, "a-file")
	if err := os.WriteFile(aFile, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missingCert := filepath.Join(tmp, "no-such-cert.pem")
	tlsConfig := filepath.Join(tmp, "tls.json")
	writeFile(t, tlsConfig, `{"mqtt_tls_addr": "127.0.0.1:0", "tls_cert_file": "`+missingCert+
		`", "tls_key_file": "`+filepath.Join(tmp, "no-such-key.pem")+`"}`)
	badConfig := filepath.Join(tmp, "bad.json")
	writeFile(t, badConfig, `{"mqtt_addr": ":1883",`)

	cases := []struct {
		name string
		args []string
		want string // the thing the one line must name
	}{
		{"busy MQTT port", []string{"-mqtt", busyMQTT, "-http", "127.0.0.1:0", "-data-dir", filepath.Join(tmp, "d1")}, busyMQTT},
		{"busy HTTP port", []string{"-mqtt", "127.0.0.1:0", "-http", busyHTTP, "-data-dir", filepath.Join(tmp, "d2")}, busyHTTP},
		{"data directory in use", append(free, "-data-dir", locked), "data directory " + locked + " is in use by another process"},
		{"data directory is a file", append(free, "-data-dir", aFile), aFile},
		{"data directory under a file", append(free, "-data-dir", filepath.Join(aFile, "data")), filepath.Join(aFile, "data")},
		{"missing TLS certificate", append(free, "-config", tlsConfig, "-data-dir", filepath.Join(tmp, "d3")), missingCert},
		{"bad config file", append(free, "-config", badConfig, "-data-dir", filepath.Join(tmp, "d4")), badConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tc.args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
				t.Fatalf("anxin %v: err %v, want a non-zero exit; stderr:\n%s", tc.args, err, stderr.String())
			}
			out := stderr.String()
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Fatalf("stderr has a panic or a goroutine dump:\n%s", out)
			}
			// Informational log records may come before it; anything else
			// is a second error line.
			var errLines []string
			for line := range strings.Lines(out) {
				if !strings.HasPrefix(line, "time=") || strings.Contains(line, "level=ERROR") {
					errLines = append(errLines, strings.TrimSuffix(line, "\n"))
				}
			}
			if len(errLines) != 1 {
				t.Fatalf("stderr has %d error lines, want one:\n%s", len(errLines), out)
			}
			if !strings.HasPrefix(errLines[0], "anxin: ") || !strings.Contains(errLines[0], tc.want) {
				t.Fatalf("error line = %q, want one \"anxin: …\" line naming %q", errLines[0], tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
