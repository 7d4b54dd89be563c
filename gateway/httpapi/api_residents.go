package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// NewResident is the body of POST /api/v1/residents.
type NewResident struct {
	ID         string              `json:"id"`
	Name       string              `json:"name"`
	BirthYear  int                 `json:"birth_year"`
	Sex        string              `json:"sex"`
	Conditions []string            `json:"conditions"`
	Language   string              `json:"language"`
	Contacts   []registry.Contact  `json:"contacts"`
	Home       string              `json:"home"`
	Wellbeing  *registry.Wellbeing `json:"wellbeing"`
}

// ResidentPatch is the body of PATCH /api/v1/residents/{id}: fields left
// out stay; conditions and contacts, when given, replace the whole list.
type ResidentPatch struct {
	Name       *string             `json:"name"`
	BirthYear  *int                `json:"birth_year"`
	Sex        *string             `json:"sex"`
	Conditions *[]string           `json:"conditions"`
	Language   *string             `json:"language"`
	Contacts   *[]registry.Contact `json:"contacts"`
	Home       *string             `json:"home"`
	// Wellbeing, when given, replaces the resident's 主动关爱 rules; an
	// object with no rule set removes them.
	Wellbeing *registry.Wellbeing `json:"wellbeing"`
	// AwayUntil marks the resident away until then (RFC 3339); "" clears it.
	AwayUntil *string `json:"away_until"`
}

// listResidents serves GET /api/v1/residents?home=: home meaning that
// site and everything under it.
func (srv *server) listResidents(w http.ResponseWriter, r *http.Request, _ state.Session) {
	sc := scopeOf(r)
	var under map[string]bool
	if home := r.URL.Query().Get("home"); home != "" {
		ids := srv.reg.Sites().Subtree(home)
		if ids == nil {
			writeRegistryError(w, state.FieldErrorf("home", "site not found: %s", home))
			return
		}
		under = map[string]bool{}
		for _, id := range ids {
			under[id] = true
		}
	}
	list := srv.reg.Residents().List(func(p registry.Resident) bool { return under == nil || under[p.Home] })
	list = slices.DeleteFunc(list, func(p registry.Resident) bool { return !srv.seesResident(sc, p) })
	now := srv.now()
	out := make([]ResidentView, len(list))
	for i, p := range list {
		out[i] = srv.residentView(p, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"residents": out, "count": len(out)})
}

func (srv *server) getResident(w http.ResponseWriter, r *http.Request, _ state.Session) {
	p, ok := srv.reg.Residents().Get(r.PathValue("id"))
	if !ok || !srv.seesResident(scopeOf(r), p) {
		writeError(w, http.StatusNotFound, "resident not found: "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, srv.residentView(p, srv.now()))
}

func (srv *server) addResident(w http.ResponseWriter, r *http.Request, s state.Session) {
	var req NewResident
	if !readJSON(w, r, &req) {
		return
	}
	p, err := srv.reg.Residents().Add(registry.Resident{ID: req.ID, Name: req.Name, BirthYear: req.BirthYear, Sex: req.Sex,
		Conditions: req.Conditions, Language: req.Language, Contacts: req.Contacts, Home: req.Home, Wellbeing: req.Wellbeing}, s.User, srv.now())
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	srv.log.Info("resident added", "resident", p.ID, "home", p.Home, "by", s.User)
	writeJSON(w, http.StatusCreated, srv.residentView(p, srv.now()))
}

func (srv *server) patchResident(w http.ResponseWriter, r *http.Request, s state.Session) {
	var req ResidentPatch
	if !readJSON(w, r, &req) {
		return
	}
	p, err := srv.reg.Residents().Update(r.PathValue("id"), s.User, srv.now(), func(p *registry.Resident) error {
		setIf(&p.Name, req.Name)
		setIf(&p.BirthYear, req.BirthYear)
		setIf(&p.Sex, req.Sex)
		setIf(&p.Conditions, req.Conditions)
		setIf(&p.Language, req.Language)
		setIf(&p.Contacts, req.Contacts)
		setIf(&p.Home, req.Home)
		if req.Wellbeing != nil {
			p.Wellbeing = req.Wellbeing
		}
		if req.AwayUntil != nil {
			p.AwayUntil = time.Time{}
			if *req.AwayUntil != "" {
				t, err := time.Parse(time.RFC3339, *req.AwayUntil)
				if err != nil {
					return state.FieldErrorf("away_until", "%q: want a time such as 2026-12-01T18:00:00+08:00, or \"\" to clear", *req.AwayUntil)
				}
				p.AwayUntil = t.UTC()
			}
		}
		return nil
	})
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, srv.residentView(p, srv.now()))
}

func (srv *server) removeResident(w http.ResponseWriter, r *http.Request, s state.Session) {
	writeRemoved(w, srv.reg.Residents().Remove(r.PathValue("id"), s.User, srv.now()))
}

// ResidentView is a resident as the API shows it.
type ResidentView struct {
	registry.Resident
	Age        int      `json:"age"`
	HomePath   string   `json:"home_path,omitempty"` // site names, root first
	Incomplete bool     `json:"incomplete,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
}

// residentView is p as the API shows it at now.
func (srv *server) residentView(p registry.Resident, now time.Time) ResidentView {
	v := ResidentView{Resident: p, Age: now.Year() - p.BirthYear, HomePath: registry.PathString(srv.reg.Sites().Path(p.Home))}
	if len(p.Contacts) < registry.RecommendedContacts {
		v.Incomplete = true
		v.Warnings = append(v.Warnings, fmt.Sprintf("%d emergency contacts; %d or more are recommended", len(p.Contacts), registry.RecommendedContacts))
	}
	return v
}

// putPlan serves PUT /api/v1/residents/{id}/plan: the body is the whole
// response plan ({"smoke": [{"do": "call 119", "phone": "119"}, …]}, {}
// to remove it), which replaces the resident's. Admins and supervisors
// (within their scope) may; it is audited with the resident.
func (srv *server) putPlan(w http.ResponseWriter, r *http.Request, s state.Session) {
	id := r.PathValue("id")
	p, ok := srv.reg.Residents().Get(id)
	if !ok || !srv.seesResident(scopeOf(r), p) {
		writeError(w, http.StatusNotFound, "resident not found: "+id)
		return
	}
	if s.Role != state.RoleAdmin {
		u, _, err := srv.db.User(s.User)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if !u.Supervisor {
			writeError(w, http.StatusForbidden, fmt.Sprintf("%s may not change response plans: only admins and supervisors may", s.User))
			return
		}
	}
	var plan registry.Plan
	if !readJSON(w, r, &plan) {
		return
	}
	if len(plan) == 0 {
		plan = nil
	}
	p, err := srv.reg.Residents().Update(id, s.User, srv.now(), func(p *registry.Resident) error {
		p.Plan = plan
		return nil
	})
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	srv.log.Info("response plan set", "resident", id, "alarm_types", len(plan), "by", s.User)
	writeJSON(w, http.StatusOK, srv.residentView(p, srv.now()))
}
