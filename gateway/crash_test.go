package gateway_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/state"
)

// The crash test runs anxin as a real child process and kills it with
// SIGKILL, the way the OOM killer or a watchdog would: no deferred Close,
// nothing queued in the process gets out. It is the test of DESIGN.md §5's
// promise that a PUBACK means the alarm survives a crash. (Writes the kernel
// already holds survive a SIGKILL, so this proves an event is written
// before its PUBACK; that it is also synced, which only a power cut would
// show, is the store's own business.)
const (
	crashDevices = 20
	// crashPace is how often each device publishes (100 events/s each),
	// crashWindow how many publishes each may have awaiting a PUBACK.
	crashPace   = 10 * time.Millisecond
	crashWindow = 8
	// crashPerType bounds the distinct events of one (device, type), so
	// that a fast machine does not send without end before the kill.
	crashPerType = 90
	// crashResendEvery: every so many publishes, a device resends its
	// previous event (same seq and ts), as one does that missed a PUBACK.
	crashResendEvery = 7
	// crashEscalateAfter is the P1 escalation step of the test's config.
	crashEscalateAfter = 2 * time.Second
	// crashEscalateSlack is how late after it is due (or after the restart,
	// when that is later) the escalation may fire on a loaded machine.
	crashEscalateSlack = 1500 * time.Millisecond
)

// TestCrashKill9KeepsEveryPUBACKedEvent: devices send many alarm events, the
// gateway is killed with SIGKILL right after a batch of PUBACKs while they
// are still sending, and restarted on the same data directory. Every event
// that was PUBACKed is there exactly once (an event stored but not yet
// acknowledged may be there too: the device would have resent it anyway);
// resending them all raises nothing new; and the escalation that was
// pending at the kill fires on time after the restart.
func TestCrashKill9KeepsEveryPUBACKedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real anxin process; skipped with -short")
	}
	for _, b := range gatewaytest.Backends {
		t.Run(b, func(t *testing.T) { testCrashKill9KeepsEveryPUBACKedEvent(t, b) })
	}
}

func testCrashKill9KeepsEveryPUBACKedEvent(t *testing.T, backend string) {
	begin := time.Now()
	const adminPW = "crash-test-admin-password"
	bin, dir, args := prepareAnxinOn(t, adminPW, fmt.Sprintf(`{
		"escalation": {"P1": {"steps": [{"after": %q, "targets": ["supervisor"]}]}},
		"event_rate": 1000, "event_burst": 1000
	}`, crashEscalateAfter), gatewaytest.State(t, backend))
	t.Logf("built anxin in %s", time.Since(begin).Round(time.Millisecond))

	proc := startAnxin(t, bin, filepath.Join(dir, "anxin-1.log"), args)
	admin := gatewaytest.LoginAt(t, proc.base, "admin", adminPW)

	ledger := newCrashLedger()
	fleet := provisionFleet(t, admin, ledger)
	escPW := provision(t, admin, "crash-esc", devices.KindCallButton)
	for _, d := range fleet {
		d.client = connectPaho(t, proc.mqtt, d.id, d.password)
	}
	esc := connectPaho(t, proc.mqtt, "crash-esc", escPW)

	// Load, then the kill.
	// stop ends the sending; abandon, a little later, ends the wait for
	// PUBACKs that can no longer come (paho may not complete the token of a
	// publish made as the connection dropped).
	stop, abandon := make(chan struct{}), make(chan struct{})
	var senders sync.WaitGroup
	loadStart := time.Now()
	for _, d := range fleet {
		senders.Go(func() { d.send(stop, abandon) })
	}
	pollUntil(t, 10*time.Second, "100 PUBACKs under load", func() bool {
		return ledger.ackedCount() >= 100 && time.Since(loadStart) >= 800*time.Millisecond
	})
	escEvent := fmt.Sprintf(`{"seq":1,"ts":%d,"type":"call.press"}`, time.Now().UnixMilli())
	if tok := esc.Publish("anxin/v1/crash-esc/event", 1, false, escEvent); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("escalation press: no PUBACK: %v", tok.Error())
	}
	escAcked := time.Now()
	time.Sleep(time.Until(escAcked.Add(500 * time.Millisecond)))
	ledger.drainAcks()
	select {
	case <-ledger.ack:
	case <-time.After(5 * time.Second):
		t.Fatal("no PUBACK within 5 s before the kill: the gateway stalled under load")
	}
	killed := time.Now()
	proc.kill(t)
	t.Logf("SIGKILL %s after the load started, %s after the escalation press was PUBACKed",
		killed.Sub(loadStart).Round(time.Millisecond), killed.Sub(escAcked).Round(time.Millisecond))
	close(stop)

	// Restart on the same data directory at once, so that the escalation
	// is still pending when the new process starts.
	restarted := time.Now()
	proc = startAnxin(t, bin, filepath.Join(dir, "anxin-2.log"), args)
	t.Logf("restarted: ready %s after the kill", proc.ready.Sub(killed).Round(time.Millisecond))

	time.AfterFunc(2*time.Second, func() { close(abandon) })
	waitGroup(t, &senders, 10*time.Second, "devices to notice the kill")
	for _, d := range fleet {
		d.client.Disconnect(0)
	}
	esc.Disconnect(0)
	fig := ledger.figures()
	t.Logf("before the kill: %d publishes (%d resends) of %d distinct events; %d publishes PUBACKed (%d distinct events), %d without a PUBACK",
		fig.publishes, fig.resends, fig.distinct, fig.acked, fig.ackedDistinct, fig.publishes-fig.acked)
	admin = gatewaytest.LoginAt(t, proc.base, "admin", adminPW)

	// The escalation pending at the kill fires on time.
	checkEscalation(t, admin, killed, restarted)

	// Every PUBACKed event is there exactly once.
	before := ledger.check(t, admin)
	t.Logf("after the restart: %d alarms count %d events; %d distinct events were PUBACKed, so %d were stored but not yet PUBACKed at the kill",
		before.alarms, before.events, fig.ackedDistinct, before.events-fig.ackedDistinct)

	// Resending every PUBACKed event raises nothing new.
	resent := ledger.resendAcked(t, proc.mqtt, fleet, before)
	after := ledger.check(t, admin)
	if !before.sameAs(after) {
		t.Errorf("resending %d PUBACKed events changed the alarms:\nbefore %v\nafter  %v", resent, before.counts, after.counts)
	}
	if dups := gatewaytest.Metric(t, proc.base, "anxin_duplicate_events_total"); dups != float64(resent) {
		t.Errorf("anxin_duplicate_events_total = %v after resending %d events, want %d", dups, resent, resent)
	}
	for _, p := range []string{"P1", "P2", "P3"} {
		if n := gatewaytest.Metric(t, proc.base, `anxin_alarms_raised_total{priority="`+p+`"}`); n != 0 {
			t.Errorf("resends raised %v new %s alarms", n, p)
		}
	}
	t.Logf("resent %d PUBACKed events after the restart: all PUBACKed as duplicates, no alarm changed; test took %s",
		resent, time.Since(begin).Round(time.Millisecond))
}

// provisionFleet provisions crashDevices devices of every kind, each to
// report every event of its kind that raises an alarm, so that each has
// several distinct alarms.
func provisionFleet(t *testing.T, admin *gatewaytest.Client, ledger *crashLedger) []*loadDevice {
	t.Helper()
	kinds := []devices.Kind{devices.KindCallButton, devices.KindSmokeDetector, devices.KindSafetyBand,
		devices.KindGasDetector, devices.KindPullCord, devices.KindBedSensor}
	var fleet []*loadDevice
	for i := range crashDevices {
		kind := kinds[i%len(kinds)]
		info, err := devices.LookupKind(kind)
		if err != nil {
			t.Fatal(err)
		}
		d := &loadDevice{id: fmt.Sprintf("crash-%02d", i), ledger: ledger}
		for _, typ := range info.Events {
			if _, raises := alerting.PriorityOf(typ); raises {
				d.types = append(d.types, typ)
			}
		}
		d.password = provision(t, admin, d.id, kind)
		fleet = append(fleet, d)
	}
	return fleet
}

// checkEscalation waits, a bounded few seconds, for crash-esc's alarm to
// escalate, and checks that it did so once, when due: not before, not
// before the kill, and no later than crashEscalateSlack after the later of
// its due time and the restart.
func checkEscalation(t *testing.T, admin *gatewaytest.Client, killed, restarted time.Time) {
	t.Helper()
	raised := findAlarm(t, admin, "crash-esc", devices.CallPress)
	due := raised.Raised.Add(crashEscalateAfter)
	var fired []alerting.Entry
	pollUntil(t, time.Until(later(due, restarted).Add(3*time.Second)), "escalated entry on "+raised.ID, func() bool {
		var a alerting.Alarm
		admin.Do("GET", "/api/v1/alarms/"+raised.ID, nil, &a)
		fired = slices.DeleteFunc(a.Timeline, func(e alerting.Entry) bool { return e.Action != alerting.ActEscalated })
		return len(fired) > 0
	})
	at := fired[0].At
	how := "its timer, restored at the restart, fired"
	if restarted.After(due) {
		how = "the restart came after it was due; it fired at startup"
	}
	t.Logf("escalation: raised %s, due %s, restart %s, fired %s, %s after due: %s",
		raised.Raised.Format("15:04:05.000"), due.Format("15:04:05.000"), restarted.Format("15:04:05.000"),
		at.Format("15:04:05.000"), at.Sub(due).Round(time.Millisecond), how)
	if len(fired) != 1 {
		t.Errorf("alarm %s escalated %d times, want once: %+v", raised.ID, len(fired), fired)
	}
	if at.Before(due) || !at.After(killed) {
		t.Errorf("escalation fired at %s: before it was due (%s) or before the kill (%s)", at, due, killed)
	}
	if limit := later(due, restarted).Add(crashEscalateSlack); at.After(limit) {
		t.Errorf("escalation fired at %s, more than %s after max(due, restart) = %s", at, crashEscalateSlack, limit)
	}
}

// prepareAnxin builds anxin, creates its admin with adminPW in a fresh
// data directory and writes config (JSON) beside it; it returns the
// binary, the directory and the arguments that run anxin on both, on free
// loopback ports. The event rate limit in a config is raised so that a
// test measures durability, not the throttle.
func prepareAnxin(t *testing.T, adminPW, config string) (bin, dir string, args []string) {
	t.Helper()
	return prepareAnxinOn(t, adminPW, config, state.Config{})
}

// prepareAnxinOn is prepareAnxin with the config's state section set to st
// (none when st is zero); the admin is added through the config, so into
// that state.
func prepareAnxinOn(t *testing.T, adminPW, config string, st state.Config) (bin, dir string, args []string) {
	t.Helper()
	if st.Backend != "" {
		var c map[string]any
		if err := json.Unmarshal([]byte(config), &c); err != nil {
			t.Fatalf("test config: %v", err)
		}
		c["state"] = st
		b, _ := json.Marshal(c)
		config = string(b)
	}
	bin = buildAnxin(t)
	dir = t.TempDir()
	return bin, dir, setUpAnxin(t, bin, dir, filepath.Join(dir, "data"), adminPW, config)
}

// setUpAnxin writes config into dir and adds the admin to the state it
// names (the bbolt file in dataDir unless it names another), returning
// anxin's arguments.
func setUpAnxin(t *testing.T, bin, dir, dataDir, adminPW, config string) []string {
	t.Helper()
	path := filepath.Join(dir, "anxin.json")
	writeFile(t, path, config)
	add := exec.Command(bin, "user", "add", "-name", "admin", "-role", "admin", "-data-dir", dataDir)
	add.Args = append(add.Args, "-config", path)
	add.Stdin = strings.NewReader(adminPW + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("anxin user add: %v\n%s", err, out)
	}
	return []string{"-config", path, "-data-dir", dataDir, "-mqtt", freeAddr(t), "-http", freeAddr(t)}
}

// anxinBuild is cmd/anxin built once for the test binary, in a directory
// TestMain removes.
var anxinBuild struct {
	once     sync.Once
	dir, bin string
	err      error
}

// buildAnxin builds cmd/anxin, once for all the tests that run it.
func buildAnxin(t *testing.T) string {
	t.Helper()
	goBin := gatewaytest.NeedBinary(t, "go")
	anxinBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "anxin-bin-")
		if err != nil {
			anxinBuild.err = err
			return
		}
		anxinBuild.dir, anxinBuild.bin = dir, filepath.Join(dir, "anxin")
		if out, err := exec.Command(goBin, "build", "-o", anxinBuild.bin, "github.com/anxin-care/anxin/cmd/anxin").CombinedOutput(); err != nil {
			anxinBuild.err = fmt.Errorf("go build cmd/anxin: %w\n%s", err, out)
		}
	})
	if anxinBuild.err != nil {
		t.Fatal(anxinBuild.err)
	}
	return anxinBuild.bin
}

// buildCmd builds cmd/name into the test's temporary directory.
func buildCmd(t *testing.T, name string) string {
	t.Helper()
	goBin := gatewaytest.NeedBinary(t, "go")
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command(goBin, "build", "-o", bin, "github.com/anxin-care/anxin/cmd/"+name).CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/%s: %v\n%s", name, err, out)
	}
	return bin
}

// anxinProc is one run of the anxin binary.
type anxinProc struct {
	cmd       *exec.Cmd
	exited    chan struct{}
	log       string
	base      string // http://127.0.0.1:port
	mqtt      string // tcp://127.0.0.1:port
	ready     time.Time
	waitError error
}

// startAnxin runs anxin with args, its log in logPath, and returns once
// /healthz answers. The process is killed when the test ends, and its log
// is shown if the test failed.
func startAnxin(t *testing.T, bin, logPath string, args []string) *anxinProc {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &anxinProc{cmd: exec.Command(bin, args...), exited: make(chan struct{}), log: logPath}
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-http":
			p.base = "http://" + args[i+1]
		case "-mqtt":
			p.mqtt = "tcp://" + args[i+1]
		}
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start anxin: %v", err)
	}
	go func() {
		p.waitError = p.cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("%s (tail):\n%s", filepath.Base(logPath), b)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-p.exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("anxin exited before it was healthy: %v\n%s", p.waitError, b)
		default:
		}
		if resp, err := http.Get(p.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.ready = time.Now()
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("anxin: /healthz not OK within 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *anxinProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 anxin: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("anxin still running 10 s after SIGKILL")
	}
	if !strings.Contains(fmt.Sprint(p.waitError), "killed") {
		t.Fatalf("anxin ended with %v, want killed by SIGKILL", p.waitError)
	}
}

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// provision adds a device through the API of the gateway c talks to.
func provision(t *testing.T, c *gatewaytest.Client, id string, kind devices.Kind) string {
	t.Helper()
	var out struct{ Password string }
	if code := c.Do("POST", "/api/v1/devices", map[string]any{"id": id, "kind": kind}, &out); code != 201 {
		t.Fatalf("provision %s: HTTP %d", id, code)
	}
	return out.Password
}

// allAlarms lists every alarm, open or closed.
func allAlarms(t *testing.T, c *gatewaytest.Client) []alerting.Alarm {
	t.Helper()
	var out struct{ Alarms []alerting.Alarm }
	if code := c.Do("GET", "/api/v1/alarms?state=all&limit=10000", nil, &out); code != 200 {
		t.Fatalf("GET alarms: HTTP %d", code)
	}
	return out.Alarms
}

func findAlarm(t *testing.T, c *gatewaytest.Client, device string, typ devices.EventType) alerting.Alarm {
	t.Helper()
	var found []alerting.Alarm
	for _, a := range allAlarms(t, c) {
		if a.Device == device && a.Event == string(typ) {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s %s: %d alarms after the restart, want 1", device, typ, len(found))
	}
	return found[0]
}

func connectPaho(t *testing.T, broker, id, password string) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetUsername(id).SetPassword(password).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).SetWriteTimeout(2 * time.Second).SetOrderMatters(false)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// crashEvent is one event a device sent; (device, seq) is its identity.
type crashEvent struct {
	device string
	seq    uint64
	ts     int64
	typ    devices.EventType
}

type eventKey struct {
	device string
	seq    uint64
}

func (e crashEvent) key() eventKey { return eventKey{e.device, e.seq} }

func (e crashEvent) payload() string {
	return fmt.Sprintf(`{"seq":%d,"ts":%d,"type":%q}`, e.seq, e.ts, e.typ)
}

// crashLedger is the devices' own account of what they sent and which
// publishes the broker acknowledged.
type crashLedger struct {
	mu        sync.Mutex
	publishes int
	resends   int
	acked     int
	events    map[eventKey]crashEvent
	ackedKeys map[eventKey]bool
	// ack is signalled after every PUBACK.
	ack chan struct{}
}

func newCrashLedger() *crashLedger {
	return &crashLedger{events: map[eventKey]crashEvent{}, ackedKeys: map[eventKey]bool{}, ack: make(chan struct{}, 1)}
}

func (l *crashLedger) sent(e crashEvent, resend bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.publishes++
	if resend {
		l.resends++
	}
	l.events[e.key()] = e
}

func (l *crashLedger) result(e crashEvent, acked bool) {
	if !acked {
		return
	}
	l.mu.Lock()
	l.acked++
	l.ackedKeys[e.key()] = true
	l.mu.Unlock()
	select {
	case l.ack <- struct{}{}:
	default:
	}
}

func (l *crashLedger) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked
}

func (l *crashLedger) drainAcks() {
	select {
	case <-l.ack:
	default:
	}
}

type crashFigures struct{ publishes, resends, distinct, acked, ackedDistinct int }

func (l *crashLedger) figures() crashFigures {
	l.mu.Lock()
	defer l.mu.Unlock()
	return crashFigures{l.publishes, l.resends, len(l.events), l.acked, len(l.ackedKeys)}
}

// loadDevice sends events round-robin over its types at crashPace, with
// up to crashWindow publishes in flight, until stop or its quota is sent.
type loadDevice struct {
	id, password string
	types        []devices.EventType
	client       paho.Client
	ledger       *crashLedger
}

func (d *loadDevice) send(stop, abandon <-chan struct{}) {
	var inflight sync.WaitGroup
	defer inflight.Wait()
	window := make(chan struct{}, crashWindow)
	tick := time.NewTicker(crashPace)
	defer tick.Stop()
	topic := devices.Topic(d.id, devices.ChannelEvent)
	var prev crashEvent
	var seq uint64
	for n := 1; seq < uint64(crashPerType*len(d.types)); n++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		ev, resend := prev, n%crashResendEvery == 0 && prev.seq != 0
		if !resend {
			seq++
			ev = crashEvent{device: d.id, seq: seq, ts: time.Now().UnixMilli(), typ: d.types[int(seq-1)%len(d.types)]}
		}
		select {
		case window <- struct{}{}:
		case <-stop:
			return
		}
		if !d.client.IsConnectionOpen() {
			return
		}
		d.ledger.sent(ev, resend)
		tok := d.client.Publish(topic, 1, false, ev.payload())
		inflight.Go(func() {
			defer func() { <-window }()
			select {
			case <-tok.Done():
				d.ledger.result(ev, tok.Error() == nil)
			case <-abandon:
			}
		})
		prev = ev
	}
}

// devType is one device's alarms of one event type: at most one, here,
// since nothing clears or closes them.
type devType struct {
	device string
	typ    devices.EventType
}

// alarmSnapshot is what the gateway holds for the test's devices.
type alarmSnapshot struct {
	alarms, events int
	alarmOf        map[devType]string
	counts         map[string]int // alarm id → count
}

func (s alarmSnapshot) sameAs(o alarmSnapshot) bool {
	return s.alarms == o.alarms && s.events == o.events && fmt.Sprint(s.counts) == fmt.Sprint(o.counts)
}

// check reads every alarm of the test's devices through the API and holds
// it against the ledger. Per (device, type): at most one alarm; one for
// every type with a PUBACKed event; a count no lower than the PUBACKed
// events of that type (none lost) and no higher than the distinct events
// sent (none counted twice); and on the alarm only seqs that were sent as
// that type, each at most once across the device.
//
// Consecutive repeats share one timeline entry, so the count is what says
// how many events an alarm holds; resendAcked then proves, event by event,
// that each PUBACKed (device, seq) is known and belongs to its alarm.
func (l *crashLedger) check(t *testing.T, c *gatewaytest.Client) alarmSnapshot {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	sent := map[devType]map[uint64]bool{}
	for k, e := range l.events {
		dt := devType{k.device, e.typ}
		if sent[dt] == nil {
			sent[dt] = map[uint64]bool{}
		}
		sent[dt][k.seq] = true
	}
	acked := map[devType]int{}
	for k := range l.ackedKeys {
		acked[devType{k.device, l.events[k].typ}]++
	}
	snap := alarmSnapshot{alarmOf: map[devType]string{}, counts: map[string]int{}}
	onTimeline := map[eventKey]string{} // event → alarm id
	lost := 0
	for _, listed := range allAlarms(t, c) {
		if !strings.HasPrefix(listed.Device, "crash-") || listed.Device == "crash-esc" {
			continue
		}
		var a alerting.Alarm
		if code := c.Do("GET", "/api/v1/alarms/"+listed.ID, nil, &a); code != 200 {
			t.Fatalf("GET alarm %s: HTTP %d", listed.ID, code)
		}
		dt := devType{a.Device, devices.EventType(a.Event)}
		if other, dup := snap.alarmOf[dt]; dup {
			t.Errorf("%s %s has two alarms, %s and %s", a.Device, a.Event, other, a.ID)
		}
		snap.alarmOf[dt] = a.ID
		snap.alarms++
		snap.events += a.Count
		snap.counts[a.ID] = a.Count
		switch {
		case a.Count < acked[dt]:
			lost += acked[dt] - a.Count
			t.Errorf("alarm %s (%s %s) counts %d events, but %d were PUBACKed", a.ID, a.Device, a.Event, a.Count, acked[dt])
		case a.Count > len(sent[dt]):
			t.Errorf("alarm %s (%s %s) counts %d events, but only %d distinct were sent", a.ID, a.Device, a.Event, a.Count, len(sent[dt]))
		}
		if !sent[dt][a.Seq] {
			t.Errorf("alarm %s (%s %s): newest seq %d was never sent as that type", a.ID, a.Device, a.Event, a.Seq)
		}
		if len(a.Timeline) == 0 || a.Timeline[0].Action != alerting.ActRaised {
			t.Errorf("alarm %s: timeline does not begin with its raise: %+v", a.ID, a.Timeline)
		}
		for _, e := range a.Timeline {
			if e.Action != alerting.ActRaised && e.Action != alerting.ActRepeated {
				continue
			}
			k := eventKey{a.Device, e.Seq}
			if other, twice := onTimeline[k]; twice {
				t.Errorf("%s seq %d is on alarm %s and again on %s", a.Device, e.Seq, other, a.ID)
			}
			onTimeline[k] = a.ID
			if !sent[dt][e.Seq] {
				t.Errorf("alarm %s (%s %s) has seq %d, which was never sent as that type", a.ID, a.Device, a.Event, e.Seq)
			}
		}
	}
	for dt, n := range acked {
		if _, ok := snap.alarmOf[dt]; !ok {
			lost += n
			t.Errorf("%s %s: %d PUBACKed events but no alarm", dt.device, dt.typ, n)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d PUBACKed events lost in the crash", lost, len(l.ackedKeys))
	}
	return snap
}

// resendAcked connects every device again and resends each PUBACKed event
// with its seq and ts, as a device that never heard its PUBACKs would. Each
// must be PUBACKed again and answered with a "received" that names the
// alarm of its (device, type): the gateway knows that very event.
func (l *crashLedger) resendAcked(t *testing.T, broker string, fleet []*loadDevice, snap alarmSnapshot) int {
	t.Helper()
	l.mu.Lock()
	byDevice := map[string][]crashEvent{}
	for k := range l.ackedKeys {
		byDevice[k.device] = append(byDevice[k.device], l.events[k])
	}
	l.mu.Unlock()
	var mu sync.Mutex
	resent, failed := 0, 0
	answered := map[eventKey]string{} // event → the alarm its reassurance named
	var wg sync.WaitGroup
	for _, d := range fleet {
		evs := byDevice[d.id]
		slices.SortFunc(evs, func(a, b crashEvent) int { return cmp.Compare(a.seq, b.seq) })
		client := connectPaho(t, broker, d.id, d.password)
		sub := client.Subscribe(devices.Topic(d.id, devices.ChannelCmd), 1, func(_ paho.Client, m paho.Message) {
			var r gateway.Reassure
			if json.Unmarshal(m.Payload(), &r) == nil && r.State == "received" {
				mu.Lock()
				answered[eventKey{d.id, r.Seq}] = r.Alarm
				mu.Unlock()
			}
		})
		if !sub.WaitTimeout(10*time.Second) || sub.Error() != nil {
			t.Fatalf("%s: subscribe to cmd: %v", d.id, sub.Error())
		}
		wg.Go(func() {
			window := make(chan struct{}, crashWindow)
			var inflight sync.WaitGroup
			for _, ev := range evs {
				window <- struct{}{}
				tok := client.Publish(devices.Topic(d.id, devices.ChannelEvent), 1, false, ev.payload())
				inflight.Go(func() {
					defer func() { <-window }()
					ok := tok.WaitTimeout(10*time.Second) && tok.Error() == nil
					mu.Lock()
					if ok {
						resent++
					} else {
						failed++
					}
					mu.Unlock()
				})
			}
			inflight.Wait()
		})
	}
	waitGroup(t, &wg, 30*time.Second, "resends to be PUBACKed")
	if failed > 0 {
		t.Fatalf("%d resent events got no PUBACK", failed)
	}
	pollUntil(t, 10*time.Second, "reassurance for every resent event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(answered) >= resent
	})
	mu.Lock()
	defer mu.Unlock()
	wrong := 0
	for _, evs := range byDevice {
		for _, ev := range evs {
			want := snap.alarmOf[devType{ev.device, ev.typ}]
			if got := answered[ev.key()]; got != want {
				if wrong++; wrong <= 10 {
					t.Errorf("resent %s seq %d (%s): answered with alarm %q, want %s", ev.device, ev.seq, ev.typ, got, want)
				}
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d resent events answered with the wrong alarm", wrong, resent)
	}
	return resent
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still waiting for %s after %s", what, d)
	}
}

// pollUntil checks cond every 20 ms until it holds or d has passed.
func pollUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, d.Round(time.Millisecond))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
