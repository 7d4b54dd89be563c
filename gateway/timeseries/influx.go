package timeseries

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
)

var _ Store = (*Influx)(nil)

// Influx is the Store for real deployments, on InfluxDB 2.x or on 1.8's
// v2-compatible API (/api/v2/write, /api/v2/query with flux-enabled).
//
// It uses the client's blocking write API, one HTTP request per Write,
// and leaves retrying to Buffered: the client's non-blocking WriteAPI has
// its own unbounded-by-us retry queue and an error channel that wedges the
// writer when nobody drains it (influxdb-client-go #384), and two queues
// would make "what is buffered" impossible to report.
type Influx struct {
	cfg    InfluxConfig
	client influxdb2.Client
	write  api.WriteAPIBlocking
	query  api.QueryAPI
	log    *slog.Logger
}

// OpenInflux creates the client. It does not contact the server: a gateway
// must start while InfluxDB is down, and Buffered reports the outage.
func OpenInflux(cfg InfluxConfig, logger *slog.Logger) (*Influx, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate("influxdb"); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	timeout := uint(math.Ceil(time.Duration(cfg.Timeout).Seconds()))
	opts := influxdb2.DefaultOptions().SetHTTPRequestTimeout(timeout).SetPrecision(time.Nanosecond)
	client := influxdb2.NewClientWithOptions(strings.TrimRight(cfg.URL, "/"), cfg.Token, opts)
	return &Influx{cfg: cfg, client: client,
		write: client.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		query: client.QueryAPI(cfg.Org),
		log:   logger.With("tsdb", "influxdb")}, nil
}

// Write sends points as one line-protocol request. Errors for data the
// server refuses (400, 413, 422) wrap ErrRejected; others (network, 5xx,
// auth, missing database) are worth retrying.
func (s *Influx) Write(ctx context.Context, points ...Point) error {
	if len(points) == 0 {
		return nil
	}
	lines := make([]string, len(points))
	var buf []byte
	for i := range points {
		if err := points[i].Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrRejected, err)
		}
		buf = appendLine(buf[:0], &points[i])
		lines[i] = string(buf)
	}
	if err := s.write.WriteRecord(ctx, lines...); err != nil {
		var he *http2.Error
		if errors.As(err, &he) {
			switch he.StatusCode {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
				return fmt.Errorf("influxdb write: %w: %w", ErrRejected, err)
			}
		}
		return fmt.Errorf("influxdb write: %w", err)
	}
	return nil
}

// appendLine encodes p in line protocol, tags sorted as InfluxDB prefers.
func appendLine(b []byte, p *Point) []byte {
	b = appendEscaped(b, string(p.Measurement), ", ")
	for _, k := range slices.Sorted(maps.Keys(p.Tags)) {
		b = append(b, ',')
		b = appendEscaped(b, k, ",= ")
		b = append(b, '=')
		b = appendEscaped(b, p.Tags[k], ",= ")
	}
	sep := byte(' ')
	for _, k := range slices.Sorted(maps.Keys(p.Fields)) {
		b = append(b, sep)
		sep = ','
		b = appendEscaped(b, k, ",= ")
		b = append(b, '=')
		b = strconv.AppendFloat(b, p.Fields[k], 'f', -1, 64)
	}
	b = append(b, ' ')
	return strconv.AppendInt(b, p.Time.UnixNano(), 10)
}

func appendEscaped(b []byte, s, special string) []byte {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(special, s[i]) >= 0 {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return b
}

// Query runs q as Flux (see fluxQuery).
func (s *Influx) Query(ctx context.Context, q Query) ([]Sample, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var out []Sample
	err := s.run(ctx, fluxQuery(s.cfg.Bucket, q), func(r map[string]any) error {
		t, ok := r["_time"].(time.Time)
		if !ok {
			return fmt.Errorf("influxdb query: row without _time: %v", r)
		}
		v, ok := toFloat(r["_value"])
		if !ok {
			return nil // a null window value (createEmpty is off, so none are expected)
		}
		out = append(out, Sample{Time: t.UTC(), Value: v})
		return nil
	})
	return out, err
}

// Series lists the tag sets of measurement seen since since.
func (s *Influx) Series(ctx context.Context, measurement Measurement, since time.Time) ([]Series, error) {
	if !measurement.Valid() {
		return nil, fmt.Errorf("%w: measurement %q is not one of %v", ErrInvalidQuery, measurement, Measurements())
	}
	seen := map[string]Series{}
	err := s.run(ctx, fluxSeries(s.cfg.Bucket, measurement, since, time.Now().Add(maxFuture)), func(r map[string]any) error {
		se := Series{Measurement: measurement, Tags: map[string]string{}}
		for k, v := range r {
			if str, ok := v.(string); ok && str != "" && !strings.HasPrefix(k, "_") && k != "result" && k != "table" {
				se.Tags[k] = str
			}
		}
		seen[se.String()] = se
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := slices.Collect(maps.Values(seen))
	slices.SortFunc(out, func(a, b Series) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}

// Run executes a Flux query and calls row for each record's values. The
// Grafana dashboard test uses it to run the dashboards' own queries.
func (s *Influx) Run(ctx context.Context, flux string, row func(map[string]any) error) error {
	return s.run(ctx, flux, row)
}

func (s *Influx) run(ctx context.Context, flux string, row func(map[string]any) error) error {
	res, err := s.query.Query(ctx, flux)
	if err != nil {
		return fmt.Errorf("influxdb query: %w", err)
	}
	defer res.Close()
	for res.Next() {
		if err := row(res.Record().Values()); err != nil {
			return err
		}
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("influxdb query: %w", err)
	}
	return nil
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	}
	return 0, false
}

// Ping reports whether the server answers its /ping endpoint.
func (s *Influx) Ping(ctx context.Context) error {
	ok, err := s.client.Ping(ctx)
	if err != nil {
		return fmt.Errorf("influxdb ping: %w", err)
	}
	if !ok {
		return errors.New("influxdb ping: not ready")
	}
	return nil
}

// Flush is a no-op: Write returns after the server answered.
func (s *Influx) Flush(ctx context.Context) error { return ctx.Err() }

// Close releases the client's connections.
func (s *Influx) Close() error {
	s.client.Close()
	return nil
}
