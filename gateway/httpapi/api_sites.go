package httpapi

import (
	"net/http"
	"slices"

	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// NewSite is the body of POST /api/v1/sites.
type NewSite struct {
	ID       string             `json:"id"`
	Name     string             `json:"name"`
	Level    registry.SiteLevel `json:"level"`
	Parent   string             `json:"parent"`
	TimeZone string             `json:"time_zone"`
	Address  string             `json:"address"`
}

// SitePatch is the body of PATCH /api/v1/sites/{id}: fields left out stay.
type SitePatch struct {
	Name     *string             `json:"name"`
	Level    *registry.SiteLevel `json:"level"`
	Parent   *string             `json:"parent"`
	TimeZone *string             `json:"time_zone"`
	Address  *string             `json:"address"`
}

// SiteView is a site as the API shows it, with its path of names.
type SiteView struct {
	registry.Site
	Path string `json:"path"` // names root first, e.g. 青山县 / 青山镇 / 青山村
}

func (srv *server) siteView(s registry.Site) SiteView {
	return SiteView{Site: s, Path: registry.PathString(srv.reg.Sites().Path(s.ID))}
}

// listSites serves GET /api/v1/sites?parent=&level=, or the whole forest
// with device counts with ?tree=1.
func (srv *server) listSites(w http.ResponseWriter, r *http.Request, _ state.Session) {
	q := r.URL.Query()
	sc := scopeOf(r)
	if t := q.Get("tree"); t == "1" || t == "true" {
		tree, _ := srv.reg.Sites().Tree("")
		writeJSON(w, http.StatusOK, map[string]any{"tree": srv.scopedTree(sc, tree)})
		return
	}
	parent, level := q.Get("parent"), registry.SiteLevel(q.Get("level"))
	if level != "" && !level.Valid() {
		writeRegistryError(w, state.FieldErrorf("level", "%q: want one of %v", level, registry.SiteLevels()))
		return
	}
	sites := srv.reg.Sites().List(func(s registry.Site) bool {
		return (!q.Has("parent") || s.Parent == parent) && (level == "" || s.Level == level)
	})
	sites = slices.DeleteFunc(sites, func(s registry.Site) bool { return !srv.seesSite(sc, s.ID) })
	out := make([]SiteView, len(sites))
	for i, s := range sites {
		out[i] = srv.siteView(s)
	}
	writeJSON(w, http.StatusOK, map[string]any{"sites": out, "count": len(out)})
}

func (srv *server) getSite(w http.ResponseWriter, r *http.Request, _ state.Session) {
	s, ok := srv.reg.Sites().Get(r.PathValue("id"))
	if !ok || !srv.seesSite(scopeOf(r), s.ID) {
		writeError(w, http.StatusNotFound, "site not found: "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, srv.siteView(s))
}

func (srv *server) siteTree(w http.ResponseWriter, r *http.Request, _ state.Session) {
	sc := scopeOf(r)
	if id := r.PathValue("id"); !srv.seesSite(sc, id) {
		if _, ok := srv.reg.Sites().Get(id); ok {
			writeError(w, http.StatusNotFound, "site not found: "+id)
			return
		}
	}
	tree, err := srv.reg.Sites().Tree(r.PathValue("id"))
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tree": tree})
}

func (srv *server) addSite(w http.ResponseWriter, r *http.Request, s state.Session) {
	var req NewSite
	if !readJSON(w, r, &req) {
		return
	}
	site, err := srv.reg.Sites().Add(registry.Site{ID: req.ID, Name: req.Name, Level: req.Level, Parent: req.Parent,
		TimeZone: req.TimeZone, Address: req.Address}, s.User, srv.now())
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	srv.log.Info("site added", "site", site.ID, "level", site.Level, "by", s.User)
	writeJSON(w, http.StatusCreated, srv.siteView(site))
}

func (srv *server) patchSite(w http.ResponseWriter, r *http.Request, s state.Session) {
	var p SitePatch
	if !readJSON(w, r, &p) {
		return
	}
	site, err := srv.reg.Sites().Update(r.PathValue("id"), s.User, srv.now(), func(site *registry.Site) error {
		setIf(&site.Name, p.Name)
		setIf(&site.Level, p.Level)
		setIf(&site.Parent, p.Parent)
		setIf(&site.TimeZone, p.TimeZone)
		setIf(&site.Address, p.Address)
		return nil
	})
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, srv.siteView(site))
}

func (srv *server) removeSite(w http.ResponseWriter, r *http.Request, s state.Session) {
	writeRemoved(w, srv.reg.Sites().Remove(r.PathValue("id"), s.User, srv.now()))
}

// scopedTree is the part of a forest in the scope: the subtrees of the
// caller's sites, each as a root.
func (srv *server) scopedTree(sc scope, forest []*registry.SiteNode) []*registry.SiteNode {
	if sc.all() {
		return forest
	}
	out := []*registry.SiteNode{}
	var walk func([]*registry.SiteNode)
	walk = func(nodes []*registry.SiteNode) {
		for _, n := range nodes {
			if sc.sites[n.ID] {
				out = append(out, n)
				continue
			}
			walk(n.Children)
		}
	}
	walk(forest)
	return out
}

// setIf sets *dst to *src when src is given: a PATCH field.
func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}
