package timeseries

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	influx := func(f func(*InfluxConfig)) Config {
		c := Config{Backend: BackendInfluxDB, InfluxDB: InfluxConfig{URL: "http://127.0.0.1:8086", Token: ":", Bucket: "anxin/autogen"}}
		f(&c.InfluxDB)
		return c
	}
	embedded := func(f func(*EmbeddedConfig)) Config {
		c := Config{Embedded: EmbeddedConfig{Dir: "/var/lib/anxin"}}
		f(&c.Embedded)
		return c
	}
	tests := []struct {
		name  string
		cfg   Config
		field string // "" when valid
	}{
		{"embedded defaults", embedded(func(*EmbeddedConfig) {}), ""},
		{"influx ok", influx(func(*InfluxConfig) {}), ""},
		{"unknown backend", Config{Backend: "sqlite"}, "timeseries.backend"},
		{"no dir", embedded(func(c *EmbeddedConfig) { c.Dir = " " }), "timeseries.embedded.dir"},
		{"short retention", embedded(func(c *EmbeddedConfig) { c.Retention = Duration(12 * time.Hour) }), "timeseries.embedded.retention"},
		{"raw longer than retention", embedded(func(c *EmbeddedConfig) { c.RawRetention = Duration(8 * 24 * time.Hour) }), "timeseries.embedded.raw_retention"},
		{"tiny raw retention", embedded(func(c *EmbeddedConfig) { c.RawRetention = Duration(time.Minute) }), "timeseries.embedded.raw_retention"},
		{"negative max series", embedded(func(c *EmbeddedConfig) { c.MaxSeries = -1 }), "timeseries.embedded.max_series"},
		{"no url", influx(func(c *InfluxConfig) { c.URL = "" }), "timeseries.influxdb.url"},
		{"bad url", influx(func(c *InfluxConfig) { c.URL = "influx:8086" }), "timeseries.influxdb.url"},
		{"no bucket", influx(func(c *InfluxConfig) { c.Bucket = "" }), "timeseries.influxdb.bucket"},
		{"batch over capacity", Config{Embedded: EmbeddedConfig{Dir: "x"}, Buffer: BufferConfig{Capacity: 10, BatchSize: 20}}, "timeseries.buffer.batch_size"},
		{"backoffs upside down", Config{Embedded: EmbeddedConfig{Dir: "x"}, Buffer: BufferConfig{MinBackoff: Duration(time.Minute), MaxBackoff: Duration(time.Second)}}, "timeseries.buffer.max_backoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.field != "" && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field+":")):
				t.Errorf("error %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
}

func TestOpenEmbeddedByDefault(t *testing.T) {
	b, err := Open(Config{Embedded: EmbeddedConfig{Dir: t.TempDir()}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, ok := b.Store().(*Embedded); !ok || b.Status().Backend != BackendEmbedded {
		t.Errorf("store %T, backend %q; want the embedded store", b.Store(), b.Status().Backend)
	}
}

func TestPointValidate(t *testing.T) {
	ok := Point{Measurement: Alarms, Tags: map[string]string{TagType: "smoke.alarm", TagVillage: "安心村"},
		Fields: map[string]float64{FieldTTA: 12.5}, Time: t0}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid point: %v", err)
	}
	bad := map[string]func(p *Point){
		"measurement":     func(p *Point) { p.Measurement = "alarm" },
		"no time":         func(p *Point) { p.Time = time.Time{} },
		"before 1970":     func(p *Point) { p.Time = time.Unix(-1, 0) },
		"no fields":       func(p *Point) { p.Fields = nil },
		"infinite field":  func(p *Point) { p.Fields = map[string]float64{"x": posInf()} },
		"empty tag":       func(p *Point) { p.Tags = map[string]string{"site": ""} },
		"underscore key":  func(p *Point) { p.Tags = map[string]string{"_measurement": "x"} },
		"newline":         func(p *Point) { p.Tags = map[string]string{"site": "a\nb"} },
		"backslash":       func(p *Point) { p.Tags = map[string]string{"site": `a\`} },
		"long field name": func(p *Point) { p.Fields = map[string]float64{strings.Repeat("x", 300): 1} },
	}
	for name, mutate := range bad {
		p := ok
		mutate(&p)
		if err := p.Validate(); !errors.Is(err, ErrInvalidPoint) {
			t.Errorf("%s: %v, want ErrInvalidPoint", name, err)
		}
	}
}

func posInf() float64 { return math.Inf(1) }

func TestAppendLine(t *testing.T) {
	p := Point{Measurement: Telemetry, Tags: map[string]string{"site": "home 7,a=b", "device": "d1"},
		Fields: map[string]float64{"temp_c": 36.6, "battery": 87, "big": 1e21}, Time: time.Unix(1, 5)}
	got := string(appendLine(nil, &p))
	want := `telemetry,device=d1,site=home\ 7\,a\=b battery=87,big=1000000000000000000000,temp_c=36.6 1000000005`
	if got != want {
		t.Errorf("line protocol:\n got  %s\n want %s", got, want)
	}
}

func TestConfigJSON(t *testing.T) {
	var c Config
	err := json.Unmarshal([]byte(`{"backend": "influxdb",
		"embedded": {"dir": "/var/lib/anxin", "retention": "7d", "raw_retention": "36h"},
		"influxdb": {"url": "http://influx:8086", "token": "anxin:secret", "bucket": "anxin/autogen", "timeout": 5},
		"buffer": {"capacity": 50000, "flush_interval": "2s"}}`), &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.Embedded.Retention != Duration(7*24*time.Hour) || c.Embedded.RawRetention != Duration(36*time.Hour) ||
		c.InfluxDB.Timeout != Duration(5*time.Second) || c.Buffer.FlushInterval != Duration(2*time.Second) {
		t.Errorf("durations: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if err := json.Unmarshal([]byte(`{"buffer": {"max_backoff": "soon"}}`), &c); err == nil {
		t.Error(`"soon" accepted as a duration`)
	}
}
