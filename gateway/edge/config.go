package edge

import (
	"fmt"
	"net/url"
	"time"

	"github.com/anxin-care/anxin/devices"
)

// Defaults, named so a reader can find them.
const (
	DefaultHeartbeat      = 30 * time.Second
	DefaultConfirmTimeout = 5 * time.Second
	DefaultDebounce       = 50 * time.Millisecond
	DefaultLongPress      = 3 * time.Second
	// DefaultQueueMax bounds the uplink queue: a room's devices send a few
	// events an hour, so 100 000 entries is months of them, and at most a
	// few hundred MB of state file.
	DefaultQueueMax = 100_000
)

// Config is the `edge:` section of the gateway's config. A gateway with an
// edge section with a box id is an edge box.
type Config struct {
	// BoxID is the box's device id at central (kind edge_box), its MQTT
	// user name and client id there.
	BoxID string `json:"box_id"`
	// ButtonDevice is the device the box's wired inputs are events of; it
	// must be provisioned on the box and at central (with edge: box_id).
	ButtonDevice string `json:"button_device"`
	// Central is the uplink to the central gateway.
	Central CentralConfig `json:"central"`
	// Heartbeat is how often the box tells central its queue depth.
	Heartbeat Duration `json:"heartbeat"`
	// ConfirmTimeout is how long a press may wait for central's "received"
	// before the LED shows "not yet delivered".
	ConfirmTimeout Duration `json:"confirm_timeout"`
	// QueueMax bounds the uplink queue (entries).
	QueueMax int `json:"queue_max"`
	// Pins are the box's GPIO pins, named as on the Pi header (GPIO17).
	Pins PinsConfig `json:"pins"`
	// FakePinsFile selects a test-only pin driver: every pin named in Pins
	// is a fake whose output levels are appended to this file. For tests
	// that run the box as a process; never on a real box.
	FakePinsFile string `json:"fake_pins_file"`
}

// CentralConfig is how the box reaches the central gateway's broker.
type CentralConfig struct {
	// URL is tcp://host:1883, or ssl://host:8883 (also tls://, mqtts://).
	URL string `json:"url"`
	// Password is the box's MQTT password from `anxinctl device add`.
	Password string `json:"password"`
	// CAFile (PEM) verifies central's certificate; empty: system roots.
	CAFile string `json:"ca_file"`
	// ServerName overrides the name checked in central's certificate.
	ServerName string `json:"server_name"`
}

// PinsConfig names the pins of each wired part; an empty name: not fitted.
type PinsConfig struct {
	Button    string   `json:"button"`     // call button or pull cord, to ground (pull-up)
	Extra     []string `json:"extra"`      // more call buttons or pull cords of the same device
	Test      string   `json:"test"`       // test button: a lamp and buzzer test
	LED       string   `json:"led"`        // active high
	Buzzer    string   `json:"buzzer"`     // active high
	Debounce  Duration `json:"debounce"`   // a level must hold this long to count
	LongPress Duration `json:"long_press"` // held this long: call.cancel
}

// Duration is a time.Duration written "5s" in config.
type Duration time.Duration

// UnmarshalText reads "5s", "250ms".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want e.g. \"5s\"", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as time.Duration does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Enabled reports whether the config makes this gateway an edge box.
func (c Config) Enabled() bool { return c.BoxID != "" }

// WithDefaults returns c with every zero field at its default.
func (c Config) WithDefaults() Config {
	if c.Heartbeat == 0 {
		c.Heartbeat = Duration(DefaultHeartbeat)
	}
	if c.ConfirmTimeout == 0 {
		c.ConfirmTimeout = Duration(DefaultConfirmTimeout)
	}
	if c.QueueMax == 0 {
		c.QueueMax = DefaultQueueMax
	}
	if c.Pins.Debounce == 0 {
		c.Pins.Debounce = Duration(DefaultDebounce)
	}
	if c.Pins.LongPress == 0 {
		c.Pins.LongPress = Duration(DefaultLongPress)
	}
	return c
}

// Validate names the first field that is wrong, as "edge.<field>: …".
func (c Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	c = c.WithDefaults()
	if err := devices.ValidateID(c.BoxID); err != nil {
		return fmt.Errorf("edge.box_id: %w", err)
	}
	if c.ButtonDevice != "" {
		if err := devices.ValidateID(c.ButtonDevice); err != nil {
			return fmt.Errorf("edge.button_device: %w", err)
		}
	}
	if c.Central.URL == "" {
		return fmt.Errorf("edge.central.url: needed, e.g. ssl://central.example:8883")
	}
	u, err := url.Parse(c.Central.URL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("edge.central.url: %q: want tcp://host:port or ssl://host:port", c.Central.URL)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
	default:
		return fmt.Errorf("edge.central.url: %q: scheme %q; want tcp or ssl", c.Central.URL, u.Scheme)
	}
	if c.Central.Password == "" {
		return fmt.Errorf("edge.central.password: needed (or password_file): the box's password at central")
	}
	if c.Heartbeat < Duration(time.Second) || c.ConfirmTimeout < 0 || c.QueueMax < 1 {
		return fmt.Errorf("edge.heartbeat (at least 1s), confirm_timeout and queue_max must be positive")
	}
	if c.Pins.Debounce < 0 || c.Pins.LongPress <= c.Pins.Debounce {
		return fmt.Errorf("edge.pins.long_press must be longer than edge.pins.debounce")
	}
	if (c.Pins.Button != "" || len(c.Pins.Extra) > 0) && c.ButtonDevice == "" {
		return fmt.Errorf("edge.button_device: needed for the wired button's events")
	}
	seen := map[string]string{}
	for field, name := range c.Pins.named() {
		if other, dup := seen[name]; dup {
			return fmt.Errorf("edge.pins.%s: %s is already edge.pins.%s", field, name, other)
		}
		seen[name] = field
	}
	return nil
}

// named maps each configured pin's field to its name.
func (p PinsConfig) named() map[string]string {
	m := map[string]string{}
	for field, name := range map[string]string{"button": p.Button, "test": p.Test, "led": p.LED, "buzzer": p.Buzzer} {
		if name != "" {
			m[field] = name
		}
	}
	for i, name := range p.Extra {
		m[fmt.Sprintf("extra[%d]", i)] = name
	}
	return m
}

// PinNames lists every configured pin, for a fake driver to provide.
func (p PinsConfig) PinNames() []string {
	var out []string
	for _, n := range p.named() {
		out = append(out, n)
	}
	return out
}
