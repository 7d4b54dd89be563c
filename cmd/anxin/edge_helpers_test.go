package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// proc is an anxin process of a test: central, or a box run as a process.
type proc struct {
	t          *testing.T
	cmd        *exec.Cmd
	mqtt, http string
	done       chan struct{}

	mu  sync.Mutex
	log []string
}

// freeAddr returns a loopback address with a port free now, for a process
// that must come back on the same address after a restart.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// addAdmin creates the admin user in dataDir with `anxin user add`.
func addAdmin(t *testing.T, bin, dataDir string) {
	t.Helper()
	cmd := exec.Command(bin, "user", "add", "-name", "admin", "-role", "admin", "-data-dir", dataDir)
	cmd.Stdin = strings.NewReader(gatewaytest.AdminPassword + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("anxin user add: %v\n%s", err, out)
	}
}

var startedLine = regexp.MustCompile(`anxin gateway started.* mqtt=(\S+) http=(\S+)`)

// runAnxin starts bin with args and waits for its "started" line.
func runAnxin(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log = append(p.log, sc.Text())
			p.mu.Unlock()
			if m := startedLine.FindStringSubmatch(sc.Text()); m != nil {
				started <- [2]string{m[1], m[2]}
			}
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	select {
	case a := <-started:
		p.mqtt, p.http = a[0], a[1]
		return p
	case <-p.done:
		t.Fatalf("anxin %v exited at start:\n%s", args, p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("anxin %v did not start within 30s:\n%s", args, p.logText())
	}
	return nil
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log, "\n")
}

// stop ends the process with SIGTERM, as systemd does.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process with SIGKILL: a power cut, as far as its files go.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

func (p *proc) base() string { return "http://" + p.http }

// eventually polls cond every 50 ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alarmsOf lists every alarm of device (all states), newest last.
func alarmsOf(t *testing.T, c *gatewaytest.Client, device string) []alerting.Alarm {
	t.Helper()
	var out struct{ Alarms []alerting.Alarm }
	if code := c.Do("GET", "/api/v1/alarms?state=all&limit=10000", nil, &out); code != 200 {
		t.Fatalf("list alarms: HTTP %d", code)
	}
	var mine []alerting.Alarm
	for _, a := range out.Alarms {
		if a.Device == device {
			mine = append(mine, a)
		}
	}
	for i, j := 0, len(mine)-1; i < j; i, j = i+1, j-1 { // the API lists newest first
		mine[i], mine[j] = mine[j], mine[i]
	}
	return mine
}

// centralSite provisions at central the shared site tree, the box box-1
// at home-12 and the given devices behind it; it returns the box's
// password.
func centralSite(t *testing.T, admin *gatewaytest.Client, devs map[string]string) string {
	t.Helper()
	for _, s := range gatewaytest.SiteTree {
		var e struct{ Error string }
		if code := admin.Do("POST", "/api/v1/sites", s, &e); code != 201 {
			t.Fatalf("add site %v: HTTP %d: %s", s["id"], code, e.Error)
		}
	}
	boxPW := provisionAt(t, admin, map[string]any{"id": "box-1", "kind": "edge_box", "site": "home-12"})
	for id, kind := range devs {
		provisionAt(t, admin, map[string]any{"id": id, "kind": kind, "site": "home-12-bedroom", "edge": "box-1"})
	}
	return boxPW
}

func provisionAt(t *testing.T, admin *gatewaytest.Client, body map[string]any) string {
	t.Helper()
	var out struct{ Password, Error string }
	if code := admin.Do("POST", "/api/v1/devices", body, &out); code != 201 {
		t.Fatalf("provision %v: HTTP %d: %s", body, code, out.Error)
	}
	return out.Password
}

// transition is one level an output pin was set to, and when.
type transition struct {
	high bool
	at   time.Time
}

// showsPattern reports whether, among ts, some run of consecutive levels
// has the on/off durations of want (each within tol) in order: what
// someone looking at the LED would see.
func showsPattern(ts []transition, want []time.Duration, tol time.Duration) bool {
	// Drop repeats of the same level: a pattern step that sets the level it
	// already had is no change to an eye.
	var edges []transition
	for _, x := range ts {
		if len(edges) == 0 || edges[len(edges)-1].high != x.high {
			edges = append(edges, x)
		}
	}
	for i := 0; i+len(want) < len(edges); i++ {
		if !edges[i].high {
			continue
		}
		ok := true
		for k, w := range want {
			d := edges[i+k+1].at.Sub(edges[i+k].at)
			if d < w-tol || d > w+tol {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// readFakePins reads a fake pins file (gateway/edge/fakepins) into each
// pin's transitions.
func readFakePins(t *testing.T, path string) map[string][]transition {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]transition{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var name string
		var level int
		var ns int64
		if _, err := fmt.Sscanf(line, "%s %d %d", &name, &level, &ns); err != nil {
			continue // a line cut by kill -9
		}
		out[name] = append(out[name], transition{high: level == 1, at: time.Unix(0, ns)})
	}
	return out
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }
