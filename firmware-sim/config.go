package firmwaresim

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"time"

	"github.com/anxin-care/anxin/devices"
)

// Defaults a reader can find. A device uses them when its Config leaves the
// field zero.
const (
	DefaultFirmware       = "1.4.2"
	DefaultConnectTimeout = 10 * time.Second
	// DefaultSeqReserve of 1 writes the state file on every press, so that a
	// restarted device continues at exactly seq+1. Load generators raise it to
	// spare the disk; a crash then skips at most that many seqs, never reuses one.
	DefaultSeqReserve = 1
	// MinHeartbeat and MaxHeartbeat clamp a heartbeat pushed by the gateway:
	// firmware must not let a bad config command flood the broker or go silent.
	MinHeartbeat = time.Second
	MaxHeartbeat = 24 * time.Hour
)

// Config describes one simulated device.
type Config struct {
	ID        string // device id: MQTT username and client id
	Password  string // issued at provisioning; never logged
	Broker    string // tcp://host:1883, mqtt://…, ssl://host:8883, tls://…, mqtts://…
	Kind      devices.Kind
	Model     string        // defaults to the kind's model, e.g. CB-200
	Firmware  string        // defaults to DefaultFirmware
	Heartbeat time.Duration // defaults to the kind table's heartbeat

	// StateDir holds the device's state file ({id}.json) with its seq
	// counter. Empty keeps the counter in memory, like a device without flash:
	// it restarts at seq 1.
	StateDir   string
	SeqReserve int // seqs reserved per state-file write; default DefaultSeqReserve

	// SourceIP is the local address the device dials from; nil lets the
	// kernel choose. A fleet spread over 127.0.0.x passes the ~28,000
	// ephemeral ports of one source address (Linux routes 127/8 to lo).
	SourceIP net.IP

	TLS            *tls.Config // for ssl:// brokers; nil uses the system roots
	ConnectTimeout time.Duration
	Logger         *slog.Logger
	// Now is the device's clock, for the "ts" fields; nil is time.Now. A
	// test can give a device the 1970 clock of a button without an RTC.
	Now func() time.Time
	// OnCommand sees every message on the device's cmd topic, after the
	// device has applied it. It runs on the MQTT client's delivery goroutine
	// and must return quickly.
	OnCommand func(Command)
}

var brokerSchemes = map[string]bool{"tcp": true, "mqtt": true, "ssl": true, "tls": true, "mqtts": true}

// withDefaults validates c and fills its zero fields.
func (c Config) withDefaults() (Config, devices.KindInfo, error) {
	if err := devices.ValidateID(c.ID); err != nil {
		return c, devices.KindInfo{}, fmt.Errorf("%w: id: %w", ErrInvalidConfig, err)
	}
	if err := validateBroker(c.Broker); err != nil {
		return c, devices.KindInfo{}, err
	}
	info, err := devices.LookupKind(c.Kind)
	if err != nil {
		return c, devices.KindInfo{}, fmt.Errorf("%w: kind: %w", ErrInvalidConfig, err)
	}
	if c.Heartbeat < 0 || c.SeqReserve < 0 || c.ConnectTimeout < 0 {
		return c, info, fmt.Errorf("%w: heartbeat, seq reserve and connect timeout must not be negative", ErrInvalidConfig)
	}
	if c.Model == "" {
		c.Model = profileOf(c.Kind).model
	}
	if c.Firmware == "" {
		c.Firmware = DefaultFirmware
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = info.Heartbeat
	}
	if c.SeqReserve == 0 {
		c.SeqReserve = DefaultSeqReserve
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, info, nil
}

func validateBroker(broker string) error {
	u, err := url.Parse(broker)
	if err != nil {
		return fmt.Errorf("%w: broker %q: %w", ErrInvalidConfig, broker, err)
	}
	if !brokerSchemes[u.Scheme] || u.Host == "" {
		return fmt.Errorf("%w: broker %q: want tcp://host:port or ssl://host:port", ErrInvalidConfig, broker)
	}
	return nil
}

// statePath is where a device keeps its seq counter, "" for none.
func (c Config) statePath() string {
	if c.StateDir == "" {
		return ""
	}
	return filepath.Join(c.StateDir, c.ID+".json")
}
