package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// The service-level report (DESIGN.md §4) is alerting.NewSLAReport over the
// alarms in the store; this file adds what it needs from the gateway: the
// period and site parameters, how alarms group into sites and shifts, and
// the JSON and CSV answers.
//
// Sites are grouped at one level of the tree (group_by, default village):
// an alarm belongs to the highest site on its path at or below that level.
// A village and a community rank the same, and so do a home and an
// institution; so with group_by=village a township- or county-run
// institution, which has no village above it, is its own group, as its duty
// room answers its own alarms. The path is the alarm's room or bed (Site,
// fixed when it was raised) in today's tree.
//
// Shifts are named daily windows (config sla_shifts) in the gateway's time
// zone; an alarm counts in the shift it was raised in.

// SLAShift is a named daily window of the service-level report.
type SLAShift struct {
	Name string `json:"name"`
	// Start and End are wall-clock times "HH:MM" in the gateway's zone. An
	// End at or before Start ends the next day ("20:00"–"08:00" is a night
	// shift; equal times make one 24-hour shift); "24:00" is midnight at
	// the end of the day.
	Start string `json:"start"`
	End   string `json:"end"`
}

// DefaultSLAShifts are the shifts without config sla_shifts.
var DefaultSLAShifts = []SLAShift{
	{Name: "day", Start: "08:00", End: "20:00"},
	{Name: "night", Start: "20:00", End: "08:00"},
}

// Defaults of GET /api/v1/reports/sla.
const (
	DefaultSLAPeriod  = 7 * 24 * time.Hour
	DefaultSLAGroupBy = registry.LevelVillage
)

// slaGroupLevels are the levels group_by takes, with their rank.
var slaGroupLevels = []registry.SiteLevel{registry.LevelCounty, registry.LevelTownship, registry.LevelVillage, registry.LevelHome}

// siteRank orders levels for grouping; levels of one rank group together.
var siteRank = map[registry.SiteLevel]int{
	registry.LevelRegion: 0, registry.LevelCounty: 1, registry.LevelTownship: 2, registry.LevelVillage: 3, registry.LevelCommunity: 3,
	registry.LevelHome: 4, registry.LevelInstitution: 4, registry.LevelRoom: 5, registry.LevelBed: 6,
}

const minutesPerDay = 24 * 60

// shiftTable names the shift of every minute of the day.
type shiftTable struct {
	names  []string
	minute [minutesPerDay]uint8 // index into names
	loc    *time.Location
}

// ValidateSLAShifts checks config sla_shifts: that they cover every minute
// of the day exactly once, naming the field at fault.
func ValidateSLAShifts(shifts []SLAShift) error {
	_, err := compileShifts(shifts, time.UTC)
	return err
}

// compileShifts checks that shifts cover every minute of the day exactly
// once, naming the field at fault; none means DefaultSLAShifts.
func compileShifts(shifts []SLAShift, loc *time.Location) (*shiftTable, error) {
	if len(shifts) == 0 {
		shifts = DefaultSLAShifts
	}
	if len(shifts) > 255 {
		return nil, fmt.Errorf("sla_shifts: %d shifts, at most 255", len(shifts))
	}
	t := &shiftTable{loc: loc}
	var owner [minutesPerDay]int // shift index + 1; 0: no shift yet
	for i, s := range shifts {
		field := fmt.Sprintf("sla_shifts[%d]", i)
		switch {
		case strings.TrimSpace(s.Name) == "":
			return nil, fmt.Errorf("%s.name is empty", field)
		case slices.Contains(t.names, s.Name):
			return nil, fmt.Errorf("%s.name %q appears twice", field, s.Name)
		}
		start, err := clockMinutes(s.Start)
		if err != nil || start == minutesPerDay {
			return nil, fmt.Errorf("%s.start %q: want HH:MM from 00:00 to 23:59", field, s.Start)
		}
		end, err := clockMinutes(s.End)
		if err != nil {
			return nil, fmt.Errorf("%s.end %q: want HH:MM from 00:00 to 24:00", field, s.End)
		}
		if end <= start {
			end += minutesPerDay
		}
		for m := start; m < end; m++ {
			at := m % minutesPerDay
			if o := owner[at]; o != 0 {
				return nil, fmt.Errorf("%s %q overlaps sla_shifts[%d] %q at %s", field, s.Name, o-1, shifts[o-1].Name, clockString(at))
			}
			owner[at] = i + 1
			t.minute[at] = uint8(i)
		}
		t.names = append(t.names, s.Name)
	}
	for m, o := range owner {
		if o == 0 {
			return nil, fmt.Errorf("sla_shifts: no shift covers %s", clockString(m))
		}
	}
	return t, nil
}

// of names the shift at.
func (t *shiftTable) of(at time.Time) string {
	h, m, _ := at.In(t.loc).Clock()
	return t.names[t.minute[h*60+m]]
}

// clockMinutes reads "HH:MM" as minutes from midnight, up to "24:00".
func clockMinutes(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("bad clock time %q", s)
	}
	var h, m int
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("bad clock time %q", s)
	}
	return h*60 + m, nil
}

func clockString(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// SLAReportView is the answer of GET /api/v1/reports/sla: the rows of
// alerting.SLAReport with site names, shares as fractions against their
// targets, and durations in seconds.
type SLAReportView struct {
	From     time.Time          `json:"from"`
	To       time.Time          `json:"to"`
	Site     string             `json:"site,omitempty"`
	GroupBy  registry.SiteLevel `json:"group_by"`
	TimeZone string             `json:"time_zone"`
	Shifts   []SLAShift         `json:"shifts"`
	Total    []SLARowView       `json:"total"`
	BySite   []SLARowView       `json:"by_site"`
	ByShift  []SLARowView       `json:"by_shift"`
}

// SLARowView is one priority in one group.
type SLARowView struct {
	Site      string            `json:"site,omitempty"`      // the group's site id; "" for alarms with no site
	SiteName  string            `json:"site_name,omitempty"` // in by_site rows
	SitePath  string            `json:"site_path,omitempty"`
	Shift     string            `json:"shift,omitempty"`
	Priority  alerting.Priority `json:"priority"`
	Count     int               `json:"count"`
	Within60  SLAShareView      `json:"ack_within_60s"`
	Within180 SLAShareView      `json:"ack_within_180s"`
	Ack       SLAStatView       `json:"time_to_ack"`
	Dispatch  SLAStatView       `json:"time_to_dispatch"`
	Resolve   SLAStatView       `json:"time_to_resolve"`
}

// SLAShareView is how many of the alarms judged met a threshold. Share and
// MeetsTarget are null when no alarm was judged.
type SLAShareView struct {
	Met         int      `json:"met"`
	Of          int      `json:"of"`
	Share       *float64 `json:"share"`
	Target      float64  `json:"target"`
	MeetsTarget *bool    `json:"meets_target"`
}

// SLAStatView is a median and a 90th percentile in seconds, null when N is 0.
type SLAStatView struct {
	N       int      `json:"n"`
	MedianS *float64 `json:"median_s"`
	P90S    *float64 `json:"p90_s"`
}

// slaQuery is a checked GET /api/v1/reports/sla.
type slaQuery struct {
	from, to time.Time
	site     string
	under    map[string]bool // the site's subtree; nil: every alarm
	groupBy  registry.SiteLevel
	csv      bool
}

var slaParams = []string{"from", "to", "site", "group_by", "format", "access_token"}

// parseSLAQuery reads the parameters; dates are days in loc, a "to" date
// taking in the whole day.
func (srv *server) parseSLAQuery(r *http.Request, loc *time.Location) (slaQuery, error) {
	q := r.URL.Query()
	for name := range q {
		if !slices.Contains(slaParams, name) {
			return slaQuery{}, state.FieldErrorf(name, "unknown parameter: want from, to, site, group_by or format")
		}
	}
	sq := slaQuery{groupBy: DefaultSLAGroupBy}
	var err error
	if sq.to, err = periodParam(q.Get("to"), loc, true, srv.now()); err != nil {
		return sq, state.FieldErrorf("to", "%w", err)
	}
	if sq.from, err = periodParam(q.Get("from"), loc, false, sq.to.Add(-DefaultSLAPeriod)); err != nil {
		return sq, state.FieldErrorf("from", "%w", err)
	}
	if !sq.from.Before(sq.to) {
		return sq, state.FieldErrorf("to", "%s is not after from %s", sq.to.Format(time.RFC3339), sq.from.Format(time.RFC3339))
	}
	if sq.site = q.Get("site"); sq.site != "" {
		ids := srv.reg.Sites().Subtree(sq.site)
		if ids == nil {
			return sq, state.FieldErrorf("site", "site not found: %s", sq.site)
		}
		sq.under = map[string]bool{}
		for _, id := range ids {
			sq.under[id] = true
		}
	}
	if v := q.Get("group_by"); v != "" {
		if sq.groupBy = registry.SiteLevel(v); !slices.Contains(slaGroupLevels, sq.groupBy) {
			return sq, state.FieldErrorf("group_by", "%q: want county, township, village or home", v)
		}
	}
	switch q.Get("format") {
	case "", "json":
	case "csv":
		sq.csv = true
	default:
		return sq, state.FieldErrorf("format", "%q: want json or csv", q.Get("format"))
	}
	return sq, nil
}

// periodParam reads an RFC 3339 time or a date in loc: its midnight, or
// with end the next midnight, so that to=2026-11-30 includes that day.
func periodParam(v string, loc *time.Location, end bool, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, v, loc)
	if err != nil {
		return def, fmt.Errorf("%q: want an RFC 3339 time like 2026-11-23T08:00:00+08:00 or a date like 2026-11-01", v)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// slaReport serves GET /api/v1/reports/sla?from=&to=&site=&group_by=&format=json|csv.
func (srv *server) slaReport(w http.ResponseWriter, r *http.Request, _ state.Session) {
	sc := scopeOf(r)
	loc, err := time.LoadLocation(srv.TimeZone)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	q, err := srv.parseSLAQuery(r, loc)
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	shifts, err := compileShifts(srv.SLAShifts, loc)
	if err != nil { // Validate checked it at start
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	alarms, err := srv.db.Alarms(q.from, q.to, 0)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if q.site != "" && !srv.seesSite(sc, q.site) { // answered as an unknown site is
		writeRegistryError(w, state.FieldErrorf("site", "site not found: %s", q.site))
		return
	}
	alarms = slices.DeleteFunc(alarms, func(a *alerting.Alarm) bool {
		return q.under != nil && !q.under[a.Site] || !srv.seesAlarm(sc, a)
	})
	groups := srv.siteGrouper(q.groupBy)
	rep := alerting.NewSLAReport(alarms, alerting.SLAOptions{
		SiteOf:  func(a *alerting.Alarm) string { return groups(a.Site).ID },
		ShiftOf: shifts.of,
		Now:     srv.now(),
	})
	if q.csv {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="sla-%s-%s.csv"`,
			q.from.In(loc).Format("20060102T1504"), q.to.In(loc).Format("20060102T1504")))
		if err := rep.WriteCSV(w); err != nil {
			srv.log.Warn("sla report not sent", "err", err)
		}
		return
	}
	view := SLAReportView{From: q.from.In(loc), To: q.to.In(loc), Site: q.site, GroupBy: q.groupBy, TimeZone: loc.String(),
		Shifts: srv.SLAShifts, Total: slaRows(rep.Total, nil), BySite: slaRows(rep.BySite, srv.reg.Sites()),
		ByShift: slaRows(rep.ByShift, nil)}
	if len(view.Shifts) == 0 {
		view.Shifts = DefaultSLAShifts
	}
	writeJSON(w, http.StatusOK, view)
}

// siteGrouper returns, for a room or bed id, the site its alarms are
// grouped under at level; a zero Site when the id is not in the tree.
// It remembers each answer: a report asks about the same rooms many times.
func (srv *server) siteGrouper(level registry.SiteLevel) func(id string) registry.Site {
	seen := map[string]registry.Site{}
	return func(id string) registry.Site {
		if s, ok := seen[id]; ok {
			return s
		}
		var group registry.Site
		path := srv.reg.Sites().Path(id)
		if i := slices.IndexFunc(path, func(s registry.Site) bool { return siteRank[s.Level] >= siteRank[level] }); i >= 0 {
			group = path[i]
		} else if len(path) > 0 {
			group = path[len(path)-1] // a device placed above the level: its own site
		}
		seen[id] = group
		return group
	}
}

// slaRows turns report rows into the API's; sites, when set, names them.
func slaRows(rows []alerting.SLARow, sites *registry.Sites) []SLARowView {
	out := make([]SLARowView, len(rows))
	for i, r := range rows {
		v := SLARowView{Site: r.Site, Shift: r.Shift, Priority: r.Priority, Count: r.Count,
			Within60: shareView(r.Within60, alerting.SLAFastTarget), Within180: shareView(r.Within180, alerting.SLASlowTarget),
			Ack: statView(r.Ack), Dispatch: statView(r.Dispatch), Resolve: statView(r.Resolve)}
		if sites != nil && r.Site != "" {
			path := sites.Path(r.Site)
			if len(path) > 0 {
				v.SiteName, v.SitePath = path[len(path)-1].Name, registry.PathString(path)
			}
		}
		out[i] = v
	}
	return out
}

func shareView(s alerting.Share, target float64) SLAShareView {
	v := SLAShareView{Met: s.Met, Of: s.Of, Target: target}
	if ratio, ok := s.Ratio(); ok {
		meets := ratio >= target
		v.Share, v.MeetsTarget = &ratio, &meets
	}
	return v
}

func statView(s alerting.Stat) SLAStatView {
	v := SLAStatView{N: s.N}
	if s.N > 0 {
		med, p90 := s.Median.Seconds(), s.P90.Seconds()
		v.MedianS, v.P90S = &med, &p90
	}
	return v
}
