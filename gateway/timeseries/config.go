package timeseries

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Backends.
const (
	BackendEmbedded = "embedded"
	BackendInfluxDB = "influxdb"
)

// Defaults, named so that a reader can find them.
const (
	DefaultRetention     = 7 * 24 * time.Hour
	DefaultRawRetention  = 24 * time.Hour
	DefaultMaxSeries     = 100_000
	DefaultInfluxTimeout = 10 * time.Second
	DefaultCapacity      = 100_000
	DefaultBatchSize     = 1_000
	DefaultFlushInterval = time.Second
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultCloseTimeout  = 5 * time.Second
)

// Duration is a time.Duration that JSON spells "30s", "168h" or "7d", or
// as a number of seconds, like the rest of the gateway's config.
type Duration time.Duration

// String formats d like time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as "30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "30s", "7d" (whole days) or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err := json.Unmarshal(b, &secs); err != nil {
			return fmt.Errorf("duration must be a string like \"30s\" or \"7d\" or a number of seconds, got %s", b)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Config selects and configures the time-series store.
type Config struct {
	// Backend is "embedded" (the default) or "influxdb".
	Backend  string         `json:"backend"`
	Embedded EmbeddedConfig `json:"embedded"`
	InfluxDB InfluxConfig   `json:"influxdb"`
	Buffer   BufferConfig   `json:"buffer"`
}

// EmbeddedConfig configures the embedded store.
type EmbeddedConfig struct {
	// Dir is the directory of the store's file (EmbeddedFile); required.
	Dir string `json:"dir"`
	// Retention is how long per-minute rollups and series are kept; at least 24 h.
	Retention Duration `json:"retention"`
	// RawRetention is how long raw points are kept; at least 1 h, at most Retention.
	RawRetention Duration `json:"raw_retention"`
	// MaxSeries bounds the series index (memory) and the store's cardinality.
	MaxSeries int `json:"max_series"`
	// Now is the clock deciding expiry; nil is time.Now. Tests compress days with it.
	Now func() time.Time `json:"-"`
}

// InfluxConfig configures the InfluxDB store. For InfluxDB 1.8's
// v2-compatible API: Token is "user:password" (or ":" without auth), Org is
// ignored and Bucket is "database/retention-policy".
type InfluxConfig struct {
	URL    string `json:"url"`
	Token  string `json:"token"`
	Org    string `json:"org"`
	Bucket string `json:"bucket"`
	// Timeout bounds each HTTP request.
	Timeout Duration `json:"timeout"`
}

// BufferConfig configures the Buffered writer in front of either store.
type BufferConfig struct {
	// Capacity is the most points queued; beyond it points are dropped and counted.
	Capacity int `json:"capacity"`
	// BatchSize is the most points per store write.
	BatchSize int `json:"batch_size"`
	// FlushInterval is the longest a point waits for a batch to fill.
	FlushInterval Duration `json:"flush_interval"`
	// MinBackoff and MaxBackoff bound the retry delay while the store fails.
	MinBackoff Duration `json:"min_backoff"`
	MaxBackoff Duration `json:"max_backoff"`
	// CloseTimeout is how long Close tries to write what is still queued.
	CloseTimeout Duration `json:"close_timeout"`
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

func (c EmbeddedConfig) withDefaults() EmbeddedConfig {
	if c.Retention == 0 {
		c.Retention = Duration(DefaultRetention)
	}
	if c.RawRetention == 0 {
		c.RawRetention = min(Duration(DefaultRawRetention), c.Retention)
	}
	if c.MaxSeries == 0 {
		c.MaxSeries = DefaultMaxSeries
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c EmbeddedConfig) validate(prefix string) error {
	switch {
	case strings.TrimSpace(c.Dir) == "":
		return invalid(prefix+".dir", "required")
	case c.Retention < Duration(24*time.Hour):
		return invalid(prefix+".retention", "%v is under the 24 h the dashboards show", c.Retention)
	case c.RawRetention < Duration(time.Hour):
		return invalid(prefix+".raw_retention", "%v is under 1 h", c.RawRetention)
	case c.RawRetention > c.Retention:
		return invalid(prefix+".raw_retention", "%v is longer than retention %v", c.RawRetention, c.Retention)
	case c.MaxSeries < 1:
		return invalid(prefix+".max_series", "%d is not positive", c.MaxSeries)
	}
	return nil
}

func (c InfluxConfig) withDefaults() InfluxConfig {
	if c.Timeout == 0 {
		c.Timeout = Duration(DefaultInfluxTimeout)
	}
	return c
}

func (c InfluxConfig) validate(prefix string) error {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return invalid(prefix+".url", "required")
	case err != nil:
		return invalid(prefix+".url", "%v", err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return invalid(prefix+".url", "%q is not an http(s) URL", c.URL)
	case c.Bucket == "":
		return invalid(prefix+".bucket", `required ("database/retention-policy" for InfluxDB 1.8)`)
	case c.Timeout < 0:
		return invalid(prefix+".timeout", "%v is negative", c.Timeout)
	}
	return nil
}

func (c BufferConfig) withDefaults() BufferConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *Duration, d time.Duration) {
		if *v == 0 {
			*v = Duration(d)
		}
	}
	def(&c.Capacity, DefaultCapacity)
	def(&c.BatchSize, DefaultBatchSize)
	defd(&c.FlushInterval, DefaultFlushInterval)
	defd(&c.MinBackoff, DefaultMinBackoff)
	defd(&c.MaxBackoff, DefaultMaxBackoff)
	defd(&c.CloseTimeout, DefaultCloseTimeout)
	return c
}

func (c BufferConfig) validate(prefix string) error {
	switch {
	case c.Capacity < 1:
		return invalid(prefix+".capacity", "%d is not positive", c.Capacity)
	case c.BatchSize < 1:
		return invalid(prefix+".batch_size", "%d is not positive", c.BatchSize)
	case c.BatchSize > c.Capacity:
		return invalid(prefix+".batch_size", "%d is larger than capacity %d", c.BatchSize, c.Capacity)
	case c.FlushInterval < 0:
		return invalid(prefix+".flush_interval", "%v is negative", c.FlushInterval)
	case c.MinBackoff <= 0:
		return invalid(prefix+".min_backoff", "%v is not positive", c.MinBackoff)
	case c.MaxBackoff < c.MinBackoff:
		return invalid(prefix+".max_backoff", "%v is less than min_backoff %v", c.MaxBackoff, c.MinBackoff)
	case c.CloseTimeout < 0:
		return invalid(prefix+".close_timeout", "%v is negative", c.CloseTimeout)
	}
	return nil
}

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.Backend == "" {
		c.Backend = BackendEmbedded
	}
	c.Embedded = c.Embedded.withDefaults()
	c.InfluxDB = c.InfluxDB.withDefaults()
	c.Buffer = c.Buffer.withDefaults()
	return c
}

// Validate checks c (after defaults); errors wrap ErrInvalidConfig and name
// the field as it appears in the gateway's config, e.g. "timeseries.influxdb.url".
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch c.Backend {
	case BackendEmbedded:
		if err := c.Embedded.validate("timeseries.embedded"); err != nil {
			return err
		}
	case BackendInfluxDB:
		if err := c.InfluxDB.validate("timeseries.influxdb"); err != nil {
			return err
		}
	default:
		return invalid("timeseries.backend", "%q is not %q or %q", c.Backend, BackendEmbedded, BackendInfluxDB)
	}
	return c.Buffer.validate("timeseries.buffer")
}

// Open validates cfg, opens the configured store and returns it behind a
// Buffered writer whose metrics are registered with reg (nil: not
// registered). An InfluxDB that is down at start is not an error: points
// queue until it answers.
func Open(cfg Config, reg prometheus.Registerer, logger *slog.Logger) (*Buffered, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var (
		store Store
		err   error
	)
	switch cfg.Backend {
	case BackendEmbedded:
		store, err = OpenEmbedded(cfg.Embedded, logger)
	case BackendInfluxDB:
		store, err = OpenInflux(cfg.InfluxDB, logger)
	}
	if err != nil {
		return nil, err
	}
	b, err := NewBuffered(store, cfg.Backend, cfg.Buffer, reg, logger)
	if err != nil {
		store.Close()
		return nil, err
	}
	return b, nil
}
