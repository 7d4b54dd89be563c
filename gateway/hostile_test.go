package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// The hostile corpus run: testdata/hostile/mqtt.txt and http.txt replayed
// from raw clients against a real anxin process, while a well-behaved call
// button keeps pressing. What a user would notice is asserted: the
// gateway stays up, its memory stays bounded, every refusal is clear (a
// code, a counted reason, a JSON error that names the fault), nothing
// forged reaches another device, and the button's presses are answered
// throughout (how fast is printed beside the quiet figure, not asserted:
// the machine is shared).

// hostilePeakBound is how far the gateway's peak resident memory may rise
// over its size after warm-up while the corpus runs. What the attack may
// make it hold legitimately: 500 silent sockets at once, ≈ 40 KiB each
// until the CONNECT timeout (two goroutines' stacks, mochi's buffers and
// its write queue: broker.go's clientWritesPending), ≈ 20 MiB; a 64 KiB API
// body or a 256 KiB push per request; 4.6 KiB per device packet; the
// 8 MiB of a CSV import being parsed; and the garbage of ~1,000 short
// connections before a GC lets the heap double. Measured: ≈ 50 MiB.
// Buffering any one of the 100 MB bodies, or the 256 MB a CONNECT
// claims, crosses it on its own.
const hostilePeakBound = 96 << 20

// hostileSettledBound is how far its resident memory may stay above the
// warm-up figure once the attack is over: the runtime keeps much of the
// peak's heap for a while before it returns it to the system.
const hostileSettledBound = 64 << 20

const hostileAdminPW = "hostile-test-admin-password"
const hostileIngestToken = "hostile-ingest-token-0123456789"

func TestHostileCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a real anxin process; skipped with -short")
	}
	begin := time.Now()
	mqttCases, err := readCorpus(filepath.Join("testdata", "hostile", "mqtt.txt"))
	if err != nil {
		t.Fatal(err)
	}
	httpCases, err := readCorpus(filepath.Join("testdata", "hostile", "http.txt"))
	if err != nil {
		t.Fatal(err)
	}
	bin, dir, args := prepareAnxin(t, hostileAdminPW, hostileConfig(t))
	proc := startAnxin(t, bin, filepath.Join(dir, "anxin.log"), args)
	addr := strings.TrimPrefix(proc.mqtt, "tcp://")
	admin := gatewaytest.LoginAt(t, proc.base, "admin", hostileAdminPW)
	pw := map[string]string{}
	for _, id := range []string{"hostile-1", "hostile-2", "hostile-3", "victim-1", "calm-1"} {
		pw[id] = provision(t, admin, id, devices.KindCallButton)
	}
	vars := strings.NewReplacer("$DEV2", "hostile-2", "$PW2", pw["hostile-2"], "$DEV3", "hostile-3", "$PW3", pw["hostile-3"],
		"$DEV", "hostile-1", "$PW", pw["hostile-1"], "$VICTIM", "victim-1", "$INGESTTOKEN", hostileIngestToken)

	victim, err := dialButton(addr, "victim-1", pw["victim-1"], nil)
	if err != nil {
		t.Fatal(err)
	}
	calm, err := dialButton(addr, "calm-1", pw["calm-1"], nil)
	if err != nil {
		t.Fatal(err)
	}
	var seq uint64
	quiet := pressFor(t, calm, &seq, 30, nil)
	warm := readProc(t, proc)

	// The half-open sockets wait for the gateway's timeouts: they run
	// through the whole attack.
	type slowResult struct {
		c        corpusCase
		problems []string
	}
	var slow []chan slowResult
	for _, c := range mqttCases {
		if !slowCase(c) {
			continue
		}
		ch := make(chan slowResult, 1)
		slow = append(slow, ch)
		go func() { ch <- slowResult{c, playMQTTCase(t, addr, proc.base, c, vars)} }()
	}

	stop := make(chan struct{})
	var during []pressTiming
	var wg sync.WaitGroup
	wg.Go(func() { during = pressFor(t, calm, &seq, 0, stop) })

	ran := 0
	t.Run("mqtt", func(t *testing.T) {
		for _, c := range mqttCases {
			if slowCase(c) {
				continue
			}
			ran++
			t.Run(c.name, func(t *testing.T) {
				for _, p := range playMQTTCase(t, addr, proc.base, c, vars) {
					t.Errorf("mqtt.txt:%d %s: %s", c.line, c.name, p)
				}
			})
		}
	})
	h := newHostileHTTP(proc.base, admin.Token)
	tricks := 0
	t.Run("http", func(t *testing.T) {
		for _, c := range httpCases {
			ran++
			t.Run(c.name, func(t *testing.T) {
				var problems []string
				if len(c.steps) > 0 && c.steps[0].verb == "trick" {
					var n int
					n, problems = h.playTricks(c, vars)
					tricks += n
				} else {
					problems = h.playHTTPCase(c, vars)
				}
				for _, p := range problems {
					t.Errorf("http.txt:%d %s: %s", c.line, c.name, p)
				}
			})
		}
	})
	t.Run("half-open", func(t *testing.T) {
		for _, ch := range slow {
			r := <-ch
			ran++
			for _, p := range r.problems {
				t.Errorf("mqtt.txt:%d %s: %s", r.c.line, r.c.name, p)
			}
		}
	})
	close(stop)
	wg.Wait()
	attacked := readProc(t, proc)

	// Up, and answering.
	if resp, err := http.Get(proc.base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz after the attack: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	select {
	case <-proc.exited:
		t.Fatalf("anxin exited during the attack: %v", proc.waitError)
	default:
	}
	for _, p := range during {
		if p.err != nil {
			t.Errorf("calm-1 during the attack: %v", p.err)
		}
	}

	// Nothing forged reached the victim, live or retained.
	vseq := uint64(1)
	if _, _, err := victim.press(vseq, "call.press", 10*time.Second); err != nil {
		t.Fatalf("victim-1's own press: %v", err)
	}
	victim.mu.Lock()
	stray := slices.Clone(victim.stray)
	victim.mu.Unlock()
	for _, m := range stray {
		t.Errorf("victim-1 received %s, which it never asked for", m)
	}
	listen := gatewaytest.DialRaw(t, addr)
	if ack, err := listen.Connect(gatewaytest.RawConnect{ClientID: "victim-1:listen", User: "victim-1", Pass: pw["victim-1"]}); err != nil || ack.ReasonCode != 0 {
		t.Fatalf("victim listener: %v %+v", err, ack)
	}
	listen.Subscribe("anxin/v1/victim-1/cmd", 1, 1)
	if pk, err := listen.Next(5 * time.Second); err != nil || pk.FixedHeader.Type != packets.Suback {
		t.Fatalf("no SUBACK: %v %+v", err, pk)
	}
	vseq++
	if _, _, err := victim.press(vseq, "call.press", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if pk, err := listen.NextPublish(5 * time.Second); err != nil || pk.FixedHeader.Retain || !strings.Contains(string(pk.Payload), fmt.Sprintf(`"seq":%d`, vseq)) {
		t.Errorf("a new subscriber of victim-1's cmd first got %s (retain %v, %v), want the received for seq %d", pk.Payload, pk.FixedHeader.Retain, err, vseq)
	}
	if n := len(allAlarms(t, admin)); n > 3 { // calm-1's, victim-1's and hostile-1's own presses
		for _, a := range allAlarms(t, admin) {
			t.Logf("alarm %s %s %s count %d", a.ID, a.Device, a.Type, a.Count)
		}
		t.Errorf("%d alarms after the attack, want at most 3", n)
	}

	// Bounded memory.
	if rise := attacked.peakRSS - warm.rss; rise > hostilePeakBound {
		t.Errorf("peak RSS rose by %d MiB during the attack (from %d MiB), over the bound of %d MiB", rise>>20, warm.rss>>20, hostilePeakBound>>20)
	}
	settled := readProc(t, proc)
	for i := 0; i < 20 && settled.rss-warm.rss > hostileSettledBound; i++ {
		time.Sleep(250 * time.Millisecond) // the runtime returns memory to the system in the background
		settled = readProc(t, proc)
	}
	if rise := settled.rss - warm.rss; rise > hostileSettledBound {
		t.Errorf("RSS still %d MiB above warm-up after the attack, over the bound of %d MiB", rise>>20, hostileSettledBound>>20)
	}

	t.Logf("hostile corpus: %d cases (%d MQTT, %d HTTP; %d path tricks tried), in %s", ran, len(mqttCases), len(httpCases), tricks, time.Since(begin).Round(time.Second))
	t.Logf("gateway memory: RSS %d MiB after warm-up, peak %d MiB during the attack, %d MiB after; heap in use %d → %d MiB; goroutines %d → %d",
		warm.rss>>20, attacked.peakRSS>>20, settled.rss>>20, warm.heap>>20, settled.heap>>20, warm.goroutines, settled.goroutines)
	t.Logf("calm-1 press → PUBACK / → received, quiet:  %s", summarize(quiet))
	t.Logf("calm-1 press → PUBACK / → received, attack: %s", summarize(during))
}

// hostileConfig is the corpus gateway's config: a CTWing integration, so
// that the ingest path has something to refuse for.
func hostileConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "devices", "testdata", "ingest_ctwing_smoke_alarm", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ad struct{ Config json.RawMessage }
	if err := json.Unmarshal(b, &ad); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{"integrations": {"ctwing_smoke": {"platform": "ctwing", "token": %q, "vendor_json": %s}}}`, hostileIngestToken, ad.Config)
}

// pressTiming is one press of a well-behaved device.
type pressTiming struct {
	puback, received time.Duration
	err              error
}

// pressFor presses n times, or until stop, a press at a time with a pause
// of 50 ms, as an elder pressing again would.
func pressFor(t *testing.T, d *rawButton, seq *uint64, n int, stop <-chan struct{}) []pressTiming {
	var out []pressTiming
	for i := 0; n == 0 || i < n; i++ {
		select {
		case <-stop:
			return out
		default:
		}
		*seq++
		p, r, err := d.press(*seq, "call.press", 10*time.Second)
		out = append(out, pressTiming{p, r, err})
		if err != nil && n > 0 {
			t.Fatalf("quiet press: %v", err)
		}
		select {
		case <-stop:
			return out
		case <-time.After(50 * time.Millisecond):
		}
	}
	return out
}

// summarize is "n presses: PUBACK median 1.2ms p90 3ms max 9ms; received …".
func summarize(ps []pressTiming) string {
	var acks, recv []time.Duration
	failed := 0
	for _, p := range ps {
		if p.err != nil {
			failed++
			continue
		}
		acks, recv = append(acks, p.puback), append(recv, p.received)
	}
	q := func(ds []time.Duration) string {
		if len(ds) == 0 {
			return "none"
		}
		slices.Sort(ds)
		at := func(f float64) time.Duration { return ds[int(f*float64(len(ds)-1))].Round(10 * time.Microsecond) }
		return fmt.Sprintf("median %v p90 %v max %v", at(0.5), at(0.9), ds[len(ds)-1].Round(10*time.Microsecond))
	}
	return fmt.Sprintf("%d presses (%d failed): PUBACK %s; received %s", len(ps), failed, q(acks), q(recv))
}

// procFigures are a process's memory and goroutines: RSS, peak RSS and
// anonymous RSS from /proc, heap and goroutines from its /metrics. The
// anonymous part leaves out file pages mapped in, such as bbolt's data
// file, which grows with the alarms it keeps.
type procFigures struct {
	rss, peakRSS, anonRSS, heap int64
	goroutines                  int
}

func readProc(t *testing.T, p *anxinProc) procFigures {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("read the gateway's memory: %v", err)
	}
	var f procFigures
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			f.rss = kb << 10
		case "VmHWM":
			f.peakRSS = kb << 10
		case "RssAnon":
			f.anonRSS = kb << 10
		}
	}
	f.heap = int64(gatewaytest.Metric(t, p.base, "go_memstats_heap_inuse_bytes"))
	f.goroutines = int(gatewaytest.Metric(t, p.base, "go_goroutines"))
	return f
}
