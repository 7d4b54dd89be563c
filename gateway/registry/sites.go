package registry

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/state"
)

// Sites form the tree of DESIGN.md §4: region → county → township →
// village or community → home or institution → room → bed. The shape is
// data (siteLevels): each level lists the levels its parent may have, and
// every parent level comes earlier in the list, so a chain of parents
// always climbs and a cycle cannot be built; Update checks anyway.
//
// Devices are installed at rooms and beds, residents live at homes, rooms
// and beds. A site with children, devices or residents cannot be removed.
// Time zones are inherited: a site without one takes its nearest
// ancestor's (Location.TimeZone).

// SiteLevel is where a site stands in the tree.
type SiteLevel string

// The site levels, from the root down.
const (
	LevelRegion      SiteLevel = "region"
	LevelCounty      SiteLevel = "county"
	LevelTownship    SiteLevel = "township"
	LevelVillage     SiteLevel = "village"
	LevelCommunity   SiteLevel = "community" // an urban village: same rank
	LevelHome        SiteLevel = "home"
	LevelInstitution SiteLevel = "institution"
	LevelRoom        SiteLevel = "room"
	LevelBed         SiteLevel = "bed"
)

// siteLevels is the shape of the tree: each level with the levels its
// parent may have; none means it is a root. An institution (敬老院, 福利院)
// may be run by a county, a township or a village.
var siteLevels = []struct {
	level   SiteLevel
	parents []SiteLevel
}{
	{LevelRegion, nil},
	{LevelCounty, []SiteLevel{LevelRegion}},
	{LevelTownship, []SiteLevel{LevelCounty}},
	{LevelVillage, []SiteLevel{LevelTownship}},
	{LevelCommunity, []SiteLevel{LevelTownship}},
	{LevelHome, []SiteLevel{LevelVillage, LevelCommunity}},
	{LevelInstitution, []SiteLevel{LevelCounty, LevelTownship, LevelVillage, LevelCommunity}},
	{LevelRoom, []SiteLevel{LevelHome, LevelInstitution}},
	{LevelBed, []SiteLevel{LevelRoom}},
}

// SiteLevels lists the levels from the root down.
func SiteLevels() []SiteLevel {
	out := make([]SiteLevel, len(siteLevels))
	for i, l := range siteLevels {
		out[i] = l.level
	}
	return out
}

// Valid reports whether l is one of SiteLevels.
func (l SiteLevel) Valid() bool {
	_, ok := parentsOf(l)
	return ok
}

// parentsOf returns the levels a parent of level may have, and whether level exists.
func parentsOf(level SiteLevel) ([]SiteLevel, bool) {
	for _, l := range siteLevels {
		if l.level == level {
			return l.parents, true
		}
	}
	return nil, false
}

// fitsUnder reports whether a site of level child may sit under one of
// level parent ("" for no parent).
func fitsUnder(child, parent SiteLevel) bool {
	ps, _ := parentsOf(child)
	if parent == "" {
		return len(ps) == 0
	}
	return slices.Contains(ps, parent)
}

// Site is one place in the tree.
type Site struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Level    SiteLevel `json:"level"`
	Parent   string    `json:"parent,omitempty"`
	TimeZone string    `json:"time_zone,omitempty"` // IANA name, e.g. Asia/Urumqi; "" inherits
	Address  string    `json:"address,omitempty"`
	Created  time.Time `json:"created"`
	By       string    `json:"created_by"`
	Updated  time.Time `json:"updated,omitzero"`
}

// Sites is the site tree, cached in memory. Reads are safe for concurrent
// use; changes hold the registry's writer lock.
type Sites struct {
	reg  *Registry
	mu   sync.RWMutex
	byID map[string]*Site
	kids map[string][]string // parent id ("" for roots) → child ids, sorted
}

func loadSites(r *Registry) (*Sites, error) {
	s := &Sites{reg: r, byID: map[string]*Site{}, kids: map[string][]string{}}
	err := state.ForEach(r.db, state.Sites, func(id string, site *Site) error {
		s.byID[id] = site
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load sites: %w", err)
	}
	for id, site := range s.byID {
		s.kids[site.Parent] = append(s.kids[site.Parent], id)
	}
	for _, ids := range s.kids {
		slices.Sort(ids)
	}
	return s, nil
}

// Get returns one site.
func (s *Sites) Get(id string) (Site, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	site, ok := s.byID[id]
	if !ok {
		return Site{}, false
	}
	return *site, true
}

// List returns the sites keep accepts (nil: all), by id.
func (s *Sites) List(keep func(Site) bool) []Site {
	s.mu.RLock()
	out := make([]Site, 0, len(s.byID))
	for _, site := range s.byID {
		if keep == nil || keep(*site) {
			out = append(out, *site)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Site) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Parent is the parent of a site, as routing walks the tree
// (alerting.SiteTree); false for a root or an unknown site.
func (s *Sites) Parent(id string) (string, bool) {
	site, ok := s.Get(id)
	return site.Parent, ok && site.Parent != ""
}

var _ alerting.SiteTree = (*Sites)(nil)

// Path returns the sites from the root down to id, or nil for an unknown id.
func (s *Sites) Path(id string) []Site {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var path []Site
	for id != "" && len(path) <= len(siteLevels) {
		site, ok := s.byID[id]
		if !ok {
			break
		}
		path = append(path, *site)
		id = site.Parent
	}
	slices.Reverse(path)
	return path
}

// Subtree returns id and every site below it.
func (s *Sites) Subtree(id string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.byID[id]; !ok {
		return nil
	}
	out := []string{id}
	for i := 0; i < len(out); i++ {
		out = append(out, s.kids[out[i]]...)
	}
	return out
}

// SiteNode is a site with its subtree, as GET /sites/{id}/tree shows it.
type SiteNode struct {
	Site
	Devices  int         `json:"devices"` // in service here and below
	Children []*SiteNode `json:"children,omitempty"`
}

// Tree returns the subtree at root, or the whole forest when root is "",
// with the devices in service counted at every node.
func (s *Sites) Tree(root string) ([]*SiteNode, error) {
	here := map[string]int{}
	for _, d := range s.reg.List() {
		if d.Site != "" {
			here[d.Site]++
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var build func(id string, depth int) *SiteNode
	build = func(id string, depth int) *SiteNode {
		n := &SiteNode{Site: *s.byID[id], Devices: here[id]}
		if depth > len(siteLevels) {
			return n
		}
		for _, k := range s.kids[id] {
			c := build(k, depth+1)
			n.Devices += c.Devices
			n.Children = append(n.Children, c)
		}
		return n
	}
	roots := s.kids[""]
	if root != "" {
		if _, ok := s.byID[root]; !ok {
			return nil, fmt.Errorf("%w: %s", ErrSiteUnknown, root)
		}
		roots = []string{root}
	}
	out := []*SiteNode{}
	for _, id := range roots {
		out = append(out, build(id, 0))
	}
	return out, nil
}

// Add creates a site.
func (s *Sites) Add(site Site, by string, now time.Time) (Site, error) {
	s.reg.w.Lock()
	defer s.reg.w.Unlock()
	if err := state.ValidSlug(site.ID); err != nil {
		return Site{}, &state.FieldError{Field: "id", Err: err}
	}
	if _, ok := s.Get(site.ID); ok {
		return Site{}, &state.FieldError{Field: "id", Err: fmt.Errorf("%w: %s", ErrSiteExists, site.ID)}
	}
	site.Created, site.By, site.Updated = now.UTC(), by, time.Time{}
	if err := s.check(&site); err != nil {
		return Site{}, err
	}
	if err := s.save(site, state.NewAuditEntry(now, by, state.ActionAdd, "site:"+site.ID, nil, site)); err != nil {
		return Site{}, err
	}
	return site, nil
}

// Update changes a site with fn; the result must still fit its parent, its
// children, and the devices and residents there.
func (s *Sites) Update(id, by string, now time.Time, fn func(*Site) error) (Site, error) {
	s.reg.w.Lock()
	defer s.reg.w.Unlock()
	cur, ok := s.Get(id)
	if !ok {
		return Site{}, fmt.Errorf("%w: %s", ErrSiteUnknown, id)
	}
	site := cur
	if err := fn(&site); err != nil {
		return Site{}, err
	}
	site.ID, site.Created, site.By, site.Updated = cur.ID, cur.Created, cur.By, now.UTC()
	if err := s.check(&site); err != nil {
		return Site{}, err
	}
	if site.Parent != cur.Parent {
		for _, p := range s.Path(site.Parent) {
			if p.ID == id {
				return Site{}, state.FieldErrorf("parent", "%s is below %s: that would make a cycle", site.Parent, id)
			}
		}
	}
	if site.Level != cur.Level {
		if err := s.levelFitsContents(site); err != nil {
			return Site{}, &state.FieldError{Field: "level", Err: err}
		}
	}
	if err := s.save(site, state.NewAuditEntry(now, by, state.ActionPatch, "site:"+id, cur, site)); err != nil {
		return Site{}, err
	}
	return site, nil
}

// levelFitsContents checks a new level against the site's children,
// devices and residents.
func (s *Sites) levelFitsContents(site Site) error {
	for _, c := range s.children(site.ID) {
		if !fitsUnder(c.Level, site.Level) {
			return fmt.Errorf("child %s is a %s, which cannot be under a %s", c.ID, c.Level, site.Level)
		}
	}
	if site.Level != LevelRoom && site.Level != LevelBed {
		if ds := s.reg.Select(func(d *Device) bool { return d.Active() && d.Site == site.ID }); len(ds) > 0 {
			return fmt.Errorf("device %s is installed here, and devices go in rooms and beds", ds[0].ID)
		}
	}
	if !homeLevel(site.Level) {
		if rs := s.reg.residents.List(func(r Resident) bool { return r.Home == site.ID }); len(rs) > 0 {
			return fmt.Errorf("resident %s lives here, and residents live at homes, rooms and beds", rs[0].ID)
		}
	}
	return nil
}

func (s *Sites) children(id string) []Site {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Site, 0, len(s.kids[id]))
	for _, k := range s.kids[id] {
		out = append(out, *s.byID[k])
	}
	return out
}

// Remove deletes a site that has no children, devices or residents.
func (s *Sites) Remove(id, by string, now time.Time) error {
	s.reg.w.Lock()
	defer s.reg.w.Unlock()
	cur, ok := s.Get(id)
	if !ok {
		return fmt.Errorf("%w: %s", ErrSiteUnknown, id)
	}
	if kids := s.children(id); len(kids) > 0 {
		return fmt.Errorf("%w: %s has %d sites under it, e.g. %s", ErrSiteInUse, id, len(kids), kids[0].ID)
	}
	if ds := s.reg.Select(func(d *Device) bool { return d.Active() && d.Site == id }); len(ds) > 0 {
		return fmt.Errorf("%w: %d devices are installed at %s, e.g. %s", ErrSiteInUse, len(ds), id, ds[0].ID)
	}
	if rs := s.reg.residents.List(func(r Resident) bool { return r.Home == id }); len(rs) > 0 {
		return fmt.Errorf("%w: %d residents live at %s, e.g. %s", ErrSiteInUse, len(rs), id, rs[0].ID)
	}
	err := s.reg.db.Update(func(tx *state.Tx) error {
		if err := tx.Delete(state.Sites, id); err != nil {
			return err
		}
		return tx.Audit(state.NewAuditEntry(now, by, state.ActionRemove, "site:"+id, cur, nil))
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
	s.kids[cur.Parent] = slices.DeleteFunc(s.kids[cur.Parent], func(k string) bool { return k == id })
	return nil
}

// check validates a site's own fields and its place under its parent.
func (s *Sites) check(site *Site) error {
	site.Name = strings.TrimSpace(site.Name)
	if site.Name == "" {
		return state.FieldErrorf("name", "a site needs a name, e.g. 青山村")
	}
	if err := state.ValidText(site.Name, 64); err != nil {
		return &state.FieldError{Field: "name", Err: err}
	}
	parents, ok := parentsOf(site.Level)
	if !ok {
		return state.FieldErrorf("level", "%q: want one of %v", site.Level, SiteLevels())
	}
	if site.Parent == "" && len(parents) > 0 {
		return state.FieldErrorf("parent", "a %s needs a parent: a %s", site.Level, joinLevels(parents))
	}
	if site.Parent != "" {
		p, ok := s.Get(site.Parent)
		if !ok {
			return &state.FieldError{Field: "parent", Err: fmt.Errorf("%w: %s", ErrSiteUnknown, site.Parent)}
		}
		if len(parents) == 0 {
			return state.FieldErrorf("parent", "a %s is a root; leave parent empty", site.Level)
		}
		if !fitsUnder(site.Level, p.Level) {
			return state.FieldErrorf("parent", "%s is a %s; a %s goes under a %s", p.ID, p.Level, site.Level, joinLevels(parents))
		}
	}
	if site.TimeZone != "" {
		if _, err := time.LoadLocation(site.TimeZone); err != nil {
			return state.FieldErrorf("time_zone", "%q is not a known IANA time zone such as Asia/Shanghai", site.TimeZone)
		}
	}
	if err := state.ValidText(site.Address, 200); err != nil {
		return &state.FieldError{Field: "address", Err: err}
	}
	return nil
}

func joinLevels(ls []SiteLevel) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = string(l)
	}
	return strings.Join(s, " or ")
}

// save writes a site with its audit entry and updates the cache. The
// registry's writer lock is held.
func (s *Sites) save(site Site, e state.AuditEntry) error {
	err := s.reg.db.Update(func(tx *state.Tx) error {
		if err := tx.PutJSON(state.Sites, site.ID, &site); err != nil {
			return err
		}
		return tx.Audit(e)
	})
	if err != nil {
		return fmt.Errorf("save site %s: %w", site.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, existed := s.byID[site.ID]; !existed || old.Parent != site.Parent {
		if existed {
			s.kids[old.Parent] = slices.DeleteFunc(s.kids[old.Parent], func(k string) bool { return k == site.ID })
		}
		s.kids[site.Parent] = append(s.kids[site.Parent], site.ID)
		slices.Sort(s.kids[site.Parent])
	}
	s.byID[site.ID] = &site
	return nil
}
