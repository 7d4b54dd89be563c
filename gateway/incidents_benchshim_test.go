package gateway

import (
	"log/slog"
	"testing"

	"github.com/anxin-care/anxin/alerting"
)

// benchIncidents builds incidents for BenchmarkPressOpenAlarms.
func benchIncidents(b *testing.B, eng *alerting.Engine, siteOf func(*alerting.Alarm) string, subtree func(string) []string, log *slog.Logger) *incidents {
	x, err := newIncidents(eng, &memRecords{}, testSiteLocation, subtree, IncidentsConfig{}.correlateOptions(siteOf), log)
	if err != nil {
		b.Fatal(err)
	}
	return x
}
