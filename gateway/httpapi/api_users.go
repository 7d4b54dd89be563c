package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// NewUser is the body of POST /api/v1/users.
type NewUser struct {
	Name     string     `json:"name"`
	Role     state.Role `json:"role"`
	Password string     `json:"password"`
	state.Profile
}

// createUser serves POST /api/v1/users: a person with their role and,
// for operators, the profile duty needs. Their sites must exist.
func (srv *server) createUser(w http.ResponseWriter, r *http.Request, s state.Session) {
	var req NewUser
	if !readJSON(w, r, &req) {
		return
	}
	if err := srv.knownSites(req.Sites); err != nil {
		writeRegistryError(w, err)
		return
	}
	if err := srv.db.AddUserProfile(req.Name, req.Role, req.Password, req.Profile, srv.now()); err != nil {
		var fe *state.FieldError
		switch {
		case errors.Is(err, state.ErrUserExists):
			writeError(w, http.StatusConflict, err.Error())
		case errors.As(err, &fe):
			writeRegistryError(w, err)
		default:
			writeError(w, http.StatusBadRequest, err.Error())
		}
		return
	}
	srv.auditUser(s.User, req.Name, req.Role)
	srv.log.Info("user added", "user", req.Name, "role", req.Role, "sites", req.Sites, "by", s.User)
	srv.dutyChanged()
	writeJSON(w, http.StatusCreated, state.User{Name: req.Name, Role: req.Role, Profile: req.Profile})
}

// patchUser serves PATCH /api/v1/users/{name}: fields of the profile
// left out stay; sites, when given, replace the list.
func (srv *server) patchUser(w http.ResponseWriter, r *http.Request, s state.Session) {
	var req struct {
		DisplayName *string   `json:"display_name"`
		Phone       *string   `json:"phone"`
		Supervisor  *bool     `json:"supervisor"`
		Sites       *[]string `json:"sites"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	name := r.PathValue("name")
	cur, found, err := srv.db.User(name)
	if err != nil || !found {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%v: %s", state.ErrUserUnknown, name))
		return
	}
	p := cur.Profile
	setIf(&p.DisplayName, req.DisplayName)
	setIf(&p.Phone, req.Phone)
	setIf(&p.Supervisor, req.Supervisor)
	setIf(&p.Sites, req.Sites)
	if err := srv.knownSites(p.Sites); err != nil {
		writeRegistryError(w, err)
		return
	}
	_, after, err := srv.db.SetProfile(name, p, s.User, srv.now())
	if errors.Is(err, state.ErrUserUnknown) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	if !slices.Equal(cur.Sites, after.Sites) {
		// An open stream keeps the scope it started with: end it, so that
		// it reconnects with the new one and sites taken away are not
		// followed for the rest of a shift.
		srv.live.end(name, "")
	}
	srv.dutyChanged()
	writeJSON(w, http.StatusOK, after)
}

// knownSites checks that every site of a profile is in the site tree.
func (srv *server) knownSites(sites []string) error {
	for i, id := range sites {
		if _, ok := srv.reg.Sites().Get(id); !ok {
			return &state.FieldError{Field: fmt.Sprintf("sites[%d]", i), Err: fmt.Errorf("%w: %s", registry.ErrSiteUnknown, id)}
		}
	}
	return nil
}
