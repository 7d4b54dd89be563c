package firmwaresim

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/devices"
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

	mu   sync.Mutex
	sess *session // nil when switched off
	link          // the network connection, which PowerCut pulls
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
	d.link.source = cfg.SourceIP
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

// Press reports an event of type t: it takes the next seq (durable before
// anything is sent), publishes at QoS 1 and returns after the broker's
// PUBACK. Reassurances for the seq can be awaited with Wait.
func (d *Device) Press(ctx context.Context, t devices.EventType) (Sent, error) {
	if !slices.Contains(d.info.Events, t) {
		return Sent{}, fmt.Errorf("%s %s cannot report %q (it reports %v): %w",
			d.cfg.Kind, d.cfg.ID, t, d.info.Events, ErrUnsupportedEvent)
	}
	at := time.Now()
	d.pressMu.Lock()
	// Like firmware, hold the press while the link is down and send it
	// when the device is back online; ctx bounds how long.
	client, err := d.online(ctx)
	if err != nil {
		d.pressMu.Unlock()
		return Sent{}, fmt.Errorf("press on %s: %w", d.cfg.ID, err)
	}
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
	if err := d.deliver(ctx, tok, payload); err != nil {
		return sent, fmt.Errorf("publish seq %d %s on %s: %w", seq, t, d.cfg.ID, err)
	}
	sent.Acked = time.Since(at)
	d.log.Debug("event published", slog.Uint64("seq", seq), slog.String("type", string(t)))
	return sent, nil
}

// deliver waits for the PUBACK of an event and, if the link failed under it,
// sends the same payload (same seq) again once the device is back online,
// until ctx ends. The gateway recognises a repeat by its seq.
func (d *Device) deliver(ctx context.Context, tok mqtt.Token, payload []byte) error {
	for wait := retryMin; ; wait = min(2*wait, retryMax) {
		err := waitToken(ctx, tok)
		if err == nil || ctx.Err() != nil {
			return err
		}
		d.log.Debug("event not delivered, retrying", slog.Any("err", err))
		if !sleepCtx(ctx, wait) {
			return err
		}
		client, oerr := d.online(ctx)
		if oerr != nil {
			return fmt.Errorf("%w (after %w)", oerr, err)
		}
		tok = client.Publish(d.topics.event, 1, false, payload)
	}
}

// Wait returns the first reassurance for seq whose state reaches want
// (a later state counts: the gateway may skip one). It fails with
// ErrTimeout when ctx ends first.
func (d *Device) Wait(ctx context.Context, seq uint64, want State) (Reassurance, error) {
	return d.track.wait(ctx, seq, want)
}

// Reassurances returns what the gateway has reported for seq so far.
func (d *Device) Reassurances(seq uint64) []Reassurance { return d.track.history(seq) }

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
