package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/devices"
)

// Uplink timings.
const (
	connectTimeout = 10 * time.Second
	// publishTimeout is how long a queued message may wait for central's
	// PUBACK before the connection is taken for broken and made again.
	publishTimeout = 15 * time.Second
	backoffMin     = 500 * time.Millisecond
	backoffMax     = 5 * time.Second // one central, cheap to retry: a box is back soon after it is
	// headBatch is how many queue entries are read at a time.
	headBatch = 64
	// cmdBuffer bounds central's commands waiting to be relayed.
	cmdBuffer = 256
)

// uplink is the paho connection to central. What paho's own issues and
// README teach shapes it:
//   - a publish token is no proof of delivery across a lost connection
//     (eclipse-paho/paho.mqtt.golang #563, documented in #565: tokens may
//     complete, with a nil error, when the connection drops) and Wait may
//     never return (#613, #450): each connection is a new paho client with
//     auto-reconnect off, every wait has a timeout, and a queue entry is
//     removed only when its token completed without error while this
//     connection was still up; whatever was in flight when it broke is sent
//     again from the disk queue on the next connection (central's
//     (device, seq) idempotency makes that a repeat);
//   - subscriptions are made in the on-connect handler (the README's
//     advice, so that they are made again on every connection), which
//     never waits for their tokens; devices added to the box later are
//     subscribed to at once (DevicesChanged), and before any of their
//     events is forwarded, and removed ones are unsubscribed
//     (subscriptions.go);
//   - handlers never block: central's commands go to a bounded channel
//     that a goroutine of the box drains.
//
// The session is persistent (clean session false), so commands central
// publishes while the box is away are delivered when it is back.
type uplink struct {
	cfg     Config
	log     *slog.Logger
	queue   *Queue
	clock   Clock
	devices func() []string // whose cmd topics to subscribe: the box's devices
	onUp    func(bool)
	onCmd   func(device string, payload []byte)
	fw      string

	mu      sync.Mutex
	client  paho.Client // the current connection's client, nil while down
	lastErr string
	subs    subscriptions

	changed chan struct{} // DevicesChanged: subscribe and unsubscribe now

	cmds chan paho.Message
	sent func() // counts a queued message central acknowledged
}

func (u *uplink) options(lost chan struct{}) (*paho.ClientOptions, error) {
	c := u.cfg.Central
	o := paho.NewClientOptions().AddBroker(c.URL).SetClientID(u.cfg.BoxID).
		SetUsername(u.cfg.BoxID).SetPassword(c.Password).
		SetCleanSession(false).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(connectTimeout).SetKeepAlive(15 * time.Second).SetPingTimeout(5 * time.Second).
		SetWriteTimeout(publishTimeout).SetOrderMatters(true)
	o.SetWill(devices.Topic(u.cfg.BoxID, devices.ChannelStatus), `{"online":false}`, 1, true)
	if tc, err := u.tlsConfig(); err != nil {
		return nil, err
	} else if tc != nil {
		o.SetTLSConfig(tc)
	}
	var once sync.Once
	o.SetConnectionLostHandler(func(_ paho.Client, err error) {
		u.setErr(err)
		once.Do(func() { close(lost) })
	})
	o.SetOnConnectHandler(u.onConnect)
	o.SetDefaultPublishHandler(u.receive)
	return o, nil
}

func (u *uplink) tlsConfig() (*tls.Config, error) {
	c := u.cfg.Central
	parsed, _ := url.Parse(c.URL)
	switch parsed.Scheme {
	case "ssl", "tls", "mqtts":
	default:
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("edge.central.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("edge.central.ca_file: %s holds no PEM certificate", c.CAFile)
		}
	}
	return tc, nil
}

// onConnect subscribes to the cmd topic of every device of the box and
// says the box is online. It runs on paho's goroutine: nothing here waits.
func (u *uplink) onConnect(c paho.Client) {
	filters := u.wanted()
	u.mu.Lock()
	gen := u.subs.reset(filters)
	u.mu.Unlock()
	tok := c.SubscribeMultiple(filters, u.receive)
	go u.granted(gen, tok, filters)
	status, _ := json.Marshal(map[string]any{"online": true, "fw": u.fw, "model": "anxin-edge"})
	c.Publish(devices.Topic(u.cfg.BoxID, devices.ChannelStatus), 1, true, status)
}

// receive hands a command from central to the relay; a full buffer drops
// it (logged) rather than stall paho.
func (u *uplink) receive(_ paho.Client, m paho.Message) {
	select {
	case u.cmds <- m:
	default:
		u.log.Warn("edge uplink: command from central dropped, relay is behind", "topic", m.Topic())
	}
}

// relay passes central's commands on until ctx ends.
func (u *uplink) relay(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-u.cmds:
			device, ch, err := devices.ParseTopic(m.Topic())
			if err != nil || ch != devices.ChannelCmd {
				u.log.Warn("edge uplink: message from central on an unexpected topic", "topic", m.Topic())
				continue
			}
			u.onCmd(device, m.Payload())
		}
	}
}

// run keeps a connection to central until ctx ends.
func (u *uplink) run(ctx context.Context) {
	backoff := backoffMin
	for ctx.Err() == nil {
		lost := make(chan struct{})
		opts, err := u.options(lost)
		if err != nil {
			u.setErr(err)
			u.log.Error("edge uplink: cannot configure", "err", err)
			return
		}
		c := paho.NewClient(opts)
		tok := c.Connect()
		if !tok.WaitTimeout(connectTimeout+time.Second) || tok.Error() != nil {
			err := tok.Error()
			if err == nil {
				err = errors.New("connect timed out")
			}
			u.setErr(err)
			u.log.Debug("edge uplink: central unreachable", "url", u.cfg.Central.URL, "err", err, "retry_in", backoff)
			c.Disconnect(0)
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, backoffMax)
			continue
		}
		backoff = backoffMin
		u.log.Info("edge uplink: connected to central", "url", u.cfg.Central.URL, "queue_depth", u.queue.Depth())
		u.setClient(c)
		u.onUp(true)
		err = u.serve(ctx, c, lost)
		u.setClient(nil)
		u.onUp(false)
		c.Disconnect(250)
		if ctx.Err() == nil {
			u.setErr(err)
			u.log.Warn("edge uplink: connection to central lost", "err", err, "queue_depth", u.queue.Depth())
		}
	}
}

// serve sends the queue in order and heartbeats until the connection ends.
func (u *uplink) serve(ctx context.Context, c paho.Client, lost <-chan struct{}) error {
	hb := time.NewTicker(time.Duration(u.cfg.Heartbeat))
	defer hb.Stop()
	u.heartbeat(c)
	u.reconcile(c, false)
	for {
		entries, err := u.queue.Head(headBatch)
		if err != nil {
			return fmt.Errorf("reading the queue: %w", err)
		}
		if len(entries) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-lost:
				return errors.New("connection lost")
			case <-u.queue.wake:
			case <-u.changed:
				u.reconcile(c, true)
			case <-hb.C:
				u.heartbeat(c)
				u.reconcile(c, true)
			}
			continue
		}
		for _, e := range entries {
			select {
			case <-u.changed:
				u.reconcile(c, true)
			default:
				if u.unsubscribed(e.Topic) {
					u.reconcile(c, false) // central's reassurance for it must find the box subscribed
				}
			}
			tok := c.Publish(e.Topic, 1, false, e.Payload)
			timeout := time.NewTimer(publishTimeout)
			select {
			case <-tok.Done():
			case <-lost:
			case <-ctx.Done():
			case <-timeout.C:
			}
			timeout.Stop()
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case !isDone(tok):
				return fmt.Errorf("no PUBACK for queue entry %d (%s) within %s", e.N, e.Topic, publishTimeout)
			case tok.Error() != nil:
				return fmt.Errorf("publishing queue entry %d (%s): %w", e.N, e.Topic, tok.Error())
			case isClosed(lost) || !c.IsConnectionOpen():
				// The token may have completed because the connection went.
				return fmt.Errorf("connection lost with queue entry %d (%s) in flight", e.N, e.Topic)
			}
			if err := u.queue.Remove(e.N); err != nil {
				return fmt.Errorf("removing queue entry %d: %w", e.N, err)
			}
			u.sent()
			select {
			case <-hb.C:
				u.heartbeat(c)
			default:
			}
		}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func isDone(t paho.Token) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}

// Heartbeat is the box's telemetry to central.
type Heartbeat struct {
	TS            int64 `json:"ts"`
	QueueDepth    int   `json:"queue_depth"`
	QueueOldestTS int64 `json:"queue_oldest_ts"`
}

func (u *uplink) heartbeat(c paho.Client) {
	h := Heartbeat{TS: u.clock.Wall().UnixMilli(), QueueDepth: u.queue.Depth()}
	if t := u.queue.Oldest(); !t.IsZero() {
		h.QueueOldestTS = t.UnixMilli()
	}
	b, _ := json.Marshal(h)
	c.Publish(devices.Topic(u.cfg.BoxID, devices.ChannelTelemetry), 0, false, b)
}

// live forwards a device's telemetry or status while connected; nothing
// is queued for it (the next reading replaces it).
func (u *uplink) live(topic string, payload []byte) {
	u.mu.Lock()
	c := u.client
	u.mu.Unlock()
	if c != nil {
		c.Publish(topic, 0, false, payload)
	}
}

func (u *uplink) setClient(c paho.Client) {
	u.mu.Lock()
	u.client = c
	u.mu.Unlock()
}

func (u *uplink) setErr(err error) {
	if err == nil {
		return
	}
	u.mu.Lock()
	u.lastErr = err.Error()
	u.mu.Unlock()
}

func (u *uplink) status() (up bool, lastErr string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.client != nil, u.lastErr
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
