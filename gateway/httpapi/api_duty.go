package httpapi

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// The duty API (duty.go):
//
//	POST /api/v1/duty/checkin  {"site": "qs-town"}                    the caller goes on duty
//	POST /api/v1/duty/checkout {"site": "qs-town"}                    and off
//	POST /api/v1/duty/checkin  {"site": "qs-town", "operator": "li"}  an admin, for someone else
//	GET  /api/v1/duty                                                 who is on duty now, where
//	GET  /api/v1/duty?site=home-12-bedroom                            … and where that site's alarms go now
//
// An operator checks in at one of the sites of their profile (anywhere, when
// it names none); an admin may check anyone in or out anywhere.

// DutyCheck is the body of POST /api/v1/duty/checkin and /checkout.
type DutyCheck struct {
	Site     string `json:"site"`
	Operator string `json:"operator"`
}

// SiteDuty is who is on duty at one site.
type SiteDuty struct {
	Site      string              `json:"site"`
	Name      string              `json:"name,omitempty"`
	Path      string              `json:"path,omitempty"` // site names, root first
	Operators []alerting.Operator `json:"operators"`
}

// DutyView is the answer of GET /api/v1/duty and of a check.
type DutyView struct {
	At time.Time `json:"at"`
	// OnDuty lists the sites with anyone on duty, or with ?site= that site
	// only (its operators may be none).
	OnDuty []SiteDuty `json:"on_duty"`
	// Route says, with ?site=, where an alarm from that site goes now.
	Route *DutyRoute `json:"route,omitempty"`
}

// DutyRoute is where an alarm from a site is offered now: the nearest site
// at or above it with anyone on duty.
type DutyRoute struct {
	Site       string              `json:"site"`
	Routed     string              `json:"routed,omitempty"`
	Operators  []alerting.Operator `json:"operators"`
	Channels   []string            `json:"channels"` // what reaches them (site_channels)
	Unattended bool                `json:"unattended"`
}

func (srv *server) dutyCheckIn(w http.ResponseWriter, r *http.Request, s state.Session) {
	srv.dutyCheck(w, r, s, true)
}

func (srv *server) dutyCheckOut(w http.ResponseWriter, r *http.Request, s state.Session) {
	srv.dutyCheck(w, r, s, false)
}

func (srv *server) dutyCheck(w http.ResponseWriter, r *http.Request, s state.Session, in bool) {
	var req DutyCheck
	if !readJSON(w, r, &req) {
		return
	}
	if req.Site == "" {
		writeRegistryError(w, state.FieldErrorf("site", `which site? e.g. {"site": "qs-town"}`))
		return
	}
	if _, ok := srv.reg.Sites().Get(req.Site); !ok {
		writeRegistryError(w, &state.FieldError{Field: "site", Err: fmt.Errorf("%w: %s", registry.ErrSiteUnknown, req.Site)})
		return
	}
	op := req.Operator
	switch {
	case op == "":
		op = s.User
	case op != s.User && s.Role != state.RoleAdmin:
		writeError(w, http.StatusForbidden, "only an admin may check someone else in or out")
		return
	}
	onRoster, atSite := srv.duty.Belongs(op, req.Site)
	switch {
	case !onRoster:
		writeRegistryError(w, state.FieldErrorf("operator", "%s is not on the duty roster: operators, and admins with sites, are", op))
		return
	case !atSite && s.Role != state.RoleAdmin:
		writeError(w, http.StatusForbidden, fmt.Sprintf("%s is not one of %s's sites; an admin may check them in there", req.Site, op))
		return
	}
	now := srv.now()
	err := srv.duty.Check(alerting.Check{Site: req.Site, Operator: op, At: now.UTC(), In: in}, s.User)
	if errors.Is(err, alerting.ErrUnknownOperator) {
		writeRegistryError(w, &state.FieldError{Field: "operator", Err: err})
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	srv.log.Info("duty check", "site", req.Site, "operator", op, "in", in, "by", s.User)
	srv.eng.Reschedule()
	writeJSON(w, http.StatusOK, srv.dutyView(req.Site, now))
}

// listDuty serves GET /api/v1/duty?site=: of the sites in the caller's
// scope; a site out of it is answered as an unknown one is.
func (srv *server) listDuty(w http.ResponseWriter, r *http.Request, _ state.Session) {
	site, sc := r.URL.Query().Get("site"), scopeOf(r)
	if site != "" {
		if _, ok := srv.reg.Sites().Get(site); !ok || !srv.seesSite(sc, site) {
			writeRegistryError(w, &state.FieldError{Field: "site", Err: fmt.Errorf("%w: %s", registry.ErrSiteUnknown, site)})
			return
		}
	}
	v := srv.dutyView(site, srv.now())
	v.OnDuty = slices.DeleteFunc(v.OnDuty, func(sd SiteDuty) bool { return !srv.seesSite(sc, sd.Site) })
	writeJSON(w, http.StatusOK, v)
}

func (srv *server) dutyView(site string, at time.Time) DutyView {
	v := DutyView{At: at.UTC(), OnDuty: []SiteDuty{}}
	if site == "" {
		v.OnDuty = append(v.OnDuty, srv.duty.Staffed(at)...)
	} else {
		v.OnDuty = append(v.OnDuty, SiteDuty{Site: site, Operators: nonNilOps(srv.duty.OnDuty(site, at))})
		routed, ops, unattended := alerting.Router{Tree: srv.reg.Sites(), Roster: srv.duty}.Route(site, at)
		v.Route = &DutyRoute{Site: site, Routed: routed, Operators: nonNilOps(ops), Unattended: unattended,
			Channels: []string{}}
		if routed != "" {
			v.Route.Channels = append(v.Route.Channels, srv.siteChannels(routed)...)
		}
	}
	for i, sd := range v.OnDuty {
		if s, ok := srv.reg.Sites().Get(sd.Site); ok {
			v.OnDuty[i].Name, v.OnDuty[i].Path = s.Name, registry.PathString(srv.reg.Sites().Path(sd.Site))
		}
	}
	return v
}

func nonNilOps(ops []alerting.Operator) []alerting.Operator {
	if ops == nil {
		return []alerting.Operator{}
	}
	return ops
}

// siteChannels returns the channels that reach the people on duty at site:
// its own site_channels entry, else its nearest ancestor's.
func (srv *server) siteChannels(site string) []string {
	for _, s := range alerting.Path(srv.reg.Sites(), site) {
		if chs, ok := srv.SiteChannels[s]; ok {
			return chs
		}
	}
	return nil
}

// dutyChanged rebuilds the roster after a change to the users and plans
// every open alarm afresh.
func (srv *server) dutyChanged() {
	if err := srv.duty.Rebuild(); err != nil {
		srv.log.Error("duty roster not rebuilt", "err", err)
	}
	srv.eng.Reschedule()
}

// Coverage is one site of GET /api/v1/duty/coverage.
type Coverage struct {
	Site   LocationStep     `json:"site"`
	OnDuty []CoverageOnDuty `json:"on_duty"`
	// Unattended: nobody is on duty at this site itself (the console
	// warns). CoveredBy is where its alarms go now: the nearest site at or
	// above it with anyone on duty; "" when nobody is on duty anywhere on
	// its path, so that its alarms reach only the unattended targets.
	Unattended bool   `json:"unattended"`
	CoveredBy  string `json:"covered_by,omitempty"`
}

// CoverageOnDuty is one person on duty at a site, since their check-in
// (zero when they are on a planned shift without one).
type CoverageOnDuty struct {
	ID    string    `json:"id"`
	Name  string    `json:"name"`
	Since time.Time `json:"since,omitzero"`
}

// dutyCoverage serves GET /api/v1/duty/coverage: who is on duty at each
// site the caller serves (their profile's sites); for admins and
// operators who serve everywhere, every site someone may be on duty at.
func (srv *server) dutyCoverage(w http.ResponseWriter, r *http.Request, s state.Session) {
	sites, err := srv.servedSites(s, scopeOf(r))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	since := map[[2]string]time.Time{}
	err = srv.db.DutyChecks(func(c alerting.Check) error {
		if c.In {
			since[[2]string{c.Site, c.Operator}] = c.At
		}
		return nil
	})
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	now := srv.now()
	router := alerting.Router{Tree: srv.reg.Sites(), Roster: srv.duty}
	out := []Coverage{}
	for _, id := range sites {
		site, ok := srv.reg.Sites().Get(id)
		if !ok {
			continue
		}
		c := Coverage{Site: LocationStep{ID: id, Name: site.Name, Kind: site.Level}, OnDuty: []CoverageOnDuty{}}
		for _, op := range srv.duty.OnDuty(id, now) {
			c.OnDuty = append(c.OnDuty, CoverageOnDuty{ID: op.ID, Name: cmpOr(op.Name, op.ID), Since: since[[2]string{id, op.ID}]})
		}
		c.Unattended = len(c.OnDuty) == 0
		c.CoveredBy, _, _ = router.Route(id, now)
		out = append(out, c)
	}
	writeJSON(w, http.StatusOK, out)
}

// servedSites are the sites whose coverage the caller sees: an operator's
// own, or for a caller who serves everywhere every site of anyone's
// profile or check, sorted.
func (srv *server) servedSites(s state.Session, sc scope) ([]string, error) {
	if !sc.all() {
		return slices.Sorted(maps.Keys(sc.sites)), nil
	}
	set := map[string]bool{}
	users, err := srv.db.Users()
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		for _, id := range u.Sites {
			set[id] = true
		}
	}
	err = srv.db.DutyChecks(func(c alerting.Check) error {
		set[c.Site] = true
		return nil
	})
	return slices.Sorted(maps.Keys(set)), err
}
