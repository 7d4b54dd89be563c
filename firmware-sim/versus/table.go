package versus

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Table is the outcome of a run: every measure on both servers, pooled
// over the rounds.
type Table struct {
	Options Options
	rows    []Row
}

func (t *Table) add(rows ...Row) { t.rows = append(t.rows, rows...) }

// Cell is one measure on one server over all rounds.
type Cell struct {
	Lat      []time.Duration // pooled, sorted
	Values   []float64       // one a round, for one-figure measures
	Unit     string
	Lost, Of int
	CPU      float64 // mean seconds a round
	RSS      int64   // the largest seen
	Usage    bool
	Rounds   int
}

// Quantile is the q-quantile of the pooled latencies, by nearest rank.
func (c Cell) Quantile(q float64) time.Duration {
	if len(c.Lat) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(c.Lat)))) - 1
	return c.Lat[min(max(i, 0), len(c.Lat)-1)]
}

// Value is the median of the rounds' figures.
func (c Cell) Value() float64 {
	if len(c.Values) == 0 {
		return 0
	}
	v := slices.Sorted(slices.Values(c.Values))
	return v[len(v)/2]
}

// Measures lists the measures in the order they ran.
func (t *Table) Measures() []string {
	var out []string
	for _, r := range t.rows {
		if !slices.Contains(out, r.Measure) {
			out = append(out, r.Measure)
		}
	}
	return out
}

// Cell pools the rounds of measure on server.
func (t *Table) Cell(measure, server string) (Cell, bool) {
	var c Cell
	for _, r := range t.rows {
		if r.Measure != measure || r.Server != server {
			continue
		}
		c.Rounds++
		c.Lat = append(c.Lat, r.Lat...)
		if r.Unit != "" {
			c.Values = append(c.Values, r.Value)
			c.Unit = r.Unit
		}
		c.Lost += r.Lost
		c.Of += r.Of
		c.CPU += r.CPU
		c.RSS = max(c.RSS, r.RSS)
		c.Usage = r.Usage
	}
	if c.Rounds == 0 {
		return c, false
	}
	slices.Sort(c.Lat)
	c.CPU /= float64(c.Rounds)
	return c, true
}

// Servers are the table's columns of servers.
var Servers = []string{"anxin", "mosquitto"}

// Write prints the table as Markdown: per measure a row for each server
// and one with the anxin/mosquitto ratios.
func (t *Table) Write(w io.Writer) error {
	var b strings.Builder
	o := t.Options
	fmt.Fprintf(&b, "anxin vs Mosquitto %s + responder: %d interleaved round(s), %s each, %d source address(es)\n\n",
		mosquittoVersion(o.MosquittoBin), o.Rounds, o.Duration, o.SourceIPs)
	b.WriteString("| measure | server | p50 | p95 | p99 | max | value | loss | CPU s | RSS MiB |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, m := range t.Measures() {
		var cells []Cell
		for _, s := range Servers {
			c, ok := t.Cell(m, s)
			if !ok {
				continue
			}
			cells = append(cells, c)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", m, s,
				lat(c, 0.50), lat(c, 0.95), lat(c, 0.99), lat(c, 1), value(c),
				fmt.Sprintf("%d/%d", c.Lost, c.Of), usage(c, fmt.Sprintf("%.2f", c.CPU)),
				usage(c, fmt.Sprintf("%.0f", float64(c.RSS)/(1<<20))))
		}
		if len(cells) == 2 {
			a, m2 := cells[0], cells[1]
			q := func(p float64) string {
				if len(a.Lat) == 0 || len(m2.Lat) == 0 {
					return ""
				}
				return ratio(float64(a.Quantile(p)), float64(m2.Quantile(p)))
			}
			val := ""
			if a.Unit != "" {
				val = ratio(a.Value(), m2.Value())
			}
			cpu, rss := "", ""
			if a.Usage && m2.Usage {
				cpu, rss = ratio(a.CPU, m2.CPU), ratio(float64(a.RSS), float64(m2.RSS))
			}
			fmt.Fprintf(&b, "| %s | anxin/mosquitto | %s | %s | %s | %s | %s |  | %s | %s |\n", m, q(0.50), q(0.95), q(0.99), q(1), val, cpu, rss)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func lat(c Cell, q float64) string {
	if len(c.Lat) == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f ms", float64(c.Quantile(q))/float64(time.Millisecond))
}

func value(c Cell) string {
	if c.Unit == "" {
		return ""
	}
	return fmt.Sprintf("%.0f %s", c.Value(), c.Unit)
}

func usage(c Cell, s string) string {
	if !c.Usage {
		return "n/a"
	}
	return s
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}
