package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// Duty: who is on duty where, and how an alarm finds them (DESIGN.md §4).
//
// The roster (alerting.DutyRoster) holds the people on duty — operators,
// and admins who were given sites — under their user names, with the
// phone, supervisor flag and sites of their profile (state.Profile), and the
// planned shifts of the config (`shifts`). An explicit check-in or
// check-out (POST /api/v1/duty/checkin, /checkout) overrides the plan until
// its next shift boundary. Each check is written to the state file before
// it takes effect, in the same transaction as its audit entry, and the
// checks are replayed at start, so that a restart takes nobody off duty.
// Only the latest check per site and operator is kept: it alone decides
// who is on duty from now on.
//
// The roster is rebuilt when a user is added or their profile changes. A
// shift naming someone who is not on the roster is left out with a
// warning rather than keeping the gateway from starting; it takes effect
// once that person is added. Every change to who is on duty makes the
// engine plan every open alarm afresh (Engine.Reschedule), and so does
// every start and end of a planned shift (watchShifts): an alarm waiting on
// an empty village is offered to the operator who just checked in, and one
// whose path emptied at the end of a shift notifies its unattended targets
// at once.
//
// Routing walks the registry's site tree (registry.Sites). The channels that
// reach the people on duty at a site (`site_channels`) are inherited down
// the tree: a site without an entry uses its nearest ancestor's, because a
// township's WeCom or DingTalk group usually holds its villages' station
// operators too; an entry with an empty list stops the inheritance (the
// console only).

// Audit actions of duty changes, on the object "duty:<site>".
const (
	ActionCheckIn  = "checkin"
	ActionCheckOut = "checkout"
)

// nobodyOnDuty is a roster with nobody on it, for checking config.
type nobodyOnDuty struct{}

func (nobodyOnDuty) OnDuty(string, time.Time) []alerting.Operator { return nil }

// validateShifts checks the config's shifts on their own: sites, times,
// weekdays and zones. Whether their operators exist is known only at start.
func validateShifts(shifts []alerting.Shift, loc *time.Location) error {
	var ops []alerting.Operator
	for _, s := range shifts {
		if s.Operator != "" && !slices.ContainsFunc(ops, func(o alerting.Operator) bool { return o.ID == s.Operator }) {
			ops = append(ops, alerting.Operator{ID: s.Operator})
		}
	}
	for i, s := range shifts {
		if s.Operator == "" {
			return fmt.Errorf("config shifts[%d]: operator is empty", i)
		}
	}
	if _, err := alerting.NewDutyRoster(ops, shifts, loc); err != nil {
		return fmt.Errorf("config %w", err)
	}
	return nil
}

// dutyStore is what the roster keeps in the state file: the users, whose
// profiles say who is on the roster, and the latest checks with their
// audit entries.
type dutyStore interface {
	Users() ([]state.User, error)
	DutyChecks(fn func(alerting.Check) error) error
	PutDutyCheck(c alerting.Check, e state.AuditEntry) error
}

var _ dutyStore = (*state.DB)(nil)

// duty is the gateway's roster: an alerting.Roster that follows the users
// and the checks in the state file. Safe for concurrent use.
type duty struct {
	db   dutyStore
	loc  *time.Location
	now  func() time.Time // the clock watchShifts compares with shift times
	log  *slog.Logger
	wake chan struct{} // SetShifts wakes watchShifts

	w  sync.Mutex // serialises checks and rebuilds
	mu sync.RWMutex
	// roster is replaced whole on a rebuild; it is safe for concurrent use.
	roster *alerting.DutyRoster
	sites  map[string][]string // operator → the sites of their profile
	// staffable are the sites with a planned shift or a check: where
	// anyone may be on duty.
	staffable map[string]bool
	shifts    []alerting.Shift // the config's; SetShifts replaces them
}

var _ httpapi.Duty = (*duty)(nil)

// newDuty builds the roster from db's users and checks and the planned
// shifts, whose times are in loc unless they name a zone.
func newDuty(db dutyStore, shifts []alerting.Shift, loc *time.Location, now func() time.Time, log *slog.Logger) (*duty, error) {
	d := &duty{db: db, loc: loc, shifts: shifts, now: now, log: log, wake: make(chan struct{}, 1)}
	if err := d.Rebuild(); err != nil {
		return nil, err
	}
	return d, nil
}

// onRoster says whether a user is on the duty roster.
func onRoster(u state.User) bool {
	return u.Role == state.RoleOperator || u.Role == state.RoleAdmin && len(u.Sites) > 0
}

func operatorOf(u state.User) alerting.Operator {
	op := alerting.Operator{ID: u.Name, Name: u.DisplayName, Phone: u.Phone, Supervisor: u.Supervisor}
	if op.Name == "" {
		op.Name = u.Name
	}
	if len(u.Sites) > 0 {
		op.Site = u.Sites[0]
	}
	return op
}

// Rebuild makes the roster afresh from the users, the shifts and the
// stored checks.
func (d *duty) Rebuild() error {
	d.w.Lock()
	defer d.w.Unlock()
	users, err := d.db.Users()
	if err != nil {
		return fmt.Errorf("duty roster: %w", err)
	}
	var ops []alerting.Operator
	sites := map[string][]string{}
	for _, u := range users {
		if onRoster(u) {
			ops = append(ops, operatorOf(u))
			sites[u.Name] = u.Sites
		}
	}
	staffable := map[string]bool{}
	var shifts []alerting.Shift
	for i, s := range d.planned() {
		if _, ok := sites[s.Operator]; !ok {
			d.log.Warn("shift left out: its operator is not an operator user", "shift", i, "operator", s.Operator, "site", s.Site)
			continue
		}
		shifts = append(shifts, s)
		staffable[s.Site] = true
	}
	r, err := alerting.NewDutyRoster(ops, shifts, d.loc)
	if err != nil {
		return fmt.Errorf("duty roster: %w", err)
	}
	err = d.db.DutyChecks(func(c alerting.Check) error {
		if _, ok := sites[c.Operator]; ok {
			staffable[c.Site] = true
			return r.Check(c)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("duty checks: %w", err)
	}
	d.mu.Lock()
	d.roster, d.sites, d.staffable = r, sites, staffable
	d.mu.Unlock()
	return nil
}

// planned returns the config's shifts.
func (d *duty) planned() []alerting.Shift {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.shifts
}

// SetShifts replaces the planned shifts (a config reload) and rebuilds
// the roster; on an error the shifts stay as they were. The shift watcher
// wakes to plan by the new boundaries.
func (d *duty) SetShifts(shifts []alerting.Shift) error {
	d.mu.Lock()
	old := d.shifts
	d.shifts = shifts
	d.mu.Unlock()
	if err := d.Rebuild(); err != nil {
		d.mu.Lock()
		d.shifts = old
		d.mu.Unlock()
		return err
	}
	select {
	case d.wake <- struct{}{}:
	default: // it will see them: a wake is pending
	}
	return nil
}

// OnDuty implements alerting.Roster.
func (d *duty) OnDuty(site string, at time.Time) []alerting.Operator {
	d.mu.RLock()
	r := d.roster
	d.mu.RUnlock()
	return r.OnDuty(site, at)
}

// Operator returns a person on the roster by user name.
func (d *duty) Operator(id string) (alerting.Operator, bool) {
	d.mu.RLock()
	r := d.roster
	d.mu.RUnlock()
	return r.Operator(id)
}

// Belongs reports whether op is on the roster, and whether site is one of
// their sites (true for someone whose profile names none).
func (d *duty) Belongs(op, site string) (onRoster, atSite bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	sites, ok := d.sites[op]
	return ok, ok && (len(sites) == 0 || slices.Contains(sites, site))
}

// Check writes a check-in or check-out, then applies it.
func (d *duty) Check(c alerting.Check, by string) error {
	d.w.Lock()
	defer d.w.Unlock()
	d.mu.RLock()
	r := d.roster
	d.mu.RUnlock()
	if _, ok := r.Operator(c.Operator); !ok {
		return fmt.Errorf("%w: %s", alerting.ErrUnknownOperator, c.Operator)
	}
	action := ActionCheckOut
	if c.In {
		action = ActionCheckIn
	}
	err := d.db.PutDutyCheck(c, state.NewAuditEntry(c.At, by, action, "duty:"+c.Site, nil, c))
	if err != nil {
		return fmt.Errorf("save duty check: %w", err)
	}
	if err := r.Check(c); err != nil {
		return err
	}
	d.mu.Lock()
	d.staffable[c.Site] = true
	d.mu.Unlock()
	return nil
}

// Staffed returns the sites with anyone on duty at at, by site id.
func (d *duty) Staffed(at time.Time) []httpapi.SiteDuty {
	d.mu.RLock()
	sites := make([]string, 0, len(d.staffable))
	for s := range d.staffable {
		sites = append(sites, s)
	}
	d.mu.RUnlock()
	slices.Sort(sites)
	var out []httpapi.SiteDuty
	for _, s := range sites {
		if ops := d.OnDuty(s, at); len(ops) > 0 {
			out = append(out, httpapi.SiteDuty{Site: s, Operators: ops})
		}
	}
	return out
}

// count is how many people are on duty anywhere at at.
func (d *duty) count(at time.Time) int {
	ids := map[string]bool{}
	for _, sd := range d.Staffed(at) {
		for _, op := range sd.Operators {
			ids[op.ID] = true
		}
	}
	return len(ids)
}

// shiftRecheck bounds how long the shift watcher sleeps, so that a clock
// that jumps (NTP, a fake clock in tests) is caught up with.
const shiftRecheck = 5 * time.Minute

// watchShifts calls replan at every start and end of a planned shift: who
// is on duty changes then as surely as at a check-in, and an alarm whose
// path just emptied must hear its unattended targets at once.
func (d *duty) watchShifts(ctx context.Context, replan func()) {
	now := d.now
	last := now()
	for {
		wait := shiftRecheck
		if next, ok := nextShiftBoundary(d.planned(), d.loc, last); ok {
			wait = min(max(next.Sub(now()), 0), shiftRecheck)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-d.wake:
			t.Stop()
			continue // the shifts changed: wait for their next boundary
		case <-t.C:
		}
		at := now()
		if next, ok := nextShiftBoundary(d.planned(), d.loc, last); ok && !next.After(at) {
			replan()
		}
		last = at
	}
}

// nextShiftBoundary returns the first start or end of a shift after t. It
// counts every day, whatever the shift's weekdays: a replan on a day
// without the shift costs little.
func nextShiftBoundary(shifts []alerting.Shift, def *time.Location, t time.Time) (time.Time, bool) {
	var next time.Time
	for _, s := range shifts {
		loc := def
		if s.TZ != "" {
			if l, err := time.LoadLocation(s.TZ); err == nil {
				loc = l
			}
		}
		for _, hm := range []string{s.Start, s.End} {
			var h, m int
			if _, err := fmt.Sscanf(hm, "%d:%d", &h, &m); err != nil {
				continue
			}
			d := t.In(loc)
			for day := 0; day <= 1; day++ {
				b := time.Date(d.Year(), d.Month(), d.Day()+day, h, m, 0, 0, loc)
				if b.After(t) {
					if next.IsZero() || b.Before(next) {
						next = b
					}
					break
				}
			}
		}
	}
	return next, !next.IsZero()
}

// siteChannels returns the channels that reach the people on duty at site:
// its own site_channels entry, else its nearest ancestor's.
func (g *Gateway) siteChannels(site string) []string {
	channels := g.live.Load().siteChannels
	for _, s := range alerting.Path(g.reg.Sites(), site) {
		if chs, ok := channels[s]; ok {
			return chs
		}
	}
	return nil
}

// newEscalator builds the escalator of cfg over the site tree and the roster.
func (g *Gateway) newEscalator(cfg Config) (*alerting.Escalator, error) {
	ps, err := cfg.escalationPolicies()
	if err != nil {
		return nil, err
	}
	cfg.warnLegacyIncidentPolicies(g.log)
	for _, p := range ps {
		g.warnUnknownSite("escalation_policies", p.Site)
	}
	for site := range cfg.SiteChannels {
		g.warnUnknownSite("site_channels", site)
	}
	for _, s := range cfg.Shifts {
		g.warnUnknownSite("shifts", s.Site)
	}
	return alerting.NewEscalator(alerting.EscalatorConfig{Policies: ps, Tree: g.reg.Sites(), Roster: g.duty,
		SiteChannels: g.siteChannels, ContactChannels: cfg.ContactChannels, Operator: g.duty.Operator})
}

// warnUnknownSite logs a site the config names that the registry does not
// know (yet): sites are added through the API, so this is no error.
func (g *Gateway) warnUnknownSite(field, site string) {
	if site == "" {
		return
	}
	if _, ok := g.reg.Sites().Get(site); !ok {
		g.log.Warn("config names a site the registry does not know yet", "field", field, "site", site)
	}
}

// alarmInfo is the engine's Info: an alarm's site and location path (where
// it was raised), and its resident as the registry knows them now, with
// age, conditions and emergency contacts; for a site alarm, the one
// resident living there, if exactly one does. The engine calls it under
// its lock (see the lock order in doc.go).
func (g *Gateway) alarmInfo(a *alerting.Alarm) alerting.AlarmInfo {
	info := alerting.AlarmInfo{Site: a.Site, Location: a.Location, Resident: alerting.Resident{Name: a.Resident}}
	if a.IsSite() {
		if p, ok := g.soleResident(a.Site); ok {
			info.Resident = g.residentInfo(p)
		}
		return info
	}
	if info.Site == "" {
		loc := g.reg.AlarmLocation(a.Device)
		info.Site, info.Location = loc.Site, loc.Path
	}
	if d, ok := g.reg.Get(a.Device); ok && d.Resident != "" {
		if p, ok := g.reg.Residents().Get(d.Resident); ok {
			info.Resident = g.residentInfo(p)
		}
	}
	return info
}

func (g *Gateway) residentInfo(p registry.Resident) alerting.Resident {
	r := alerting.Resident{Name: p.Name, Age: g.now().Year() - p.BirthYear, Conditions: p.Conditions}
	for _, c := range p.Contacts {
		r.Contacts = append(r.Contacts, alerting.Contact{Name: c.Name, Phone: c.Phone, Relation: c.Relation})
	}
	return r
}
