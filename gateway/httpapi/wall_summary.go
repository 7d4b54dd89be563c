package httpapi

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
	"github.com/anxin-care/anxin/gateway/timeseries"
)

// GET /api/v1/wall/summary?hours=24 is everything the wall shows at once.
// Open alarms and device health come from memory (the engine and the
// registry); alarms per hour, time to acknowledge, the last event and
// which residents' bands report vital signs come from the configured
// time-series store, so that the embedded store and InfluxDB give the same
// answer for the same points (WallSeries). When the store does not answer,
// the rest is still served, with series_ok false and the error: the wall
// says its data is stale rather than going blank.

// Wall summary bounds.
const (
	wallDefaultHours = 24
	wallMaxHours     = 7 * 24
	// wallOpenShown is how many open alarms the summary lists (all are counted).
	wallOpenShown = 30
	// wallVitalsShown bounds the residents whose trends the wall draws.
	wallVitalsShown = 12
	// wallVitalsSince is how recently a band must have reported for its
	// resident's trends to be shown.
	wallVitalsSince = time.Hour
	// wallSeriesTimeout bounds the time-series part of one summary.
	wallSeriesTimeout = 5 * time.Second
)

// The P1 acknowledgement targets the wall shows (TSA: 97.5 % within 60 s,
// 99 % within 180 s).
var wallAckTargets = []time.Duration{60 * time.Second, 180 * time.Second}

// vitalFields are the band readings the wall draws as trends.
var vitalFields = []string{devices.FieldHR, devices.FieldSpO2, devices.FieldTempC}

// WallSummary answers GET /api/v1/wall/summary.
type WallSummary struct {
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Hours       int       `json:"hours"`
	GeneratedAt time.Time `json:"generated_at"`
	// TimeZone is the zone the wall shows times in (the config's time_zone).
	TimeZone string `json:"time_zone"`
	// Open counts the open alarms by priority ("P1", "P2", "P3").
	Open map[string]int `json:"open"`
	// OpenAlarms are the first wallOpenShown open alarms, P1 first, oldest first.
	OpenAlarms []WallAlarm  `json:"open_alarms"`
	Sites      []WallSite   `json:"sites"`
	Vitals     []WallVitals `json:"vitals"`
	WallSeries
	// SeriesOK says whether the time-series store answered, at SeriesCheckedAt.
	SeriesOK        bool      `json:"series_ok"`
	SeriesError     string    `json:"series_error,omitempty"`
	SeriesCheckedAt time.Time `json:"series_checked_at"`
}

// WallAlarm is an open alarm as the wall lists it: what, where, how old,
// and how far it has escalated; no resident.
type WallAlarm struct {
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Priority string         `json:"priority"`
	State    alerting.State `json:"state"`
	Raised   time.Time      `json:"raised_at"`
	Location []string       `json:"location,omitempty"`
	Steps    int            `json:"escalation_steps"`
	Owner    string         `json:"owner,omitempty"`
	// NobodyReached: a P1 step or the unattended notice reached nobody.
	NobodyReached *alerting.NobodyReached `json:"nobody_reached,omitempty"`
}

// WallSite is the device health of one site: the village, community or
// institution the devices are under ("" when a device has no site).
type WallSite struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Total         int    `json:"total"`
	Online        int    `json:"online"`
	Offline       int    `json:"offline"`
	LowBattery    int    `json:"low_battery"`
	Commissioning int    `json:"commissioning"`
}

// WallVitals is a resident whose band reported in the last hour: by id,
// with the name shortened to its first character (the wall hangs where
// visitors pass), and the site their band is at.
type WallVitals struct {
	Resident string   `json:"resident"`
	Label    string   `json:"label"`
	Site     string   `json:"site,omitempty"`
	Fields   []string `json:"fields"`
}

// WallSeries is the part of the summary read from the time-series store.
type WallSeries struct {
	// Hours are the starts of the hourly windows, oldest first; PerHour
	// holds, per alarm type, the alarms raised in each.
	HoursAt []time.Time      `json:"hours_at"`
	PerHour map[string][]int `json:"per_hour"`
	Ack     AckStats         `json:"ack"`
	// LastEventAt is the time of the newest device event in the window.
	LastEventAt *time.Time `json:"last_event_at,omitempty"`
}

// AckStats is the time to acknowledge of the alarms acknowledged in the
// window, and the share of P1 alarms acknowledged within each target.
type AckStats struct {
	Count     int      `json:"count"`
	MedianS   *float64 `json:"median_s,omitempty"`
	P90S      *float64 `json:"p90_s,omitempty"`
	P1Count   int      `json:"p1_count"`
	P1Within  []Within `json:"p1_within"`
	P1Waiting int      `json:"p1_waiting"` // open P1 alarms not yet acknowledged
}

// Within is the share of P1 alarms acknowledged within a target: of the
// P1 alarms acknowledged in the window and those still waiting past it.
type Within struct {
	Seconds int      `json:"s"`
	Share   *float64 `json:"share,omitempty"` // 0..1; absent with nothing to measure
	Met     int      `json:"met"`
	Of      int      `json:"of"`
}

// SeriesReader is what the wall reads of the time-series store.
type SeriesReader interface {
	Query(ctx context.Context, q timeseries.Query) ([]timeseries.Sample, error)
	Series(ctx context.Context, m timeseries.Measurement, since time.Time) ([]timeseries.Series, error)
}

// wallWindow is the summary's window for hours at now: whole hours, the
// last one still running, so that every store's epoch-aligned hourly
// windows are the same.
func wallWindow(now time.Time, hours int) (from, to time.Time) {
	to = now.UTC()
	from = to.Truncate(time.Hour).Add(-time.Duration(hours-1) * time.Hour)
	return from, to
}

// ReadWallSeries reads the summary's time-series part over [from, to)
// (from on a whole hour): alarms raised per hour by type, time to
// acknowledge, the last device event.
func ReadWallSeries(ctx context.Context, ts SeriesReader, from, to time.Time) (WallSeries, error) {
	var out WallSeries
	for t := from; t.Before(to); t = t.Add(time.Hour) {
		out.HoursAt = append(out.HoursAt, t)
	}
	out.PerHour = map[string][]int{}
	series, err := ts.Series(ctx, timeseries.Alarms, from)
	if err != nil {
		return out, fmt.Errorf("alarm series: %w", err)
	}
	var types []string
	for _, s := range series {
		if t := s.Tags[timeseries.TagType]; s.Tags[timeseries.TagState] == string(alerting.Raised) && t != "" && !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	for _, typ := range types {
		samples, err := ts.Query(ctx, timeseries.Query{Measurement: timeseries.Alarms, Field: timeseries.FieldCount,
			Tags:  map[string]string{timeseries.TagType: typ, timeseries.TagState: string(alerting.Raised)},
			Start: from, End: to, Every: time.Hour, Fn: timeseries.Sum})
		if err != nil {
			return out, fmt.Errorf("alarms of %s per hour: %w", typ, err)
		}
		counts := make([]int, len(out.HoursAt))
		for _, s := range samples {
			if i := int(s.Time.Sub(from) / time.Hour); i >= 0 && i < len(counts) {
				counts[i] += int(math.Round(s.Value))
			}
		}
		if slices.ContainsFunc(counts, func(n int) bool { return n > 0 }) {
			out.PerHour[typ] = counts
		}
	}
	ttaQuery := func(tags map[string]string) ([]float64, error) {
		samples, err := ts.Query(ctx, timeseries.Query{Measurement: timeseries.Alarms, Field: timeseries.FieldTTA,
			Tags: tags, Start: from, End: to})
		vals := make([]float64, len(samples))
		for i, s := range samples {
			vals[i] = s.Value
		}
		return vals, err
	}
	all, err := ttaQuery(nil)
	if err != nil {
		return out, fmt.Errorf("time to acknowledge: %w", err)
	}
	p1, err := ttaQuery(map[string]string{timeseries.TagPriority: alerting.P1.String()})
	if err != nil {
		return out, fmt.Errorf("time to acknowledge of P1: %w", err)
	}
	out.Ack = ackStats(all, p1)
	if out.LastEventAt, err = lastEvent(ctx, ts, from, to); err != nil {
		return out, fmt.Errorf("last event: %w", err)
	}
	return out, nil
}

// lastEvent finds the newest device event in [from, to): the last minute
// that has one (per-minute windows, which the embedded store answers from
// its rollups), then the raw points of that minute.
func lastEvent(ctx context.Context, ts SeriesReader, from, to time.Time) (*time.Time, error) {
	q := timeseries.Query{Measurement: timeseries.Events, Field: timeseries.FieldCount, Start: from, End: to,
		Every: time.Minute, Fn: timeseries.Count}
	mins, err := ts.Query(ctx, q)
	if err != nil || len(mins) == 0 {
		return nil, err
	}
	q.Start, q.Every, q.Fn = mins[len(mins)-1].Time, 0, ""
	if q.End = q.Start.Truncate(time.Minute).Add(time.Minute); q.End.After(to) {
		q.End = to
	}
	points, err := ts.Query(ctx, q)
	if err != nil || len(points) == 0 {
		return nil, err
	}
	t := points[len(points)-1].Time.UTC()
	return &t, nil
}

// ackStats summarises times to acknowledge (seconds): all alarms' median
// and 90th percentile (nearest rank), and the P1 ones within each target.
func ackStats(all, p1 []float64) AckStats {
	st := AckStats{Count: len(all), P1Count: len(p1)}
	if len(all) > 0 {
		s := slices.Sorted(slices.Values(all))
		med, p90 := nearestRank(s, 0.5), nearestRank(s, 0.9)
		st.MedianS, st.P90S = &med, &p90
	}
	for _, target := range wallAckTargets {
		w := Within{Seconds: int(target / time.Second), Of: len(p1)}
		for _, v := range p1 {
			if v <= target.Seconds() {
				w.Met++
			}
		}
		st.P1Within = append(st.P1Within, w)
	}
	return st
}

// nearestRank is the p-th percentile of sorted values by nearest rank:
// always one of the values, so every store gives the same.
func nearestRank(sorted []float64, p float64) float64 {
	i := max(int(math.Ceil(p*float64(len(sorted))))-1, 0)
	return sorted[i]
}

// waitingP1 adds the open P1 alarms still unacknowledged to the shares:
// one waiting past a target has missed it already.
func (st *AckStats) waitingP1(open []*alerting.Alarm, now time.Time) {
	for _, a := range open {
		if a.Priority != alerting.P1 || a.State != alerting.Raised || a.Test {
			continue
		}
		st.P1Waiting++
		for i := range st.P1Within {
			if now.Sub(a.Raised) > time.Duration(st.P1Within[i].Seconds)*time.Second {
				st.P1Within[i].Of++
			}
		}
	}
	for i, w := range st.P1Within {
		if w.Of > 0 {
			share := float64(w.Met) / float64(w.Of)
			st.P1Within[i].Share = &share
		}
	}
}

func (srv *server) wallSummary(w http.ResponseWriter, r *http.Request, _ state.Session) {
	hours := wallDefaultHours
	if v := r.URL.Query().Get("hours"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > wallMaxHours {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("hours must be a number from 1 to %d", wallMaxHours))
			return
		}
		hours = n
	}
	now := srv.now()
	from, to := wallWindow(now, hours)
	out := WallSummary{From: from, To: to, Hours: hours, GeneratedAt: now.UTC(), TimeZone: srv.TimeZone, Open: map[string]int{}}
	open := slices.DeleteFunc(srv.eng.Open(), func(a *alerting.Alarm) bool { return a.Test })
	for _, a := range open {
		out.Open[a.Priority.String()]++
		if len(out.OpenAlarms) < wallOpenShown {
			out.OpenAlarms = append(out.OpenAlarms, WallAlarm{ID: a.ID, Type: a.Type, Priority: a.Priority.String(),
				State: a.State, Raised: a.Raised, Location: a.Location, Steps: a.Steps, Owner: a.Owner,
				NobodyReached: a.NobodyReached})
		}
	}
	out.Sites = srv.wallSites()

	ctx, cancel := context.WithTimeout(r.Context(), wallSeriesTimeout)
	defer cancel()
	var err error
	out.WallSeries, err = ReadWallSeries(ctx, srv.TimeSeries, from, to)
	if err == nil {
		out.Vitals, err = srv.wallVitals(ctx, now)
	}
	out.SeriesOK, out.SeriesCheckedAt = err == nil, srv.now().UTC()
	if err != nil {
		out.SeriesError = err.Error()
		srv.log.Warn("wall summary: time-series store did not answer", "err", err)
	}
	if out.Vitals == nil {
		out.Vitals = []WallVitals{}
	}
	out.Ack.waitingP1(open, now)
	writeJSON(w, http.StatusOK, out)
}

// wallSites counts device health per village, community or institution.
func (srv *server) wallSites() []WallSite {
	bySite := map[string]*WallSite{}
	var order []string
	for _, d := range srv.reg.List() {
		id, name := groupSite(srv.reg.Sites().Path(d.Site))
		s := bySite[id]
		if s == nil {
			s = &WallSite{ID: id, Name: name}
			bySite[id] = s
			order = append(order, id)
		}
		s.Total++
		h := srv.reg.Health(d.ID)
		switch {
		case h.Online:
			s.Online++
		case d.Commissioning:
			s.Commissioning++
		default:
			s.Offline++
		}
		k, err := devices.LookupKind(d.Kind)
		if b, ok := h.Readings[devices.FieldBattery]; ok && err == nil && b <= k.BatteryLow {
			s.LowBattery++
		}
	}
	out := make([]WallSite, 0, len(order))
	for _, id := range order {
		out = append(out, *bySite[id])
	}
	// The sites with devices down first, then by name: what needs a look is on top.
	slices.SortFunc(out, func(a, b WallSite) int {
		if c := (b.Offline + b.LowBattery) - (a.Offline + a.LowBattery); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// groupSite is the site a device's health is counted under: the nearest
// village, community or institution on its path, else the top of the
// path; "" for no site.
func groupSite(path []registry.Site) (id, name string) {
	for i := len(path) - 1; i >= 0; i-- {
		switch path[i].Level {
		case registry.LevelVillage, registry.LevelCommunity, registry.LevelInstitution:
			return path[i].ID, path[i].Name
		}
	}
	if len(path) > 0 {
		return path[0].ID, path[0].Name
	}
	return "", ""
}

// wallVitals lists the residents whose bands reported in the last hour.
func (srv *server) wallVitals(ctx context.Context, now time.Time) ([]WallVitals, error) {
	series, err := srv.TimeSeries.Series(ctx, timeseries.Telemetry, now.Add(-wallVitalsSince))
	if err != nil {
		return nil, fmt.Errorf("telemetry series: %w", err)
	}
	var out []WallVitals
	for _, s := range series {
		res := s.Tags[timeseries.TagResident]
		if res == "" || s.Tags[timeseries.TagKind] != string(devices.KindSafetyBand) ||
			slices.ContainsFunc(out, func(v WallVitals) bool { return v.Resident == res }) {
			continue
		}
		if len(out) == wallVitalsShown {
			break
		}
		v := WallVitals{Resident: res, Label: res, Fields: vitalFields}
		if p, ok := srv.reg.Residents().Get(res); ok && p.Name != "" {
			first, _ := utf8.DecodeRuneInString(p.Name)
			v.Label = string(first) + "＊"
		}
		if site, ok := srv.reg.Sites().Get(s.Tags[timeseries.TagSite]); ok {
			v.Site = site.Name
		}
		out = append(out, v)
	}
	return out, nil
}
