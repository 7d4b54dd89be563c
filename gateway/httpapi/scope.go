package httpapi

import (
	"context"
	"net/http"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// Scope: what a caller sees (DESIGN.md §4: health data is sensitive
// personal information). The rule, in this one place:
//
//   - an operator (supervisor or not) sees and acts on the alarms,
//     residents, devices, sites and duty of the sites of their profile and
//     every site below them;
//   - an operator whose profile names no site serves everywhere, as the
//     duty roster already treats them (they may check in anywhere), and so
//     sees everything;
//   - admins see everything; so do installers, who provision across the
//     deployment, have no sites, and never see residents' alarms anyway
//     (audienceOf).
//
// A single object out of scope answers 404, as if it did not exist; lists
// leave it out; the alarm stream does not send it, live or on resuming.
// The scope is worked out once per request from the caller's profile
// (authed), so a change of someone's sites applies from their next
// request; their open streams, which keep the scope they started with,
// are ended by the change (patchUser) and reconnect with the new one.

// scope is the set of sites a caller serves; nil sites: everything.
type scope struct {
	sites map[string]bool
}

// everything is the scope of admins, installers and site-less operators.
var everything = scope{}

// scopeFor is the scope of a session's user.
func (srv *server) scopeFor(s state.Session) (scope, error) {
	if s.Role != state.RoleOperator {
		return everything, nil
	}
	u, _, err := srv.db.User(s.User)
	if err != nil || len(u.Sites) == 0 {
		return everything, err
	}
	sc := scope{sites: make(map[string]bool, len(u.Sites))}
	for _, id := range u.Sites {
		sc.sites[id] = true
	}
	return sc, nil
}

// all reports whether the scope holds every site.
func (sc scope) all() bool { return sc.sites == nil }

// covers reports whether a site whose ancestry (its id and its
// ancestors' ids, in any order) is given lies in the scope. A site with no
// ancestry (an alarm or device with no site) is an admin's only.
func (sc scope) covers(ancestry []string) bool {
	if sc.all() {
		return true
	}
	for _, id := range ancestry {
		if sc.sites[id] {
			return true
		}
	}
	return false
}

// ancestry is site's id and its ancestors' ids, root first; nil for "" or
// an unknown site.
func (srv *server) ancestry(site string) []string {
	if site == "" {
		return nil
	}
	path := srv.reg.Sites().Path(site)
	ids := make([]string, len(path))
	for i, s := range path {
		ids[i] = s.ID
	}
	return ids
}

// seesSite reports whether the scope holds site.
func (srv *server) seesSite(sc scope, site string) bool {
	return sc.all() || sc.covers(srv.ancestry(site))
}

// seesAlarm reports whether the scope holds an alarm: by its site (the
// device's room or bed when it was raised; a site alarm's site).
func (srv *server) seesAlarm(sc scope, a *alerting.Alarm) bool { return srv.seesSite(sc, a.Site) }

// seesDevice reports whether the scope holds a device: by its site.
func (srv *server) seesDevice(sc scope, d registry.Device) bool { return srv.seesSite(sc, d.Site) }

// seesResident reports whether the scope holds a resident: by their home.
func (srv *server) seesResident(sc scope, p registry.Resident) bool { return srv.seesSite(sc, p.Home) }

type scopeKey struct{}

// withScope is r carrying the caller's scope.
func withScope(r *http.Request, sc scope) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), scopeKey{}, sc))
}

// scopeOf is the scope authed worked out for r's caller.
func scopeOf(r *http.Request) scope {
	sc, ok := r.Context().Value(scopeKey{}).(scope)
	if !ok { // not through authed: see nothing rather than everything
		return scope{sites: map[string]bool{}}
	}
	return sc
}
