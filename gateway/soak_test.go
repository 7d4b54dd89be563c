package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
)

// The soak: a fleet of call buttons (2,000 by default) on raw MQTT
// connections against a real anxin process for ANXIN_SOAK (a duration:
// ANXIN_SOAK=1h), pressing, sending telemetry and reconnecting, while an
// operator acknowledges and resolves. Not in the default run.
//
//	ANXIN_SOAK=1h go test -run TestSoak -timeout 2h ./gateway/
//
// Every minute it prints the gateway's RSS, heap and goroutines and the
// fleet's presses sent, PUBACKed and answered ("received"). At the end:
// every PUBACKed press is counted exactly once in its device's alarms (0
// lost), every operator action answered 200 is on its alarm's timeline,
// and memory and goroutines are flat after warm-up (soakFlat).
const (
	soakDefaultDevices = 2000
	// A button presses every soakPressMin…Max (≈ 33 presses a second for
	// 2,000), sends QoS 0 telemetry every soakTelemetry, and reconnects
	// after soakChurnMin…Max (≈ 10 reconnects a second), half of the time
	// without a DISCONNECT (a dropped network).
	soakPressMin, soakPressMax = 30 * time.Second, 90 * time.Second
	soakTelemetry              = 20 * time.Second
	soakChurnMin, soakChurnMax = time.Minute, 6 * time.Minute
	// soakConnectRate spreads the fleet's first connections.
	soakConnectRate = 200 // a second
	// soakSources: the fleet connects from 127.0.0.1 … 127.0.0.8, so that no
	// one source address runs short of ports however long the churn.
	soakSources = 8
	// soakOperatorPace: the operator acts on one alarm this often.
	soakOperatorPace = 100 * time.Millisecond
	soakReport       = time.Minute
	// soakProbe: how often the heap is read between reports, for its least
	// value of the minute (soakFlat).
	soakProbe = 5 * time.Second
)

// soakFlat says what "flat after warm-up" means. Warm-up is the first
// sixth of the run, at least two minutes (the fleet connected, and the
// open alarm queue at its working size: every button has pressed by then).
// Of the minute samples after it, the median of the last third is held
// against the median of the first third: the least heap in use of each
// minute (read every soakProbe: a single reading lands anywhere on the
// GC's sawtooth, up to twice the live heap; the least is near the live
// heap) and the anonymous RSS may rise by 25 % plus 16 MiB, and no
// sample's goroutines may exceed the first third's median by
// 10 % plus 100 (at any moment a few dozen devices are reconnecting, two
// goroutines each). Anonymous RSS, because the pages of bbolt's data file
// the process has mapped in count in its RSS and grow with every alarm
// stored, as they should (≈ 3 MiB a minute in a 15-minute run). A leak of
// a goroutine or a connection per reconnect (≈ 10 a second), or of memory
// per press, crosses this within the hour.
func soakFlat(after []soakSample) []string {
	k := max(1, len(after)/3)
	first, last := after[:k], after[len(after)-k:]
	med := func(ss []soakSample, f func(soakSample) int64) int64 {
		vs := make([]int64, len(ss))
		for i, s := range ss {
			vs[i] = f(s)
		}
		slices.Sort(vs)
		return vs[len(vs)/2]
	}
	var out []string
	for _, m := range []struct {
		name string
		f    func(soakSample) int64
	}{{"least heap in use", func(s soakSample) int64 { return s.leastHeap }}, {"anonymous RSS", func(s soakSample) int64 { return s.anonRSS }}} {
		from, to := med(first, m.f), med(last, m.f)
		if lim := from + from/4 + 16<<20; to > lim {
			out = append(out, fmt.Sprintf("%s: median %d MiB in the last third, over %d MiB (%d MiB in the first third)", m.name, to>>20, lim>>20, from>>20))
		}
	}
	g := med(first, func(s soakSample) int64 { return int64(s.goroutines) })
	for _, s := range after {
		if lim := g + g/10 + 100; int64(s.goroutines) > lim {
			out = append(out, fmt.Sprintf("goroutines %d at %s, over %d (%d in the first third)", s.goroutines, s.at, lim, g))
		}
	}
	return out
}

type soakSample struct {
	at                 time.Duration
	rss, anonRSS, heap int64
	leastHeap          int64 // the least heap in use read during the minute
	goroutines         int
	sent, acked, recvd int64
}

func TestSoak(t *testing.T) {
	v := os.Getenv("ANXIN_SOAK")
	if v == "" {
		t.Skip("ANXIN_SOAK=<duration> (e.g. 1h) runs the soak")
	}
	length, err := time.ParseDuration(v)
	if err != nil || length < time.Minute {
		t.Fatalf("ANXIN_SOAK=%q: want a duration of at least 1m", v)
	}
	n := soakDefaultDevices
	if v := os.Getenv("ANXIN_SOAK_DEVICES"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("ANXIN_SOAK_DEVICES=%q: want a number", v)
		}
	}
	warmup := max(2*time.Minute, length/6)

	const adminPW = "soak-test-admin-password"
	bin, dir, args := prepareAnxin(t, adminPW, `{}`)
	proc := startAnxin(t, bin, filepath.Join(dir, "anxin.log"), args)
	addr := strings.TrimPrefix(proc.mqtt, "tcp://")
	admin := gatewaytest.LoginAt(t, proc.base, "admin", adminPW)
	fleet := importFleet(t, proc.base, admin, n)
	t.Logf("soak: %d devices for %s (warm-up %s), gateway pid %d", n, length, warmup, proc.cmd.Process.Pid)

	var sent, acked, recvd, reconnects atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for i, d := range fleet {
		d.local = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%soakSources))}
		d.sent, d.acked, d.recvd, d.reconnects = &sent, &acked, &recvd, &reconnects
		wg.Go(func() {
			select { // spread the first connections
			case <-time.After(time.Duration(i) * time.Second / soakConnectRate):
			case <-stop:
				return
			}
			d.run(addr, stop)
		})
	}
	op := &stormOperator{}
	var opWG sync.WaitGroup
	opWG.Go(func() { soakOperate(op, proc.base, admin.Token, stop) })

	var samples []soakSample
	leastHeap := int64(-1)
	sample := func() soakSample {
		f := readProc(t, proc)
		if leastHeap < 0 || f.heap < leastHeap {
			leastHeap = f.heap
		}
		s := soakSample{at: time.Since(start).Round(time.Second), rss: f.rss, anonRSS: f.anonRSS, heap: f.heap, leastHeap: leastHeap,
			goroutines: f.goroutines, sent: sent.Load(), acked: acked.Load(), recvd: recvd.Load()}
		leastHeap = -1
		op.mu.Lock()
		actions := len(op.done)
		op.mu.Unlock()
		t.Logf("soak %7s  RSS %4d MiB (anonymous %4d)  heap %4d MiB (least %4d)  goroutines %5d  connected %4.0f  presses sent %7d PUBACKed %7d received %7d  alarms raised %6.0f open %4.0f  operator actions %5d  reconnects %6d",
			s.at, s.rss>>20, s.anonRSS>>20, s.heap>>20, s.leastHeap>>20, s.goroutines, gatewaytest.Metric(t, proc.base, "anxin_devices_connected"),
			s.sent, s.acked, s.recvd, sumMetric(t, proc.base, "anxin_alarms_raised_total"), sumMetric(t, proc.base, "anxin_alarms_open"),
			actions, reconnects.Load())
		return s
	}
	tick, probe := time.NewTicker(soakReport), time.NewTicker(soakProbe)
	defer probe.Stop()
	for end := time.After(length); ; {
		select {
		case <-probe.C:
			if h := int64(gatewaytest.Metric(t, proc.base, "go_memstats_heap_inuse_bytes")); leastHeap < 0 || h < leastHeap {
				leastHeap = h
			}
			continue
		case <-tick.C:
			samples = append(samples, sample())
			select {
			case <-proc.exited:
				t.Fatalf("anxin exited during the soak: %v", proc.waitError)
			default:
			}
			continue
		case <-end:
		}
		break
	}
	tick.Stop()
	close(stop)
	opWG.Wait()
	waitGroup(t, &wg, time.Minute, "the fleet to stop")

	// Every press in flight at the end is sent again until PUBACKed, as
	// firmware does on its next connection.
	var drain sync.WaitGroup
	for _, d := range fleet {
		drain.Go(func() { d.drain(addr) })
	}
	waitGroup(t, &drain, 2*time.Minute, "the presses in flight to be PUBACKed")
	last := sample()

	// 0 lost: each device's PUBACKed presses, counted once in its alarms.
	alarms := fetchAlarms(t, admin, start.Add(-time.Minute), time.Now().Add(time.Minute))
	count := map[string]int{}
	byID := map[string]alerting.Alarm{}
	for _, a := range alarms {
		count[a.Device] += a.Count
		byID[a.ID] = a
	}
	lost, twice, pending := 0, 0, 0
	for _, d := range fleet {
		d.mu.Lock()
		n := len(d.ackedSeqs)
		if d.pending != 0 {
			pending++
		}
		d.mu.Unlock()
		switch c := count[d.id]; {
		case c < n:
			lost += n - c
			t.Errorf("%s: %d presses PUBACKed, its alarms count %d", d.id, n, c)
		case c > n:
			twice += c - n
			t.Errorf("%s: %d presses PUBACKed, its alarms count %d: counted twice", d.id, n, c)
		}
	}
	if pending > 0 {
		t.Errorf("%d devices still have a press not PUBACKed after the drain", pending)
	}
	op.mu.Lock()
	actions := slices.Clone(op.done)
	op.mu.Unlock()
	missing := 0
	for _, act := range actions {
		a, ok := byID[act.alarm]
		if !ok || !slices.ContainsFunc(a.Timeline, func(e alerting.Entry) bool { return e.Action == act.action }) {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d operator actions answered 200 are not on their alarm's timeline", missing, len(actions))
	}

	// Flat after warm-up.
	var after []soakSample
	for _, s := range samples {
		if s.at >= warmup {
			after = append(after, s)
		}
	}
	if len(after) < 2 {
		t.Logf("soak: only %d samples after warm-up; flatness not judged (run longer)", len(after))
	} else {
		for _, p := range soakFlat(after) {
			t.Errorf("soak: not flat after warm-up: %s", p)
		}
	}
	t.Logf("soak: %s, %d devices: %d presses sent, %d PUBACKed, %d answered received; %d lost, %d counted twice; %d alarms; %d operator actions (%d not on a timeline); %d reconnects; RSS %d MiB, heap %d MiB, goroutines %d at the end",
		length, len(fleet), last.sent, last.acked, last.recvd, lost, twice, len(alarms), len(actions), missing, reconnects.Load(),
		last.rss>>20, last.heap>>20, last.goroutines)
}

// importFleet provisions n call buttons in one CSV import.
func importFleet(t *testing.T, base string, admin *gatewaytest.Client, n int) []*soakDevice {
	t.Helper()
	var csv strings.Builder
	csv.WriteString("id,kind\n")
	for i := range n {
		fmt.Fprintf(&csv, "soak-%04d,call_button\n", i)
	}
	req, _ := http.NewRequest("POST", base+"/api/v1/devices/import", strings.NewReader(csv.String()))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+admin.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res httpapi.ImportResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode >= 300 {
		t.Fatalf("import %d devices: HTTP %d %v %s", n, resp.StatusCode, err, res.Error)
	}
	if len(res.Created) != n {
		t.Fatalf("import created %d devices, want %d", len(res.Created), n)
	}
	fleet := make([]*soakDevice, n)
	for i, c := range res.Created {
		fleet[i] = &soakDevice{id: c.ID, password: c.Password, ackedSeqs: map[uint64]bool{}}
	}
	return fleet
}

// soakDevice is a call button of the soak: presses, telemetry and
// reconnects on a rawButton. Its seq survives reconnects; a press not
// PUBACKed on its connection is sent again, same seq, on the next one.
type soakDevice struct {
	id, password string
	local        net.Addr

	sent, acked, recvd, reconnects *atomic.Int64

	mu        sync.Mutex
	seq       uint64
	pending   uint64 // the press in flight, 0 for none
	ackedSeqs map[uint64]bool
}

func (d *soakDevice) run(addr string, stop <-chan struct{}) {
	nextPress := time.Now().Add(randBetween(0, soakPressMax))
	for {
		b, err := dialButton(addr, d.id, d.password, d.local)
		if err != nil {
			select {
			case <-stop:
				return
			case <-time.After(randBetween(time.Second, 3*time.Second)):
				continue
			}
		}
		d.session(b, &nextPress, stop)
		select {
		case <-stop:
			return
		default:
			d.reconnects.Add(1)
		}
	}
}

// session presses and reports on one connection until its churn time,
// stop, or the connection failing.
func (d *soakDevice) session(b *rawButton, nextPress *time.Time, stop <-chan struct{}) {
	defer b.close()
	churn := time.After(randBetween(soakChurnMin, soakChurnMax))
	tel := time.NewTicker(soakTelemetry)
	defer tel.Stop()
	for {
		d.mu.Lock()
		resend := d.pending != 0
		d.mu.Unlock()
		if resend || !time.Now().Before(*nextPress) {
			if !d.press(b) {
				return
			}
			*nextPress = time.Now().Add(randBetween(soakPressMin, soakPressMax))
		}
		select {
		case <-stop:
			return
		case <-churn:
			if rand.N(2) == 0 { // a dropped network: no DISCONNECT
				b.conn.Close()
			}
			return
		case <-tel.C:
			if _, err := b.publish("telemetry", 0, fmt.Appendf(nil, `{"ts":%d,"battery":%d,"rssi":%d}`,
				time.Now().UnixMilli(), 50+rand.N(50), -50-rand.N(40))); err != nil {
				return
			}
		case <-time.After(time.Until(*nextPress)):
		case <-b.closed:
			return
		}
	}
}

// press sends the pending press or a new one; false when the session
// should end (no PUBACK, or no "received", on this connection).
func (d *soakDevice) press(b *rawButton) bool {
	d.mu.Lock()
	if d.pending == 0 {
		d.seq++
		d.pending = d.seq
		d.sent.Add(1)
	}
	seq := d.pending
	d.mu.Unlock()
	puback, received, err := b.press(seq, "call.press", 30*time.Second)
	if received > 0 {
		d.recvd.Add(1)
	}
	if puback > 0 { // PUBACKed on this connection: delivered
		d.mu.Lock()
		d.ackedSeqs[seq] = true
		d.pending = 0
		d.mu.Unlock()
		d.acked.Add(1)
	}
	return err == nil
}

// drain resends the press in flight, if any, until it is PUBACKed.
func (d *soakDevice) drain(addr string) {
	for range 10 {
		d.mu.Lock()
		pending := d.pending
		d.mu.Unlock()
		if pending == 0 {
			return
		}
		b, err := dialButton(addr, d.id, d.password, d.local)
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		d.press(b)
		b.close()
	}
}

func randBetween(lo, hi time.Duration) time.Duration { return lo + rand.N(hi-lo+1) }

// soakOperate acknowledges the oldest-looking open alarms and resolves
// acknowledged ones, one action each soakOperatorPace, recording each
// action the API answered 200.
func soakOperate(o *stormOperator, base, token string, stop <-chan struct{}) {
	c := &opClient{base: base, token: token}
	for {
		select {
		case <-stop:
			return
		case <-time.After(soakOperatorPace):
		}
		var open struct{ Alarms []alerting.Alarm }
		if c.do("GET", "/api/v1/alarms?state=open&limit=200", "", &open) != 200 || len(open.Alarms) == 0 {
			continue
		}
		a := open.Alarms[rand.N(len(open.Alarms))]
		path, body, act := "/ack", `{"note":"soak"}`, alerting.ActAcknowledged
		if a.State == alerting.Acknowledged {
			path, body, act = "/resolve", `{"outcome":"assisted"}`, alerting.ActResolved
		}
		if c.do("POST", "/api/v1/alarms/"+a.ID+path, body, nil) == 200 {
			o.mu.Lock()
			o.done = append(o.done, stormAction{alarm: a.ID, action: act})
			o.mu.Unlock()
		}
	}
}

// fetchAlarms reads every alarm raised between from and to, halving the
// window wherever the API's limit of 10,000 would cut it short.
func fetchAlarms(t *testing.T, c *gatewaytest.Client, from, to time.Time) []alerting.Alarm {
	t.Helper()
	const limit = 10000
	var page struct{ Alarms []alerting.Alarm }
	q := url.Values{"state": {"all"}, "limit": {strconv.Itoa(limit)},
		"from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}}
	if code := c.Do("GET", "/api/v1/alarms?"+q.Encode(), nil, &page); code != 200 {
		t.Fatalf("alarms %s…%s: HTTP %d", from, to, code)
	}
	if len(page.Alarms) < limit {
		return page.Alarms
	}
	mid := from.Add(to.Sub(from) / 2)
	seen := map[string]bool{}
	var out []alerting.Alarm
	for _, a := range append(fetchAlarms(t, c, from, mid), fetchAlarms(t, c, mid, to)...) {
		if !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, a)
		}
	}
	return out
}

// sumMetric adds up every series of a metric (all its labels).
func sumMetric(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sum := 0.0
	for sc.Scan() {
		series, value, ok := strings.Cut(sc.Text(), " ")
		if ok && (series == name || strings.HasPrefix(series, name+"{")) {
			f, _ := strconv.ParseFloat(value, 64)
			sum += f
		}
	}
	return sum
}

// TestSoakFlat: what the soak calls flat and what it calls a leak.
func TestSoakFlat(t *testing.T) {
	series := func(heapStep, goroutineStep int64) []soakSample {
		var out []soakSample
		for i := range int64(12) {
			saw := (i % 3) * 30 << 20 // the GC's sawtooth
			out = append(out, soakSample{at: time.Duration(i) * time.Minute, leastHeap: 120<<20 + saw + i*heapStep,
				anonRSS: 200 << 20, goroutines: int(4020 + i*goroutineStep)})
		}
		return out
	}
	tests := []struct {
		name  string
		after []soakSample
		flat  bool
	}{
		{"sawtooth around a level", series(0, 0), true},
		{"heap growing 8 MiB a minute", series(8<<20, 0), false},
		{"a goroutine per reconnect", series(0, 600), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if problems := soakFlat(tt.after); (len(problems) == 0) != tt.flat {
				t.Fatalf("flat = %v (%v), want %v", len(problems) == 0, problems, tt.flat)
			}
		})
	}
}
