package alerting

import (
	"cmp"
	"encoding/csv"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
)

// The service levels of the telecare industry (the UK Telecare Services
// Association): 97.5 % of alarms acknowledged within 60 s, 99 % within 180 s.
const (
	SLAFast       = 60 * time.Second
	SLASlow       = 180 * time.Second
	SLAFastTarget = 0.975
	SLASlowTarget = 0.99
)

// SLAOptions configure an SLA report.
type SLAOptions struct {
	// SiteOf groups alarms by site (the village station or institution
	// that answered them, say); nil puts every alarm under "".
	SiteOf func(a *Alarm) string
	// ShiftOf names the shift a time falls in ("day", "night"); alarms are
	// grouped by the shift they were raised in. nil puts every alarm under "".
	ShiftOf func(t time.Time) string
	// Now is the end of the period. An alarm still waiting for someone is
	// judged against a threshold only once it has waited longer than it;
	// zero judges every waiting alarm as having missed.
	Now time.Time
}

// Share is how many of the alarms judged against a threshold met it.
type Share struct {
	Met int `json:"met"`
	Of  int `json:"of"`
}

// Ratio is Met/Of, and false when no alarm was judged.
func (s Share) Ratio() (float64, bool) {
	if s.Of == 0 {
		return 0, false
	}
	return float64(s.Met) / float64(s.Of), true
}

// Stat summarises durations: how many, the median and the 90th percentile
// (nearest rank: always one of the durations measured).
type Stat struct {
	N      int           `json:"n"`
	Median time.Duration `json:"median"`
	P90    time.Duration `json:"p90"`
}

// SLARow is the service level of one priority in one group.
type SLARow struct {
	Site     string   `json:"site"`  // "" in the totals and the by-shift rows
	Shift    string   `json:"shift"` // "" in the totals and the by-site rows
	Priority Priority `json:"priority"`
	Count    int      `json:"count"`
	// Within60 and Within180 are the alarms acknowledged within 60 s and
	// 180 s of all judged: an alarm cancelled before the threshold, or
	// still waiting and younger than it, is not judged.
	Within60  Share `json:"ack_within_60s"`
	Within180 Share `json:"ack_within_180s"`
	// From raise to acknowledgement, to dispatch and to resolution.
	Ack      Stat `json:"time_to_ack"`
	Dispatch Stat `json:"time_to_dispatch"`
	Resolve  Stat `json:"time_to_resolve"`
}

// SLAReport is the service level of a set of alarms, for P1, P2 and P3:
// in total, by site and by shift. Test alarms are left out.
type SLAReport struct {
	Total   []SLARow `json:"total"`
	BySite  []SLARow `json:"by_site"`
	ByShift []SLARow `json:"by_shift"`
}

type slaGroup struct {
	site, shift string
	p           Priority
}

type slaAcc struct {
	row                     SLARow
	ack, dispatch, resolved []time.Duration
}

// NewSLAReport measures alarms. It is pure.
func NewSLAReport(alarms []*Alarm, opts SLAOptions) SLAReport {
	total, bySite, byShift := map[slaGroup]*slaAcc{}, map[slaGroup]*slaAcc{}, map[slaGroup]*slaAcc{}
	for _, p := range []Priority{P1, P2, P3} {
		total[slaGroup{p: p}] = &slaAcc{row: SLARow{Priority: p}}
	}
	for _, a := range alarms {
		if a.Test || !a.Priority.Valid() {
			continue
		}
		site, shift := "", ""
		if opts.SiteOf != nil {
			site = opts.SiteOf(a)
		}
		if opts.ShiftOf != nil {
			shift = opts.ShiftOf(a.Raised)
		}
		add(total, slaGroup{p: a.Priority}, a, opts.Now)
		add(bySite, slaGroup{site: site, p: a.Priority}, a, opts.Now)
		add(byShift, slaGroup{shift: shift, p: a.Priority}, a, opts.Now)
	}
	return SLAReport{Total: rows(total), BySite: rows(bySite), ByShift: rows(byShift)}
}

func add(m map[slaGroup]*slaAcc, g slaGroup, a *Alarm, now time.Time) {
	acc := m[g]
	if acc == nil {
		acc = &slaAcc{row: SLARow{Site: g.site, Shift: g.shift, Priority: g.p}}
		m[g] = acc
	}
	acc.row.Count++
	judge(&acc.row.Within60, a, SLAFast, now)
	judge(&acc.row.Within180, a, SLASlow, now)
	if !a.Acked.IsZero() {
		acc.ack = append(acc.ack, a.Acked.Sub(a.Raised))
	}
	if !a.Sent.IsZero() {
		acc.dispatch = append(acc.dispatch, a.Sent.Sub(a.Raised))
	}
	if a.State == Resolved && !a.Closed.IsZero() {
		acc.resolved = append(acc.resolved, a.Closed.Sub(a.Raised))
	}
}

// judge counts a against threshold d, if it can be judged yet.
func judge(s *Share, a *Alarm, d time.Duration, now time.Time) {
	switch {
	case !a.Acked.IsZero():
		s.Of++
		if a.Acked.Sub(a.Raised) <= d {
			s.Met++
		}
	case !a.State.Open():
		// Closed without anyone taking it: the elder cancelled or the
		// detector cleared. Before the threshold, nobody was late yet.
		if a.Closed.Sub(a.Raised) > d {
			s.Of++
		}
	case now.IsZero() || now.Sub(a.Raised) > d:
		s.Of++
	}
}

func rows(m map[slaGroup]*slaAcc) []SLARow {
	out := make([]SLARow, 0, len(m))
	for _, acc := range m {
		r := acc.row
		r.Ack, r.Dispatch, r.Resolve = stat(acc.ack), stat(acc.dispatch), stat(acc.resolved)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b SLARow) int {
		return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.Shift, b.Shift), cmp.Compare(a.Priority, b.Priority))
	})
	return out
}

func stat(ds []time.Duration) Stat {
	if len(ds) == 0 {
		return Stat{}
	}
	slices.Sort(ds)
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(float64(len(ds))*p)) - 1
		return ds[max(i, 0)]
	}
	return Stat{N: len(ds), Median: rank(0.5), P90: rank(0.9)}
}

// SLACSVHeader is the header row of WriteCSV.
var SLACSVHeader = []string{"group", "site", "shift", "priority", "count",
	"ack_60s_met", "ack_60s_of", "ack_60s_share", "ack_180s_met", "ack_180s_of", "ack_180s_share",
	"ack_n", "ack_median_s", "ack_p90_s", "dispatch_n", "dispatch_median_s", "dispatch_p90_s",
	"resolve_n", "resolve_median_s", "resolve_p90_s"}

// WriteCSV writes the report as CSV: a header, then the total, by-site and
// by-shift rows (group "total", "site", "shift"). Shares are fractions with
// four decimals, durations seconds; both are empty where nothing was measured.
func (r SLAReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(SLACSVHeader); err != nil {
		return err
	}
	for _, part := range []struct {
		group string
		rows  []SLARow
	}{{"total", r.Total}, {"site", r.BySite}, {"shift", r.ByShift}} {
		for _, row := range part.rows {
			rec := []string{part.group, row.Site, row.Shift, row.Priority.String(), strconv.Itoa(row.Count)}
			rec = append(rec, shareCells(row.Within60)...)
			rec = append(rec, shareCells(row.Within180)...)
			rec = append(rec, statCells(row.Ack)...)
			rec = append(rec, statCells(row.Dispatch)...)
			rec = append(rec, statCells(row.Resolve)...)
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func shareCells(s Share) []string {
	ratio := ""
	if v, ok := s.Ratio(); ok {
		ratio = strconv.FormatFloat(v, 'f', 4, 64)
	}
	return []string{strconv.Itoa(s.Met), strconv.Itoa(s.Of), ratio}
}

func statCells(s Stat) []string {
	if s.N == 0 {
		return []string{"0", "", ""}
	}
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	return []string{strconv.Itoa(s.N), secs(s.Median), secs(s.P90)}
}
