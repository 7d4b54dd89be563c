package alerting

import (
	"slices"
	"strings"
	"time"
)

// The kinds of site-level incident Correlate finds.
const (
	// IncidentFire: smoke at two or more devices of one site.
	IncidentFire = "fire"
	// IncidentSmokeGas: smoke and gas at one site.
	IncidentSmokeGas = "smoke_gas"
	// IncidentSiteOffline: many devices of one site (or one edge box) went
	// silent together; the box or the site's uplink is the likely cause.
	IncidentSiteOffline = "site_offline"
)

// Defaults of CorrelateOptions.
const (
	DefaultOfflineThreshold = 3
	DefaultOfflineWindow    = 5 * time.Minute
)

// Incident is a site-level alarm that links alarms sharing one cause.
type Incident struct {
	// ID is derived from the kind and the oldest linked alarm, so it is the
	// same on every call while that alarm is open.
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Site     string    `json:"site"`
	Priority Priority  `json:"priority"`
	Alarms   []string  `json:"alarms"` // oldest first
	Devices  []string  `json:"devices"`
	Started  time.Time `json:"started"` // when the oldest linked alarm was raised
	// Inhibit says the linked alarms should not be notified one by one:
	// the incident speaks for them.
	Inhibit bool `json:"inhibit,omitempty"`
}

// CorrelateOptions configure Correlate.
type CorrelateOptions struct {
	// SiteOf returns the site an alarm is correlated at: the home or
	// institution of its device, or its edge box. "" leaves it alone.
	SiteOf func(a *Alarm) string
	// More than OfflineThreshold offline alarms of one site raised within
	// OfflineWindow of each other are grouped under one incident.
	OfflineThreshold int
	OfflineWindow    time.Duration
}

// Correlate finds the site-level incidents among open alarms: smoke at two
// devices of one site or smoke with gas raise a P1 fire incident linking
// them; more than OfflineThreshold devices of one site going offline within
// OfflineWindow are grouped under one P2 incident that inhibits their P3
// alarms (a home that cannot call for help is more than a technical
// fault). Correlate is pure; incidents come sorted by site and kind.
func Correlate(open []*Alarm, opts CorrelateOptions) []Incident {
	if opts.SiteOf == nil {
		return nil
	}
	if opts.OfflineThreshold <= 0 {
		opts.OfflineThreshold = DefaultOfflineThreshold
	}
	if opts.OfflineWindow <= 0 {
		opts.OfflineWindow = DefaultOfflineWindow
	}
	type bucket struct{ smoke, gas, offline []*Alarm }
	sites := map[string]*bucket{}
	for _, a := range open {
		if !a.State.Open() || a.Cleared || a.Test {
			continue
		}
		site := opts.SiteOf(a)
		if site == "" {
			continue
		}
		b := sites[site]
		if b == nil {
			b = &bucket{}
			sites[site] = b
		}
		switch a.Type {
		case TypeSmoke:
			b.smoke = append(b.smoke, a)
		case TypeGas:
			b.gas = append(b.gas, a)
		case TypeOffline:
			b.offline = append(b.offline, a)
		}
	}
	var out []Incident
	for site, b := range sites {
		switch smokers := devicesOf(b.smoke); {
		case len(smokers) >= 2:
			out = append(out, incident(IncidentFire, site, P1, append(b.smoke, b.gas...), false))
		case len(smokers) == 1 && len(b.gas) > 0:
			out = append(out, incident(IncidentSmokeGas, site, P1, append(b.smoke, b.gas...), false))
		}
		if burst(b.offline, opts.OfflineThreshold, opts.OfflineWindow) {
			out = append(out, incident(IncidentSiteOffline, site, P2, b.offline, true))
		}
	}
	slices.SortFunc(out, func(a, b Incident) int {
		if c := strings.Compare(a.Site, b.Site); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return out
}

// Correlates reports whether Correlate looks at alarms of type typ: a
// caller that keeps the open alarms for it keeps only these.
func Correlates(typ string) bool {
	return typ == TypeSmoke || typ == TypeGas || typ == TypeOffline
}

// IncidentKinds are the kinds of incident Correlate finds.
var IncidentKinds = []string{IncidentFire, IncidentSmokeGas, IncidentSiteOffline}

// burst reports whether more than n alarms were raised within window.
func burst(as []*Alarm, n int, window time.Duration) bool {
	if len(as) <= n {
		return false
	}
	ts := make([]time.Time, len(as))
	for i, a := range as {
		ts[i] = a.Raised
	}
	slices.SortFunc(ts, time.Time.Compare)
	for i := 0; i+n < len(ts); i++ {
		if ts[i+n].Sub(ts[i]) <= window {
			return true
		}
	}
	return false
}

func devicesOf(as []*Alarm) []string {
	var ds []string
	for _, a := range as {
		if !slices.Contains(ds, a.Device) {
			ds = append(ds, a.Device)
		}
	}
	slices.Sort(ds)
	return ds
}

func incident(kind, site string, p Priority, as []*Alarm, inhibit bool) Incident {
	as = slices.Clone(as)
	slices.SortFunc(as, func(a, b *Alarm) int {
		if c := a.Raised.Compare(b.Raised); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	in := Incident{ID: "I-" + kind + "-" + as[0].ID, Kind: kind, Site: site, Priority: p,
		Devices: devicesOf(as), Started: as[0].Raised, Inhibit: inhibit}
	for _, a := range as {
		in.Alarms = append(in.Alarms, a.ID)
	}
	return in
}
