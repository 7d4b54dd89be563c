package gateway

import (
	"context"
	"path/filepath"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/timeseries"
)

// Time series (DESIGN.md §5): telemetry, events, alarm transitions and the
// gateway's own gauges are written to the configured store (embedded by
// default, InfluxDB by config) through timeseries.Buffered, whose Write
// never blocks: when the store is slow or down, points queue up to a bound
// and the rest are dropped and counted. The alarm path never waits on it.

// gaugeInterval is how often the gateway writes its own gauges.
const gaugeInterval = time.Minute

func (g *Gateway) openSeries(cfg Config) (*timeseries.Buffered, error) {
	tc := cfg.TimeSeries
	if tc.Embedded.Dir == "" {
		tc.Embedded.Dir = filepath.Join(cfg.DataDir, "tsdb")
	}
	if tc.Embedded.Now == nil {
		tc.Embedded.Now = g.now
	}
	return timeseries.Open(tc, g.prom, g.log.With("component", "timeseries"))
}

// seriesTags are the tags of a device's points: its kind, the levels of its
// site path and its resident's id.
func (g *Gateway) seriesTags(d registry.Device) map[string]string {
	l := g.reg.Location(d.ID)
	tags := siteTags(l.Sites)
	tags[timeseries.TagDevice] = d.ID
	if d.Kind != "" {
		tags[timeseries.TagKind] = string(d.Kind)
	}
	if l.Resident != nil {
		tags[timeseries.TagResident] = l.Resident.ID
	}
	return tags
}

// siteSeriesTags are the tags of a site alarm's points: the levels of its
// site path.
func siteSeriesTags(path []registry.Site) map[string]string {
	refs := make([]registry.SiteRef, len(path))
	for i, s := range path {
		refs[i] = registry.SiteRef{ID: s.ID, Name: s.Name, Level: s.Level}
	}
	return siteTags(refs)
}

// siteTags are the tags of the levels of a site path.
func siteTags(path []registry.SiteRef) map[string]string {
	tags := map[string]string{}
	for _, s := range path {
		switch s.Level {
		case registry.LevelCounty:
			tags[timeseries.TagCounty] = s.ID
		case registry.LevelTownship:
			tags[timeseries.TagTownship] = s.ID
		case registry.LevelVillage, registry.LevelCommunity:
			tags[timeseries.TagVillage] = s.ID
		case registry.LevelHome, registry.LevelInstitution:
			tags[timeseries.TagSite] = s.ID
		}
	}
	return tags
}

func (g *Gateway) writePoint(p timeseries.Point) {
	if err := g.ts.Write(context.Background(), p); err != nil {
		g.log.Debug("time-series point refused", "measurement", p.Measurement, "err", err)
	}
}

func (g *Gateway) recordTelemetry(d registry.Device, tm *devices.Telemetry) {
	if len(tm.Fields) == 0 {
		return
	}
	g.writePoint(timeseries.Point{Measurement: timeseries.Telemetry, Tags: g.seriesTags(d), Fields: tm.Fields, Time: tm.Time})
}

func (g *Gateway) recordEvent(d registry.Device, ev devices.Event) {
	tags := g.seriesTags(d)
	tags[timeseries.TagType] = string(ev.Type)
	if p, ok := alerting.PriorityOf(ev.Type); ok {
		tags[timeseries.TagPriority] = p.String()
	}
	g.writePoint(timeseries.Point{Measurement: timeseries.Events, Tags: tags,
		Fields: map[string]float64{timeseries.FieldCount: 1}, Time: ev.Time()})
}

// recordAlarm is an engine subscriber: one point per alarm transition, with
// the time to acknowledge, dispatch or resolve where it has one.
// A walk test's alarm is the installer's check, not care given: it is left
// out, as the wall's open counts and the SLA report leave it out.
func (g *Gateway) recordAlarm(c alerting.Change) {
	a := c.Alarm
	if a.Test {
		return
	}
	state := string(c.Entry.State)
	fields := map[string]float64{timeseries.FieldCount: 1}
	switch c.Entry.Action {
	case alerting.ActRaised:
		state = string(alerting.Raised)
	case alerting.ActAcknowledged:
		fields[timeseries.FieldTTA] = a.Acked.Sub(a.Raised).Seconds()
	case alerting.ActDispatched:
		fields[timeseries.FieldTTD] = a.Sent.Sub(a.Raised).Seconds()
		if c.Entry.At.Equal(a.Acked) {
			fields[timeseries.FieldTTA] = a.Acked.Sub(a.Raised).Seconds()
		}
	case alerting.ActResolved, alerting.ActCancelled:
		fields[timeseries.FieldTTR] = a.Closed.Sub(a.Raised).Seconds()
	case alerting.ActEscalated:
		state = "escalated"
	default:
		return // repeats, notes and clears are not transitions
	}
	var tags map[string]string
	if a.IsSite() {
		tags = siteSeriesTags(g.reg.Sites().Path(a.Site))
	} else {
		d, ok := g.reg.Get(a.Device)
		if !ok {
			d = registry.Device{ID: a.Device}
		}
		tags = g.seriesTags(d)
	}
	tags[timeseries.TagType] = a.Type
	tags[timeseries.TagPriority] = a.Priority.String()
	tags[timeseries.TagState] = state
	if a.Outcome != "" && !a.State.Open() {
		tags[timeseries.TagOutcome] = a.Outcome
	}
	g.writePoint(timeseries.Point{Measurement: timeseries.Alarms, Tags: tags, Fields: fields, Time: c.Entry.At})
}

// recordGauges writes the gateway's fleet and alarm gauges.
func (g *Gateway) recordGauges(now time.Time) {
	list := g.reg.List()
	var online, low float64
	for _, d := range list {
		h := g.reg.Health(d.ID)
		if h.Online {
			online++
		}
		k, err := devices.LookupKind(d.Kind)
		if b, ok := h.Readings[devices.FieldBattery]; ok && err == nil && b <= k.BatteryLow {
			low++
		}
	}
	var open float64
	counts := g.eng.OpenCounts(false)
	for _, n := range counts {
		open += float64(n)
	}
	openP1 := float64(counts[alerting.P1])
	total := float64(len(list))
	g.writePoint(timeseries.Point{Measurement: timeseries.Gateway,
		Tags: map[string]string{timeseries.TagInstance: g.instance()},
		Fields: map[string]float64{
			timeseries.FieldDevicesTotal: total, timeseries.FieldDevicesOnline: online,
			timeseries.FieldDevicesOffline: total - online, timeseries.FieldDevicesLowBattery: low,
			timeseries.FieldAlarmsOpen: open, timeseries.FieldAlarmsOpenP1: openP1,
		}, Time: now})
}

func (g *Gateway) instance() string {
	if g.cfg.Instance != "" {
		return g.cfg.Instance
	}
	return "anxin"
}

func (g *Gateway) runGauges(ctx context.Context) {
	t := time.NewTicker(gaugeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.recordGauges(g.now())
		}
	}
}
