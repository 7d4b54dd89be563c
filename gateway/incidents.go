package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/anxin-care/anxin/alerting"
)

// Incidents: alarms that share one cause are raised once more, as one
// site-level alarm (alerting.Correlate, DESIGN.md §3).
//
//   - Smoke at two devices of one home or institution, or smoke with gas,
//     raise a P1 alarm of type "fire" or "smoke_gas" at the device
//     "site:<home>", whose raise note lists the alarms it links; each linked
//     alarm gets a timeline entry naming the incident, and alarms that join
//     later are linked the same way. It stays open until an operator
//     resolves it: smoke that clears by itself in two rooms still needs a
//     look.
//   - More than incidents.offline_threshold (default 3) devices of one home
//     or institution going offline within offline_window (default 5m) —
//     its edge box or its power is the likely cause — raise one P2 alarm
//     of type "site_offline" that links them, and their own P3
//     notifications are inhibited: the incident speaks for them. It is
//     resolved by itself once none of its devices is offline any more. So
//     that a burst is seen before its first alarms are notified one by one,
//     the notifications of offline alarms are held back offline_hold
//     (default 1m) before they are sent.
//
// The site of an alarm is the nearest home or institution above its
// device's room or bed. Correlation runs on its own goroutine after every
// raise, clear or close, never on the engine's. What was linked is kept in
// the state file (bucket incidents), so that an incident an operator
// resolved while its alarms are still open is not raised again for the
// same alarms, after a restart neither.
//
// Incidents escalate faster than the alarms they link: their alarms are
// routed through a shadow of the site tree ("incident:<site>" above
// "incident:<parent>" … up to "incident:*", staffed by whoever is on duty at
// the real site), so that an escalation policy for the site "incident:*"
// applies to every incident and one for "incident:<site>" to the incidents
// of a subtree. Without one in escalation_policies, the P1 incident policy
// (defaultIncidentPolicy) notifies the operators, the supervisor and the
// next level up at once and the top level 30 s later, with the last
// step's targets, the reminders and the unattended targets of the P1
// policy for every site. Their alarms' routed_site reads "incident:<site>";
// notifications show the real site.

// Names of the incidents' alarms and shadow tree.
const (
	// incidentDevicePrefix names the "device" of a site-level incident alarm.
	incidentDevicePrefix = "site:"
	// incidentPrefix makes a site of the shadow tree; no site id has a colon.
	incidentPrefix = "incident:"
	// IncidentSite is the root of the shadow tree: a policy for it applies
	// to every incident.
	IncidentSite = "incident:*"
)

// Defaults of IncidentsConfig.
const DefaultOfflineHold = time.Minute

// bucketIncidents: incident device \x00 kind → incidentRecord JSON.
var bucketIncidents = []byte("incidents")

func init() { allBuckets = append(allBuckets, bucketIncidents) }

// IncidentsConfig is the `incidents` section of the config.
type IncidentsConfig struct {
	// More than OfflineThreshold devices of one site offline within
	// OfflineWindow make one incident (alerting.DefaultOfflineThreshold,
	// alerting.DefaultOfflineWindow).
	OfflineThreshold int               `json:"offline_threshold"`
	OfflineWindow    alerting.Duration `json:"offline_window"`
	// OfflineHold is how long an offline alarm's notification waits to be
	// seen as part of a burst (DefaultOfflineHold); "0s" is the default too.
	OfflineHold alerting.Duration `json:"offline_hold"`
}

func (c IncidentsConfig) validate() error {
	switch {
	case c.OfflineThreshold < 0:
		return fmt.Errorf("config incidents.offline_threshold %d: must not be negative", c.OfflineThreshold)
	case c.OfflineWindow < 0:
		return fmt.Errorf("config incidents.offline_window: must not be negative")
	case c.OfflineHold < 0:
		return fmt.Errorf("config incidents.offline_hold: must not be negative")
	}
	return nil
}

// incidentSiteOf returns the site of an incident alarm's device.
func incidentSiteOf(device string) (string, bool) {
	return strings.CutPrefix(device, incidentDevicePrefix)
}

// realSite maps a site of the shadow tree to the real one; its root to "".
func realSite(site string) string {
	if site == IncidentSite {
		return ""
	}
	s, _ := strings.CutPrefix(site, incidentPrefix)
	return s
}

// defaultIncidentPolicy is the P1 policy of incidents, built on the P1
// policy for every site in ps.
func defaultIncidentPolicy(ps alerting.EscalationPolicies) alerting.EscalationPolicy {
	p := alerting.EscalationPolicy{Priority: alerting.P1, Site: IncidentSite,
		Steps: []alerting.Step{
			{After: 0, Targets: []string{alerting.TargetOperators, alerting.TargetSupervisor, alerting.TargetNextLevel}},
			{After: alerting.Duration(30 * time.Second), Targets: []string{alerting.TargetTopLevel}},
		},
		Repeat: alerting.Duration(time.Minute)}
	i := slices.IndexFunc(ps, func(x alerting.EscalationPolicy) bool { return x.Priority == alerting.P1 && x.Site == "" })
	if i < 0 {
		return p
	}
	base := ps[i]
	if n := len(base.Steps); n > 0 {
		for _, t := range base.Steps[n-1].Targets {
			if t != alerting.TargetCounty && !slices.Contains(p.Steps[1].Targets, t) {
				p.Steps[1].Targets = append(p.Steps[1].Targets, t)
			}
		}
	}
	if base.Repeat != 0 {
		p.Repeat = base.Repeat
	}
	p.Reminders, p.Unattended = base.Reminders, base.Unattended
	return p
}

// incidentRecord is what was linked under one incident alarm.
type incidentRecord struct {
	Alarm  string   `json:"alarm"`
	Kind   string   `json:"kind"`
	Site   string   `json:"site"`
	Linked []string `json:"linked"`
}

// incidents correlates open alarms into site-level incident alarms.
type incidents struct {
	g    *Gateway
	log  *slog.Logger
	opts alerting.CorrelateOptions
	hold time.Duration
	kick chan struct{}

	mu      sync.Mutex // one correlation at a time; guards records
	records map[string]*incidentRecord
}

func newIncidents(g *Gateway) (*incidents, error) {
	c := g.cfg.Incidents
	x := &incidents{g: g, log: g.log, hold: time.Duration(c.OfflineHold), kick: make(chan struct{}, 1),
		records: map[string]*incidentRecord{},
		opts: alerting.CorrelateOptions{SiteOf: g.siteOf, OfflineThreshold: c.OfflineThreshold,
			OfflineWindow: time.Duration(c.OfflineWindow)}}
	if x.hold == 0 {
		x.hold = DefaultOfflineHold
	}
	err := forEachJSON(g.db, bucketIncidents, func(k string, r *incidentRecord) error {
		x.records[k] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load incidents: %w", err)
	}
	return x, nil
}

// siteOf is the home or institution above an alarm's device: the site
// alarms are correlated at.
func (g *Gateway) siteOf(a *alerting.Alarm) string {
	if _, ok := incidentSiteOf(a.Device); ok || a.Site == "" {
		return ""
	}
	path := g.reg.sites.Path(a.Site)
	for i := len(path) - 1; i >= 0; i-- {
		if path[i].Level == LevelHome || path[i].Level == LevelInstitution {
			return path[i].ID
		}
	}
	return ""
}

// onChange is an engine subscriber: a raise, clear or close may start or
// end an incident.
func (x *incidents) onChange(c alerting.Change) {
	switch c.Entry.Action {
	case alerting.ActRaised, alerting.ActCleared, alerting.ActCancelled, alerting.ActResolved:
		select {
		case x.kick <- struct{}{}:
		default:
		}
	}
}

// run correlates after every kick until ctx is done, once at the start.
func (x *incidents) run(ctx context.Context) {
	for {
		x.mu.Lock()
		x.correlate()
		x.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-x.kick:
		}
	}
}

// correlate raises, links and ends incident alarms; x.mu is held.
func (x *incidents) correlate() {
	eng := x.g.eng
	open := map[string]*alerting.Alarm{}
	all := eng.Open()
	for _, a := range all {
		open[a.ID] = a
	}
	for _, in := range alerting.Correlate(all, x.opts) {
		x.apply(in, open)
	}
	for k, r := range x.records {
		device := incidentDevicePrefix + r.Site
		_, isOpen := eng.OpenOf(device, r.Kind)
		linkedOpen := slices.ContainsFunc(r.Linked, func(id string) bool { return open[id] != nil })
		switch {
		case isOpen && !linkedOpen && r.Kind == alerting.IncidentSiteOffline:
			if _, err := eng.EndCondition(device, r.Kind, "every device of the site is heard again"); err != nil {
				x.log.Error("site incident not closed", "alarm", r.Alarm, "err", err)
			}
		case !isOpen && !linkedOpen:
			x.forget(k)
		}
	}
}

// apply raises the alarm of one incident, or links its new alarms.
func (x *incidents) apply(in alerting.Incident, open map[string]*alerting.Alarm) {
	eng := x.g.eng
	device := incidentDevicePrefix + in.Site
	k := device + "\x00" + in.Kind
	r := x.records[k]
	cur, isOpen := eng.OpenOf(device, in.Kind)
	if !isOpen && r != nil && !slices.ContainsFunc(in.Alarms, func(id string) bool { return !slices.Contains(r.Linked, id) }) {
		return // an operator closed it; nothing new joined since
	}
	if !isOpen {
		var err error
		cur, _, err = eng.RaiseCondition(device, in.Kind, in.Priority, x.raiseNote(in, open), false)
		if err != nil {
			x.log.Error("site incident not raised", "site", in.Site, "kind", in.Kind, "err", err)
			return
		}
		x.log.Warn("site incident raised", "alarm", cur.ID, "site", in.Site, "kind", in.Kind, "alarms", in.Alarms)
		r = &incidentRecord{Alarm: cur.ID, Kind: in.Kind, Site: in.Site, Linked: slices.Clone(in.Alarms)}
		for _, id := range in.Alarms {
			x.note(id, fmt.Sprintf("part of site incident %s (%s at %s)", cur.ID, in.Kind, in.Site))
		}
		x.save(k, r)
		return
	}
	if r == nil || r.Alarm != cur.ID {
		r = &incidentRecord{Alarm: cur.ID, Kind: in.Kind, Site: in.Site}
	} else {
		c := *r // changed here, kept by save once it is stored
		c.Linked = slices.Clone(r.Linked)
		r = &c
	}
	changed := false
	for _, id := range in.Alarms {
		if slices.Contains(r.Linked, id) {
			continue
		}
		if !slices.ContainsFunc(cur.Timeline, func(e alerting.Entry) bool { return strings.Contains(e.Note, id) }) {
			x.note(cur.ID, "linked "+alarmRef(id, open))
			x.note(id, fmt.Sprintf("part of site incident %s (%s at %s)", cur.ID, in.Kind, in.Site))
		}
		r.Linked = append(r.Linked, id)
		changed = true
	}
	if changed {
		x.save(k, r)
	}
}

func (x *incidents) raiseNote(in alerting.Incident, open map[string]*alerting.Alarm) string {
	refs := make([]string, len(in.Alarms))
	for i, id := range in.Alarms {
		refs[i] = alarmRef(id, open)
	}
	return fmt.Sprintf("%s at %s: %d alarms of %d devices: %s", in.Kind, in.Site, len(in.Alarms), len(in.Devices),
		strings.Join(refs, ", "))
}

// alarmRef names an alarm with its type and device: "A-1 (smoke at smoke-1)".
func alarmRef(id string, open map[string]*alerting.Alarm) string {
	if a := open[id]; a != nil {
		return fmt.Sprintf("%s (%s at %s)", id, a.Type, a.Device)
	}
	return id
}

func (x *incidents) note(alarm, note string) {
	if err := x.g.eng.Record(alarm, alerting.Entry{Action: alerting.ActNote, Note: note}); err != nil {
		x.log.Warn("incident link not recorded", "alarm", alarm, "err", err)
	}
}

// save and forget change the records only once the store did, so that a
// failed write is tried again at the next correlation.
func (x *incidents) save(k string, r *incidentRecord) {
	if err := x.g.db.update(func(tx *bolt.Tx) error { return putJSONTx(tx, bucketIncidents, k, r) }); err != nil {
		x.log.Error("incident links not stored", "alarm", r.Alarm, "err", err)
		return
	}
	x.records[k] = r
}

func (x *incidents) forget(k string) {
	if err := x.g.db.deleteKey(bucketIncidents, k); err != nil {
		x.log.Warn("old incident links not removed", "key", k, "err", err)
		return
	}
	delete(x.records, k)
}

// inhibiting returns the site incident that speaks for an offline alarm.
// It correlates first, so that a burst whose incident is not raised yet
// still counts.
func (x *incidents) inhibiting(a *alerting.Alarm) (string, bool) {
	if a.Type != alerting.TypeOffline {
		return "", false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.correlate()
	for _, r := range x.records {
		if r.Kind != alerting.IncidentSiteOffline || !slices.Contains(r.Linked, a.ID) {
			continue
		}
		if _, open := x.g.eng.OpenOf(incidentDevicePrefix+r.Site, r.Kind); open {
			return r.Alarm, true
		}
	}
	return "", false
}

// holdFor is how long a notification waits before it is sent: offline
// alarms wait to be seen as part of a burst.
func (x *incidents) holdFor(n alerting.Notification) time.Duration {
	if n.Alarm != nil && n.Alarm.Type == alerting.TypeOffline {
		return x.hold
	}
	return 0
}

// incidentInfo is what the escalator knows of an incident alarm: its site
// in the shadow tree, the site's location path, and its resident when
// exactly one lives there.
func (g *Gateway) incidentInfo(a *alerting.Alarm, site string) alerting.AlarmInfo {
	info := alerting.AlarmInfo{Site: incidentPrefix + site, Location: a.Location}
	if len(info.Location) == 0 {
		info.Location = g.locateAlarm(a.Device).Path
	}
	under := map[string]bool{}
	for _, id := range g.reg.sites.Subtree(site) {
		under[id] = true
	}
	if rs := g.reg.residents.List(func(r Resident) bool { return under[r.Home] }); len(rs) == 1 {
		info.Resident = g.residentInfo(rs[0])
	}
	return info
}

// locateAlarm is the engine's Locate: an incident alarm is at its site.
func (g *Gateway) locateAlarm(device string) alerting.Location {
	site, ok := incidentSiteOf(device)
	if !ok {
		return g.locate(device)
	}
	loc := alerting.Location{Site: site}
	for _, s := range g.reg.sites.Path(site) {
		loc.Path = append(loc.Path, s.Name)
	}
	return loc
}
