package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/anxin-care/anxin/gateway/state"
	"github.com/anxin-care/anxin/gateway/timeseries"
)

// GET /api/v1/series reads one field of the configured time-series store
// (embedded or InfluxDB, through timeseries.Store.Query), for the wall's
// trends:
//
//	GET /api/v1/series?measurement=telemetry&field=hr&resident=r-1&from=…&to=…&every=10m&fn=mean
//
// Tag filters are the schema's tag keys (device, resident, site, village,
// township, county, kind, type, priority, state); from and to are RFC 3339
// (default: the last 24 hours), at most seriesMaxRange apart; every is a
// Go duration of whole seconds or "raw" (default: the range in about
// seriesDefaultWindows windows, whole minutes); fn one of mean, max, min,
// count, sum, last (default mean). A window too small for the range, or a
// raw read of more than seriesMaxSamples points, is refused or cut, so that
// one request cannot read a store dry.
const (
	seriesMaxRange       = 7 * 24 * time.Hour
	seriesDefaultWindows = 288
	seriesMaxWindows     = 2000
	seriesMaxSamples     = 10_000
)

// seriesTags are the tag keys a series query may filter on.
var seriesTags = []string{timeseries.TagDevice, timeseries.TagResident, timeseries.TagSite, timeseries.TagVillage,
	timeseries.TagTownship, timeseries.TagCounty, timeseries.TagKind, timeseries.TagType, timeseries.TagPriority,
	timeseries.TagState}

// SeriesView answers GET /api/v1/series.
type SeriesView struct {
	Measurement timeseries.Measurement `json:"measurement"`
	Field       string                 `json:"field"`
	Tags        map[string]string      `json:"tags"`
	From        time.Time              `json:"from"`
	To          time.Time              `json:"to"`
	// EverySeconds is the window; 0 for raw points.
	EverySeconds int64          `json:"every_s"`
	Fn           timeseries.Fn  `json:"fn,omitempty"`
	Samples      []SeriesSample `json:"samples"`
	// Truncated: a raw read had more than seriesMaxSamples points; these are the first.
	Truncated bool `json:"truncated,omitempty"`
}

// SeriesSample is one value: the window's start (or the point's time) and its value.
type SeriesSample struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// parseSeriesQuery reads the query of GET /api/v1/series at now, naming
// the parameter that is wrong.
func parseSeriesQuery(q url.Values, now time.Time) (timeseries.Query, error) {
	var sq timeseries.Query
	sq.Measurement = timeseries.Measurement(q.Get("measurement"))
	if !sq.Measurement.Valid() {
		return sq, fmt.Errorf("measurement %q: want one of %v", q.Get("measurement"), timeseries.Measurements())
	}
	if sq.Field = q.Get("field"); sq.Field == "" {
		return sq, errors.New("field is required, e.g. hr")
	}
	sq.Tags = map[string]string{}
	for k := range q {
		switch {
		case slices.Contains(seriesTags, k):
			sq.Tags[k] = q.Get(k)
		case !slices.Contains([]string{"measurement", "field", "from", "to", "every", "fn"}, k):
			return sq, fmt.Errorf("parameter %q: want measurement, field, from, to, every, fn or a tag of %v", k, seriesTags)
		}
	}
	var err error
	if sq.End, err = timeParam(q.Get("to"), now); err != nil {
		return sq, fmt.Errorf("to: %w", err)
	}
	if sq.Start, err = timeParam(q.Get("from"), sq.End.Add(-24*time.Hour)); err != nil {
		return sq, fmt.Errorf("from: %w", err)
	}
	span := sq.End.Sub(sq.Start)
	if span <= 0 || span > seriesMaxRange {
		return sq, fmt.Errorf("from must be before to, at most %v before", seriesMaxRange)
	}
	switch every := q.Get("every"); every {
	case "raw":
	case "":
		sq.Every = max((span / seriesDefaultWindows).Truncate(time.Minute), time.Minute)
	default:
		if sq.Every, err = time.ParseDuration(every); err != nil || sq.Every <= 0 || sq.Every%time.Second != 0 {
			return sq, fmt.Errorf("every %q: want a whole number of seconds like 10m, or raw", every)
		}
		if span/sq.Every > seriesMaxWindows {
			return sq, fmt.Errorf("every %v: at most %d windows, so at least %v for this range", sq.Every, seriesMaxWindows, (span/seriesMaxWindows).Round(time.Second)+time.Second)
		}
	}
	if sq.Every > 0 {
		sq.Fn = timeseries.Mean
		if fn := q.Get("fn"); fn != "" {
			sq.Fn = timeseries.Fn(fn)
		}
	} else if q.Get("fn") != "" {
		return sq, errors.New("fn needs windows: leave it out with every=raw")
	}
	if err := sq.Validate(); err != nil {
		return sq, err
	}
	return sq, nil
}

func (srv *server) series(w http.ResponseWriter, r *http.Request, _ state.Session) {
	q, err := parseSeriesQuery(r.URL.Query(), srv.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	samples, err := srv.TimeSeries.Query(r.Context(), q)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "time-series store: "+err.Error())
		return
	}
	view := SeriesView{Measurement: q.Measurement, Field: q.Field, Tags: q.Tags, From: q.Start.UTC(), To: q.End.UTC(),
		EverySeconds: int64(q.Every / time.Second), Fn: q.Fn, Samples: make([]SeriesSample, 0, len(samples))}
	if len(samples) > seriesMaxSamples {
		samples, view.Truncated = samples[:seriesMaxSamples], true
	}
	for _, s := range samples {
		view.Samples = append(view.Samples, SeriesSample{T: s.Time.UTC(), V: s.Value})
	}
	writeJSON(w, http.StatusOK, view)
}
