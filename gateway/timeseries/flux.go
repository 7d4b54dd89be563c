package timeseries

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// fluxQuery renders q for InfluxDB. Matching series are grouped into one
// table (group by measurement and field) and sorted by time, so that the
// windows mean the same as the embedded store's: the points of every
// matching series taken together. Windows are labelled by their start
// (timeSrc "_start"); empty windows are left out (createEmpty: false).
// It uses only Flux that InfluxDB 1.8.10 (Flux 0.65) understands.
func fluxQuery(bucket string, q Query) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", fluxString(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxTime(q.Start), fluxTime(q.End))
	fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", fluxPredicate(q.Measurement, q.Field, q.Tags))
	// InfluxDB 1.8 reads the range's stop inclusively; the contract (and
	// InfluxDB 2.x) excludes it. A separate filter keeps the one above
	// eligible for storage pushdown.
	fmt.Fprintf(&b, "  |> filter(fn: (r) => r._time < %s)\n", fluxTime(q.End))
	b.WriteString("  |> group(columns: [\"_measurement\", \"_field\"])\n")
	b.WriteString("  |> sort(columns: [\"_time\"])\n")
	if q.Every > 0 {
		fmt.Fprintf(&b, "  |> aggregateWindow(every: %s, fn: %s, timeSrc: \"_start\", createEmpty: false)\n",
			fluxDuration(q.Every), q.Fn)
	}
	b.WriteString("  |> keep(columns: [\"_time\", \"_value\"])\n")
	return b.String()
}

// fluxSeries lists one row per series and field with the series' tags.
func fluxSeries(bucket string, m Measurement, since, until time.Time) string {
	return fmt.Sprintf("from(bucket: %s)\n  |> range(start: %s, stop: %s)\n  |> filter(fn: (r) => r._measurement == %s)\n  |> last()\n",
		fluxString(bucket), fluxTime(since), fluxTime(until), fluxString(string(m)))
}

func fluxPredicate(m Measurement, field string, tags map[string]string) string {
	parts := []string{
		"r._measurement == " + fluxString(string(m)),
		"r._field == " + fluxString(field),
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		// r["key"] rather than r.key: tag keys such as "type" must not
		// collide with Flux keywords.
		parts = append(parts, fmt.Sprintf("r[%s] == %s", fluxString(k), fluxString(tags[k])))
	}
	return strings.Join(parts, " and ")
}

// fluxString quotes s as a Flux string literal; "${" would start interpolation.
func fluxString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`)
	return `"` + r.Replace(s) + `"`
}

func fluxTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// fluxDuration renders a whole number of seconds (Query.Validate ensures it).
func fluxDuration(d time.Duration) string { return fmt.Sprintf("%ds", int64(d/time.Second)) }
