package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadOnSIGHUP runs the real binary with a config file, changes the
// file and sends SIGHUP: a shift added to the roster takes effect (li is
// on duty), a changed time_zone is reported as needing a restart, in the
// log and in anxin_config_reloads_total; a broken file is refused with
// its line and column, and the gateway goes on with the config it had.
func TestReloadOnSIGHUP(t *testing.T) {
	bin := buildAt(t, ".")
	dir := t.TempDir()
	data, config := filepath.Join(dir, "data"), filepath.Join(dir, "anxin.yaml")
	add := exec.Command(bin, "user", "add", "-name", "li", "-role", "operator", "-data-dir", data)
	add.Stdin = strings.NewReader("li-long-password\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("anxin user add: %v: %s", err, out)
	}
	writeFile(t, config, "# no shifts yet\ntime_zone: Asia/Shanghai\n")

	cmd := exec.Command(bin, "-config", config, "-mqtt", "127.0.0.1:0", "-http", "127.0.0.1:0", "-data-dir", data)
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
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody waits for more: keep draining, so that anxin never blocks on the pipe
			}
		}
		close(lines)
	}()
	// waitFor returns the first log line matching re.
	waitFor := func(re string) string {
		t.Helper()
		r := regexp.MustCompile(re)
		deadline := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("anxin exited before logging %q", re)
				}
				if r.MatchString(l) {
					return l
				}
			case <-deadline:
				t.Fatalf("no log line %q within 30 s", re)
			}
		}
	}
	addr := regexp.MustCompile(`http=(\S+)`).FindStringSubmatch(waitFor(`anxin gateway started`))[1]
	metric := func(series string) float64 {
		t.Helper()
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for l := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), series+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
		}
		t.Fatalf("no %s in /metrics", series)
		return 0
	}
	hup := func() {
		t.Helper()
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	if n := metric("anxin_operators_on_duty"); n != 0 {
		t.Fatalf("%v on duty before any shift", n)
	}

	writeFile(t, config, `# li is on duty all day at the township
time_zone: Asia/Urumqi
shifts:
  - {site: qs-town, operator: li, start: "00:00", end: "24:00"}
`)
	hup()
	waitFor(`msg="config reloaded".*shifts`)
	if l := waitFor(`restart needed for`); !strings.Contains(l, "restart needed for: time_zone") {
		t.Fatalf("log line %q, want it to name time_zone", l)
	}
	if n := metric("anxin_operators_on_duty"); n != 1 {
		t.Fatalf("%v on duty after SIGHUP with li's shift, want 1", n)
	}
	if n := metric(`anxin_config_reloads_total{result="restart_needed"}`); n != 1 {
		t.Fatalf("anxin_config_reloads_total{result=\"restart_needed\"} = %v, want 1", n)
	}

	writeFile(t, config, "time_zone: Asia/Urumqi\nshifts:\n  - {site: qs-town, operator: li, start: \"25:00\", end: \"08:00\"}\n")
	hup()
	l := waitFor(`config not reloaded`)
	if want := fmt.Sprintf("%s:3:", config); !strings.Contains(l, want) || !strings.Contains(l, "level=ERROR") {
		t.Fatalf("log line %q, want an error naming %s…", l, want)
	}
	if n := metric(`anxin_config_reloads_total{result="failed"}`); n != 1 {
		t.Fatalf("anxin_config_reloads_total{result=\"failed\"} = %v, want 1", n)
	}
	if n := metric("anxin_operators_on_duty"); n != 1 {
		t.Fatalf("%v on duty after a refused reload, want still 1", n)
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("anxin is gone after a bad reload: %v", err)
	}
}
