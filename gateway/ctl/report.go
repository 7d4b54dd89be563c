package ctl

import (
	"flag"
	"fmt"
	"math"
	"strings"

	"github.com/anxin-care/anxin/gateway/apiclient"
)

func reportCommand() *command {
	return &command{name: "report", summary: "reports on how alarms were answered", subs: []*command{reportSLA()}}
}

func reportSLA() *command {
	return &command{name: "sla", args: "[--from TIME] [--to TIME] [--site ID] [--group-by LEVEL]", nargs: 0,
		outputs: []string{"csv"},
		summary: "service levels: alarms acknowledged within 60 s and 180 s, times to acknowledge, dispatch and resolve",
		help: `For P1, P2 and P3 alarms raised in the period: how many, the share of those
judged that were acknowledged within 60 s and within 180 s (the telecare targets
are 97.5 % and 99 %; "!" marks a share below its target), and the median and
90th percentile of the times to acknowledge, dispatch and resolve. In total,
by site and by shift (the shift the alarm was raised in; the gateway's config
sla_shifts). An alarm cancelled before a threshold, or still waiting and
younger than it, is not judged against it. Walk-test alarms are left out.

TIME is an RFC 3339 time or a date, a day in the gateway's time zone; --to
includes its whole day. The default period is the last 7 days.

  anxinctl report sla --from 2026-11-01 --to 2026-11-30 --site qs-town
  anxinctl report sla --group-by township -o csv > sla.csv`,
		setup: func(fs *flag.FlagSet) runFunc {
			var q apiclient.SLAQuery
			fs.StringVar(&q.From, "from", "", "start of the period: RFC 3339 `TIME` or date (default 7 days before --to)")
			fs.StringVar(&q.To, "to", "", "end of the period: RFC 3339 `TIME` or date, included (default now)")
			fs.StringVar(&q.Site, "site", "", "only alarms at or under this site `ID`")
			fs.StringVar(&q.GroupBy, "group-by", "", "group sites by `LEVEL`: county, township, village or home (default village)")
			return func(e *env, _ []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				if e.output == "csv" {
					return c.SLAReportCSV(e.ctx, q, e.stdout)
				}
				rep, err := c.SLAReport(e.ctx, q)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(rep)
				}
				printSLA(e, rep)
				return nil
			}
		}}
}

// printSLA writes the report as three tables: total, by site, by shift.
func printSLA(e *env, r apiclient.SLAReport) {
	const day = "2006-01-02 15:04"
	var shifts []string
	for _, s := range r.Shifts {
		shifts = append(shifts, fmt.Sprintf("%s %s–%s", s.Name, s.Start, s.End))
	}
	e.printf("Service levels from %s to %s", r.From.Local().Format(day), r.To.Local().Format(day))
	if r.Site != "" {
		e.printf(" at or under %s", r.Site)
	}
	e.printf("\nShifts (%s): %s. \"!\": below the target of 97.5 %% in 60 s or 99 %% in 180 s.\n\n",
		r.TimeZone, strings.Join(shifts, ", "))
	cols := []string{"PRI", "ALARMS", "IN 60s", "IN 180s", "ACK p50 / p90", "DISPATCH p50 / p90", "RESOLVE p50 / p90"}
	writeTable(e.stdout, cols, slaCells(r.Total, nil))
	e.printf("\n")
	writeTable(e.stdout, append([]string{"BY " + strings.ToUpper(r.GroupBy)}, cols...), slaCells(r.BySite, func(row apiclient.SLARow) string {
		if row.Site == "" {
			return "(no site)"
		}
		return fmt.Sprintf("%s [%s]", row.SiteName, row.Site)
	}))
	e.printf("\n")
	writeTable(e.stdout, append([]string{"BY SHIFT"}, cols...), slaCells(r.ByShift, func(row apiclient.SLARow) string { return row.Shift }))
}

// slaCells turns rows into table cells; group, when set, names each row's
// group in a first column, once for its first row.
func slaCells(rows []apiclient.SLARow, group func(apiclient.SLARow) string) [][]string {
	out := make([][]string, 0, len(rows))
	last := ""
	for i, row := range rows {
		var cells []string
		if group != nil {
			name := group(row)
			if i > 0 && name == last {
				cells = append(cells, "")
			} else {
				cells = append(cells, name)
			}
			last = name
		}
		cells = append(cells, row.Priority, fmt.Sprint(row.Count), shareCell(row.Within60), shareCell(row.Within180),
			statCell(row.Ack), statCell(row.Dispatch), statCell(row.Resolve))
		out = append(out, cells)
	}
	return out
}

// shareCell shows "75.0% 3/4", with " !" when below target, or "-" when
// no alarm was judged.
func shareCell(s apiclient.SLAShare) string {
	if s.Share == nil {
		return "-"
	}
	cell := fmt.Sprintf("%.1f%% %d/%d", *s.Share*100, s.Met, s.Of)
	if s.MeetsTarget != nil && !*s.MeetsTarget {
		cell += " !"
	}
	return cell
}

func statCell(s apiclient.SLAStat) string {
	if s.N == 0 || s.MedianS == nil || s.P90S == nil {
		return "-"
	}
	return seconds(*s.MedianS) + " / " + seconds(*s.P90S)
}

// seconds shows a duration for people: 45s, 3m20s, 15m, 2h05m.
func seconds(v float64) string {
	s := int(math.Round(v))
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600 && s%60 == 0:
		return fmt.Sprintf("%dm", s/60)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s%3600 < 60:
		return fmt.Sprintf("%dh", s/3600)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
}
