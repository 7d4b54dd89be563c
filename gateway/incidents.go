package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// Incidents: alarms that share one cause are raised once more, as one
// site-level alarm (alerting.Correlate, DESIGN.md §3): an alarm whose
// subject is the home or institution itself (alerting.SubjectSite, its Site
// that site, no device).
//
//   - Smoke at two devices of one home or institution, or smoke with gas,
//     raise a P1 alarm of type "fire" or "smoke_gas" about the site, whose
//     raise note lists the alarms it links; each linked alarm gets a
//     timeline entry naming the incident, and alarms that join later are
//     linked the same way. It stays open until an operator resolves it:
//     smoke that clears by itself in two rooms still needs a look.
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
// raise, clear or close, never on the engine's nor on the notification
// path. It keeps its own index of the open smoke, gas and offline alarms
// by room, fed by the engine's changes (incidents_index.go), and a pass
// correlates only the homes whose alarms or incident alarms changed, so
// that its cost does not grow with the number of alarms open. What was linked is kept in the state file (bucket incidents), so
// that an incident an operator resolved while its alarms are still open is
// not raised again for the same alarms, after a restart neither.
//
// Incidents are routed over the real site tree from their site, like any
// alarm there, and escalate faster than the alarms they link: escalation
// policies with "subject": "site" apply to them (and only to them); without
// one in escalation_policies, the P1 incident policy (defaultIncidentPolicy)
// notifies the operators, the supervisor and the next level up at once and
// the top level 30 s later, with the last step's targets, the reminders and
// the unattended targets of the P1 policy for every site. A site alarm of a
// priority no site policy covers takes the device policy (alerting.For).

// Defaults of IncidentsConfig.
const DefaultOfflineHold = time.Minute

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

// defaultIncidentPolicy is the P1 policy of incidents, built on the P1
// policy for every site in ps.
func defaultIncidentPolicy(ps alerting.EscalationPolicies) alerting.EscalationPolicy {
	p := alerting.EscalationPolicy{Priority: alerting.P1, Subject: alerting.SubjectSite,
		Steps: []alerting.Step{
			{After: 0, Targets: []string{alerting.TargetOperators, alerting.TargetSupervisor, alerting.TargetNextLevel}},
			{After: alerting.Duration(30 * time.Second), Targets: []string{alerting.TargetTopLevel}},
		},
		Repeat: alerting.Duration(time.Minute)}
	i := slices.IndexFunc(ps, func(x alerting.EscalationPolicy) bool {
		return x.Priority == alerting.P1 && x.Subject != alerting.SubjectSite && x.Site == ""
	})
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

// incidentEngine is what incidents reads of and does to the alarm engine
// (*alerting.Engine).
type incidentEngine interface {
	Open() []*alerting.Alarm
	Subscribe(fn func(alerting.Change)) (cancel func())
	OpenAtSite(site, typ string) (*alerting.Alarm, bool)
	RaiseSiteCondition(at alerting.Location, typ string, p alerting.Priority, note string) (*alerting.Alarm, bool, error)
	EndSiteCondition(site, typ, note string) (*alerting.Alarm, error)
	Record(alarmID string, e alerting.Entry) error
}

// incidentRecords is the state store's bucket of incident records.
type incidentRecords interface {
	Incidents() (map[string]*state.Incident, error)
	PutIncident(key string, r *state.Incident) error
	DeleteIncident(key string) error
}

var (
	_ incidentEngine  = (*alerting.Engine)(nil)
	_ incidentRecords = (*state.DB)(nil)
)

// incidents correlates open alarms into site-level incident alarms.
//
// mu serialises correlation passes; recMu guards records and linkedBy;
// idx has its own leaf lock (the lock order in doc.go says where each may
// be held).
type incidents struct {
	eng   incidentEngine
	store incidentRecords
	// siteLocation is where a site alarm is (Gateway.siteLocation); it
	// takes only the registry's read locks, as subtree does.
	siteLocation func(site string) alerting.Location
	// subtree is a site and every site below it (registry.Sites.Subtree):
	// the rooms whose alarms a home's correlation reads.
	subtree func(site string) []string
	log     *slog.Logger
	opts    alerting.CorrelateOptions
	kick    chan struct{}
	idx     *openIndex
	fill    sync.Once // idx loaded from the engine

	mu       sync.Mutex // one correlation at a time
	recMu    sync.RWMutex
	records  map[string]*state.Incident // by state.IncidentKey; replaced, never modified
	linkedBy map[string][]string        // alarm id → keys of the records linking it
}

// newIncidents loads the incident records from store and follows the
// engine's changes. opts.SiteOf names the home or institution an alarm is
// correlated at (Gateway.siteOf).
func newIncidents(eng incidentEngine, store incidentRecords, siteLocation func(site string) alerting.Location,
	subtree func(site string) []string, opts alerting.CorrelateOptions, log *slog.Logger) (*incidents, error) {
	x := &incidents{eng: eng, store: store, siteLocation: siteLocation, subtree: subtree, log: log, opts: opts,
		kick: make(chan struct{}, 1), idx: newOpenIndex(), linkedBy: map[string][]string{}}
	var err error
	if x.records, err = store.Incidents(); err != nil {
		return nil, err
	}
	for k, r := range x.records {
		x.link(k, r)
	}
	eng.Subscribe(x.onChange)
	return x, nil
}

// link and unlink keep linkedBy in step with records; recMu is held for
// writing, or not needed yet.
func (x *incidents) link(k string, r *state.Incident) {
	for _, id := range r.Linked {
		if !slices.Contains(x.linkedBy[id], k) {
			x.linkedBy[id] = append(x.linkedBy[id], k)
		}
	}
}

func (x *incidents) unlink(k string, r *state.Incident) {
	if r == nil {
		return
	}
	for _, id := range r.Linked {
		keys := slices.DeleteFunc(x.linkedBy[id], func(s string) bool { return s == k })
		if len(keys) == 0 {
			delete(x.linkedBy, id)
		} else {
			x.linkedBy[id] = keys
		}
	}
}

// correlateOptions are the config's thresholds of correlation, with siteOf.
func (c IncidentsConfig) correlateOptions(siteOf func(*alerting.Alarm) string) alerting.CorrelateOptions {
	return alerting.CorrelateOptions{SiteOf: siteOf, OfflineThreshold: c.OfflineThreshold,
		OfflineWindow: time.Duration(c.OfflineWindow)}
}

// siteOf is the home or institution above an alarm's device: the site
// alarms are correlated at.
func (g *Gateway) siteOf(a *alerting.Alarm) string {
	if a.IsSite() || a.Site == "" {
		return ""
	}
	path := g.reg.Sites().Path(a.Site)
	for i := len(path) - 1; i >= 0; i-- {
		if path[i].Level == registry.LevelHome || path[i].Level == registry.LevelInstitution {
			return path[i].ID
		}
	}
	return ""
}

// onChange is an engine subscriber: a raise, clear or close of an alarm
// correlation looks at, or of a site alarm, may start or end an incident.
// It keeps the index and kicks a pass; it never waits for one.
func (x *incidents) onChange(c alerting.Change) {
	a := c.Alarm
	switch {
	case a.IsSite():
		switch c.Entry.Action {
		case alerting.ActRaised, alerting.ActCleared, alerting.ActCancelled, alerting.ActResolved:
			x.idx.markSite(a.Site)
		default:
			return
		}
	case alerting.Correlates(a.Type):
		if !x.idx.put(a, c.Entry.At) {
			return
		}
	default:
		return
	}
	select {
	case x.kick <- struct{}{}:
	default:
	}
}

// ensureFilled loads the index from the engine once, after the
// subscription (newIncidents) so that no change falls between, and marks
// every recorded incident's site for the first pass.
func (x *incidents) ensureFilled() {
	x.fill.Do(func() {
		for _, a := range x.eng.Open() {
			if !a.IsSite() && alerting.Correlates(a.Type) {
				x.idx.load(a)
			}
		}
		x.recMu.RLock()
		for _, r := range x.records {
			x.idx.markSite(r.Site)
		}
		x.recMu.RUnlock()
	})
}

// run correlates after every kick until ctx is done, once at the start.
func (x *incidents) run(ctx context.Context) {
	for {
		x.correlateOnce()
		select {
		case <-ctx.Done():
			return
		case <-x.kick:
		}
	}
}

// correlateOnce runs one correlation pass.
func (x *incidents) correlateOnce() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.correlate()
}

// record returns the record of an incident, nil if there is none.
func (x *incidents) record(k string) *state.Incident {
	x.recMu.RLock()
	defer x.recMu.RUnlock()
	return x.records[k]
}

// correlate raises, links and ends incident alarms at the homes whose
// alarms changed since the last pass (every home with one open, the first
// time); x.mu is held, x.recMu is not. A home where something failed is
// correlated again at the next pass.
func (x *incidents) correlate() {
	if x.opts.SiteOf == nil {
		return
	}
	x.ensureFilled()
	dirty, homes := x.idx.take()
	x.recMu.RLock()
	for id := range dirty {
		for _, k := range x.linkedBy[id] {
			if r := x.records[k]; r != nil {
				homes[r.Site] = true
			}
		}
	}
	x.recMu.RUnlock()
	for id, room := range dirty {
		if h := x.opts.SiteOf(&alerting.Alarm{ID: id, Site: room}); h != "" {
			homes[h] = true
		}
	}
	for _, home := range slices.Sorted(maps.Keys(homes)) {
		if !x.correlateAt(home) {
			x.idx.markSite(home)
		}
	}
}

// openAt returns the briefs of the open alarms correlated at home.
func (x *incidents) openAt(home string) []*alerting.Alarm {
	var rooms []string
	if x.subtree != nil {
		rooms = x.subtree(home)
	}
	return slices.DeleteFunc(x.idx.in(rooms), func(a *alerting.Alarm) bool { return x.opts.SiteOf(a) != home })
}

// correlateAt raises, links and ends the incident alarms of one home; it
// reports false when something of it failed.
func (x *incidents) correlateAt(home string) bool {
	eng := x.eng
	ok := true
	for _, in := range alerting.Correlate(x.openAt(home), x.opts) {
		ok = x.apply(in) && ok
	}
	for _, kind := range alerting.IncidentKinds {
		k := state.IncidentKey(home, kind)
		r := x.record(k)
		if r == nil {
			continue
		}
		_, isOpen := eng.OpenAtSite(r.Site, r.Kind)
		linkedOpen := slices.ContainsFunc(r.Linked, x.idx.isOpen)
		switch {
		case isOpen && !linkedOpen && r.Kind == alerting.IncidentSiteOffline:
			if _, err := eng.EndSiteCondition(r.Site, r.Kind, "every device of the site is heard again"); err != nil {
				x.log.Error("site incident not closed", "alarm", r.Alarm, "err", err)
				ok = false
			}
		case !isOpen && !linkedOpen:
			ok = x.forget(k) && ok
		}
	}
	return ok
}

// apply raises the alarm of one incident, or links its new alarms; it
// reports false when a raise or a record failed.
func (x *incidents) apply(in alerting.Incident) bool {
	eng := x.eng
	k := state.IncidentKey(in.Site, in.Kind)
	r := x.record(k)
	cur, isOpen := eng.OpenAtSite(in.Site, in.Kind)
	if !isOpen && r != nil && !slices.ContainsFunc(in.Alarms, func(id string) bool { return !slices.Contains(r.Linked, id) }) {
		return true // an operator closed it; nothing new joined since
	}
	if !isOpen {
		var err error
		cur, _, err = eng.RaiseSiteCondition(x.siteLocation(in.Site), in.Kind, in.Priority, x.raiseNote(in))
		if err != nil {
			x.log.Error("site incident not raised", "site", in.Site, "kind", in.Kind, "err", err)
			return false
		}
		// The count, not the list: a site going dark may group hundreds
		// (the incident's timeline names them).
		x.log.Warn("site incident raised", "alarm", cur.ID, "site", in.Site, "kind", in.Kind, "alarms", len(in.Alarms))
		r = &state.Incident{Alarm: cur.ID, Kind: in.Kind, Site: in.Site, Linked: slices.Clone(in.Alarms)}
		for _, id := range in.Alarms {
			x.note(id, fmt.Sprintf("part of site incident %s (%s at %s)", cur.ID, in.Kind, in.Site))
		}
		return x.save(k, r)
	}
	if r == nil || r.Alarm != cur.ID {
		r = &state.Incident{Alarm: cur.ID, Kind: in.Kind, Site: in.Site}
	} else {
		r = &state.Incident{Alarm: r.Alarm, Kind: r.Kind, Site: r.Site, Linked: slices.Clone(r.Linked)}
	}
	changed := false
	for _, id := range in.Alarms {
		if slices.Contains(r.Linked, id) {
			continue
		}
		if !slices.ContainsFunc(cur.Timeline, func(e alerting.Entry) bool { return strings.Contains(e.Note, id) }) {
			x.note(cur.ID, "linked "+x.alarmRef(id))
			x.note(id, fmt.Sprintf("part of site incident %s (%s at %s)", cur.ID, in.Kind, in.Site))
		}
		r.Linked = append(r.Linked, id)
		changed = true
	}
	if changed {
		return x.save(k, r)
	}
	return true
}

func (x *incidents) raiseNote(in alerting.Incident) string {
	refs := make([]string, len(in.Alarms))
	for i, id := range in.Alarms {
		refs[i] = x.alarmRef(id)
	}
	return fmt.Sprintf("%s at %s: %d alarms of %d devices: %s", in.Kind, in.Site, len(in.Alarms), len(in.Devices),
		strings.Join(refs, ", "))
}

// alarmRef names an alarm with its type and device: "A-1 (smoke at smoke-1)".
func (x *incidents) alarmRef(id string) string {
	if a := x.idx.get(id); a != nil {
		return fmt.Sprintf("%s (%s at %s)", id, a.Type, a.Device)
	}
	return id
}

func (x *incidents) note(alarm, note string) {
	if err := x.eng.Record(alarm, alerting.Entry{Action: alerting.ActNote, Note: note}); err != nil {
		x.log.Warn("incident link not recorded", "alarm", alarm, "err", err)
	}
}

// save stores r, then keeps it in memory: a record the disk did not take
// is not remembered either, so the next pass tries again.
func (x *incidents) save(k string, r *state.Incident) bool {
	if err := x.store.PutIncident(k, r); err != nil {
		x.log.Error("incident links not stored", "alarm", r.Alarm, "site", r.Site, "kind", r.Kind, "err", err)
		return false
	}
	x.recMu.Lock()
	x.unlink(k, x.records[k])
	x.records[k] = r
	x.link(k, r)
	x.recMu.Unlock()
	return true
}

func (x *incidents) forget(k string) bool {
	if err := x.store.DeleteIncident(k); err != nil {
		x.log.Warn("old incident links not removed", "key", k, "err", err)
		return false
	}
	x.recMu.Lock()
	x.unlink(k, x.records[k])
	delete(x.records, k)
	x.recMu.Unlock()
	return true
}

// inhibiting says which site incident speaks for an offline alarm, if one
// does: "incident A-… speaks for it".
// It runs on the notification path, so it raises and writes nothing: it
// reads the records and the open alarms of a's home (the index), and
// counts a burst whose incident is not raised yet (Correlate over them, a
// pure function) as one that speaks for its alarms; the correlation
// goroutine, kicked by the alarms' raise, raises it. It never waits for a
// correlation pass.
func (x *incidents) inhibiting(a *alerting.Alarm) (string, bool) {
	if a.Type != alerting.TypeOffline {
		return "", false
	}
	x.recMu.RLock()
	var linked []state.Incident
	for _, k := range x.linkedBy[a.ID] {
		if r := x.records[k]; r != nil && r.Kind == alerting.IncidentSiteOffline {
			linked = append(linked, *r)
		}
	}
	x.recMu.RUnlock()
	for _, r := range linked {
		if _, open := x.eng.OpenAtSite(r.Site, r.Kind); open {
			return "incident " + r.Alarm + " speaks for it", true
		}
	}
	if len(linked) > 0 {
		return "", false // its incident was closed by an operator
	}
	if x.opts.SiteOf == nil {
		return "", false
	}
	home := x.opts.SiteOf(a)
	if home == "" {
		return "", false
	}
	x.ensureFilled()
	here := x.openAt(home)
	if a.State.Open() && !slices.ContainsFunc(here, func(b *alerting.Alarm) bool { return b.ID == a.ID }) {
		here = append(here, brief(a)) // its raise is not told yet
	}
	for _, in := range alerting.Correlate(here, x.opts) {
		if !in.Inhibit || !slices.Contains(in.Alarms, a.ID) {
			continue
		}
		if cur, open := x.eng.OpenAtSite(in.Site, in.Kind); open {
			return "incident " + cur.ID + " speaks for it", true
		}
		return fmt.Sprintf("the %s incident at %s speaks for it", in.Kind, in.Site), true
	}
	return "", false
}

// offlineHold returns how long a notification waits before it is sent
// (the courier's hold): offline alarms wait hold (DefaultOfflineHold when
// zero) to be seen as part of a burst.
func offlineHold(hold time.Duration) func(alerting.Notification) time.Duration {
	if hold == 0 {
		hold = DefaultOfflineHold
	}
	return func(n alerting.Notification) time.Duration {
		if n.Alarm != nil && n.Alarm.Type == alerting.TypeOffline {
			return hold
		}
		return 0
	}
}

// siteLocation is where a site alarm is: the site itself, its location
// path, and its resident when exactly one lives there. It takes only the
// registry's read locks.
func (g *Gateway) siteLocation(site string) alerting.Location {
	loc := alerting.Location{Site: site}
	for _, s := range g.reg.Sites().Path(site) {
		loc.Path = append(loc.Path, s.Name)
	}
	if p, ok := g.soleResident(site); ok {
		loc.Resident = p.Name
	}
	return loc
}

// soleResident is the one resident living at or under site, if there is
// exactly one.
func (g *Gateway) soleResident(site string) (registry.Resident, bool) {
	under := map[string]bool{}
	for _, id := range g.reg.Sites().Subtree(site) {
		under[id] = true
	}
	if rs := g.reg.Residents().List(func(r registry.Resident) bool { return under[r.Home] }); len(rs) == 1 {
		return rs[0], true
	}
	return registry.Resident{}, false
}
