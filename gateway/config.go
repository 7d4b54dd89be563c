package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/timeseries"
)

// Defaults, named so a reader can find them.
const (
	DefaultMQTTAddr = ":1883"
	DefaultHTTPAddr = ":8080"
	DefaultDataDir  = "./anxin-data"
	// DefaultEventRate is the sustained events per second one device may
	// send before it is throttled; DefaultEventBurst is how many it may send at once.
	DefaultEventRate  = 20
	DefaultEventBurst = 40
	// DefaultSeenRetention is how long idempotency keys are kept.
	DefaultSeenRetention = 30 * 24 * time.Hour
	// DefaultTimeZone is where operators are.
	DefaultTimeZone = "Asia/Shanghai"
)

// Config is everything the gateway needs to run. It is read from a JSON
// file (see deploy/anxin.example.json) and flags override the file. The zero
// value of a field means its default.
type Config struct {
	MQTTAddr string `json:"mqtt_addr"`
	HTTPAddr string `json:"http_addr"`
	DataDir  string `json:"data_dir"`
	TimeZone string `json:"time_zone"`
	// EventRate and EventBurst throttle one device's events (per second).
	EventRate  float64 `json:"event_rate"`
	EventBurst int     `json:"event_burst"`
	// Escalation replaces the default escalation policy of each priority it names.
	Escalation map[string]alerting.Policy `json:"escalation"`
	// SessionTTL is how long an API login lasts.
	SessionTTL alerting.Duration `json:"session_ttl"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log_level"`
	// Adapters decode other wire formats that bridges publish (adapters.go).
	Adapters []devices.AdapterConfig `json:"adapters"`
	// Bridges are the MQTT accounts of programs such as Zigbee2MQTT.
	Bridges []Bridge `json:"bridges"`
	// TimeSeries selects the time-series store: embedded (default, in
	// data_dir/tsdb) or influxdb.
	TimeSeries timeseries.Config `json:"time_series"`
	// Instance names this gateway in the time series (default "anxin").
	Instance string `json:"instance"`
	// SLAShifts are the shifts of the service-level report, in time_zone
	// (default DefaultSLAShifts: day 08:00–20:00, night 20:00–08:00).
	SLAShifts []SLAShift `json:"sla_shifts"`
}

// LoadConfig reads a JSON config file. Unknown fields are errors, so that a
// typo in a field name is not silently ignored.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.MQTTAddr == "" {
		c.MQTTAddr = DefaultMQTTAddr
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.TimeZone == "" {
		c.TimeZone = DefaultTimeZone
	}
	if c.EventRate == 0 {
		c.EventRate = DefaultEventRate
	}
	if c.EventBurst == 0 {
		c.EventBurst = DefaultEventBurst
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = alerting.Duration(DefaultSessionTTL)
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	return c
}

// Validate checks every field and names the first that is wrong.
func (c Config) Validate() error {
	c = c.withDefaults()
	for name, addr := range map[string]string{"mqtt_addr": c.MQTTAddr, "http_addr": c.HTTPAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("config %s %q: want host:port, e.g. \":1883\"", name, addr)
		}
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		return fmt.Errorf("config time_zone %q: %w", c.TimeZone, err)
	}
	if c.EventRate < 0 || c.EventBurst < 1 {
		return fmt.Errorf("config event_rate and event_burst must be positive")
	}
	if _, err := c.policies(); err != nil {
		return err
	}
	if _, err := compileShifts(c.SLAShifts, time.UTC); err != nil {
		return fmt.Errorf("config %w", err)
	}
	if _, err := newAdapters(c.Adapters); err != nil {
		return err
	}
	if err := validateBridges(c.Bridges); err != nil {
		return err
	}
	tc := c.TimeSeries
	if tc.Embedded.Dir == "" {
		tc.Embedded.Dir = c.DataDir // where it will be, for validation
	}
	if err := tc.Validate(); err != nil {
		return fmt.Errorf("config time_series: %w", err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// policies merges the configured escalation over the defaults.
func (c Config) policies() (alerting.Policies, error) {
	ps := alerting.DefaultPolicies()
	for name, pol := range c.Escalation {
		p, err := alerting.ParsePriority(name)
		if err != nil {
			return nil, fmt.Errorf("config escalation: %w", err)
		}
		ps[p] = pol
	}
	if err := ps.Validate(); err != nil {
		return nil, fmt.Errorf("config %w", err)
	}
	return ps, nil
}
