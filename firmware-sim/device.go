package firmwaresim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/devices"
)

// MQTT session timings of the simulated firmware.
const (
	keepAlive            = 30 * time.Second
	maxReconnectInterval = 30 * time.Second
	disconnectQuiesce    = 250 // milliseconds, paho's unit
)

var (
	onlinePayload  = func(c Config) []byte { return mustJSON(statusMsg{Online: true, FW: c.Firmware, Model: c.Model}) }
	offlinePayload = mustJSON(statusMsg{Online: false})
)

type statusMsg struct {
	Online bool   `json:"online"`
	FW     string `json:"fw,omitempty"`
	Model  string `json:"model,omitempty"`
}

type eventMsg struct {
	Seq  uint64            `json:"seq"`
	TS   int64             `json:"ts"`
	Type devices.EventType `json:"type"`
	Data map[string]any    `json:"data"`
}

// Device is one simulated device. Its methods are safe to call from many
// goroutines; presses on one device are published in seq order.
type Device struct {
	cfg    Config
	info   devices.KindInfo
	log    *slog.Logger
	seqs   *seqStore
	track  *tracker
	sens   *sensors
	topics struct{ event, telemetry, status, cmd string }

	heartbeat atomic.Int64  // current interval in nanoseconds
	hbChanged chan struct{} // wakes the heartbeat loop, capacity 1

	pressMu sync.Mutex // held from seq allocation until the publish is queued

	mu     sync.Mutex
	client mqtt.Client // nil when not connected
	done   chan struct{}
	wg     sync.WaitGroup
	link   // the network connection, which PowerCut pulls
}

// Sent describes an event the device published.
type Sent struct {
	Seq   uint64
	Type  devices.EventType
	At    time.Time     // when it was pressed
	Acked time.Duration // press until the broker's PUBACK
}

// New builds a device from cfg and loads its seq state. It does not connect.
func New(cfg Config) (*Device, error) {
	cfg, info, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	seqs, err := openSeqStore(cfg.statePath(), cfg.SeqReserve)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", cfg.ID, err)
	}
	d := &Device{cfg: cfg, info: info, seqs: seqs, track: newTracker(),
		sens: newSensors(cfg.ID, profileOf(cfg.Kind)), hbChanged: make(chan struct{}, 1),
		log: cfg.Logger.With(slog.String("device", cfg.ID), slog.String("kind", string(cfg.Kind)))}
	d.topics.event = devices.Topic(cfg.ID, devices.ChannelEvent)
	d.topics.telemetry = devices.Topic(cfg.ID, devices.ChannelTelemetry)
	d.topics.status = devices.Topic(cfg.ID, devices.ChannelStatus)
	d.topics.cmd = devices.Topic(cfg.ID, devices.ChannelCmd)
	d.heartbeat.Store(int64(cfg.Heartbeat))
	return d, nil
}

// ID returns the device id.
func (d *Device) ID() string { return d.cfg.ID }

// Kind returns what the device is.
func (d *Device) Kind() devices.Kind { return d.cfg.Kind }

// Events returns what this device's kind can report.
func (d *Device) Events() []devices.EventType { return d.info.Events }

// Seq returns the last seq the device used (0 before its first event ever).
func (d *Device) Seq() uint64 { return d.seqs.current() }

// Heartbeat returns the current heartbeat interval.
func (d *Device) Heartbeat() time.Duration { return time.Duration(d.heartbeat.Load()) }

// Silenced reports whether the gateway silenced the current alarm's sounder.
func (d *Device) Silenced() bool {
	d.sens.mu.Lock()
	defer d.sens.mu.Unlock()
	return d.sens.silenced
}

// Connect opens the MQTT session and returns once the device is subscribed
// to its cmd topic and has announced itself online. Afterwards the client
// reconnects by itself; the broker keeps the session (CleanSession=false),
// so commands sent while the device was away arrive when it is back.
func (d *Device) Connect(ctx context.Context) error {
	d.mu.Lock()
	if d.client != nil {
		d.mu.Unlock()
		return fmt.Errorf("device %s: already connected", d.cfg.ID)
	}
	ready := make(chan error, 1)
	d.link.restore()
	client := mqtt.NewClient(d.clientOptions(ready))
	d.client, d.done = client, make(chan struct{})
	d.mu.Unlock()

	err := waitToken(ctx, client.Connect())
	if err == nil {
		select {
		case err = <-ready:
		case <-ctx.Done():
			err = context.Cause(ctx)
		}
	}
	if err != nil {
		d.drop()
		client.Disconnect(0)
		return fmt.Errorf("connect %s to %s: %w", d.cfg.ID, d.cfg.Broker, err)
	}
	d.wg.Add(1)
	go d.heartbeatLoop(client, d.done)
	d.log.Info("device online", slog.String("broker", d.cfg.Broker), slog.Uint64("seq", d.Seq()))
	return nil
}

func (d *Device) clientOptions(ready chan<- error) *mqtt.ClientOptions {
	return mqtt.NewClientOptions().AddBroker(d.cfg.Broker).
		SetClientID(d.cfg.ID).SetUsername(d.cfg.ID).SetPassword(d.cfg.Password).
		SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(maxReconnectInterval).
		SetKeepAlive(keepAlive).SetConnectTimeout(d.cfg.ConnectTimeout).SetTLSConfig(d.cfg.TLS).
		SetBinaryWill(d.topics.status, offlinePayload, 1, true).
		SetCustomOpenConnectionFn(d.link.dial).
		// Queued commands of a resumed session may arrive before Subscribe
		// has registered its handler; the default handler catches them.
		SetDefaultPublishHandler(d.onMessage).
		SetOnConnectHandler(func(c mqtt.Client) { d.onConnect(c, ready) }).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			d.log.Warn("connection lost", slog.Any("err", err))
		})
}

// onConnect runs on every (re)connection, in its own goroutine.
func (d *Device) onConnect(c mqtt.Client, ready chan<- error) {
	err := d.announce(c)
	if err != nil {
		d.log.Warn("announce failed", slog.Any("err", err))
	}
	select {
	case ready <- err:
	default: // a reconnection: nobody is waiting
	}
}

// announce subscribes before saying "online", since the gateway may answer
// an online status with a config command at once.
func (d *Device) announce(c mqtt.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.ConnectTimeout)
	defer cancel()
	if err := waitToken(ctx, c.Subscribe(d.topics.cmd, 1, d.onMessage)); err != nil {
		return fmt.Errorf("subscribe %s: %w", d.topics.cmd, err)
	}
	if err := waitToken(ctx, c.Publish(d.topics.status, 1, true, onlinePayload(d.cfg))); err != nil {
		return fmt.Errorf("publish online status: %w", err)
	}
	d.sendTelemetry(c) // devices report their readings at boot
	return nil
}

// Press reports an event of type t: it takes the next seq (durable before
// anything is sent), publishes at QoS 1 and returns after the broker's
// PUBACK. Reassurances for the seq can be awaited with Wait.
func (d *Device) Press(ctx context.Context, t devices.EventType) (Sent, error) {
	if !slices.Contains(d.info.Events, t) {
		return Sent{}, fmt.Errorf("%s %s cannot report %q (it reports %v): %w",
			d.cfg.Kind, d.cfg.ID, t, d.info.Events, ErrUnsupportedEvent)
	}
	client := d.currentClient()
	if client == nil {
		return Sent{}, fmt.Errorf("press on %s: %w", d.cfg.ID, ErrNotConnected)
	}
	at := time.Now()
	d.pressMu.Lock()
	seq, err := d.seqs.next()
	if err != nil {
		d.pressMu.Unlock()
		return Sent{}, fmt.Errorf("press on %s: %w", d.cfg.ID, err)
	}
	d.track.pressed(seq, t, at)
	payload := mustJSON(eventMsg{Seq: seq, TS: d.cfg.Now().UnixMilli(), Type: t, Data: map[string]any{}})
	tok := client.Publish(d.topics.event, 1, false, payload)
	d.pressMu.Unlock()

	d.sens.observe(t)
	sent := Sent{Seq: seq, Type: t, At: at}
	if err := waitToken(ctx, tok); err != nil {
		return sent, fmt.Errorf("publish seq %d %s on %s: %w", seq, t, d.cfg.ID, err)
	}
	sent.Acked = time.Since(at)
	d.log.Debug("event published", slog.Uint64("seq", seq), slog.String("type", string(t)))
	return sent, nil
}

// Wait returns the first reassurance for seq whose state reaches want
// (a later state counts: the gateway may skip one). It fails with
// ErrTimeout when ctx ends first.
func (d *Device) Wait(ctx context.Context, seq uint64, want State) (Reassurance, error) {
	return d.track.wait(ctx, seq, want)
}

// Reassurances returns what the gateway has reported for seq so far.
func (d *Device) Reassurances(seq uint64) []Reassurance { return d.track.history(seq) }

func (d *Device) currentClient() mqtt.Client {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.client
}

// drop detaches the client and stops the heartbeat; it returns the client.
func (d *Device) drop() mqtt.Client {
	d.mu.Lock()
	client, done := d.client, d.done
	d.client, d.done = nil, nil
	d.mu.Unlock()
	if done != nil {
		close(done)
	}
	d.wg.Wait()
	return client
}

// Close switches the device off politely: it publishes a retained offline
// status (a clean disconnect suppresses the will) and disconnects.
func (d *Device) Close(ctx context.Context) error {
	client := d.drop()
	if client == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.ConnectTimeout)
	defer cancel()
	err := waitToken(ctx, client.Publish(d.topics.status, 1, true, offlinePayload))
	client.Disconnect(disconnectQuiesce)
	if err != nil {
		return fmt.Errorf("close %s: publish offline status: %w", d.cfg.ID, err)
	}
	d.log.Info("device offline")
	return nil
}

// PowerCut simulates pulling the battery: the connection drops without an
// MQTT DISCONNECT, so the broker publishes the device's will. Connect may be
// called again afterwards, as a reboot.
func (d *Device) PowerCut() {
	client := d.drop()
	d.link.cut()
	if client != nil {
		client.Disconnect(0)
	}
	d.log.Info("power cut")
}

func waitToken(ctx context.Context, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("firmwaresim: marshal %T: %v", v, err)) // only fixed, marshalable types reach here
	}
	return b
}

var errPowerCut = errors.New("power cut: device is off")
