package alerting_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

func TestCorrelate(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	// Devices are named "<site>/<room>-<kind>".
	alarm := func(id, device, typ string, at time.Duration) *alerting.Alarm {
		return &alerting.Alarm{ID: id, Device: device, Type: typ, State: alerting.Raised, Raised: t0.Add(at)}
	}
	cleared := func(a *alerting.Alarm) *alerting.Alarm { a.Cleared = true; return a }
	opts := alerting.CorrelateOptions{SiteOf: func(a *alerting.Alarm) string {
		site, _, _ := strings.Cut(a.Device, "/")
		return site
	}}
	offline := func(site string, n int, every time.Duration) []*alerting.Alarm {
		var out []*alerting.Alarm
		for i := range n {
			out = append(out, alarm(fmt.Sprintf("O%d", i+1), fmt.Sprintf("%s/dev%d", site, i+1), alerting.TypeOffline, time.Duration(i)*every))
		}
		return out
	}
	tests := []struct {
		name string
		open []*alerting.Alarm
		want []string // "kind site P alarms… inhibit"
	}{
		{"smoke in two rooms of one home", []*alerting.Alarm{
			alarm("A2", "home12/kitchen-smoke", alerting.TypeSmoke, 20*time.Second),
			alarm("A1", "home12/bedroom-smoke", alerting.TypeSmoke, 0),
			alarm("A3", "home12/bedroom-call", alerting.TypeCall, 0)},
			[]string{"I-fire-A1 fire home12 P1 [A1 A2] false"}},
		{"smoke with gas", []*alerting.Alarm{
			alarm("A1", "home12/kitchen-gas", alerting.TypeGas, 0),
			alarm("A2", "home12/kitchen-smoke", alerting.TypeSmoke, time.Minute)},
			[]string{"I-smoke_gas-A1 smoke_gas home12 P1 [A1 A2] false"}},
		{"smoke at two different homes is two fires, not one", []*alerting.Alarm{
			alarm("A1", "home12/kitchen-smoke", alerting.TypeSmoke, 0),
			alarm("A2", "home3/kitchen-smoke", alerting.TypeSmoke, 0)},
			nil},
		{"a cleared detector does not count", []*alerting.Alarm{
			cleared(alarm("A1", "home12/kitchen-smoke", alerting.TypeSmoke, 0)),
			alarm("A2", "home12/bedroom-smoke", alerting.TypeSmoke, 0)},
			nil},
		{"four devices of one institution offline within five minutes", offline("inst", 4, time.Minute),
			[]string{"I-site_offline-O1 site_offline inst P2 [O1 O2 O3 O4] true"}},
		{"three offline is the threshold, not over it", offline("inst", 3, time.Second), nil},
		{"four offline spread over an hour are four faults", offline("inst", 4, 20*time.Minute), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, in := range alerting.Correlate(tt.open, opts) {
				got = append(got, fmt.Sprintf("%s %s %s %s %v %v", in.ID, in.Kind, in.Site, in.Priority, in.Alarms, in.Inhibit))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("incidents %q, want %q", got, tt.want)
			}
			// The same alarms in another order make the same incidents.
			rev := slices.Clone(tt.open)
			slices.Reverse(rev)
			if again := alerting.Correlate(rev, opts); len(again) != len(got) || (len(got) > 0 && again[0].ID != alerting.Correlate(tt.open, opts)[0].ID) {
				t.Fatalf("reordered alarms give %v", again)
			}
		})
	}
}
