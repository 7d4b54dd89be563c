package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"periph.io/x/conn/v3/gpio"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

// lampTestFor is how long the test button's lamp test lasts.
const lampTestFor = 3 * time.Second

// Store is what the box keeps in the gateway's state file.
type Store interface {
	QueueStore
	NextEdgeSeq(device string) (uint64, error)
}

var _ Store = (*state.DB)(nil)

// Deps are what the gateway gives the box.
type Deps struct {
	Store      Store
	Clock      Clock // nil: RealClock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Devices lists the devices provisioned on the box, whose commands
	// from central the box relays.
	Devices func() []string
	// Ingest takes a native event payload of the button device through the
	// gateway's device path, as if the device had published it; it returns
	// once the event is durable and queued.
	Ingest func(device string, payload []byte) error
	// Relay publishes central's command on the device's cmd topic of the
	// box's own broker.
	Relay func(device string, payload []byte)
	// Version is the box's software version, in its status at central.
	Version string
}

// Box is the edge part of a gateway in edge mode: pins, indicator, queue
// and uplink. Its methods are safe for concurrent use.
type Box struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	queue *Queue
	ind   *indicator
	up    *uplink

	inputs      []gpio.PinIO
	testPin     gpio.PinIO
	led, buzzer *output
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	closeOnce   sync.Once
	forwarded   prometheus.Counter
	pressMu     sync.Mutex // one button event at a time, in seq order
}

// Open opens the configured pins (a missing or busy pin is an error naming
// it) and the queue. Start begins the work.
func Open(cfg Config, deps Deps) (*Box, error) {
	cfg = cfg.WithDefaults()
	if deps.Clock == nil {
		deps.Clock = RealClock{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	b := &Box{cfg: cfg, deps: deps, log: deps.Logger.With("box", cfg.BoxID)}
	var err error
	if b.queue, err = NewQueue(deps.Store, cfg.QueueMax); err != nil {
		return nil, err
	}
	if err := b.openPins(); err != nil {
		b.releasePins()
		return nil, err
	}
	b.ind = newIndicator(b.led, b.buzzer, deps.Clock, time.Duration(cfg.ConfirmTimeout))
	b.up = &uplink{cfg: cfg, log: b.log, queue: b.queue, clock: deps.Clock, devices: deps.Devices,
		onUp: b.ind.uplink, onCmd: b.fromCentral, fw: deps.Version, cmds: make(chan paho.Message, cmdBuffer),
		changed: make(chan struct{}, 1)}
	b.register(deps.Registerer)
	return b, nil
}

func (b *Box) openPins() error {
	onErr := func(err error) { b.log.Warn("edge: output pin failed", "err", err) }
	b.led = &output{clock: b.deps.Clock, onErr: onErr}
	b.buzzer = &output{clock: b.deps.Clock, onErr: onErr}
	p := b.cfg.Pins
	if p.LED != "" {
		pin, err := openOutput("led", p.LED)
		if err != nil {
			return err
		}
		b.led.pin = pin
	}
	if p.Buzzer != "" {
		pin, err := openOutput("buzzer", p.Buzzer)
		if err != nil {
			return err
		}
		b.buzzer.pin = pin
	}
	buttons := map[string]string{}
	if p.Button != "" {
		buttons["button"] = p.Button
	}
	for i, n := range p.Extra {
		buttons[fmt.Sprintf("extra[%d]", i)] = n
	}
	for field, name := range buttons {
		pin, err := openInput(field, name)
		if err != nil {
			return err
		}
		b.inputs = append(b.inputs, pin)
	}
	if p.Test != "" {
		pin, err := openInput("test", p.Test)
		if err != nil {
			return err
		}
		b.testPin = pin
	}
	return nil
}

func (b *Box) releasePins() {
	for _, o := range []*output{b.led, b.buzzer} {
		if o != nil {
			o.stop()
		}
	}
	for _, p := range append(b.inputs, b.testPin) {
		if p != nil {
			p.Halt()
		}
	}
}

func (b *Box) register(r prometheus.Registerer) {
	b.forwarded = prometheus.NewCounter(prometheus.CounterOpts{Name: "anxin_edge_forwarded_total",
		Help: "Queued messages central acknowledged."})
	b.up.sent = b.forwarded.Inc
	if r == nil {
		return
	}
	r.MustRegister(b.forwarded,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "anxin_edge_queue_depth",
			Help: "Messages in the edge box's outbound queue, waiting for central."},
			func() float64 { return float64(b.queue.Depth()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "anxin_edge_queue_dropped_total",
			Help: "Messages not queued because the outbound queue was full."},
			func() float64 { return float64(b.queue.Dropped()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "anxin_edge_uplink_up",
			Help: "1 while the edge box is connected to central."},
			func() float64 {
				if up, _ := b.up.status(); up {
					return 1
				}
				return 0
			}))
}

// Start runs the uplink, the relay of central's commands and the pins'
// watchers until Close.
func (b *Box) Start(ctx context.Context) {
	ctx, b.cancel = context.WithCancel(ctx)
	b.goRun(func() { b.up.run(ctx) })
	b.goRun(func() { b.up.relay(ctx) })
	long := time.Duration(b.cfg.Pins.LongPress)
	deb := time.Duration(b.cfg.Pins.Debounce)
	for _, pin := range b.inputs {
		btn := &button{pin: pin, debounce: deb, longPress: long,
			onPress: func() { b.buttonEvent(devices.EventType("call.press")) },
			onLong:  func() { b.buttonEvent(devices.EventType("call.cancel")) }}
		b.goRun(func() { btn.run(ctx) })
	}
	if b.testPin != nil {
		btn := &button{pin: b.testPin, debounce: deb, longPress: long,
			onPress: func() { b.ind.lampTest(lampTestFor) }, onLong: func() {}}
		b.goRun(func() { btn.run(ctx) })
	}
}

func (b *Box) goRun(f func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
}

// Close stops the box's goroutines and leaves the outputs low.
func (b *Box) Close() {
	b.closeOnce.Do(func() {
		if b.cancel != nil {
			b.cancel()
		}
		b.wg.Wait()
		b.releasePins()
	})
}

// buttonEvent makes a native event of the box's button device: the LED
// shows "raised" at once, before the event is stored; its seq is taken
// from the state file, so it keeps counting across reboots.
func (b *Box) buttonEvent(typ devices.EventType) {
	if typ == "call.press" {
		b.ind.pressed(b.cfg.ButtonDevice)
	} else {
		b.ind.callState(b.cfg.ButtonDevice, "cancelled", false)
	}
	b.pressMu.Lock()
	defer b.pressMu.Unlock()
	dev := b.cfg.ButtonDevice
	seq, err := b.deps.Store.NextEdgeSeq(dev)
	if err != nil {
		b.log.Error("edge: button event lost: its seq cannot be stored", "device", dev, "type", typ, "err", err)
		return
	}
	payload, _ := json.Marshal(map[string]any{"seq": seq, "ts": b.deps.Clock.Wall().UnixMilli(), "type": typ})
	// The gateway refuses an event only when its store fails; it is tried
	// again for as long as the box runs, as a device would resend it.
	for attempt := 0; ; attempt++ {
		err := b.deps.Ingest(dev, payload)
		if err == nil {
			b.log.Info("edge: wired button", "device", dev, "type", typ, "seq", seq)
			return
		}
		b.log.Error("edge: button event not stored; retrying", "device", dev, "seq", seq, "err", err)
		if attempt >= 20 {
			return
		}
		time.Sleep(time.Second)
	}
}

// QueueEvent returns the entry that queues a device's event for central,
// for the caller to write with the event (alerting.Write.Outbound), and a
// done func to call with whether that write succeeded. No entry (false):
// the queue is full (logged and counted).
func (b *Box) QueueEvent(ev devices.Event) ([]alerting.Outbound, func(ok bool)) {
	n, ok := b.queue.Reserve()
	if !ok {
		b.log.Error("edge: outbound queue full; event not forwarded to central", "device", ev.Device, "seq", ev.Seq,
			"queue_max", b.cfg.QueueMax)
		return nil, func(bool) {}
	}
	m := map[string]any{"seq": ev.Seq, "type": ev.Type}
	if !ev.DeviceTime.IsZero() {
		m["ts"] = ev.DeviceTime.UnixMilli()
	}
	if len(ev.Data) > 0 {
		m["data"] = ev.Data
	}
	payload, _ := json.Marshal(m)
	rec, err := state.EdgeQueueRecord(n, state.EdgeQueued{Topic: devices.Topic(ev.Device, devices.ChannelEvent),
		Payload: payload, Device: ev.Device, Queued: b.deps.Clock.Wall()})
	if err != nil {
		return nil, func(bool) {}
	}
	return []alerting.Outbound{rec}, func(ok bool) {
		if ok {
			b.queue.Added()
		}
	}
}

// Arrived applies the local rules to an event as it arrives, before it is
// stored: smoke or gas sounds the buzzer at once, its clear stops it; a
// call lights "raised" at once, a cancel ends it.
func (b *Box) Arrived(ev devices.Event) {
	switch {
	case ev.Type == "smoke.alarm" || ev.Type == "gas.alarm":
		b.ind.hazard(ev.Device, true)
	case ev.Type == "smoke.clear" || ev.Type == "gas.clear":
		b.ind.hazard(ev.Device, false)
	case callEvents[ev.Type]:
		b.ind.pressed(ev.Device)
	case ev.Type == "call.cancel":
		b.ind.callState(ev.Device, "cancelled", false)
	}
}

// callEvents are the events that raise a call the LED shows.
var callEvents = map[devices.EventType]bool{"call.press": true, "call.pullcord": true, "band.sos": true, "band.fall": true}

// OpenCall is an alarm still open on the box when it starts: its device,
// the event that raised it and that event's seq, and where it is as the
// reassurance word (received: stored; acknowledged; on_the_way).
type OpenCall struct {
	Device string
	Event  devices.EventType
	Seq    uint64
	State  string
}

// Resume shows, after a restart, the calls still open on the box as they
// were shown before it: a raised call whose event is still in the outbound
// queue (central never acknowledged it) as "not yet delivered" at once; one
// central has, as received; one taken, as acknowledged or on the way.
// Alarms other than calls are left out.
func (b *Box) Resume(open []OpenCall) error {
	queued, err := b.queue.Events()
	if err != nil {
		return err
	}
	for _, c := range open {
		if !callEvents[c.Event] {
			continue
		}
		led := Patterns[c.State]
		switch c.State {
		case "received":
			if queued[EventKey{Device: c.Device, Seq: c.Seq}] {
				led = LEDNotDelivered
			}
		case "acknowledged", "on_the_way":
		default:
			continue
		}
		b.ind.resume(c.Device, led.Name)
		b.log.Info("edge: open call shown again after a restart", "device", c.Device, "seq", c.Seq, "led", led.Name)
	}
	return nil
}

// AlarmChanged tells the box where a local alarm raised by a device's
// event now is, as the reassurance word (acknowledged, on_the_way,
// resolved, cancelled); typ is the alarm's type (call, smoke, gas…): a
// smoke or gas alarm someone took silences the buzzer.
func (b *Box) AlarmChanged(device, typ, state string) {
	b.ind.callState(device, state, false)
	if (typ == "smoke" || typ == "gas") && state != "received" {
		b.ind.hazard(device, false)
	}
}

// QueueSync queues an operator's action on the box for central.
func (b *Box) QueueSync(s Sync) error {
	payload, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return b.queue.Put(state.EdgeQueued{Topic: SyncTopic(b.cfg.BoxID), Payload: payload, Device: s.Device,
		Queued: b.deps.Clock.Wall()})
}

// Live forwards a device's telemetry or status while the uplink is up.
func (b *Box) Live(device string, ch devices.Channel, payload []byte) {
	b.up.live(devices.Topic(device, ch), payload)
}

// fromCentral relays a command from central to the local device and shows
// its reassurance on the LED.
func (b *Box) fromCentral(device string, payload []byte) {
	if device == b.cfg.BoxID {
		b.log.Info("edge: command for the box from central", "payload", string(payload))
		return
	}
	var r struct {
		Type  string `json:"type"`
		State string `json:"state"`
	}
	if json.Unmarshal(payload, &r) == nil && r.Type == "reassure" {
		b.ind.callState(device, r.State, true)
		if r.State == "acknowledged" || r.State == "on_the_way" || r.State == "resolved" {
			// Someone took it at central: a sounding hazard of the device may stop.
			b.ind.hazard(device, false)
		}
	}
	b.deps.Relay(device, payload)
}

// Status is what the box shows of itself (GET /edge/status).
type Status struct {
	BoxID         string `json:"box_id"`
	Uplink        string `json:"uplink"` // up or down
	LastError     string `json:"last_error,omitempty"`
	QueueDepth    int    `json:"queue_depth"`
	QueueOldestTS int64  `json:"queue_oldest_ts"`
	QueueDropped  uint64 `json:"queue_dropped"`
	LED           string `json:"led"`
	Buzzer        string `json:"buzzer"`
}

// Status reports the uplink, the queue and the outputs.
func (b *Box) Status() Status {
	up, lastErr := b.up.status()
	s := Status{BoxID: b.cfg.BoxID, Uplink: "down", LastError: lastErr, QueueDepth: b.queue.Depth(),
		QueueDropped: b.queue.Dropped()}
	if up {
		s.Uplink = "up"
	}
	if t := b.queue.Oldest(); !t.IsZero() {
		s.QueueOldestTS = t.UnixMilli()
	}
	s.LED, s.Buzzer = b.ind.shown()
	return s
}

// ButtonDevice is the device of the box's wired inputs.
func (b *Box) ButtonDevice() string { return b.cfg.ButtonDevice }
