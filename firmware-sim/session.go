package firmwaresim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/internal/pahostore"
)

// MQTT session timings of the simulated firmware.
const (
	keepAlive            = 30 * time.Second
	minReconnectInterval = time.Second
	maxReconnectInterval = 30 * time.Second
	disconnectQuiesce    = 250 // milliseconds, paho's unit
	// retryMin and retryMax pace resending an event whose publish failed
	// while the link was going down, before the loss is even noticed.
	retryMin = 20 * time.Millisecond
	retryMax = time.Second
)

var errPowerCut = errors.New("power cut: device is off")

// session is one power-on of a device: a paho client and the goroutines
// that keep it online. The device reconnects by itself rather than through
// paho's AutoReconnect: paho resends its stored messages concurrently with
// the OnConnect handler, and a publish made meanwhile is sent twice and
// races in paho (eclipse-paho/paho.mqtt.golang#703). Here a reconnection is
// Connect → wait for its token (the resend is finished) → announce → online,
// and presses wait for online.
type session struct {
	client mqtt.Client
	ctx    context.Context // ends when the device is switched off
	stop   context.CancelFunc
	lost   chan struct{} // capacity 1: the connection dropped
	wg     sync.WaitGroup

	mu   sync.Mutex
	up   bool
	upCh chan struct{} // closed when up
}

// Connect opens the MQTT session and returns once the device is subscribed
// to its cmd topic and has announced itself online. Afterwards it
// reconnects by itself with backoff; the broker keeps the session
// (CleanSession=false), so commands sent while the device was away arrive
// when it is back, and unacknowledged events are sent again.
func (d *Device) Connect(ctx context.Context) error {
	d.mu.Lock()
	if d.sess != nil {
		d.mu.Unlock()
		return fmt.Errorf("device %s: already connected", d.cfg.ID)
	}
	d.link.restore()
	s := &session{lost: make(chan struct{}, 1), upCh: make(chan struct{})}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.client = mqtt.NewClient(d.clientOptions(s))
	d.sess = s
	d.mu.Unlock()

	if err := d.connectOnce(ctx, s); err != nil {
		d.drop()
		s.client.Disconnect(0)
		return fmt.Errorf("connect %s to %s: %w", d.cfg.ID, d.cfg.Broker, err)
	}
	s.wg.Add(2)
	go d.supervise(s)
	go d.heartbeatLoop(s)
	d.log.Info("device online", slog.String("broker", d.cfg.Broker), slog.Uint64("seq", d.Seq()))
	return nil
}

func (d *Device) clientOptions(s *session) *mqtt.ClientOptions {
	return mqtt.NewClientOptions().AddBroker(d.cfg.Broker).
		SetClientID(d.cfg.ID).SetUsername(d.cfg.ID).SetPassword(d.cfg.Password).
		SetCleanSession(false).SetAutoReconnect(false).
		// paho's own store races with its resume (pahostore's comment).
		SetStore(pahostore.New()).
		SetKeepAlive(keepAlive).SetConnectTimeout(d.cfg.ConnectTimeout).SetTLSConfig(d.cfg.TLS).
		SetBinaryWill(d.topics.status, offlinePayload, 1, true).
		SetCustomOpenConnectionFn(d.link.dial).
		// Queued commands of a resumed session may arrive before Subscribe
		// has registered its handler; the default handler catches them.
		SetDefaultPublishHandler(d.onMessage).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			d.log.Warn("connection lost", slog.Any("err", err))
			s.setUp(false)
			select {
			case s.lost <- struct{}{}:
			default:
			}
		})
}

// connectOnce connects, then announces the device: it subscribes before
// saying "online", since the gateway may answer a status with a command.
func (d *Device) connectOnce(ctx context.Context, s *session) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.ConnectTimeout)
	defer cancel()
	c := s.client
	if err := waitToken(ctx, c.Connect()); err != nil {
		return err
	}
	if err := waitToken(ctx, c.Subscribe(d.topics.cmd, 1, d.onMessage)); err != nil {
		return fmt.Errorf("subscribe %s: %w", d.topics.cmd, err)
	}
	if err := waitToken(ctx, c.Publish(d.topics.status, 1, true, onlinePayload(d.cfg))); err != nil {
		return fmt.Errorf("publish online status: %w", err)
	}
	d.sendTelemetry(c) // devices report their readings at boot
	s.setUp(true)
	return nil
}

// supervise reconnects after every loss until the session ends.
func (d *Device) supervise(s *session) {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.lost:
		}
		for wait := minReconnectInterval; ; wait = min(2*wait, maxReconnectInterval) {
			if s.client.IsConnectionOpen() {
				// A loss reported after a reconnect that already succeeded.
				s.setUp(true)
				break
			}
			err := d.connectOnce(s.ctx, s)
			if err == nil {
				d.log.Info("device back online")
				break
			}
			d.log.Warn("reconnect failed", slog.Any("err", err), slog.Duration("retry_in", wait))
			if !sleepCtx(s.ctx, jitter(wait)) {
				return
			}
		}
	}
}

func (s *session) setUp(up bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case up && !s.up:
		close(s.upCh)
	case !up && s.up:
		s.upCh = make(chan struct{})
	}
	s.up = up
}

// online returns the client once the device is online, waiting through a
// reconnection; ErrNotConnected when the device is switched off.
func (d *Device) online(ctx context.Context) (mqtt.Client, error) {
	d.mu.Lock()
	s := d.sess
	d.mu.Unlock()
	if s == nil {
		return nil, ErrNotConnected
	}
	for {
		s.mu.Lock()
		up, ch := s.up, s.upCh
		s.mu.Unlock()
		if up {
			return s.client, nil
		}
		select {
		case <-ch:
		case <-s.ctx.Done():
			return nil, ErrNotConnected
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the link: %w", context.Cause(ctx))
		}
	}
}

// drop ends the current session's goroutines and returns it (nil if none).
func (d *Device) drop() *session {
	d.mu.Lock()
	s := d.sess
	d.sess = nil
	d.mu.Unlock()
	if s != nil {
		s.stop()
		s.wg.Wait()
	}
	return s
}

// Close switches the device off politely: it publishes a retained offline
// status (a clean disconnect suppresses the will) and disconnects. When the
// link is already down there is nobody to tell; the will has done it.
func (d *Device) Close(ctx context.Context) error {
	s := d.drop()
	if s == nil {
		return nil
	}
	defer s.client.Disconnect(disconnectQuiesce)
	if !s.client.IsConnectionOpen() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.ConnectTimeout)
	defer cancel()
	if err := waitToken(ctx, s.client.Publish(d.topics.status, 1, true, offlinePayload)); err != nil {
		return fmt.Errorf("close %s: publish offline status: %w", d.cfg.ID, err)
	}
	d.log.Info("device offline")
	return nil
}

// PowerCut simulates pulling the battery: the connection drops without an
// MQTT DISCONNECT, so the broker publishes the device's will. Connect may be
// called again afterwards, as a reboot.
func (d *Device) PowerCut() {
	s := d.drop()
	d.link.cut()
	if s != nil {
		s.client.Disconnect(0)
	}
	d.log.Info("power cut")
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// jitter spreads reconnections of a fleet that lost its broker at once.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}
