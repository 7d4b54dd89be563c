package versus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/devices"
	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
)

// sources hands out local addresses 127.0.0.1 … 127.0.0.n in turn: one
// address has ~28,000 ephemeral ports, and Linux routes all of 127/8 to lo.
type sources struct {
	n    int
	next atomic.Uint64
}

func (s *sources) ip() net.IP {
	i := s.next.Add(1) % uint64(max(s.n, 1))
	return net.IPv4(127, 0, 0, byte(1+i))
}

// fleetDevices builds simulated devices for creds on a broker; each
// device keeps its seq in stateDir, so a device pressed in an earlier round
// or before a restart goes on with a fresh seq.
func fleetDevices(creds []firmwaresim.Credentials, broker, stateDir string, src *sources, log *slog.Logger) ([]*firmwaresim.Device, error) {
	out := make([]*firmwaresim.Device, len(creds))
	for i, c := range creds {
		d, err := firmwaresim.New(firmwaresim.Config{ID: c.ID, Password: c.Password, Broker: broker,
			Kind: devices.KindCallButton, StateDir: stateDir, SeqReserve: firmwaresim.DefaultBenchSeqReserve,
			Heartbeat: time.Minute, SourceIP: src.ip(), Logger: log})
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// parallel runs f on 0..n-1, at most k at once, and joins the errors.
func parallel(n, k int, f func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, max(k, 1))
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = f(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func connectAll(ctx context.Context, fleet []*firmwaresim.Device) error {
	err := parallel(len(fleet), 32, func(i int) error { return fleet[i].Connect(ctx) })
	if err != nil {
		closeAll(fleet)
		return fmt.Errorf("connect: %w", err)
	}
	return nil
}

func closeAll(fleet []*firmwaresim.Device) {
	_ = parallel(len(fleet), 32, func(i int) error { return fleet[i].Close(context.Background()) })
}

// samples collects latencies and losses from many goroutines.
type samples struct {
	mu     sync.Mutex
	lat    []time.Duration
	issued int
	lost   int
	window time.Duration // from the first planned press to the last issued
}

func (s *samples) ok(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lat = append(s.lat, d)
}

func (s *samples) miss() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost++
}

func (s *samples) sorted() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.lat)
	slices.Sort(out)
	return out
}

// streamWatch matches what the operator stream shows with the planned
// time of each press. A frame may arrive before the press's PUBACK has
// come back to the device, so either side may come first.
type streamWatch struct {
	mu       sync.Mutex
	expected int                  // presses PUBACKed, which the stream should show
	planned  map[string]time.Time // "device/seq" → planned time, not yet seen
	early    map[string]time.Time // seen before its press was noted
	got      samples
}

func newStreamWatch() *streamWatch {
	return &streamWatch{planned: map[string]time.Time{}, early: map[string]time.Time{}}
}

func (w *streamWatch) expect(dev string, seq uint64, at time.Time) {
	k := fmt.Sprintf("%s/%d", dev, seq)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.expected++
	if seen, ok := w.early[k]; ok {
		delete(w.early, k)
		w.got.ok(seen.Sub(at))
		return
	}
	w.planned[k] = at
}

func (w *streamWatch) seen(dev string, seq uint64) {
	now := time.Now()
	k := fmt.Sprintf("%s/%d", dev, seq)
	w.mu.Lock()
	defer w.mu.Unlock()
	if at, ok := w.planned[k]; ok {
		delete(w.planned, k)
		w.got.ok(now.Sub(at))
		return
	}
	if len(w.early) < 1<<20 { // cancels and other devices' frames are never expected
		w.early[k] = now
	}
}

// remaining counts presses the stream has not shown yet.
func (w *streamWatch) remaining() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.planned)
}

// shown returns how many presses were expected and how many the stream
// showed.
func (w *streamWatch) shown() (expected, shown int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.expected, w.expected - len(w.planned)
}

// pressSchedule presses at rate for d on an open-loop schedule (press i is
// due at start + i/rate) and measures from that planned time to the
// "received" reassurance. After each "received" the device cancels, as an
// elder who pressed by mistake does, so that the next press raises a new
// alarm and the number of open alarms stays small.
func pressSchedule(ctx context.Context, fleet []*firmwaresim.Device, rate float64, d, timeout time.Duration,
	watch *streamWatch, prog *progress) *samples {
	res := &samples{}
	n := int(math.Round(rate * d.Seconds()))
	var wg sync.WaitGroup
	start := time.Now()
	defer func() { res.window = time.Since(start) }()
	for i := range n {
		at := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if !sleepUntil(ctx, at) {
			break
		}
		res.issued++
		prog.issued.Add(1)
		dev := fleet[i%len(fleet)]
		wg.Go(func() {
			pctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), at.Add(timeout))
			defer cancel()
			sent, err := dev.Press(pctx, devices.CallPress)
			if err == nil && watch != nil {
				watch.expect(dev.ID(), sent.Seq, at)
			}
			if err == nil {
				var r firmwaresim.Reassurance
				if r, err = dev.Wait(pctx, sent.Seq, firmwaresim.StateReceived); err == nil {
					res.ok(r.At.Sub(at))
					prog.received.Add(1)
					_, _ = dev.Press(pctx, devices.CallCancel)
					return
				}
			}
			res.miss()
			prog.lost.Add(1)
		})
	}
	wg.Wait()
	return res
}

func sleepUntil(ctx context.Context, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// telemetryLoad is devices sending telemetry at QoS 0, at a total rate
// spread over them, on a 10 ms tick.
type telemetryLoad struct {
	clients []mqtt.Client
	topics  []string
	sent    atomic.Int64
	rate    atomic.Uint64 // float64 bits
	stop    context.CancelFunc
	done    chan struct{}
}

func startTelemetry(ctx context.Context, creds []firmwaresim.Credentials, broker string, src *sources) (*telemetryLoad, error) {
	t := &telemetryLoad{clients: make([]mqtt.Client, len(creds)), topics: make([]string, len(creds)), done: make(chan struct{})}
	err := parallel(len(creds), 32, func(i int) error {
		c := creds[i]
		ip := src.ip()
		opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID(c.ID).SetUsername(c.ID).SetPassword(c.Password).
			SetCleanSession(true).SetAutoReconnect(false).SetKeepAlive(60 * time.Second).
			SetCustomOpenConnectionFn(func(u *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
				return (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}).Dial("tcp", u.Host)
			})
		cl := mqtt.NewClient(opts)
		tok := cl.Connect()
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			return fmt.Errorf("telemetry device %s: %v", c.ID, tok.Error())
		}
		t.clients[i], t.topics[i] = cl, devices.Topic(c.ID, devices.ChannelTelemetry)
		return nil
	})
	if err != nil {
		t.disconnect()
		return nil, err
	}
	ctx, t.stop = context.WithCancel(ctx)
	go t.loop(ctx)
	return t, nil
}

func (t *telemetryLoad) setRate(r float64) { t.rate.Store(math.Float64bits(r)) }

func (t *telemetryLoad) loop(ctx context.Context) {
	defer close(t.done)
	const tick = 10 * time.Millisecond
	tk := time.NewTicker(tick)
	defer tk.Stop()
	owed, next := 0.0, 0
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			owed += math.Float64frombits(t.rate.Load()) * now.Sub(last).Seconds()
			last = now
			for ; owed >= 1; owed-- {
				i := next % len(t.clients)
				next++
				payload := fmt.Appendf(nil, `{"ts":%d,"rssi":%d,"battery":%d}`, now.UnixMilli(), -60-rand.IntN(20), 40+rand.IntN(60))
				t.clients[i].Publish(t.topics[i], 0, false, payload)
				t.sent.Add(1)
			}
		}
	}
}

func (t *telemetryLoad) close() {
	if t.stop != nil {
		t.stop()
		<-t.done
	}
	t.disconnect()
}

func (t *telemetryLoad) disconnect() {
	for _, c := range t.clients {
		if c != nil {
			c.Disconnect(0)
		}
	}
}

// idleFleet is N devices that connect and then only heartbeat once a
// minute: a raw MQTT 3.1.1 session each, no goroutine per device on this
// side, so that 100,000 of them fit beside the server being measured.
type idleFleet struct {
	conns []net.Conn
	topic []string
	stop  context.CancelFunc
	done  chan struct{}
}

func connectIdle(ctx context.Context, creds []firmwaresim.Credentials, addr string, src *sources, prog *progress) (*idleFleet, error) {
	f := &idleFleet{conns: make([]net.Conn, len(creds)), topic: make([]string, len(creds)), done: make(chan struct{})}
	err := parallel(len(creds), 64, func(i int) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c, err := rawConnect(addr, src.ip(), creds[i])
		if err != nil {
			return fmt.Errorf("idle device %s: %w", creds[i].ID, err)
		}
		f.conns[i], f.topic[i] = c, devices.Topic(creds[i].ID, devices.ChannelTelemetry)
		prog.issued.Add(1)
		return nil
	})
	if err != nil {
		f.close()
		return nil, err
	}
	var hctx context.Context
	hctx, f.stop = context.WithCancel(context.Background())
	go f.heartbeats(hctx)
	return f, nil
}

// heartbeats sends each device's telemetry once a minute, a sixtieth of
// the fleet every second.
func (f *idleFleet) heartbeats(ctx context.Context) {
	defer close(f.done)
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for tick := 0; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			for i := tick % 60; i < len(f.conns); i += 60 {
				_ = f.conns[i].SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = f.conns[i].Write(publishPacket(f.topic[i], fmt.Appendf(nil, `{"battery":%d}`, 50+i%50)))
			}
		}
	}
}

func (f *idleFleet) close() {
	if f.stop != nil {
		f.stop()
		<-f.done
	}
	_ = parallel(len(f.conns), 64, func(i int) error {
		if c := f.conns[i]; c != nil {
			_, _ = c.Write([]byte{0xE0, 0}) // DISCONNECT
			c.Close()
		}
		return nil
	})
}

// rawConnect opens an MQTT 3.1.1 session (clean session off, as the
// firmware's) and waits for a successful CONNACK.
func rawConnect(addr string, ip net.IP, c firmwaresim.Credentials) (net.Conn, error) {
	conn, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}).Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	var vh []byte
	vh = appendString(vh, "MQTT")
	vh = append(vh, 4, 0xC0, 0, 120) // level 4; username, password; keep alive 120 s
	vh = appendString(vh, c.ID)
	vh = appendString(vh, c.ID)
	vh = appendString(vh, c.Password)
	if _, err := conn.Write(packet(0x10, vh)); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ack [4]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("no CONNACK: %w", err)
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		conn.Close()
		return nil, fmt.Errorf("connection refused (CONNACK code %d)", ack[3])
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, nil
}

func publishPacket(topic string, payload []byte) []byte {
	return packet(0x30, append(appendString(nil, topic), payload...))
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// packet frames an MQTT control packet: type byte, remaining length, body.
func packet(typ byte, body []byte) []byte {
	out := []byte{typ}
	n := len(body)
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			break
		}
	}
	return append(out, body...)
}
