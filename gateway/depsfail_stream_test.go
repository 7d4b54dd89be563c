package gateway_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
)

// Dependencies failing (issue 13, point 3): consoles that do not read.

// rawStream is a console on a bare TCP connection, so that the test
// decides when and how fast it reads: it records the stream positions of
// the complete frames it read.
type rawStream struct {
	conn net.Conn
	req  *http.Request
	// pace, when set, lets the console read 1 KiB every pace.
	pace   atomic.Int64 // a time.Duration
	budget int

	mu        sync.Mutex
	positions []uint64
	reloads   int           // "event: reload" frames
	ended     chan struct{} // closed at the end of the stream
	err       error
}

// dialStream opens GET /api/v1/stream as token, resuming after lastID
// when set; rcvbuf > 0 shrinks the socket's receive buffer, so that a
// console that reads nothing fills the kernel's buffers quickly.
func dialStream(t *testing.T, addr, token, lastID string, rcvbuf int) *rawStream {
	t.Helper()
	d := net.Dialer{}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
		}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	return &rawStream{conn: conn, req: req, ended: make(chan struct{})}
}

// Read is the connection, paced when pace is set.
func (s *rawStream) Read(p []byte) (int, error) {
	pace := time.Duration(s.pace.Load())
	if pace == 0 {
		return s.conn.Read(p)
	}
	if s.budget <= 0 {
		time.Sleep(pace) // the slow console's reading speed, not a wait for a result
		s.budget = 1 << 10
	}
	n, err := s.conn.Read(p[:min(len(p), s.budget)])
	s.budget -= n
	return n, err
}

// read reads the stream until it ends (or until stop says so), recording
// the position of every complete frame with an id.
func (s *rawStream) read(stop func(pos uint64) bool) {
	defer close(s.ended)
	resp, err := http.ReadResponse(bufio.NewReader(s), s.req)
	if err != nil {
		s.err = err
		return
	}
	defer resp.Body.Close()
	defer s.conn.Close() // first: closing the body would read the stream to its end
	if resp.StatusCode != http.StatusOK {
		s.err = fmt.Errorf("stream: HTTP %d", resp.StatusCode)
		return
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var id string
	reload := false
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			id = v
		}
		reload = reload || line == "event: reload"
		if line != "" || id == "" {
			continue
		}
		_, n, _ := strings.Cut(id, "-")
		var p uint64
		fmt.Sscan(n, &p)
		s.mu.Lock()
		s.positions = append(s.positions, p)
		if reload {
			s.reloads++
		}
		s.mu.Unlock()
		id, reload = "", false
		if stop != nil && stop(p) {
			return
		}
	}
}

// last is the id of the last complete frame read, as a client resumes with.
func (s *rawStream) last(boot string) (string, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.positions) == 0 {
		return "", 0
	}
	p := s.positions[len(s.positions)-1]
	return fmt.Sprintf("%s-%d", boot, p), p
}

// TestStreamSlowConsolesDropped: while ten call buttons press again and
// again, 100 consoles read nothing and one reads 1 KiB every 100 ms. A
// console that reads normally gets each change within a second and
// presses are answered as fast as before; the idle and the slow consoles
// are dropped once a frame waits stream_write_timeout (here 1 s, 15 s by
// default; falling 256 frames behind drops one too, see
// TestHubDropsReaderThatFallsBehind), the metrics and the log say so, and
// a console that reconnects with the last id it read gets every frame it
// missed, none twice.
func TestStreamSlowConsolesDropped(t *testing.T) {
	const idle = 100
	log := &lockedBuffer{}
	g := gatewaytest.Start(t, gateway.Config{StreamWriteTimeout: alerting.Duration(time.Second),
		EventRate: 1000, EventBurst: 1000}, gatewaytest.WithLog(log))
	admin := g.Admin
	var devs []*gatewaytest.Device
	counts := map[string]int{} // presses of each alarm
	for i := range 10 {
		id := fmt.Sprintf("btn-%d", i)
		dev := g.ConnectDevice(id, g.Provision(id, "call_button"))
		devs = append(devs, dev)
		// A note makes every frame of the alarm a few kilobytes (a frame
		// carries the timeline), as an alarm with a history does: the
		// kernel's buffers fill after tens of frames, not hundreds.
		a := dev.Expect(dev.Press("call.press"), "received").Alarm
		counts[a] = 1
		note := map[string]string{"note": strings.Repeat("门没锁，邻居去看了。", 100)}
		if code := admin.Do("POST", "/api/v1/alarms/"+a+"/notes", note, nil); code != 200 {
			t.Fatalf("note on %s: HTTP %d", a, code)
		}
	}

	// The console that reads: when each (alarm, count) reached it.
	normal := admin.Stream()
	var seenMu sync.Mutex
	seen := map[string]time.Time{}
	sentinel := make(chan string, 1)
	go func() {
		for f := range normal.Events {
			if f.Event != "alarm" {
				continue
			}
			seenMu.Lock()
			k := fmt.Sprintf("%s/%d", f.Alarm.ID, f.Alarm.Count)
			if _, ok := seen[k]; !ok {
				seen[k] = time.Now()
			}
			seenMu.Unlock()
			if f.Entry.Action == alerting.ActAcknowledged {
				sentinel <- f.ID
			}
		}
	}()

	var stuck []*rawStream
	for range idle {
		stuck = append(stuck, dialStream(t, g.HTTPAddr(), admin.Token, "", 4096))
	}
	// 10 KiB/s, a poor mobile link, through a fixed 64 KiB receive buffer
	// whose window opens every 32 KiB: once the buffers are full, a write
	// to it waits about 3 s.
	slow := dialStream(t, g.HTTPAddr(), admin.Token, "", 64<<10)
	slow.pace.Store(int64(100 * time.Millisecond))
	go slow.read(nil)
	waitClients := func(want float64, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for g.Metric("anxin_stream_clients") != want {
			if time.Since(start) > within {
				t.Fatalf("anxin_stream_clients = %v after %v, want %v", g.Metric("anxin_stream_clients"), within, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitClients(idle+2, 10*time.Second)

	// Presses until every idle and slow console is dropped (at most 40 s).
	pressedAt := map[string]time.Time{}
	alarms := map[string]string{}
	var slowest time.Duration
	var heapPeak uint64
	start := time.Now()
	presses := 0
	for round := 0; ; round++ {
		for _, d := range devs {
			at := time.Now()
			r := d.Expect(d.Press("call.press"), "received")
			slowest = max(slowest, time.Since(at))
			alarms[d.ID] = r.Alarm
			counts[r.Alarm]++
			pressedAt[fmt.Sprintf("%s/%d", r.Alarm, counts[r.Alarm])] = at
			presses++
		}
		var ms runtime.MemStats
		if round%5 == 0 {
			runtime.ReadMemStats(&ms)
			heapPeak = max(heapPeak, ms.HeapAlloc)
		}
		if g.Metric("anxin_stream_clients") == 1 {
			break
		}
		if time.Since(start) > 40*time.Second {
			t.Fatalf("after %d presses in %v, %v stream clients still connected, want 1", presses, time.Since(start), g.Metric("anxin_stream_clients"))
		}
	}
	dropped := time.Since(start)
	timeouts, overflows := g.Metric("anxin_stream_write_timeouts_total"), g.Metric("anxin_stream_overflows_total")
	t.Logf("%d idle and 1 slow console dropped %v after the presses began (%d presses): %v by write timeout, %v by overflow; heap at most %d MB; slowest press → received %v",
		idle, dropped.Round(time.Millisecond), presses, timeouts, overflows, heapPeak>>20, slowest)
	if timeouts+overflows != idle+1 {
		t.Errorf("write timeouts %v + overflows %v, want %d drops", timeouts, overflows, idle+1)
	}
	if slowest > time.Second {
		t.Errorf("a press took %v to be answered while consoles were stuck", slowest)
	}

	// The sentinel: the last change, after which every console must have
	// everything.
	if code := admin.Do("POST", "/api/v1/alarms/"+alarms["btn-0"]+"/ack", nil, nil); code != 200 {
		t.Fatalf("ack: HTTP %d", code)
	}
	var endID string
	select {
	case endID = <-sentinel:
	case <-time.After(5 * time.Second):
		t.Fatal("the reading console did not get the acknowledgement within 5 s")
	}
	boot, _, _ := strings.Cut(endID, "-")
	end := position(t, endID)

	seenMu.Lock()
	var worst time.Duration
	for k, at := range pressedAt {
		got, ok := seen[k]
		if !ok {
			t.Errorf("the reading console never got %s", k)
			continue
		}
		worst = max(worst, got.Sub(at))
	}
	seenMu.Unlock()
	t.Logf("the reading console got each of %d presses within %v", len(pressedAt), worst)
	if worst > time.Second {
		t.Errorf("the reading console got a change %v after its press, want within 1 s", worst)
	}

	// Every dropped console reads what reached it, reconnects with the
	// last id it read, and must get exactly the positions after it up to
	// the sentinel.
	slow.pace.Store(0) // it reads what reached it before it was dropped at full speed
	select {
	case <-slow.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow console's stream did not end after it was dropped")
	}
	// Resuming is the same code for each: the slow console and every
	// tenth idle one reconnect (all 101 would move ≈ 200 MB on loopback).
	consoles := []*rawStream{slow}
	for i := 0; i < idle; i += 10 {
		consoles = append(consoles, stuck[i])
	}
	var wg sync.WaitGroup
	for _, s := range stuck {
		s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		wg.Go(func() { s.read(nil) })
	}
	wg.Wait()
	t.Logf("%v: the dropped consoles read what reached them", time.Since(start))
	var missed, reloaded int
	for i, s := range consoles {
		if s.err != nil {
			t.Fatalf("console %d: %v", i, s.err)
		}
		lastID, from := s.last(boot)
		back := dialStream(t, g.HTTPAddr(), admin.Token, lastID, 0)
		back.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		back.read(func(p uint64) bool { return p >= end })
		if back.err != nil {
			t.Fatalf("console %d resuming after %q: %v", i, lastID, back.err)
		}
		if end-from > httpapi.StreamWindow {
			// Too far behind for the window: told to reload, then live.
			if back.reloads != 1 || len(back.positions) != 1 || back.positions[0] != end {
				t.Fatalf("console %d resuming after position %d, %d behind: %d reloads, positions %v; want one reload at %d",
					i, from, end-from, back.reloads, back.positions, end)
			}
			reloaded++
			back.conn.Close()
			continue
		}
		want := from + 1
		for _, p := range back.positions {
			if p != want {
				t.Fatalf("console %d resuming after position %d got position %d, want %d (contiguous up to %d)", i, from, p, want, end)
			}
			want++
		}
		if want != end+1 {
			t.Fatalf("console %d resuming after position %d stopped at %d, want %d", i, from, want-1, end)
		}
		missed += int(end - from)
		back.conn.Close()
	}
	t.Logf("%d consoles resumed after their last frame: %d frames caught up, none missing or repeated (positions up to %d); %d further behind than the window (%d) told to reload",
		len(consoles)-reloaded, missed, end, reloaded, httpapi.StreamWindow)
	if reloaded > len(consoles)/2 {
		t.Errorf("%d of %d consoles had to reload: the load outran the resume window", reloaded, len(consoles))
	}
	waitClients(1, 5*time.Second)
	t.Logf("log: %s", waitLog(t, log, "stream client dropped: not reading"))
	if overflows > 0 {
		t.Logf("log: %s", waitLog(t, log, "stream client dropped: too slow"))
	}
}
